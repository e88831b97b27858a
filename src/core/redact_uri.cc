#include "core/redact_uri.h"

namespace caboose::detail {

std::string redact_uri(std::string_view uri) {
  std::string out(uri);
  const auto scheme = out.find("://");
  const auto at = out.rfind('@', out.find('?'));
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) {
    return out;
  }
  const auto colon = out.find(':', scheme + 3);
  if (colon != std::string::npos && colon < at) {
    out.replace(colon + 1, at - colon - 1, "***");
  }
  return out;
}

}  // namespace caboose::detail
