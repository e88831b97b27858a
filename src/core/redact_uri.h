// A URI as messages and logs may show it.
#pragma once

#include <string>
#include <string_view>

namespace caboose::detail {

// `uri` with its password (scheme://user:password@host) replaced by ***. The password runs
// from the first ':' after the scheme to the last '@' before the query, as the Redis, ZooKeeper
// and etcd URI parsers read user:password@host: a password may hold '@' and ':'.
std::string redact_uri(std::string_view uri);

}  // namespace caboose::detail
