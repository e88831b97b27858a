#include "caboose/persistence/backend.h"

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::persistence {

void check_fence(std::string_view flow_uuid, FenceToken fence, std::optional<FenceToken> token) {
  if (token && *token < fence) {
    throw StaleClaim(
        fmt::format("write to flow detail {} refused: claim token {} is stale (fenced at {})",
                    flow_uuid, *token, fence));
  }
}

}  // namespace caboose::persistence
