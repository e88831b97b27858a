// The server URIs caboose reads (redis://, zookeeper://, etcd://, a board's options), split
// once, and as messages and logs may show them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caboose::detail {

// scheme://[user[:password]@]authority[/path][?query], split without decoding anything. The
// userinfo runs up to the last '@' before the query (a password may hold '@' and ':'), the user
// up to its first ':'.
struct ServerUri {
  std::optional<std::string_view> user;      // present when the URI has an '@'
  std::optional<std::string_view> password;  // present when that userinfo has a ':'
  std::string_view authority;                // up to the first '/' ("host:port,host:port")
  std::string_view path;                     // from that '/' (empty when none)
  std::string_view query;                    // after the first '?'
};

// nullopt when `uri` does not start with `scheme` (e.g. "redis://").
std::optional<ServerUri> split_server_uri(std::string_view uri, std::string_view scheme);

// One item of a query: "key=value", or "key" alone (has_value false, value empty).
struct QueryItem {
  std::string_view key;
  std::string_view value;
  bool has_value = false;
  std::string_view text;  // the whole item, as written
};

// The '&'-separated items of `query`, in order (an empty query has none).
std::vector<QueryItem> query_items(std::string_view query);

// `uri` with its password (scheme://user:password@host) replaced by ***, read as
// split_server_uri() reads it.
std::string redact_uri(std::string_view uri);

}  // namespace caboose::detail
