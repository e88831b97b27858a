#include "caboose/persistence/fetch.h"

#include <string>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/memory_backend.h"

namespace caboose::persistence {

std::unique_ptr<Backend> fetch(std::string_view uri) {
  const auto colon = uri.find("://");
  if (colon == std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("persistence URI '{}' has no scheme (expected e.g. memory://)", uri));
  }
  const std::string_view scheme = uri.substr(0, colon);
  if (scheme == "memory") {
    if (uri.size() != colon + 3) {
      throw InvalidArgument(fmt::format("persistence URI '{}': memory:// takes no path", uri));
    }
    return make_memory_backend();
  }
  throw InvalidArgument(
      fmt::format("persistence URI scheme '{}' is not supported (known: memory)", scheme));
}

}  // namespace caboose::persistence
