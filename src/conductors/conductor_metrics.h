// What a conductor measures when given a MetricsRegistry (ConductorOptions::metrics): the
// metric references it updates (lock-free), and a listener timing a job's atoms. Private to the
// conductor.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "caboose/conductors/conductor.h"
#include "caboose/core/metrics.h"
#include "caboose/engine/listeners.h"

namespace caboose::conductors {

struct ConductorMetrics {
  ConductorMetrics(MetricsRegistry& registry, const std::string& conductor, std::size_t capacity);

  // The outcome's counter; for kTrashed, the one of `trash_reason`.
  Counter& outcome(JobOutcome outcome, std::string_view trash_reason);
  Histogram& job_duration(JobOutcome outcome) { return *durations[static_cast<int>(outcome)]; }

  MetricsRegistry& registry;
  Counter& claimed;
  Counter& claims_missed;  // asked for and not granted (another was first, not due, gone)
  Counter& claim_errors;
  Histogram& claim_duration;
  Histogram& claim_attempt;
  Counter& consumed;
  Counter& abandoned;
  Counter& released;
  Counter& lost;
  Counter& trashed_max_attempts;
  Counter& trashed_gave_up;
  Counter& trashed_unbuildable;
  Histogram& flow_duration;
  Histogram& atom_duration;
  Counter& renewals;
  Counter& renewal_failures;
  Counter& claims_lost;
  Counter& fencing_refusals;
  Gauge& running;
  Gauge& up;
  Gauge& last_scan;
  std::array<Histogram*, 5> durations{};  // by JobOutcome
};

// Times each task of one engine (RUNNING until SUCCESS or FAILURE; REVERTING until REVERTED or
// REVERT_FAILURE) into caboose_atom_duration_seconds. Saves nothing.
class AtomTimer final : public engine::Listener {
 public:
  AtomTimer(engine::Engine& engine, Histogram& durations);
  ~AtomTimer() override;

 private:
  void on_task(AtomState state, const Value& details) override;
  using Clock = std::chrono::steady_clock;
  Histogram& durations_;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> started_;  // Guarded by mu_.
};

}  // namespace caboose::conductors
