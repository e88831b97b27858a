#include "caboose/persistence/fetch.h"

#include <charconv>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/dir_backend.h"
#include "caboose/persistence/memory_backend.h"
#include "caboose/persistence/postgres_backend.h"
#include "caboose/persistence/sqlite_backend.h"
#include "caboose/persistence/zookeeper_backend.h"

#include "core/uri.h"

namespace caboose::persistence {
namespace {

// "key=value&key=value" pairs of a URI's query.
std::vector<std::pair<std::string, std::string>> query_pairs(std::string_view uri,
                                                             std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const detail::QueryItem& item : detail::query_items(query)) {
    if (!item.has_value || item.key.empty()) {
      throw InvalidArgument(
          fmt::format("persistence URI '{}': '{}' is not a key=value option", uri, item.text));
    }
    pairs.emplace_back(std::string(item.key), std::string(item.value));
  }
  return pairs;
}

// sqlite:// (in memory), sqlite:///relative/path.db, sqlite:////absolute/path.db, as
// SQLAlchemy reads them; options ?synchronous=NORMAL|FULL&busy_timeout=<milliseconds>.
std::unique_ptr<Backend> fetch_sqlite(std::string_view uri, std::string_view rest) {
  const auto question = rest.find('?');
  std::string_view location = rest.substr(0, question);
  SqliteOptions options;
  if (question != std::string_view::npos) {
    for (const auto& [key, value] : query_pairs(uri, rest.substr(question + 1))) {
      if (key == "synchronous") {
        if (value == "NORMAL" || value == "normal") {
          options.synchronous = SqliteOptions::Synchronous::kNormal;
        } else if (value == "FULL" || value == "full") {
          options.synchronous = SqliteOptions::Synchronous::kFull;
        } else {
          throw InvalidArgument(fmt::format(
              "persistence URI '{}': synchronous must be NORMAL or FULL, got '{}'", uri, value));
        }
      } else if (key == "busy_timeout") {
        long ms = -1;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
        if (ec != std::errc() || end != value.data() + value.size() || ms < 0) {
          throw InvalidArgument(fmt::format(
              "persistence URI '{}': busy_timeout must be milliseconds, got '{}'", uri, value));
        }
        options.busy_timeout = std::chrono::milliseconds(ms);
      } else {
        throw InvalidArgument(fmt::format(
            "persistence URI '{}': unknown option '{}' (known: synchronous, busy_timeout)", uri,
            key));
      }
    }
  }
  if (location.empty()) {
    return make_sqlite_backend(":memory:", options);
  }
  if (location.front() != '/') {
    throw InvalidArgument(fmt::format(
        "persistence URI '{}': expected sqlite:///relative.db or sqlite:////absolute.db", uri));
  }
  location.remove_prefix(1);
  if (location.empty()) {
    throw InvalidArgument(fmt::format("persistence URI '{}' names no database file", uri));
  }
  return make_sqlite_backend(std::string(location), options);
}

}  // namespace

std::unique_ptr<Backend> fetch(std::string_view uri) {
  const auto colon = uri.find("://");
  if (colon == std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("persistence URI '{}' has no scheme (expected e.g. memory://)",
                    redact_conninfo(std::string(uri))));
  }
  const std::string_view scheme = uri.substr(0, colon);
  const std::string_view rest = uri.substr(colon + 3);
  if (scheme == "memory") {
    if (!rest.empty()) {
      throw InvalidArgument(fmt::format("persistence URI '{}': memory:// takes no path", uri));
    }
    return make_memory_backend();
  }
  if (scheme == "sqlite") {
    return fetch_sqlite(uri, rest);
  }
  if (scheme == "postgresql" || scheme == "postgres" || scheme == "postgresql+psycopg2") {
    // libpq takes the URI as it is (TaskFlow's SQLAlchemy form names its driver: dropped).
    std::string conninfo(uri);
    if (scheme == "postgresql+psycopg2") {
      conninfo = "postgresql" + std::string(uri.substr(colon));
    }
    return make_postgres_backend(conninfo);
  }
  if (scheme == "dir" || scheme == "file") {
    if (rest.empty()) {
      throw InvalidArgument(
          fmt::format("persistence URI '{}' names no directory (dir:///absolute/path)", uri));
    }
    return make_dir_backend(std::string(rest));
  }
  if (scheme == "zookeeper") {
    return make_zookeeper_backend(uri);
  }
  throw InvalidArgument(fmt::format(
      "persistence URI scheme '{}' is not supported (known: memory, sqlite, dir, postgresql, "
      "zookeeper)",
      scheme));
}

}  // namespace caboose::persistence
