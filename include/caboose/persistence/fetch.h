// Turns a persistence URI into a backend: "memory://" (more schemes come with their
// backends). Throws InvalidArgument naming what was wrong with the URI (passwords hidden).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {
[[nodiscard]] std::unique_ptr<Backend> fetch(std::string_view uri);
}  // namespace caboose::persistence
