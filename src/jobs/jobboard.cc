#include "caboose/jobs/jobboard.h"

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

#include "core/uri.h"
#include "jobs/etcd/etcd_jobboard.h"
#include "jobs/redis/redis_jobboard.h"
#include "jobs/sqlite/sqlite_jobboard.h"
#include "jobs/zookeeper/zookeeper_jobboard.h"

namespace caboose::jobs {
namespace {

using caboose::detail::query_items;
using caboose::detail::QueryItem;
using caboose::detail::redact_uri;

// The time on `options`' clock (the system clock by default).
TimePoint board_time(const BoardOptions& options) {
  return options.clock != nullptr
             ? std::chrono::time_point_cast<std::chrono::microseconds>(options.clock->wall())
             : now();
}

std::int64_t positive_integer(std::string_view uri, std::string_view key, std::string_view text) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n <= 0) {
    throw InvalidArgument(fmt::format("jobboard URI '{}': {} must be a positive integer, got '{}'",
                                      redact_uri(uri), key, text));
  }
  return n;
}

}  // namespace

void JobBoard::check_options(const BoardOptions& options) {
  if (options.lease.count() <= 0 || options.max_attempts <= 0) {
    throw InvalidArgument("a jobboard's lease and max_attempts must be positive");
  }
}

Job JobBoard::new_job(std::string name, PostOptions options, const BoardOptions& board) {
  if (name.empty()) {
    throw InvalidArgument("a job needs a name");
  }
  if (!options.details.is_object()) {
    throw InvalidArgument(fmt::format("job '{}': details must be a JSON object, got {}", name,
                                      options.details.type_name()));
  }
  if (options.max_attempts < 0) {
    throw InvalidArgument(fmt::format("job '{}': max_attempts must not be negative", name));
  }
  Job job;
  job.uuid = make_uuid();
  job.name = std::move(name);
  job.details = std::move(options.details);
  if (options.book) {
    job.book_uuid = options.book->uuid;
    job.book_name = options.book->name;
  }
  job.priority = options.priority;
  job.created_on = job.last_modified = board_time(board);
  job.max_attempts = options.max_attempts > 0 ? options.max_attempts : board.max_attempts;
  job.not_before = options.not_before;
  return job;
}

std::size_t JobBoard::purge_all() {
  std::size_t n = 0;
  for (const Job& job : trashed()) {
    try {
      purge(job.uuid);
      ++n;
    } catch (const NotFound&) {
      // purged by someone else meanwhile
    }
  }
  return n;
}

std::uint64_t JobBoard::watch_claims(std::function<void()> in_doubt) {
  std::lock_guard lock(watchers_mu_);
  claim_watchers_.emplace(++next_watcher_, std::move(in_doubt));
  return next_watcher_;
}

void JobBoard::unwatch_claims(std::uint64_t id) {
  std::lock_guard lock(watchers_mu_);
  claim_watchers_.erase(id);
}

TimePoint JobBoard::now() const {
  return board_time(options());
}

void JobBoard::claims_in_doubt() {
  std::vector<std::function<void()>> watchers;
  {
    std::lock_guard lock(watchers_mu_);
    for (const auto& [id, watcher] : claim_watchers_) {
      watchers.push_back(watcher);
    }
  }
  for (const auto& watcher : watchers) {
    watcher();
  }
}

void JobBoard::sort_in_claim_order(std::vector<Job>& jobs) {
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.sequence < b.sequence;
  });
}

void JobBoard::sort_in_bin_order(std::vector<Job>& jobs) {
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.last_modified != b.last_modified ? a.last_modified < b.last_modified
                                              : a.sequence < b.sequence;
  });
}

std::vector<std::optional<Claim>> JobBoard::claim_many(const std::vector<std::string>& job_uuids,
                                                       std::string_view who) {
  std::vector<std::optional<Claim>> claims;
  claims.reserve(job_uuids.size());
  for (const std::string& uuid : job_uuids) {
    try {
      claims.emplace_back(claim(uuid, who));
    } catch (const UnclaimableJob&) {
      claims.emplace_back(std::nullopt);
    } catch (const NotFound&) {
      claims.emplace_back(std::nullopt);
    }
  }
  return claims;
}

std::vector<std::exception_ptr> JobBoard::consume_many(const std::vector<Claim>& claims) {
  std::vector<std::exception_ptr> errors;
  errors.reserve(claims.size());
  for (const Claim& c : claims) {
    try {
      consume(c);
      errors.emplace_back(nullptr);
    } catch (const std::exception&) {
      errors.push_back(std::current_exception());
    }
  }
  return errors;
}

std::unique_ptr<JobBoard> fetch_jobboard(std::string_view uri, BoardOptions options) {
  const auto colon = uri.find("://");
  if (colon == std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("jobboard URI '{}' has no scheme (expected sqlite:///board.db)", uri));
  }
  const std::string_view scheme = uri.substr(0, colon);
  if (scheme != "sqlite" && scheme != "redis" && scheme != "zookeeper" && scheme != "etcd") {
    throw InvalidArgument(fmt::format(
        "jobboard URI scheme '{}' is not supported (known: sqlite, redis, zookeeper, etcd)",
        scheme));
  }
  // The board's own options (lease_ms, max_attempts) are taken here for every scheme; the rest
  // of the query is the backend's.
  const auto question = uri.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : uri.substr(question + 1);
  std::string backend_uri(uri.substr(0, question));
  std::string backend_query;
  for (const QueryItem& item : query_items(query)) {
    if (!item.has_value) {
      throw InvalidArgument(fmt::format("jobboard URI '{}': '{}' is not a key=value option",
                                        redact_uri(uri), item.text));
    }
    if (item.key == "lease_ms") {
      options.lease = std::chrono::milliseconds(positive_integer(uri, item.key, item.value));
    } else if (item.key == "max_attempts") {
      options.max_attempts = positive_integer(uri, item.key, item.value);
    } else if (scheme == "redis" || scheme == "zookeeper" || scheme == "etcd") {
      backend_query += (backend_query.empty() ? "?" : "&") + std::string(item.text);
    } else {
      throw InvalidArgument(
          fmt::format("jobboard URI '{}': unknown option '{}' (known: lease_ms, max_attempts)",
                      redact_uri(uri), item.key));
    }
  }
  if (scheme == "redis") {
    return make_redis_jobboard(backend_uri + backend_query, options);
  }
  if (scheme == "zookeeper") {
    return make_zookeeper_jobboard(backend_uri + backend_query, options);
  }
  if (scheme == "etcd") {
    return make_etcd_jobboard(backend_uri + backend_query, options);
  }
  const std::string_view location = std::string_view(backend_uri).substr(colon + 3);
  if (location.empty()) {
    return make_sqlite_jobboard(":memory:", options);
  }
  if (location.front() != '/' || location.size() < 2) {
    throw InvalidArgument(fmt::format(
        "jobboard URI '{}': expected sqlite:///relative.db or sqlite:////absolute.db", uri));
  }
  return make_sqlite_jobboard(std::string(location.substr(1)), options);
}

std::string redact_board_uri(std::string_view uri) {
  return caboose::detail::redact_uri(uri);
}

}  // namespace caboose::jobs
