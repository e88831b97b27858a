// The library's logger ("caboose"). The library never sets sinks, patterns or levels.
#pragma once

#include <spdlog/spdlog.h>

namespace caboose::detail {
spdlog::logger& log();
}  // namespace caboose::detail
