#include "caboose/core/states.h"

#include <array>
#include <string>
#include <utility>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

constexpr std::array<std::pair<FlowState, std::string_view>, 8> kFlowNames{{
    {FlowState::kPending, "PENDING"},
    {FlowState::kRunning, "RUNNING"},
    {FlowState::kSuccess, "SUCCESS"},
    {FlowState::kFailure, "FAILURE"},
    {FlowState::kReverted, "REVERTED"},
    {FlowState::kSuspending, "SUSPENDING"},
    {FlowState::kSuspended, "SUSPENDED"},
    {FlowState::kResuming, "RESUMING"},
}};

constexpr std::array<std::pair<AtomState, std::string_view>, 9> kAtomNames{{
    {AtomState::kPending, "PENDING"},
    {AtomState::kRunning, "RUNNING"},
    {AtomState::kSuccess, "SUCCESS"},
    {AtomState::kFailure, "FAILURE"},
    {AtomState::kReverting, "REVERTING"},
    {AtomState::kReverted, "REVERTED"},
    {AtomState::kRevertFailure, "REVERT_FAILURE"},
    {AtomState::kIgnore, "IGNORE"},
    {AtomState::kRetrying, "RETRYING"},
}};

constexpr std::array<std::pair<Intention, std::string_view>, 4> kIntentionNames{{
    {Intention::kExecute, "EXECUTE"},
    {Intention::kIgnore, "IGNORE"},
    {Intention::kRevert, "REVERT"},
    {Intention::kRetry, "RETRY"},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) {
      return name;
    }
  }
  return "UNKNOWN";
}

template <class E, std::size_t N>
E parse(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view text,
        const char* what) {
  for (const auto& [e, name] : table) {
    if (name == text) {
      return e;
    }
  }
  throw InvalidFormat(std::string("unknown ") + what + " '" + std::string(text) + "'");
}

using F = FlowState;
using A = AtomState;

// As taskflow/states.py _ALLOWED_FLOW_TRANSITIONS.
constexpr std::array<std::pair<F, F>, 17> kFlowAllowed{{
    {F::kPending, F::kRunning},
    {F::kRunning, F::kSuccess},
    {F::kRunning, F::kFailure},
    {F::kRunning, F::kSuspending},
    {F::kRunning, F::kReverted},
    {F::kRunning, F::kResuming},
    {F::kSuccess, F::kPending},
    {F::kSuccess, F::kRunning},
    {F::kFailure, F::kRunning},
    {F::kReverted, F::kPending},
    {F::kSuspending, F::kSuspended},
    {F::kSuspending, F::kResuming},
    {F::kSuspending, F::kSuccess},
    {F::kSuspending, F::kFailure},
    {F::kSuspending, F::kReverted},
    {F::kSuspended, F::kRunning},
    {F::kResuming, F::kSuspended},
}};

// As _ALLOWED_TASK_TRANSITIONS.
constexpr std::array<std::pair<A, A>, 10> kTaskAllowed{{
    {A::kPending, A::kRunning},
    {A::kPending, A::kIgnore},
    {A::kIgnore, A::kPending},
    {A::kRunning, A::kSuccess},
    {A::kRunning, A::kFailure},
    {A::kSuccess, A::kReverting},
    {A::kFailure, A::kReverting},
    {A::kReverting, A::kReverted},
    {A::kReverting, A::kRevertFailure},
    {A::kReverted, A::kPending},
}};

template <class E, std::size_t N>
bool listed(const std::array<std::pair<E, E>, N>& table, E from, E to) {
  for (const auto& [a, b] : table) {
    if (a == from && b == to) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(FlowState state) {
  return name_of(kFlowNames, state);
}
std::string_view to_string(AtomState state) {
  return name_of(kAtomNames, state);
}
std::string_view to_string(Intention intention) {
  return name_of(kIntentionNames, intention);
}
FlowState parse_flow_state(std::string_view text) {
  return parse(kFlowNames, text, "flow state");
}
AtomState parse_atom_state(std::string_view text) {
  return parse(kAtomNames, text, "atom state");
}
Intention parse_intention(std::string_view text) {
  return parse(kIntentionNames, text, "intention");
}

bool check_flow_transition(FlowState from, FlowState to) {
  if (from == to) {
    return false;
  }
  if (listed(kFlowAllowed, from, to)) {
    return true;
  }
  // As _IGNORED_FLOW_TRANSITIONS: suspend/resume requests on a flow that is not running.
  const bool idle = from == F::kPending || from == F::kFailure || from == F::kSuccess ||
                    from == F::kSuspended || from == F::kReverted;
  const bool request = to == F::kSuspending || to == F::kSuspended || to == F::kResuming;
  if (idle && request) {
    return false;
  }
  throw InvalidState("flow transition from " + std::string(to_string(from)) + " to " +
                     std::string(to_string(to)) + " is not allowed");
}

bool check_task_transition(AtomState from, AtomState to) {
  return listed(kTaskAllowed, from, to);
}

bool check_retry_transition(AtomState from, AtomState to) {
  return listed(kTaskAllowed, from, to) || (from == A::kSuccess && to == A::kRetrying) ||
         (from == A::kRetrying && to == A::kRunning);
}

}  // namespace caboose
