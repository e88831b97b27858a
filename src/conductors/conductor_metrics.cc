#include "conductors/conductor_metrics.h"

#include <ctime>

namespace caboose::conductors {
namespace {

const std::vector<double> kAttemptBuckets = {1, 2, 3, 4, 5, 10, 20};

Counter& outcome_counter(MetricsRegistry& r, const char* outcome, MetricLabels extra = {}) {
  extra.emplace_back("outcome", outcome);
  return r.counter("caboose_jobs_finished_total",
                   "Jobs a conductor finished, by outcome (consumed, abandoned for another "
                   "attempt, trashed, released on stop, lost) and, when trashed, why",
                   std::move(extra));
}

Histogram& duration(MetricsRegistry& r, const char* outcome) {
  return r.histogram("caboose_job_duration_seconds",
                     "From a job's claim to its outcome, by outcome", Histogram::kSecondsBuckets,
                     {{"outcome", outcome}});
}

}  // namespace

ConductorMetrics::ConductorMetrics(MetricsRegistry& r, const std::string& conductor,
                                   std::size_t capacity)
    : registry(r),
      claimed(r.counter("caboose_jobs_claimed_total", "Claims a conductor was granted")),
      claims_missed(r.counter("caboose_claims_missed_total",
                              "Claims asked for and not granted (another conductor was first, "
                              "the job was not due or gone)")),
      claim_errors(r.counter("caboose_claim_errors_total",
                             "Claim requests that failed (the board unreachable, say)")),
      claim_duration(r.histogram("caboose_claim_duration_seconds",
                                 "Round trip of one claim request (one or several jobs)",
                                 Histogram::kSecondsBuckets)),
      claim_attempt(r.histogram("caboose_claim_attempt",
                                "Which attempt of its job each granted claim was (1: the first)",
                                kAttemptBuckets)),
      consumed(outcome_counter(r, "consumed")),
      abandoned(outcome_counter(r, "abandoned")),
      released(outcome_counter(r, "released")),
      lost(outcome_counter(r, "lost")),
      trashed_max_attempts(outcome_counter(r, "trashed", {{"reason", "max_attempts"}})),
      trashed_gave_up(outcome_counter(r, "trashed", {{"reason", "gave_up"}})),
      trashed_unbuildable(outcome_counter(r, "trashed", {{"reason", "unbuildable"}})),
      flow_duration(r.histogram("caboose_flow_duration_seconds",
                                "One engine run of a job's flow (running_start to running_end)",
                                Histogram::kSecondsBuckets)),
      atom_duration(r.histogram("caboose_atom_duration_seconds", "One task's execution or revert",
                                Histogram::kSecondsBuckets)),
      renewals(r.counter("caboose_lease_renewals_total", "Lease renewals the board granted")),
      renewal_failures(r.counter("caboose_lease_renewal_failures_total",
                                 "Lease renewals that failed (retried until the deadline)")),
      claims_lost(r.counter("caboose_claims_lost_total",
                            "Claims lost while running: renewal refused, or the lease's local "
                            "deadline passed without one")),
      fencing_refusals(r.counter("caboose_fencing_refusals_total",
                                 "Writes refused because a newer claim raised the flow's fence")),
      running(r.gauge("caboose_jobs_running", "Jobs the conductor is running now")),
      up(r.gauge("caboose_conductor_up", "1 while the conductor's run loop runs")),
      last_scan(r.gauge("caboose_conductor_last_scan_timestamp_seconds",
                        "When the conductor last looked at the board (Unix time): alert when "
                        "it stops moving")) {
  r.gauge("caboose_conductor_info", "The conductor: its name and capacity as labels, value 1",
          {{"name", conductor}, {"max_jobs", std::to_string(capacity)}})
      .set(1);
  r.gauge("caboose_conductor_start_time_seconds", "When the conductor started (Unix time)")
      .set(static_cast<double>(std::time(nullptr)));
  for (const JobOutcome o : {JobOutcome::kConsumed, JobOutcome::kAbandoned, JobOutcome::kTrashed,
                             JobOutcome::kReleased, JobOutcome::kLost}) {
    durations[static_cast<int>(o)] = &duration(r, std::string(to_string(o)).c_str());
  }
}

Counter& ConductorMetrics::outcome(JobOutcome o, std::string_view trash_reason) {
  switch (o) {
    case JobOutcome::kConsumed:
      return consumed;
    case JobOutcome::kAbandoned:
      return abandoned;
    case JobOutcome::kReleased:
      return released;
    case JobOutcome::kLost:
      return lost;
    case JobOutcome::kTrashed:
      break;
  }
  if (trash_reason == "max_attempts") {
    return trashed_max_attempts;
  }
  return trash_reason == "gave_up" ? trashed_gave_up : trashed_unbuildable;
}

AtomTimer::AtomTimer(engine::Engine& engine, Histogram& durations)
    : Listener(engine, {.flow = {}, .retry = {}}), durations_(durations) {}

AtomTimer::~AtomTimer() {
  deregister();
}

void AtomTimer::on_task(AtomState state, const Value& details) {
  const std::string uuid = details.value("task_uuid", std::string());
  std::lock_guard lock(mu_);
  switch (state) {
    case AtomState::kRunning:
    case AtomState::kReverting:
      started_[uuid] = Clock::now();
      break;
    case AtomState::kSuccess:
    case AtomState::kFailure:
    case AtomState::kReverted:
    case AtomState::kRevertFailure:
      if (const auto it = started_.find(uuid); it != started_.end()) {
        durations_.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
        started_.erase(it);
      }
      break;
    default:
      break;
  }
}

}  // namespace caboose::conductors
