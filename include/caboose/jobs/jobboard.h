// JobBoard: where jobs are posted, listed and claimed, as TaskFlow's jobboard, with leases,
// attempts and a garbage bin. Many boards (in many processes) share one store; every state
// change is one atomic step in that store, so two claimers racing for a job never both win,
// and an action carrying a stale claim changes nothing.
//
//   auto board = caboose::jobs::fetch_jobboard("sqlite:///var/lib/app/board.db");
//   board->post("charge-order-17", {.details = {{"store", {{"order", 17}}}}});
//   for (const Job& job : board->iterjobs(/*only_unclaimed=*/true)) {
//     Claim claim = board->claim(job.uuid, "conductor-1");
//     ...  // run it, renewing the claim
//     board->consume(claim);
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/clock.h"
#include "caboose/core/notifier.h"
#include "caboose/jobs/job.h"
#include "caboose/persistence/models.h"

namespace caboose::jobs {

struct PostOptions {
  Value details = Value::object();
  // The logbook the job runs on (its uuid and name are recorded, as TaskFlow's post(book=)).
  std::optional<persistence::LogBook> book = std::nullopt;
  JobPriority priority = JobPriority::kNormal;
  std::int64_t max_attempts = 0;  // 0: the board's default
  std::optional<TimePoint> not_before = std::nullopt;
};

struct BoardOptions {
  std::chrono::milliseconds lease{30000};  // how long a claim holds unless renewed
  std::int64_t max_attempts = 5;           // default attempt limit of jobs posted here
  // Where the board reads the time it writes (lease ends, not-before times, posting times):
  // the system clock when null. Tests and the simulation drive it with a ManualClock; every
  // process sharing a board must read the same time.
  const Clock* clock = nullptr;
};

class JobBoard {
 public:
  virtual ~JobBoard() = default;

  virtual void close() = 0;

  // Posts a job; returns it as stored. InvalidArgument for an empty name or details that are
  // not an object.
  virtual Job post(std::string name, PostOptions options = {}) = 0;
  // The jobs on the board in claim order (priority, then oldest first): with only_unclaimed,
  // the ones claimable now (unclaimed or with a lapsed claim, and due). Trashed jobs are
  // listed by trashed(), not here. Records that cannot be read are skipped, logged and kept
  // for skipped().
  virtual std::vector<Job> iterjobs(bool only_unclaimed = false) = 0;
  // What the last iterjobs()/trashed() could not read: one line per record, naming it.
  virtual std::vector<std::string> skipped() const = 0;
  // Waits up to `timeout` for a claimable job; returns whether there is one. No busy loop.
  virtual bool wait(std::chrono::milliseconds timeout) = 0;
  virtual std::optional<Job> find(std::string_view job_uuid) = 0;

  // Claims a job for `who`, counting the attempt in the same step. UnclaimableJob when it is
  // claimed by someone else (and the claim holds), not due yet, trashed; NotFound when absent.
  virtual Claim claim(std::string_view job_uuid, std::string_view who) = 0;
  // claim() of several jobs, in one round trip where the store allows: for each uuid, in order,
  // its claim, or nullopt when it could not be claimed (claimed by another, not due, trashed,
  // gone). Other failures (the store unreachable) throw.
  virtual std::vector<std::optional<Claim>> claim_many(const std::vector<std::string>& job_uuids,
                                                       std::string_view who);
  // Extends the lease. StaleClaim when the claim is no longer the job's current one.
  virtual Claim renew(const Claim& claim) = 0;
  // The job is done: it leaves the board. StaleClaim as renew().
  virtual void consume(const Claim& claim) = 0;
  // consume() of several claims, in one round trip where the store allows: for each, in order,
  // null or what consume() would have thrown.
  virtual std::vector<std::exception_ptr> consume_many(const std::vector<Claim>& claims);
  // Gives the job back: claimable again from `not_before` (now if absent), with the failure
  // that made the claimer give up. StaleClaim as renew().
  virtual void abandon(const Claim& claim, std::optional<TimePoint> not_before = std::nullopt,
                       std::optional<Failure> failure = std::nullopt) = 0;
  // Gives the job back as if this claim had not been made: claimable now, the attempt not
  // counted (a conductor stopping on request). The token is not reused. StaleClaim as renew().
  virtual void release(const Claim& claim) = 0;
  // Moves the job to the garbage bin with the reason (and the failure, if given). StaleClaim
  // as renew().
  virtual void trash(const Claim& claim, std::string reason,
                     std::optional<Failure> failure = std::nullopt) = 0;
  // Who holds a valid claim on the job, if anyone.
  virtual std::optional<std::string> find_owner(std::string_view job_uuid) = 0;
  // Jobs on the board (not trashed).
  virtual std::size_t job_count() = 0;

  // The garbage bin: trashed jobs, oldest first; requeue puts one back on the board with its
  // attempts reset (NotFound if not trashed); purge deletes one, purge_all every trashed job
  // (returns how many).
  virtual std::vector<Job> trashed() = 0;
  virtual Job requeue(std::string_view job_uuid) = 0;
  virtual void purge(std::string_view job_uuid) = 0;
  // The default purges each trashed job in turn (one purged meanwhile by another is skipped).
  virtual std::size_t purge_all();

  // Records a conductor as alive on the board (name, details, last seen).
  virtual void register_entity(std::string_view name, const Value& details) = 0;
  virtual Value entities() = 0;

  // "posted" (details: job uuid, name) and "removal" (job uuid, and "reason": consumed,
  // trashed, purged) for what this board object did.
  Notifier& notifier() { return notifier_; }
  virtual const BoardOptions& options() const = 0;

  // `in_doubt` is called (on a thread of the board's, holding none of its locks) when the board
  // learns that claims it granted may be gone (a ZooKeeper session expired, say): a holder renews
  // at once to find out, instead of at its next renewal. Boards that cannot tell never call it.
  // Returns the id unwatch_claims() takes.
  std::uint64_t watch_claims(std::function<void()> in_doubt);
  void unwatch_claims(std::uint64_t id);

 protected:
  // For implementations: calls every claims watcher.
  void claims_in_doubt();
  // For implementations: the time now, from options().clock (the system clock by default).
  TimePoint now() const;
  // For implementations. Throws InvalidArgument unless the lease and max_attempts are positive.
  static void check_options(const BoardOptions& options);
  // The job a post() makes (fresh uuid, times now, the board's attempt limit unless the post
  // gives one; sequence 0 for the board to fill). Throws InvalidArgument for an empty name,
  // details that are not an object, a negative max_attempts.
  static Job new_job(std::string name, PostOptions options, const BoardOptions& board);
  // The orders every board lists in: claim order (priority, then posting sequence) for
  // iterjobs(), oldest trashed first for trashed().
  static void sort_in_claim_order(std::vector<Job>& jobs);
  static void sort_in_bin_order(std::vector<Job>& jobs);

  Notifier notifier_;

 private:
  std::mutex watchers_mu_;
  std::uint64_t next_watcher_ = 0;                                 // Guarded by watchers_mu_.
  std::map<std::uint64_t, std::function<void()>> claim_watchers_;  // Guarded by watchers_mu_.
};

// sqlite:///relative.db, sqlite:////absolute.db (the embedded board of one host);
// redis://[[user]:password@]host[:port][/db][?namespace=ns&timeout_ms=N] (TaskFlow's Redis layout);
// zookeeper://[user:password@]host:port[,host:port...][/path][?session_timeout_ms=N]
// (TaskFlow's ZooKeeper layout, default path /taskflow/jobs; with credentials, digest
// authentication and nodes open to that identity only);
// etcd://[user:password@]host:port[,host:port...]/path[?timeout_ms=N] (TaskFlow's etcd layout,
// keys under /taskflow/jobs/<path>; with credentials, etcd's authentication: the user's roles
// need readwrite on /taskflow/jobs/<path> and /taskflow/.trash/<path> as prefixes).
// Every scheme takes ?lease_ms=30000&max_attempts=5.
// Throws InvalidArgument naming what is wrong with the URI, StorageFailure when the store
// cannot be opened or reached.
[[nodiscard]] std::unique_ptr<JobBoard> fetch_jobboard(std::string_view uri,
                                                       BoardOptions options = {});

// A jobboard URI as messages and pages may show it: any password replaced by ***.
[[nodiscard]] std::string redact_board_uri(std::string_view uri);

}  // namespace caboose::jobs
