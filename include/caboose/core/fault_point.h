// Fault points: named places in caboose's own code where a test can make the process fail on
// purpose, to check what survives a crash exactly there (the kill -9 harness uses them). Unarmed,
// a point costs one relaxed atomic load. Points are armed only from the environment variable
// CABOOSE_FAULT_POINTS, read by arm_fault_points_from_env(), which the `caboose` command calls
// once at start (a program embedding caboose calls it itself if it wants them):
//
//   CABOOSE_FAULT_POINTS=conductor.before_consume=kill@0.25,conductor.after_consume=abort
//
// A comma-separated list of point=action[@probability]: action `kill` sends SIGKILL to the
// process (a crash: nothing is flushed or unwound), `abort` calls std::abort(); the probability
// (0 < p <= 1, default 1) is drawn at each pass. Before it acts, a point logs one line (warn):
// "fault point <name> fires: <action> <context>".
//
// The points:
//   conductor.before_consume  a job's flow has finished and its result is persisted, and the
//                             job is not consumed yet (the blocking conductor's consume, and the
//                             non-blocking conductor's batched consume); context: the jobs and
//                             their claim tokens ("job=<uuid> token=<n> ...")
//   conductor.after_consume   the job was consumed, before the conductor claims anything else;
//                             same context
//
// Thread-safe: arming happens before the threads that pass points start.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace caboose {

enum class FaultAction { kKill, kAbort };

struct FaultSpec {
  std::string point;
  FaultAction action = FaultAction::kKill;
  double probability = 1.0;
};

// The points caboose's code passes (the list above).
const std::vector<std::string>& known_fault_points();

// Parses a CABOOSE_FAULT_POINTS value. Throws InvalidArgument naming the bad entry and why
// (unknown point, unknown action, probability not in (0, 1], a point named twice).
[[nodiscard]] std::vector<FaultSpec> parse_fault_points(std::string_view text);

// Arms the points `specs` names (replacing what was armed). Call before the threads that pass
// points start.
void arm_fault_points(std::vector<FaultSpec> specs);

// Arms the points CABOOSE_FAULT_POINTS names, if it is set and not empty; returns how many.
// Throws InvalidArgument (its message starts with the variable's name) when it cannot be parsed.
std::size_t arm_fault_points_from_env();

namespace detail {
extern std::atomic<bool> fault_points_armed;
void pass_fault_point(std::string_view name, const std::string& context);
}  // namespace detail

// A fault point: does nothing unless `name` is armed; then, with its probability, logs and acts.
// `context` is a callable returning a std::string, only called when some point is armed.
template <class Context>
void fault_point(std::string_view name, Context&& context) {
  if (detail::fault_points_armed.load(std::memory_order_relaxed)) {
    detail::pass_fault_point(name, context());
  }
}

inline void fault_point(std::string_view name) {
  fault_point(name, [] { return std::string(); });
}

}  // namespace caboose
