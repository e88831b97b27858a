// One claimed job while a conductor runs it (private to the conductor).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "caboose/conductors/conductor.h"

namespace caboose::conductors {

// "job=<uuid> token=<n> ...": the claims a fault point passes, for its log line.
std::string describe_claims(const std::vector<jobs::Claim>& claims);

// One claimed job while it runs: the claim (renewed by the keeper), the lease's local deadline,
// and the engine to suspend when the claim is lost.
struct Conductor::Running : std::enable_shared_from_this<Conductor::Running> {
  Running(jobs::Claim c, std::chrono::steady_clock::time_point d)
      : claim(std::move(c)), deadline(d), started(std::chrono::steady_clock::now()) {}

  jobs::Claim current() const {
    std::lock_guard lock(mu);
    return claim;
  }
  bool valid(const Clock& clock) const {
    if (lost.load()) {
      return false;
    }
    std::lock_guard lock(mu);
    return clock.now() < deadline;
  }
  // Marks the claim lost and suspends the engine (once). suspend() notifies the engine's
  // listeners, which call back here: the second call returns at once.
  void lose() noexcept {
    if (lost.exchange(true)) {
      return;
    }
    std::lock_guard lock(engine_mu);
    if (engine != nullptr) {
      try {
        engine->suspend();
      } catch (const std::exception&) {
        // The suspension could not be saved (e.g. fenced): the run stops all the same.
      }
    }
  }
  void attach(engine::Engine* e) {
    std::lock_guard lock(engine_mu);
    engine = e;
  }

  mutable std::mutex mu;
  jobs::Claim claim;                                    // Guarded by mu.
  std::chrono::steady_clock::time_point deadline;       // Guarded by mu.
  const std::chrono::steady_clock::time_point started;  // when claimed (for metrics)
  std::mutex engine_mu;
  engine::Engine* engine = nullptr;  // Guarded by engine_mu (held while suspending it).
  std::atomic<bool> lost{false};
  // Its consume was handed to the finisher (which then stops the keeper renewing it).
  bool deferred = false;
};

}  // namespace caboose::conductors
