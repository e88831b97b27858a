// The states and intentions of flows and atoms, and the transitions TaskFlow allows between
// them (taskflow/states.py). Wire names ("SUCCESS", ...) appear only in to_string/parse_*.
#pragma once

#include <optional>
#include <string_view>

namespace caboose {

enum class FlowState {
  kPending,
  kRunning,
  kSuccess,
  kFailure,
  kReverted,
  kSuspending,
  kSuspended,
  kResuming,
};

enum class AtomState {
  kPending,
  kRunning,
  kSuccess,
  kFailure,
  kReverting,
  kReverted,
  kRevertFailure,
  kIgnore,
  kRetrying,
};

enum class Intention { kExecute, kIgnore, kRevert, kRetry };

std::string_view to_string(FlowState state);
std::string_view to_string(AtomState state);
std::string_view to_string(Intention intention);
// Parse wire names; throw InvalidFormat naming the unknown value.
FlowState parse_flow_state(std::string_view text);
AtomState parse_atom_state(std::string_view text);
Intention parse_intention(std::string_view text);

// As taskflow.states.check_flow_transition: true if `from -> to` is a real move, false if it
// is ignored (same state, or a suspend/resume request on a finished flow). Throws
// InvalidState for a transition TaskFlow forbids.
bool check_flow_transition(FlowState from, FlowState to);
// As check_task_transition / check_retry_transition: whether the move is allowed. Never throws.
bool check_task_transition(AtomState from, AtomState to);
bool check_retry_transition(AtomState from, AtomState to);

}  // namespace caboose
