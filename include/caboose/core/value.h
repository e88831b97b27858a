// Value: the one data type that crosses every boundary in caboose. Task arguments and
// results, stored state and job details are JSON documents, as in TaskFlow (which stores
// them as JSON). Typed helpers convert to and from C++ types at a task's edge.
#pragma once

#include <nlohmann/json.hpp>

namespace caboose {
using Value = nlohmann::json;
}  // namespace caboose
