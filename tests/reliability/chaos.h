// The reliability harness: a workload of ledger jobs (caboose.examples.ledger: every task records
// its effect, with the claim's token and attempt, in a SQLite ledger outside the system under
// test), drained by `caboose conductor` processes on a real board and persistence while faults
// are injected, then a checker that reads the ledger, the board and the persistence store and
// counts each invariant's violations (../shared/DESIGN.md's contract; 0 expected).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "caboose/core/value.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/backend.h"

namespace caboose::reliability {

// One effect a task recorded.
struct Effect {
  std::string job_uuid;
  std::string atom;
  std::int64_t token = 0;
  std::int64_t attempt = 0;
  std::string conductor;
  std::int64_t pid = 0;
  std::int64_t at_us = 0;
};

// The effects in the order the ledger accepted them (its row order: the ledger checks each
// insert against the rows before it, so this is the order that counts, not the clock's).
std::vector<Effect> read_ledger(const std::string& path);
// How many effects the ledger refused (an older claim's, after a newer claim had recorded one).
std::size_t count_refused(const std::string& path);

// What the checker found. Each *_violations count must be 0.
struct Report {
  std::size_t jobs = 0;
  std::size_t consumed = 0;
  std::size_t trashed = 0;
  std::size_t pending = 0;
  // INV-1: a posted job that is neither consumed, nor trashed with a reason, nor on the board.
  std::size_t lost_violations = 0;
  // INV-4: an atom that ran twice under one claim (so more often than the job was claimed).
  std::size_t duplicate_run_violations = 0;
  // INV-4/5: a consumed job whose flow is not SUCCESS with every atom's expected result.
  std::size_t result_violations = 0;
  // INV-2/3: an effect recorded under an older claim after a newer claim's first effect (a
  // holder that kept working after its job was taken over; a holder resumed from a pause may
  // try, and the fenced ledger must refuse it).
  std::size_t stale_effect_violations = 0;
  // A job trashed although it had attempts left, or trashed without a reason.
  std::size_t trash_violations = 0;
  // INV-4: an effect under a claim newer than one whose flow had succeeded and was persisted
  // (a conductor killed between that and the consume): the next claim must only consume.
  std::size_t rerun_after_success_violations = 0;
  std::size_t effects = 0;
  std::size_t takeovers = 0;
  // From an older claim's last effect to the next claim's first (includes the lease running out).
  std::vector<double> takeover_ms;
  // The same, for the takeovers where the next claim was the very next attempt; the others had
  // claims in between that recorded nothing (refused by a store that was down, say, or killed
  // before their first task), each followed by its backoff.
  std::vector<double> direct_takeover_ms;
  std::size_t takeovers_after_empty_claims = 0;
  // The slowest takeovers (at most 5, slowest first), to explain a tail.
  struct Takeover {
    std::string job_uuid;
    std::string from_conductor;  // the older claim's, at its last effect
    std::string to_conductor;    // the newer claim's, at its first
    std::int64_t from_us = 0;    // the ledger's clock (system_clock, microseconds)
    std::int64_t to_us = 0;
    std::int64_t from_attempt = 0;
    std::int64_t to_attempt = 0;
  };
  std::vector<Takeover> slowest_takeovers;
  std::vector<std::string> problems;  // one line per violation, for the failure message

  std::size_t violations() const {
    return lost_violations + duplicate_run_violations + result_violations +
           stale_effect_violations + trash_violations + rerun_after_success_violations;
  }
  double takeover_percentile(double p) const { return percentile(takeover_ms, p); }
  // The p-th percentile (nearest rank) of `ms`; 0 when empty.
  static double percentile(std::vector<double> ms, double p);
  // The problems, one per line, for a failure message.
  std::string problems_text() const;
  Value to_value() const;
};

struct PostedJob {
  std::string job_uuid;
  std::string flow_uuid;
};

// Reads everything and counts violations. `tasks`: atoms per flow ("step-1".."step-N").
// `succeeded`: job uuid -> the token of a claim under which its flow is known to have succeeded
// and been persisted (a conductor killed at the fault point conductor.before_consume said so).
Report check(const std::vector<PostedJob>& posted, jobs::JobBoard& board,
             persistence::Backend& persistence, const std::vector<Effect>& effects, int tasks,
             const std::map<std::string, std::int64_t>& succeeded = {});

}  // namespace caboose::reliability
