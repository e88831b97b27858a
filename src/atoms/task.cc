#include "caboose/atoms/task.h"

namespace caboose {
Value Task::revert(const Value& /*args*/, const Outcome& /*result*/,
                   const FailureMap& /*flow_failures*/) {
  return nullptr;
}
}  // namespace caboose
