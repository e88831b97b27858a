#include "caboose/core/fault_point.h"

#include <signal.h>
#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

// Leaves no point armed and no CABOOSE_FAULT_POINTS behind.
class FaultPointTest : public ::testing::Test {
 protected:
  void TearDown() override {
    arm_fault_points({});
    ::unsetenv("CABOOSE_FAULT_POINTS");
  }
};

std::string parse_error(std::string_view text) {
  try {
    (void)parse_fault_points(text);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(FaultPointTest, ParsesPointsActionsAndProbabilities) {
  const std::vector<FaultSpec> specs =
      parse_fault_points("conductor.before_consume=kill@0.25, conductor.after_consume=abort");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].point, "conductor.before_consume");
  EXPECT_EQ(specs[0].action, FaultAction::kKill);
  EXPECT_DOUBLE_EQ(specs[0].probability, 0.25);
  EXPECT_EQ(specs[1].point, "conductor.after_consume");
  EXPECT_EQ(specs[1].action, FaultAction::kAbort);
  EXPECT_DOUBLE_EQ(specs[1].probability, 1.0);
  EXPECT_TRUE(parse_fault_points("").empty());
  EXPECT_EQ(parse_fault_points("conductor.after_consume=kill@1").front().probability, 1.0);
}

TEST_F(FaultPointTest, ParseErrorsNameTheEntryAndWhatIsWrong) {
  EXPECT_NE(parse_error("conductor.before_consum=kill")
                .find("no point named 'conductor.before_consum' (known: conductor.before_consume, "
                      "conductor.after_consume)"),
            std::string::npos);
  EXPECT_NE(parse_error("conductor.before_consume=explode").find("unknown action 'explode'"),
            std::string::npos);
  EXPECT_NE(parse_error("conductor.before_consume").find("expected point=action"),
            std::string::npos);
  for (const char* p : {"0", "1.5", "-1", "abc", "0.5x", ""}) {
    EXPECT_NE(parse_error(std::string("conductor.before_consume=kill@") + p)
                  .find("is not a number in (0, 1]"),
              std::string::npos)
        << p;
  }
  EXPECT_NE(parse_error("conductor.after_consume=kill,conductor.after_consume=abort")
                .find("'conductor.after_consume' is named twice"),
            std::string::npos);
  EXPECT_NE(parse_error("conductor.after_consume=kill,,").find("empty entry"), std::string::npos);
}

TEST_F(FaultPointTest, TheEnvironmentVariableArmsAndItsErrorsNameIt) {
  EXPECT_EQ(arm_fault_points_from_env(), 0u);  // unset: nothing armed
  ::setenv("CABOOSE_FAULT_POINTS", "conductor.before_consume=kil", 1);
  try {
    (void)arm_fault_points_from_env();
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("CABOOSE_FAULT_POINTS: ", 0), 0u) << e.what();
  }
  ::setenv("CABOOSE_FAULT_POINTS", "conductor.after_consume=kill@0.5", 1);
  EXPECT_EQ(arm_fault_points_from_env(), 1u);
}

TEST_F(FaultPointTest, AnUnarmedPointDoesNothing) {
  fault_point("conductor.before_consume");
  arm_fault_points(parse_fault_points("conductor.after_consume=kill"));
  bool asked = false;
  fault_point("conductor.before_consume", [&] {  // another point is armed: context asked for
    asked = true;
    return std::string("job=x");
  });
  EXPECT_TRUE(asked);
}

TEST_F(FaultPointTest, AnArmedKillPointKillsTheProcess) {
  EXPECT_EXIT(
      {
        arm_fault_points(parse_fault_points("conductor.before_consume=kill"));
        fault_point("conductor.before_consume", [] { return std::string("job=j token=1"); });
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

TEST_F(FaultPointTest, AnArmedAbortPointAborts) {
  EXPECT_EXIT(
      {
        arm_fault_points(parse_fault_points("conductor.after_consume=abort"));
        fault_point("conductor.after_consume");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGABRT), "");
}

TEST_F(FaultPointTest, AProbabilityFiresSomeTimes) {
  // p = 0.5 over 200 passes: it fires (the chance it never does is 2^-200).
  EXPECT_EXIT(
      {
        arm_fault_points(parse_fault_points("conductor.before_consume=kill@0.5"));
        for (int i = 0; i < 200; ++i) {
          fault_point("conductor.before_consume");
        }
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

}  // namespace
}  // namespace caboose
