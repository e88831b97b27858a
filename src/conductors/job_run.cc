// One dispatched job: locating its flow, building the engine, the stages and the decision
// (consume, abandon with backoff, trash, release) as taskflow/conductors/backends/
// impl_executor.py's _dispatch_job and _try_finish_job, with attempts and fencing (conductor.h).
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "caboose/conductors/conductor.h"
#include "caboose/core/errors.h"
#include "caboose/core/failure.h"
#include "caboose/core/fault_point.h"

#include "conductors/conductor_metrics.h"
#include "conductors/job_details.h"
#include "conductors/running_job.h"
#include "core/log.h"

namespace caboose::conductors {

using jobs::Claim;
using jobs::Job;

namespace {

// A failure worth another attempt elsewhere (TaskFlow's NO_CONSUME_EXCEPTIONS).
bool retryable(const Failure& failure) {
  return failure.check<ExecutionFailure>() || failure.check<StorageFailure>() ||
         failure.check("taskflow.exceptions.ExecutionFailure") ||
         failure.check("taskflow.exceptions.StorageFailure");
}

// What a failure that ends a stage is: the claim was lost, worth another attempt, or not.
enum class Kind { kLost, kRetry, kOther };

Kind classify(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const StaleClaim&) {
    return Kind::kLost;
  } catch (const WrappedFailure& wrapped) {
    for (const Failure& f : wrapped.failures()) {
      if (!retryable(f)) {
        return Kind::kOther;
      }
    }
    return Kind::kRetry;
  } catch (const ExecutionFailure&) {
    return Kind::kRetry;
  } catch (const StorageFailure&) {
    return Kind::kRetry;
  } catch (...) {
    return Kind::kOther;
  }
}

}  // namespace

persistence::FlowDetail Conductor::locate(const Job& job) {
  if (!job.book_uuid) {
    throw NotFound(fmt::format("job {} names no logbook", job.uuid));
  }
  if (const std::optional<std::string> flow_uuid = flow_uuid_of(job)) {
    try {
      return persistence_.get_flow_details(*flow_uuid);
    } catch (const NotFound&) {
      throw NotFound(fmt::format("job {}: no flow detail {} in the persistence backend", job.uuid,
                                 *flow_uuid));
    }
  }
  std::vector<persistence::FlowDetail> flows;
  try {
    flows = persistence_.get_flows_for_book(*job.book_uuid);
  } catch (const NotFound&) {
    throw NotFound(fmt::format("job {}: its logbook {} is not in the persistence backend", job.uuid,
                               *job.book_uuid));
  }
  if (flows.empty()) {
    throw NotFound(
        fmt::format("job {}: no flow details in its logbook {}", job.uuid, *job.book_uuid));
  }
  if (flows.size() > 1) {
    throw MultipleChoices(fmt::format(
        "job {}: {} flow details in its logbook {} and no details[\"flow_uuid\"] to choose",
        job.uuid, flows.size(), *job.book_uuid));
  }
  return std::move(flows.front());
}

Conductor::Verdict Conductor::judge(const Job& job) {
  {
    std::lock_guard lock(mu_);
    if (const auto it = judged_.find(job.uuid); it != judged_.end()) {
      return Verdict::kLeave;
    }
  }
  try {
    const FactoryCall call = FactoryCall::from_meta(locate(job).meta);
    if (registry_.contains(call.name)) {
      return Verdict::kRun;
    }
    detail::log().info("job left on the board job={} factory={}: no such factory here", job.uuid,
                       call.name);
    std::lock_guard lock(mu_);
    if (judged_.size() > 100000) {
      judged_.clear();
    }
    judged_.emplace(job.uuid, true);
    return Verdict::kLeave;
  } catch (const StorageFailure& e) {
    detail::log().warn("cannot read the flow of job={}: {}", job.uuid, e.what());
    return Verdict::kLeave;  // the backend is unreachable: nothing is known about the job
  } catch (const std::exception&) {
    return Verdict::kTrash;  // claimed, then trashed with the reason by run_job()
  }
}

JobOutcome Conductor::run_job(const Job& job, const std::shared_ptr<Running>& running) {
  // Token and attempt never change while the keeper renews the lease (only lease_until does).
  const Claim claimed = running->current();
  const std::int64_t attempt = claimed.attempt;
  const persistence::FenceToken token = claimed.token;
  const std::int64_t limit =
      job.max_attempts > 0 ? job.max_attempts : board_.options().max_attempts;
  if (attempt > limit) {
    return finish(job, *running, JobOutcome::kTrashed, job.last_failure,
                  job.last_failure
                      ? fmt::format("gave up after {} attempts; the last failed with {}", limit,
                                    job.last_failure->to_string())
                      : fmt::format("gave up after {} attempts; none ended (their conductors "
                                    "died or lost the claim)",
                                    limit),
                  "gave_up");
  }

  // Build the engine: a job that cannot be built is trashed, unless the backend failed.
  std::unique_ptr<engine::Engine> engine;
  try {
    persistence::FlowDetail flow_detail = locate(job);
    const persistence::FenceToken fence = persistence_.fence(flow_detail.uuid, token);
    if (fence > token) {
      throw StaleClaim(fmt::format("flow detail {} is fenced at {} above claim token {}",
                                   flow_detail.uuid, fence, token));
    }
    FlowPtr flow = registry_.make(FactoryCall::from_meta(flow_detail.meta));
    Value store = merged_store(flow_detail, job);
    // The claim, for tasks that require it: a task writing elsewhere can pass the token on, so
    // that store can refuse a stale holder too (the fencing token travels with the work).
    store[std::string(kClaimSymbol)] = Value{{"job_uuid", job.uuid},
                                             {"job_name", job.name},
                                             {"token", token},
                                             {"attempt", attempt},
                                             {"conductor", name_}};
    engine = engine::load(std::move(flow), {.store = std::move(store),
                                            .backend = &persistence_,
                                            .flow_detail = std::move(flow_detail),
                                            .options = options_.engine,
                                            .fence_token = token});
  } catch (const std::exception& e) {
    const std::exception_ptr error = std::current_exception();
    const Kind kind = classify(error);
    const std::optional<Failure> failure = Failure::capture(error);
    if (kind == Kind::kLost) {
      if (metrics_) {
        metrics_->fencing_refusals.inc();
      }
      return finish(job, *running, JobOutcome::kLost, failure);
    }
    if (kind == Kind::kRetry) {
      return finish(job, *running, JobOutcome::kAbandoned, failure);
    }
    return finish(job, *running, JobOutcome::kTrashed, failure,
                  fmt::format("cannot build the job's flow: {}", e.what()));
  }

  engine::LoggingListener logging(*engine);
  engine::ClaimListener claim_listener(
      *engine, [this, running] { return running->valid(clock_); },
      [running](engine::Engine&) { running->lose(); });
  std::vector<std::unique_ptr<engine::Listener>> listeners;
  if (options_.listeners) {
    listeners = options_.listeners(job, *engine);
  }
  std::optional<AtomTimer> atom_timer;
  if (metrics_) {
    atom_timer.emplace(*engine, metrics_->atom_duration);
  }
  running->attach(engine.get());
  {
    std::lock_guard lock(mu_);
    engines_.push_back(engine.get());
    if (stopping_.load()) {
      suspend_quietly(*engine);
    }
  }
  struct Detach {
    Conductor& c;
    Running& r;
    engine::Engine* e;
    ~Detach() {
      r.attach(nullptr);
      std::lock_guard lock(c.mu_);
      std::erase(c.engines_, e);
    }
  } detach{*this, *running, engine.get()};

  const char* stage = "compilation";
  try {
    notify("compilation_start", job, attempt);
    engine->compile();
    notify("compilation_end", job, attempt);
    stage = "preparation";
    notify("preparation_start", job, attempt);
    engine->prepare();
    notify("preparation_end", job, attempt);
    stage = "validation";
    notify("validation_start", job, attempt);
    engine->validate();
    notify("validation_end", job, attempt);
    stage = "running";
    notify("running_start", job, attempt);
    if (engine->state() == FlowState::kReverted) {
      engine->reset();  // an earlier attempt reverted and gave the job back: start over
    }
    // As TaskFlow: a stop requested before the run began (which clears earlier requests) is
    // passed on at the first step.
    bool suspended = false;
    {
      // The run's duration, however it ends.
      struct Timed {
        Histogram* h;
        std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
        ~Timed() {
          if (h != nullptr) {
            h->observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          }
        }
      } timed{metrics_ ? &metrics_->flow_duration : nullptr};
      for (engine::RunIterator it = engine->run_iter(); it.next();) {
        if (!suspended && (stopping_.load() || running->lost.load())) {
          engine->suspend();
          suspended = true;
        }
      }
    }
    notify("running_end", job, attempt);
  } catch (const std::exception& e) {
    const std::exception_ptr error = std::current_exception();
    const std::optional<Failure> failure = Failure::capture(error);
    switch (classify(error)) {
      case Kind::kLost:
        if (metrics_) {
          metrics_->fencing_refusals.inc();
        }
        return finish(job, *running, JobOutcome::kLost, failure);
      case Kind::kRetry:
        detail::log().warn("job execution failed (consumption being skipped) job={}: {}", job.uuid,
                           e.what());
        return finish(job, *running, JobOutcome::kAbandoned, failure);
      case Kind::kOther:
        break;
    }
    if (std::string_view(stage) != "running") {
      return finish(job, *running, JobOutcome::kTrashed, failure,
                    fmt::format("{} of the job's flow failed: {}", stage, e.what()));
    }
    detail::log().warn("job execution failed (consumption proceeding) job={}: {}", job.uuid,
                       e.what());
    return finish(job, *running, JobOutcome::kConsumed, failure);
  }
  if (engine->state() == FlowState::kSuspended) {
    if (running->lost.load() || !running->valid(clock_)) {
      return finish(job, *running, JobOutcome::kLost, std::nullopt);
    }
    return finish(job, *running, JobOutcome::kReleased, std::nullopt);
  }
  return finish(job, *running, JobOutcome::kConsumed, std::nullopt);
}

JobOutcome Conductor::finish(const Job& job, Running& running, JobOutcome outcome,
                             const std::optional<Failure>& failure, std::string reason,
                             std::string_view trash_kind) {
  const Claim claim = running.current();
  const std::int64_t limit =
      job.max_attempts > 0 ? job.max_attempts : board_.options().max_attempts;
  if (outcome == JobOutcome::kAbandoned && claim.attempt >= limit) {
    outcome = JobOutcome::kTrashed;
    trash_kind = "max_attempts";
    reason = fmt::format("failed {} of {} attempts; the last with {}", claim.attempt, limit,
                         failure ? failure->to_string() : std::string("no failure recorded"));
  }
  Value extra = Value::object();
  if (failure) {
    extra["failure"] = failure->to_dict();
  }
  try {
    switch (outcome) {
      case JobOutcome::kConsumed: {
        if (defer_consume(job, running)) {
          if (metrics_) {
            metrics_->job_duration(outcome).observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - running.started)
                    .count());
          }
          return outcome;  // the finisher consumes it, counts it and notifies
        }
        const auto context = [&] { return describe_claims({claim}); };
        fault_point("conductor.before_consume", context);
        board_.consume(claim);
        detail::log().info("job consumed job={} attempt={}", job.uuid, claim.attempt);
        fault_point("conductor.after_consume", context);
        break;
      }
      case JobOutcome::kAbandoned: {
        double unit = 0;
        {
          std::lock_guard lock(mu_);
          rng_state_ += 0x9E3779B97F4A7C15ULL;  // splitmix64
          std::uint64_t z = rng_state_;
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
          unit = static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
        }
        const jobs::TimePoint not_before =
            jobs::now() + std::chrono::duration_cast<std::chrono::microseconds>(
                              options_.backoff.delay(claim.attempt, unit));
        board_.abandon(claim, not_before, failure);
        extra["not_before"] = jobs::format_time(not_before);
        detail::log().warn("job abandoned job={} attempt={} not_before={}", job.uuid, claim.attempt,
                           jobs::format_time(not_before));
        break;
      }
      case JobOutcome::kTrashed:
        board_.trash(claim, reason, failure);
        extra["reason"] = reason;
        detail::log().warn("job trashed job={} attempt={} reason={}", job.uuid, claim.attempt,
                           reason);
        break;
      case JobOutcome::kReleased:
        board_.release(claim);
        detail::log().info("job released job={} attempt={}", job.uuid, claim.attempt);
        break;
      case JobOutcome::kLost:
        detail::log().error("job lost job={} token={}: the claim is gone; nothing more written{}",
                            job.uuid, claim.token,
                            failure ? " (" + failure->to_string() + ")" : std::string());
        break;
    }
  } catch (const std::exception& e) {
    detail::log().error("cannot finish job={} as {}: {}", job.uuid, to_string(outcome), e.what());
    outcome = JobOutcome::kLost;
  }
  if (metrics_) {
    metrics_->outcome(outcome, trash_kind).inc();
    metrics_->job_duration(outcome).observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - running.started).count());
  }
  notify(fmt::format("job_{}", to_string(outcome)), job, claim.attempt, std::move(extra));
  return outcome;
}

void Conductor::consumed(const Job& job, const Claim& claim, const std::exception_ptr& error) {
  if (!error) {
    detail::log().info("job consumed job={} attempt={}", job.uuid, claim.attempt);
    if (metrics_) {
      metrics_->consumed.inc();
    }
    notify("job_consumed", job, claim.attempt);
    return;
  }
  if (metrics_) {
    metrics_->lost.inc();
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    detail::log().error("cannot finish job={} as consumed: {}", job.uuid, e.what());
  }
  notify("job_lost", job, claim.attempt);
}

}  // namespace caboose::conductors
