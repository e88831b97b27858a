#include "caboose/atoms/retry.h"

namespace caboose {
Value Retry::revert(const RetryHistory& /*history*/, const Value& /*args*/) {
  return nullptr;
}
}  // namespace caboose
