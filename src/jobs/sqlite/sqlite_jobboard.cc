// The SQLite jobboard (sqlite://): one file shared by the processes of one host. Every change
// is one BEGIN IMMEDIATE transaction, so a claim's check and its write are one step; times are
// microseconds since the epoch from the host's clock (all claimers share it).
#include "jobs/sqlite/sqlite_jobboard.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "core/log.h"
#include "persistence/json_text.h"
#include "persistence/sqlite/sqlite_db.h"

namespace caboose::jobs {
namespace {

using caboose::detail::Query;
using caboose::detail::SqliteDb;

constexpr int kSchemaVersion = 1;

constexpr const char* kCreateTables = R"SQL(
CREATE TABLE IF NOT EXISTS caboose_jobs (
  uuid TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  details TEXT NOT NULL,
  book_uuid TEXT,
  book_name TEXT,
  priority INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  created_on INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  state TEXT NOT NULL,
  owner TEXT,
  token INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  not_before INTEGER,
  lease_until INTEGER,
  last_failure TEXT,
  trash_reason TEXT);
CREATE INDEX IF NOT EXISTS caboose_jobs_claim_order ON caboose_jobs (state, priority, sequence);
CREATE TABLE IF NOT EXISTS caboose_board_counters (name TEXT NOT NULL PRIMARY KEY,
                                                   value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS caboose_board_entities (name TEXT NOT NULL PRIMARY KEY,
                                                   details TEXT NOT NULL,
                                                   last_seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS caboose_board_schema (version INTEGER NOT NULL);
)SQL";

constexpr const char* kJobColumns =
    "uuid, name, details, book_uuid, book_name, priority, sequence, created_on, last_modified, "
    "state, owner, attempts, max_attempts, not_before, lease_until, last_failure, trash_reason";

// Claimable at ?1 (now): unclaimed or with a lapsed lease, and due.
constexpr const char* kClaimable =
    "(state = 'UNCLAIMED' OR (state = 'CLAIMED' AND lease_until < ?1)) "
    "AND (not_before IS NULL OR not_before <= ?1)";

std::int64_t micros(TimePoint t) {
  return t.time_since_epoch().count();
}

TimePoint from_micros(std::int64_t us) {
  return TimePoint(std::chrono::microseconds(us));
}

// How often wait() looks for work posted by other processes.
constexpr auto kPollInterval = std::chrono::milliseconds(25);

class SqliteJobBoard final : public JobBoard {
 public:
  SqliteJobBoard(std::string path, BoardOptions options)
      : options_(options),
        db_(std::make_unique<SqliteDb>(std::move(path), /*full_sync=*/false,
                                       std::chrono::milliseconds(10000))) {
    check_options(options_);
    std::lock_guard lock(mu_);
    SqliteDb::Transaction tx(*db_);
    if (db_->table_exists("caboose_board_schema")) {
      Query q(db_->stmt("SELECT max(version) FROM caboose_board_schema"), db_->where("schema"));
      if (q.step() && !q.is_null(0) && q.integer(0) > kSchemaVersion) {
        throw StorageFailure(
            fmt::format("jobboard '{}' has schema version {}, newer than this caboose knows ({})",
                        db_->path(), q.integer(0), kSchemaVersion));
      }
    }
    db_->exec(kCreateTables);
    Query(db_->stmt("INSERT INTO caboose_board_schema (version) SELECT ?1 WHERE NOT EXISTS "
                    "(SELECT 1 FROM caboose_board_schema)"),
          db_->where("schema"))
        .bind(std::int64_t{kSchemaVersion})
        .run();
    tx.commit();
  }

  void close() override {
    std::lock_guard lock(mu_);
    db_.reset();
    posted_.notify_all();
  }

  Job post(std::string name, PostOptions options) override {
    Job job = new_job(std::move(name), std::move(options), options_);
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("INSERT INTO caboose_board_counters (name, value) VALUES ('sequence', 1) "
                      "ON CONFLICT (name) DO UPDATE SET value = value + 1"),
            db_->where("post"))
          .run();
      Query seq(db_->stmt("SELECT value FROM caboose_board_counters WHERE name = 'sequence'"),
                db_->where("post"));
      seq.step();
      job.sequence = seq.integer(0);
      Query(db_->stmt(fmt::format("INSERT INTO caboose_jobs ({}) VALUES (?1, ?2, ?3, ?4, ?5, "
                                  "?6, ?7, ?8, ?9, ?10, NULL, 0, ?11, ?12, NULL, NULL, NULL)",
                                  kJobColumns)),
            db_->where("post"))
          .bind(job.uuid)
          .bind(job.name)
          .bind(persistence::detail::python_json(job.details))
          .bind(job.book_uuid)
          .bind(job.book_name)
          .bind(static_cast<std::int64_t>(job.priority))
          .bind(job.sequence)
          .bind(micros(job.created_on))
          .bind(micros(job.last_modified))
          .bind(to_string(JobState::kUnclaimed))
          .bind(job.max_attempts)
          .bind(job.not_before ? std::optional<std::int64_t>(micros(*job.not_before))
                               : std::nullopt)
          .run();
      tx.commit();
    }
    posted_.notify_all();
    notifier_.notify("posted", Value{{"job_uuid", job.uuid}, {"job_name", job.name}});
    return job;
  }

  std::vector<Job> iterjobs(bool only_unclaimed) override {
    std::lock_guard lock(mu_);
    open();
    const std::string sql =
        only_unclaimed
            ? fmt::format("SELECT {} FROM caboose_jobs WHERE {} ORDER BY priority, sequence",
                          kJobColumns, kClaimable)
            : fmt::format(
                  "SELECT {} FROM caboose_jobs WHERE state IN ('UNCLAIMED', 'CLAIMED') "
                  "ORDER BY priority, sequence",
                  kJobColumns);
    return read_jobs(sql, /*binds_now=*/only_unclaimed);
  }

  std::vector<std::string> skipped() const override {
    std::lock_guard lock(mu_);
    return skipped_;
  }

  bool wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mu_);
    for (;;) {
      open();
      if (any_claimable()) {
        return true;
      }
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        return false;
      }
      // Woken at once by a post from this process; others' posts are seen at the next look.
      posted_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(left, kPollInterval));
    }
  }

  std::optional<Job> find(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    open();
    return find_locked(job_uuid);
  }

  Claim claim(std::string_view job_uuid, std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    std::lock_guard lock(mu_);
    open();
    SqliteDb::Transaction tx(*db_);
    const TimePoint at = now();
    const std::optional<Job> job = find_locked(job_uuid, at);
    if (!job) {
      throw NotFound(fmt::format("no job {} on the board", job_uuid));
    }
    if (job->state == JobState::kTrashed) {
      throw UnclaimableJob(
          fmt::format("job {} ('{}') is in the garbage bin", job->uuid, job->name));
    }
    if (job->state == JobState::kClaimed) {  // a lapsed claim reads as unclaimed
      throw UnclaimableJob(fmt::format("job {} ('{}') is already claimed by '{}'", job->uuid,
                                       job->name, job->owner.value_or("?")));
    }
    if (job->not_before && *job->not_before > at) {
      throw UnclaimableJob(fmt::format("job {} ('{}') is not claimable before {}", job->uuid,
                                       job->name, format_time(*job->not_before)));
    }
    Claim claim;
    claim.job_uuid = job->uuid;
    claim.owner = std::string(who);
    claim.lease_until = at + options_.lease;
    Query update(db_->stmt("UPDATE caboose_jobs SET state = 'CLAIMED', owner = ?2, "
                           "token = token + 1, attempts = attempts + 1, lease_until = ?3, "
                           "last_modified = ?4 WHERE uuid = ?1 RETURNING token, attempts"),
                 db_->where("claim"));
    update.bind(job_uuid).bind(who).bind(micros(claim.lease_until)).bind(micros(at));
    if (!update.step()) {
      throw NotFound(fmt::format("no job {} on the board", job_uuid));
    }
    claim.token = update.integer(0);
    claim.attempt = update.integer(1);
    update.run();
    tx.commit();
    return claim;
  }

  Claim renew(const Claim& claim) override {
    std::lock_guard lock(mu_);
    open();
    SqliteDb::Transaction tx(*db_);
    const TimePoint at = now();
    Claim renewed = claim;
    renewed.lease_until = at + options_.lease;
    Query(db_->stmt("UPDATE caboose_jobs SET lease_until = ?3, last_modified = ?4 "
                    "WHERE uuid = ?1 AND token = ?2 AND state = 'CLAIMED'"),
          db_->where("renew"))
        .bind(claim.job_uuid)
        .bind(claim.token)
        .bind(micros(renewed.lease_until))
        .bind(micros(at))
        .run();
    require_changed(claim, "renew");
    tx.commit();
    return renewed;
  }

  void consume(const Claim& claim) override {
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("DELETE FROM caboose_jobs WHERE uuid = ?1 AND token = ?2 "
                      "AND state = 'CLAIMED'"),
            db_->where("consume"))
          .bind(claim.job_uuid)
          .bind(claim.token)
          .run();
      require_changed(claim, "consume");
      tx.commit();
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "consumed"}});
  }

  void abandon(const Claim& claim, std::optional<TimePoint> not_before,
               std::optional<Failure> failure) override {
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("UPDATE caboose_jobs SET state = 'UNCLAIMED', owner = NULL, "
                      "lease_until = NULL, not_before = ?3, "
                      "last_failure = coalesce(?4, last_failure), last_modified = ?5 "
                      "WHERE uuid = ?1 AND token = ?2 AND state = 'CLAIMED'"),
            db_->where("abandon"))
          .bind(claim.job_uuid)
          .bind(claim.token)
          .bind(not_before ? std::optional<std::int64_t>(micros(*not_before)) : std::nullopt)
          .bind(failure ? std::optional<std::string>(
                              persistence::detail::python_json(failure->to_dict()))
                        : std::nullopt)
          .bind(micros(now()))
          .run();
      require_changed(claim, "abandon");
      tx.commit();
    }
    posted_.notify_all();
  }

  void release(const Claim& claim) override {
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("UPDATE caboose_jobs SET state = 'UNCLAIMED', owner = NULL, "
                      "lease_until = NULL, not_before = NULL, attempts = max(attempts - 1, 0), "
                      "last_modified = ?3 WHERE uuid = ?1 AND token = ?2 AND state = 'CLAIMED'"),
            db_->where("release"))
          .bind(claim.job_uuid)
          .bind(claim.token)
          .bind(micros(now()))
          .run();
      require_changed(claim, "release");
      tx.commit();
    }
    posted_.notify_all();
  }

  void trash(const Claim& claim, std::string reason, std::optional<Failure> failure) override {
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("UPDATE caboose_jobs SET state = 'TRASHED', owner = NULL, "
                      "lease_until = NULL, trash_reason = ?3, "
                      "last_failure = coalesce(?4, last_failure), last_modified = ?5 "
                      "WHERE uuid = ?1 AND token = ?2 AND state = 'CLAIMED'"),
            db_->where("trash"))
          .bind(claim.job_uuid)
          .bind(claim.token)
          .bind(reason)
          .bind(failure ? std::optional<std::string>(
                              persistence::detail::python_json(failure->to_dict()))
                        : std::nullopt)
          .bind(micros(now()))
          .run();
      require_changed(claim, "trash");
      tx.commit();
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "trashed"}});
  }

  std::optional<std::string> find_owner(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    open();
    Query q(db_->stmt("SELECT owner FROM caboose_jobs WHERE uuid = ?1 AND state = 'CLAIMED' "
                      "AND lease_until >= ?2"),
            db_->where("find_owner"));
    q.bind(job_uuid).bind(micros(now()));
    if (!q.step()) {
      return std::nullopt;
    }
    return q.optional_text(0);
  }

  std::size_t job_count() override {
    std::lock_guard lock(mu_);
    open();
    Query q(db_->stmt("SELECT count(*) FROM caboose_jobs WHERE state <> 'TRASHED'"),
            db_->where("job_count"));
    q.step();
    return static_cast<std::size_t>(q.integer(0));
  }

  std::vector<Job> trashed() override {
    std::lock_guard lock(mu_);
    open();
    return read_jobs(fmt::format("SELECT {} FROM caboose_jobs WHERE state = 'TRASHED' "
                                 "ORDER BY last_modified, sequence",
                                 kJobColumns),
                     /*binds_now=*/false);
  }

  Job requeue(std::string_view job_uuid) override {
    Job job;
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("UPDATE caboose_jobs SET state = 'UNCLAIMED', attempts = 0, "
                      "not_before = NULL, trash_reason = NULL, last_modified = ?2 "
                      "WHERE uuid = ?1 AND state = 'TRASHED'"),
            db_->where("requeue"))
          .bind(job_uuid)
          .bind(micros(now()))
          .run();
      if (db_->changes() == 0) {
        throw NotFound(fmt::format("no job {} in the garbage bin", job_uuid));
      }
      job = *find_locked(job_uuid);
      tx.commit();
    }
    posted_.notify_all();
    return job;
  }

  void purge(std::string_view job_uuid) override {
    {
      std::lock_guard lock(mu_);
      open();
      SqliteDb::Transaction tx(*db_);
      Query(db_->stmt("DELETE FROM caboose_jobs WHERE uuid = ?1 AND state = 'TRASHED'"),
            db_->where("purge"))
          .bind(job_uuid)
          .run();
      if (db_->changes() == 0) {
        throw NotFound(fmt::format("no job {} in the garbage bin", job_uuid));
      }
      tx.commit();
    }
    notifier_.notify("removal", Value{{"job_uuid", std::string(job_uuid)}, {"reason", "purged"}});
  }

  std::size_t purge_all() override {
    std::lock_guard lock(mu_);
    open();
    SqliteDb::Transaction tx(*db_);
    db_->exec("DELETE FROM caboose_jobs WHERE state = 'TRASHED'");
    const auto n = static_cast<std::size_t>(db_->changes());
    tx.commit();
    return n;
  }

  void register_entity(std::string_view name, const Value& details) override {
    std::lock_guard lock(mu_);
    open();
    SqliteDb::Transaction tx(*db_);
    Query(db_->stmt("INSERT INTO caboose_board_entities (name, details, last_seen) "
                    "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
                    "details = excluded.details, last_seen = excluded.last_seen"),
          db_->where("register_entity"))
        .bind(name)
        .bind(persistence::detail::python_json(details))
        .bind(micros(now()))
        .run();
    tx.commit();
  }

  Value entities() override {
    std::lock_guard lock(mu_);
    open();
    Value out = Value::array();
    Query q(db_->stmt("SELECT name, details, last_seen FROM caboose_board_entities "
                      "ORDER BY name"),
            db_->where("entities"));
    while (q.step()) {
      Value details = decode_json_or_null(q.text(1), kPostingLimits);
      out.push_back(Value{{"name", q.text(0)},
                          {"details", std::move(details)},
                          {"last_seen", format_time(from_micros(q.integer(2)))}});
    }
    return out;
  }

  const BoardOptions& options() const override { return options_; }

 private:
  void open() const {
    if (!db_) {
      throw StorageFailure("the jobboard is closed");
    }
  }

  bool any_claimable() {
    Query q(db_->stmt(fmt::format("SELECT 1 FROM caboose_jobs WHERE {} LIMIT 1", kClaimable)),
            db_->where("wait"));
    q.bind(micros(now()));
    return q.step();
  }

  void require_changed(const Claim& claim, std::string_view action) {
    if (db_->changes() > 0) {
      return;
    }
    const std::optional<Job> job = find_locked(claim.job_uuid);
    if (!job) {
      throw NotFound(
          fmt::format("cannot {} job {}: it is not on the board", action, claim.job_uuid));
    }
    throw StaleClaim(fmt::format(
        "cannot {} job {} ('{}'): the claim of '{}' (token {}) is no longer current (the job "
        "is {}{})",
        action, job->uuid, job->name, claim.owner, claim.token, to_string(job->state),
        job->owner ? fmt::format(", claimed by '{}'", *job->owner) : std::string()));
  }

  std::optional<Job> find_locked(std::string_view job_uuid) { return find_locked(job_uuid, now()); }
  std::optional<Job> find_locked(std::string_view job_uuid, TimePoint at) {
    Query q(db_->stmt(fmt::format("SELECT {} FROM caboose_jobs WHERE uuid = ?1", kJobColumns)),
            db_->where("find"));
    q.bind(job_uuid);
    if (!q.step()) {
      return std::nullopt;
    }
    return read_job(q, micros(at));
  }

  // Rows of `sql` (its ?1 bound to the time now, when it has one), unreadable ones skipped and
  // recorded.
  std::vector<Job> read_jobs(const std::string& sql, bool binds_now) {
    std::vector<Job> jobs;
    skipped_.clear();
    const std::int64_t at = micros(now());
    Query q(db_->stmt(sql), db_->where("list jobs"));
    if (binds_now) {
      q.bind(at);
    }
    while (q.step()) {
      try {
        jobs.push_back(read_job(q, at));
      } catch (const Error& e) {
        skipped_.push_back(e.what());
        caboose::detail::log().error("jobboard '{}': skipping a record: {}", db_->path(), e.what());
      }
    }
    return jobs;
  }

  // Columns: kJobColumns; `at`, the time now in µs.
  static Job read_job(Query& q, std::int64_t at) {
    Job job;
    job.uuid = q.text(0);
    const std::string what = fmt::format("job {}", job.uuid);
    job.name = q.text(1);
    job.details = persistence::detail::parse_stored_json(q.text(2), what + " details");
    if (!job.details.is_object()) {
      throw InvalidFormat(fmt::format("{} details are not an object", what));
    }
    job.book_uuid = q.optional_text(3);
    job.book_name = q.optional_text(4);
    const std::int64_t priority = q.integer(5);
    if (priority < 0 || priority > static_cast<std::int64_t>(JobPriority::kVeryLow)) {
      throw InvalidFormat(fmt::format("{} has an unknown priority {}", what, priority));
    }
    job.priority = static_cast<JobPriority>(priority);
    job.sequence = q.integer(6);
    job.created_on = from_micros(q.integer(7));
    job.last_modified = from_micros(q.integer(8));
    job.state = parse_job_state(q.text(9));
    job.owner = q.optional_text(10);
    if (job.state == JobState::kClaimed && !q.is_null(14)) {
      job.lease_until = from_micros(q.integer(14));
      // A claim whose lease ran out is shown as the other boards show it: unclaimed (its row
      // keeps the old owner until the next claim replaces it; kClaimable says the same).
      if (q.integer(14) < at) {
        job.state = JobState::kUnclaimed;
        job.owner.reset();
        job.lease_until.reset();
      }
    }
    job.attempts = q.integer(11);
    job.max_attempts = q.integer(12);
    if (!q.is_null(13)) {
      job.not_before = from_micros(q.integer(13));
    }
    if (!q.is_null(15)) {
      job.last_failure = Failure::from_dict(
          persistence::detail::parse_stored_json(q.text(15), what + " last_failure"));
    }
    job.trash_reason = q.optional_text(16);
    return job;
  }

  const BoardOptions options_;
  mutable std::mutex mu_;
  std::condition_variable posted_;
  std::unique_ptr<SqliteDb> db_;      // Guarded by mu_; null once closed.
  std::vector<std::string> skipped_;  // Guarded by mu_.
};

}  // namespace

std::unique_ptr<JobBoard> make_sqlite_jobboard(const std::string& path, BoardOptions options) {
  return std::make_unique<SqliteJobBoard>(path, options);
}

}  // namespace caboose::jobs
