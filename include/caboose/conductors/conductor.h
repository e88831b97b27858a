// Conductor: claims jobs from a jobboard, rebuilds each job's flow from a FlowRegistry, runs it
// in an engine on the persistence backend, then consumes the job, or abandons it for another
// conductor (TaskFlow's conductors), and repeats. What caboose adds so that no job cycles forever
// and no stale holder writes:
//
//  - Only jobs whose factory the registry knows are claimed; the others stay on the board,
//    untouched. A job whose flow cannot be located or built (no book, no flow detail, no
//    factory, a factory or engine that refuses it) is trashed with the reason.
//  - Every claim counts an attempt. A run that fails for a reason worth retrying (TaskFlow's
//    NO_CONSUME failures: ExecutionFailure, StorageFailure) is abandoned with exponential
//    backoff with jitter and its failure recorded; at the job's attempt limit it is trashed with
//    the reason instead, and "job_trashed" fires. A claim whose attempt is past the limit (the
//    holders died: kill -9 uses attempts too) is trashed without running. A flow that reverted
//    after an ordinary task failure is consumed, as TaskFlow does.
//  - A claim keeper renews the lease while the engine runs. When a renewal is refused, or the
//    lease's local deadline passes without one, the engine is suspended and starts no more
//    atoms; every save carries the claim's token, so the persistence fence refuses writes once
//    another conductor has claimed the job.
//  - stop() claims nothing more, suspends running engines and releases their jobs without
//    counting the attempt.
//
// run() blocks its caller; stop(), wait() and the accessors may be called from other threads.
// The board, the persistence backend and the registry must outlive the conductor.
//
//   caboose::conductors::BlockingConductor conductor("worker-1", *board, *backend, registry);
//   std::jthread t([&] { conductor.run(); });
//   ...
//   conductor.stop();
//   conductor.wait(std::chrono::seconds(30));
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/conductors/flow_registry.h"
#include "caboose/core/clock.h"
#include "caboose/core/metrics.h"
#include "caboose/core/notifier.h"
#include "caboose/engine/engine.h"
#include "caboose/engine/listeners.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/backend.h"

namespace caboose::conductors {

// How long an abandoned job waits before it can be claimed again: base * 2^(attempt - 1),
// at most `cap`, then a random part of it kept (between half and all), so that conductors that
// failed together do not come back together.
struct Backoff {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{300000};
  // The delay after `attempt` (1 for the first claim) failed; `unit` in [0, 1) picks the jitter.
  std::chrono::milliseconds delay(std::int64_t attempt, double unit) const;
};

// The stored name under which a conductor gives each job's flow its claim: {"job_uuid",
// "job_name", "token", "attempt", "conductor"}. A task that writes to a system of its own can
// require it and pass the token along, so that system refuses a holder whose claim was taken
// over, as caboose's persistence does.
inline constexpr std::string_view kClaimSymbol = "caboose_claim";

// What a conductor attaches to the engine of one job, besides its own logging and claim
// listeners. Called on the thread that runs the job.
using ListenerFactory = std::function<std::vector<std::unique_ptr<engine::Listener>>(
    const jobs::Job& job, engine::Engine& engine)>;

struct ConductorOptions {
  // Engines run jobs with these options.
  engine::EngineOptions engine = {};
  // Idle wait between board scans when nothing could be claimed (TaskFlow's WAIT_TIMEOUT).
  std::chrono::milliseconds wait_timeout{500};
  // A board listing is reused to claim from until exhausted, at most this long.
  std::chrono::milliseconds refresh{1000};
  // How often held claims are renewed; 0: a third of the board's lease.
  std::chrono::milliseconds renew_every{0};
  Backoff backoff = {};
  // Extra metadata registered with the conductor's entity (hostname and pid are added).
  Value metadata = Value::object();
  ListenerFactory listeners = nullptr;
  // Where time comes from (leases' local deadlines); null: the system clock.
  const Clock* clock = nullptr;
  // Where the conductor counts what it does (claims, outcomes, durations, renewals, fencing
  // refusals; docs/operations.md lists them); null: nothing is measured. Must outlive it.
  MetricsRegistry* metrics = nullptr;
};

// What became of one dispatched job.
enum class JobOutcome { kConsumed, kAbandoned, kTrashed, kReleased, kLost };
std::string_view to_string(JobOutcome outcome);

struct ConductorMetrics;  // what a conductor measures (private)

class Conductor {
 public:
  Conductor(const Conductor&) = delete;
  Conductor& operator=(const Conductor&) = delete;
  virtual ~Conductor();

  // Checks the board and the persistence backend can be used (StorageFailure saying why not).
  void connect();
  // Closes the board; the conductor cannot run after.
  void close();

  // Claims, runs and finishes jobs until stop(), or until `max_dispatches` jobs were claimed
  // (then waits for them to finish). Returns once every job it claimed is finished.
  void run(std::optional<std::size_t> max_dispatches = std::nullopt);
  // Asks run() to return: no new claims; running engines are suspended and their jobs released.
  // Thread-safe; sticky (a later run() returns at once).
  void stop();
  // Waits up to `timeout` for run() to have returned; returns whether it has.
  bool wait(std::chrono::milliseconds timeout);
  // Whether run() is running.
  bool dispatching() const { return dispatching_.load(); }

  const std::string& name() const { return name_; }
  // The entity registered on the board: {"kind": "conductor", "name", "metadata": {hostname,
  // pid, ...}}, as TaskFlow's conductor.conductor.to_dict().
  Value entity() const;

  // TaskFlow's events, in the order one dispatch emits them: compilation_start/_end,
  // preparation_start/_end, validation_start/_end, running_start/_end (a stage that throws emits
  // its _start only), then job_consumed, job_abandoned or job_trashed, and job_released (a stop)
  // or job_lost (the claim was lost; nothing was written). Details: job_uuid, job_name,
  // conductor, attempt; job_trashed adds "reason"; job_abandoned adds "not_before"; failures
  // add "failure" (a failure dict).
  Notifier& notifier() { return notifier_; }

 protected:
  // `max_simultaneous_jobs` jobs at once; `inline_jobs`: run them on run()'s thread (then 1).
  Conductor(std::string name, jobs::JobBoard& board, persistence::Backend& persistence,
            const FlowRegistry& registry, ConductorOptions options,
            std::size_t max_simultaneous_jobs, bool inline_jobs);

 private:
  class Pool;
  class Keeper;
  class Finisher;
  struct Running;

  JobOutcome run_job(const jobs::Job& job, const std::shared_ptr<Running>& running);
  // `trash_kind` (for metrics): "unbuildable" or "gave_up"; "max_attempts" when an abandon
  // turns into a trash here.
  JobOutcome finish(const jobs::Job& job, Running& running, JobOutcome outcome,
                    const std::optional<Failure>& failure, std::string reason = {},
                    std::string_view trash_kind = "unbuildable");
  // Hands the consume to the finisher (non-blocking conductors); false if there is none.
  bool defer_consume(const jobs::Job& job, Running& running);
  // Logs and notifies a consume that was made (error null) or refused.
  void consumed(const jobs::Job& job, const jobs::Claim& claim, const std::exception_ptr& error);
  // The job's flow detail (TaskFlow's _flow_detail_from_job): details["flow_uuid"], else the
  // only flow of the job's logbook. Throws NotFound, MultipleChoices, InvalidFormat.
  persistence::FlowDetail locate(const jobs::Job& job);
  // Whether the job's factory is known (claim it), unknown (leave it) or unreadable (claim it,
  // then trash it).
  enum class Verdict { kRun, kLeave, kTrash };
  Verdict judge(const jobs::Job& job);
  void idle_wait(bool board_had_claimable);
  // Asks the engine to suspend; a suspension that cannot be saved is logged, never thrown
  // (stop() runs on its caller's thread, a signal watcher's say).
  static void suspend_quietly(engine::Engine& engine) noexcept;
  void notify(std::string_view event, const jobs::Job& job, std::int64_t attempt,
              Value extra = Value::object()) const;

  const std::string name_;
  jobs::JobBoard& board_;
  persistence::Backend& persistence_;
  const FlowRegistry& registry_;
  const ConductorOptions options_;
  const std::size_t capacity_;
  const bool inline_jobs_;
  const Clock& clock_;
  Notifier notifier_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> dispatching_{false};
  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  std::size_t in_flight_ = 0;                        // Guarded by mu_.
  bool finished_ = false;                            // Guarded by mu_: run() has returned.
  std::vector<engine::Engine*> engines_;             // Guarded by mu_: engines running now.
  Finisher* finisher_ = nullptr;                     // Guarded by mu_: while run() runs.
  std::map<std::string, bool, std::less<>> judged_;  // Guarded by mu_: job uuid -> leave it.
  std::uint64_t rng_state_;                          // Guarded by mu_.
  std::unique_ptr<ConductorMetrics> metrics_;        // null without ConductorOptions::metrics
};

// Runs one job at a time, on run()'s thread (TaskFlow's BlockingConductor).
class BlockingConductor final : public Conductor {
 public:
  BlockingConductor(std::string name, jobs::JobBoard& board, persistence::Backend& persistence,
                    const FlowRegistry& registry, ConductorOptions options = {});
};

// Runs up to `max_simultaneous_jobs` jobs at once on a pool of that many threads, and never
// claims more than it can run (TaskFlow's NonBlockingConductor).
class NonBlockingConductor final : public Conductor {
 public:
  NonBlockingConductor(std::string name, jobs::JobBoard& board, persistence::Backend& persistence,
                       const FlowRegistry& registry, std::size_t max_simultaneous_jobs,
                       ConductorOptions options = {});
};

}  // namespace caboose::conductors
