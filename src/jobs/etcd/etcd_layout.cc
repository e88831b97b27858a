#include "jobs/etcd/etcd_layout.h"

#include <charconv>

#include <fmt/format.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

#include "core/uri.h"
#include "jobs/json_posting.h"

namespace caboose::jobs::detail {
namespace {

constexpr std::string_view kScheme = "etcd://";
constexpr int kDefaultPort = 2379;

std::int64_t parse_number(std::string_view text) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return -1;
  }
  return n;
}

std::optional<std::int64_t> optional_micros(const Value& v, const char* field) {
  if (v.contains(field) && v[field].is_number_integer()) {
    return v[field].get<std::int64_t>();
  }
  return std::nullopt;
}

}  // namespace

EtcdAddress parse_etcd_uri(std::string_view full_uri) {
  // Messages show the URI with its password as ***.
  const std::string uri = caboose::detail::redact_uri(full_uri);
  const std::optional<caboose::detail::ServerUri> parts =
      caboose::detail::split_server_uri(full_uri, kScheme);
  if (!parts) {
    throw InvalidArgument(fmt::format("'{}' is not an etcd:// URI", uri));
  }
  EtcdAddress a;
  if (parts->user) {
    if (parts->user->empty() || !parts->password) {
      throw InvalidArgument(fmt::format("etcd URI '{}': credentials must be user:password", uri));
    }
    a.endpoints.credentials =
        EtcdCredentials{std::string(*parts->user), std::string(*parts->password)};
  }
  std::string_view hosts = parts->authority;
  if (hosts.empty()) {
    throw InvalidArgument(fmt::format("etcd URI '{}' names no host (etcd://host:port/path)", uri));
  }
  while (!hosts.empty()) {
    const auto comma = hosts.find(',');
    const std::string_view host = hosts.substr(0, comma);
    const auto colon = host.rfind(':');
    const std::string_view name = host.substr(0, colon);
    std::int64_t port = kDefaultPort;
    if (colon != std::string_view::npos) {
      port = parse_number(host.substr(colon + 1));
      if (port <= 0 || port > 65535) {
        throw InvalidArgument(
            fmt::format("etcd URI '{}': bad port in '{}' (expected 1-65535)", uri, host));
      }
    }
    if (name.empty()) {
      throw InvalidArgument(fmt::format("etcd URI '{}': empty host name in '{}'", uri, host));
    }
    a.endpoints.hosts.push_back(fmt::format("{}:{}", name, port));
    hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
  }
  std::string_view path = parts->path;
  while (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  if (path.empty()) {
    throw InvalidArgument(
        fmt::format("etcd URI '{}' names no board path (etcd://host:port/path: keys under "
                    "/taskflow/jobs/<path>, TaskFlow's default path is 'jobboard')",
                    uri));
  }
  a.path = std::string(path);
  for (const caboose::detail::QueryItem& item : caboose::detail::query_items(parts->query)) {
    if (item.key != "timeout_ms") {
      throw InvalidArgument(fmt::format(
          "etcd URI '{}': unknown option '{}' (known: timeout_ms, lease_ms, max_attempts)", uri,
          item.key));
    }
    const std::int64_t n = parse_number(item.value);
    if (n <= 0) {
      throw InvalidArgument(fmt::format(
          "etcd URI '{}': timeout_ms must be a positive integer, got '{}'", uri, item.value));
    }
    a.endpoints.timeout = std::chrono::milliseconds(n);
  }
  return a;
}

EtcdKeys::EtcdKeys(const std::string& path)
    : root("/taskflow/jobs/" + path),
      // As TaskFlow: job.key.replace(ROOT_PATH, TRASH_PATH).
      trash("/taskflow/.trash/" + path),
      index(root + "/.caboose/jobs/"),
      entities(root + "/.caboose/entities/") {}

EtcdExtras EtcdExtras::parse(const std::optional<EtcdKv>& kv) {
  EtcdExtras e;
  if (!kv) {
    return e;
  }
  const Value v = decode_json_or_null(kv->value, kPostingLimits);
  if (!v.is_object()) {
    return e;
  }
  if (v.contains("uuid") && v["uuid"].is_string()) {
    e.uuid = v["uuid"].get<std::string>();
  }
  if (v.contains("attempts") && v["attempts"].is_number_integer()) {
    e.attempts = v["attempts"].get<std::int64_t>();
  }
  if (v.contains("max_attempts") && v["max_attempts"].is_number_integer()) {
    e.max_attempts = v["max_attempts"].get<std::int64_t>();
  }
  e.not_before = optional_micros(v, "not_before");
  e.lease_until = optional_micros(v, "lease_until");
  if (v.contains("last_failure")) {
    e.last_failure = v["last_failure"];
  }
  if (v.contains("trash_reason") && v["trash_reason"].is_string()) {
    e.trash_reason = v["trash_reason"].get<std::string>();
  }
  return e;
}

std::string EtcdExtras::dump() const {
  Value v{{"uuid", uuid}, {"attempts", attempts}, {"max_attempts", max_attempts}};
  v["not_before"] = not_before ? Value(*not_before) : Value();
  v["lease_until"] = lease_until ? Value(*lease_until) : Value();
  v["last_failure"] = last_failure;
  v["trash_reason"] = trash_reason ? Value(*trash_reason) : Value();
  return v.dump();
}

std::map<std::int64_t, EtcdRecord> group_records(const std::vector<EtcdKv>& kvs,
                                                 const std::string& prefix, bool bin) {
  std::map<std::int64_t, EtcdRecord> out;
  for (const EtcdKv& kv : kvs) {
    if (kv.key.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    const std::string_view rest = std::string_view(kv.key).substr(prefix.size());
    const auto dot = rest.find('.');
    const std::int64_t n = parse_number(rest.substr(0, dot));
    if (n <= 0) {
      continue;
    }
    const std::string_view suffix =
        dot == std::string_view::npos ? std::string_view() : rest.substr(dot);
    EtcdRecord& r = out[n];
    r.n = n;
    if (suffix == (bin ? "" : ".data")) {
      r.data = kv;
    } else if (suffix == ".lock" && !bin) {
      r.lock = kv;
    } else if (suffix == ".caboose") {
      r.extras = kv;
    } else if (suffix == ".last_modified") {
      r.modified = kv;
    }
  }
  return out;
}

std::string lock_owner(const EtcdKv& lock) {
  const Value v = decode_json_or_null(lock.value, kPostingLimits);
  return v.is_object() && v.contains("owner") && v["owner"].is_string()
             ? v["owner"].get<std::string>()
             : std::string();
}

std::string modified_value(TimePoint t) {
  return Value{{"last_modified", python_time(t)}}.dump();
}

std::optional<TimePoint> parse_modified(const std::optional<EtcdKv>& kv) {
  if (!kv) {
    return std::nullopt;
  }
  const Value v = decode_json_or_null(kv->value, kPostingLimits);
  if (!v.is_object() || !v.contains("last_modified") || !v["last_modified"].is_string()) {
    return std::nullopt;
  }
  return parse_python_time(v["last_modified"].get<std::string>());
}

}  // namespace caboose::jobs::detail
