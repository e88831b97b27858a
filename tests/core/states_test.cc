#include "caboose/core/states.h"

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

using F = FlowState;
using A = AtomState;

TEST(StatesTest, FlowTransitionsFollowTaskFlowsTable) {
  EXPECT_TRUE(check_flow_transition(F::kPending, F::kRunning));
  EXPECT_TRUE(check_flow_transition(F::kRunning, F::kSuccess));
  EXPECT_TRUE(check_flow_transition(F::kRunning, F::kReverted));
  EXPECT_TRUE(check_flow_transition(F::kSuspending, F::kSuspended));
  EXPECT_TRUE(check_flow_transition(F::kReverted, F::kPending));
  EXPECT_FALSE(check_flow_transition(F::kRunning, F::kRunning));
  EXPECT_FALSE(check_flow_transition(F::kSuccess, F::kSuspending));  // ignored
  EXPECT_FALSE(check_flow_transition(F::kPending, F::kResuming));    // ignored
  EXPECT_THROW(check_flow_transition(F::kPending, F::kSuccess), InvalidState);
  EXPECT_THROW(check_flow_transition(F::kReverted, F::kRunning), InvalidState);
}

TEST(StatesTest, TaskAndRetryTransitions) {
  EXPECT_TRUE(check_task_transition(A::kPending, A::kRunning));
  EXPECT_TRUE(check_task_transition(A::kFailure, A::kReverting));
  EXPECT_FALSE(check_task_transition(A::kPending, A::kSuccess));
  EXPECT_FALSE(check_task_transition(A::kSuccess, A::kSuccess));
  EXPECT_FALSE(check_task_transition(A::kSuccess, A::kRetrying));
  EXPECT_TRUE(check_retry_transition(A::kSuccess, A::kRetrying));
  EXPECT_TRUE(check_retry_transition(A::kRetrying, A::kRunning));
}

TEST(StatesTest, WireNamesRoundTrip) {
  for (A s : {A::kPending, A::kRunning, A::kSuccess, A::kFailure, A::kReverting, A::kReverted,
              A::kRevertFailure, A::kIgnore, A::kRetrying}) {
    EXPECT_EQ(parse_atom_state(to_string(s)), s);
  }
  EXPECT_EQ(to_string(A::kRevertFailure), "REVERT_FAILURE");
  EXPECT_EQ(parse_flow_state("SUSPENDED"), F::kSuspended);
  EXPECT_EQ(parse_intention("RETRY"), Intention::kRetry);
  EXPECT_THROW((void)parse_flow_state("running"), InvalidFormat);
}

}  // namespace
}  // namespace caboose
