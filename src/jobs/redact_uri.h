// A jobboard URI as messages may show it.
#pragma once

#include <string>
#include <string_view>

namespace caboose::jobs::detail {

// `uri` with its password (scheme://user:password@host) replaced by ***.
std::string redact_uri(std::string_view uri);

}  // namespace caboose::jobs::detail
