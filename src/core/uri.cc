#include "core/uri.h"

namespace caboose::detail {

std::optional<ServerUri> split_server_uri(std::string_view uri, std::string_view scheme) {
  if (uri.substr(0, scheme.size()) != scheme) {
    return std::nullopt;
  }
  std::string_view rest = uri.substr(scheme.size());
  ServerUri parts;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    parts.query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    parts.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) {
      parts.password = userinfo.substr(colon + 1);
    }
  }
  const auto slash = rest.find('/');
  parts.authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    parts.path = rest.substr(slash);
  }
  return parts;
}

std::vector<QueryItem> query_items(std::string_view query) {
  std::vector<QueryItem> items;
  while (!query.empty()) {
    const auto amp = query.find('&');
    QueryItem item;
    item.text = query.substr(0, amp);
    const auto eq = item.text.find('=');
    item.key = item.text.substr(0, eq);
    if (eq != std::string_view::npos) {
      item.value = item.text.substr(eq + 1);
      item.has_value = true;
    }
    items.push_back(item);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return items;
}

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
