// Retry controllers, as TaskFlow's tests/unit/test_retries.py, on every engine: the state
// histories a CapturingListener records are TaskFlow's, transition for transition.
#include "caboose/atoms/retry.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/engine/listeners.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using testing::conditional;
using testing::failing;
using testing::failing_with_arg;
using testing::nasty;
using testing::no_op;
using testing::one_return_retry;
using testing::progressing;
using testing::woot;
using Lines = std::vector<std::string>;

using RetryCase = testing::EngineCase;
using testing::run_captured;

TEST_P(RetryCase, EmptyFlowsRunTheirRetry) {
  std::vector<FlowPtr> flows;
  flows.push_back(linear_flow("flow-1", one_return_retry("r", {.provides = "x"})));
  flows.push_back(unordered_flow("flow-1", one_return_retry("r", {.provides = "x"})));
  flows.push_back(graph_flow("flow-1", one_return_retry("r", {.provides = "x"})));
  for (FlowPtr& flow : flows) {
    auto engine = make_engine(std::move(flow));
    engine->run();
    EXPECT_EQ(engine->storage().fetch_all(), (Value{{"x", 1}}));
  }
}

TEST_P(RetryCase, RetriedFlowSucceeds) {
  auto flow = linear_flow("flow-1", times("r1", 4, {.provides = "x"}));
  flow->add(progressing("task1"), conditional("task2"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  EXPECT_EQ(run_captured(*engine), (Lines{"flow-1.f RUNNING",
                                          "r1.r RUNNING",
                                          "r1.r SUCCESS(1)",
                                          "task1.t RUNNING",
                                          "task1.t SUCCESS(5)",
                                          "task2.t RUNNING",
                                          "task2.t FAILURE(" + woot() + ")",
                                          "task2.t REVERTING",
                                          "task2.t REVERTED(null)",
                                          "task1.t REVERTING",
                                          "task1.t REVERTED(null)",
                                          "r1.r RETRYING",
                                          "task1.t PENDING",
                                          "task2.t PENDING",
                                          "r1.r RUNNING",
                                          "r1.r SUCCESS(2)",
                                          "task1.t RUNNING",
                                          "task1.t SUCCESS(5)",
                                          "task2.t RUNNING",
                                          "task2.t SUCCESS(null)",
                                          "flow-1.f SUCCESS"}));
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}, {"x", 2}}));
}

TEST_P(RetryCase, RetriesRunOutAndTheFlowIsReverted) {
  auto flow = linear_flow("flow-1", times("r1", 2, {.provides = "x"}));
  flow->add(progressing("task1"), conditional("task2"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 4}}});
  std::string error;
  EXPECT_EQ(run_captured(*engine, &error), (Lines{"flow-1.f RUNNING",
                                                  "r1.r RUNNING",
                                                  "r1.r SUCCESS(1)",
                                                  "task1.t RUNNING",
                                                  "task1.t SUCCESS(5)",
                                                  "task2.t RUNNING",
                                                  "task2.t FAILURE(" + woot() + ")",
                                                  "task2.t REVERTING",
                                                  "task2.t REVERTED(null)",
                                                  "task1.t REVERTING",
                                                  "task1.t REVERTED(null)",
                                                  "r1.r RETRYING",
                                                  "task1.t PENDING",
                                                  "task2.t PENDING",
                                                  "r1.r RUNNING",
                                                  "r1.r SUCCESS(2)",
                                                  "task1.t RUNNING",
                                                  "task1.t SUCCESS(5)",
                                                  "task2.t RUNNING",
                                                  "task2.t FAILURE(" + woot() + ")",
                                                  "task2.t REVERTING",
                                                  "task2.t REVERTED(null)",
                                                  "task1.t REVERTING",
                                                  "task1.t REVERTED(null)",
                                                  "r1.r REVERTING",
                                                  "r1.r REVERTED(null)",
                                                  "flow-1.f REVERTED"}));
  EXPECT_EQ(error, "Woot!");
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 4}}));
  EXPECT_EQ(engine->state(), FlowState::kReverted);
}

TEST_P(RetryCase, RevertFailureUnderARetryFailsTheFlow) {
  auto flow = linear_flow("flow-1", times("r1", 2, {.provides = "x"}));
  flow->add(nasty("task1"), conditional("task2"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 4}}});
  std::string error;
  EXPECT_EQ(run_captured(*engine, &error),
            (Lines{"flow-1.f RUNNING", "r1.r RUNNING", "r1.r SUCCESS(1)", "task1.t RUNNING",
                   "task1.t SUCCESS(null)", "task2.t RUNNING", "task2.t FAILURE(" + woot() + ")",
                   "task2.t REVERTING", "task2.t REVERTED(null)", "task1.t REVERTING",
                   "task1.t REVERT_FAILURE(" + woot("Gotcha!") + ")", "flow-1.f FAILURE"}));
  EXPECT_NE(error.find("Gotcha!"), std::string::npos) << error;
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 4}, {"x", 1}}));
  EXPECT_EQ(engine->state(), FlowState::kFailure);
}

TEST_P(RetryCase, NestedRetryRetriesItsSubflowOnly) {
  auto inner = linear_flow("flow-2", times("r2", 3, {.provides = "x"}));
  inner->add(no_op("task2"), conditional("task3"));
  auto flow = linear_flow("flow-1", always_revert("r1"));
  flow->add(no_op("task1"), std::move(inner), no_op("task4"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  EXPECT_EQ(run_captured(*engine), (Lines{"flow-1.f RUNNING",
                                          "r1.r RUNNING",
                                          "r1.r SUCCESS(null)",
                                          "task1.t RUNNING",
                                          "task1.t SUCCESS(null)",
                                          "r2.r RUNNING",
                                          "r2.r SUCCESS(1)",
                                          "task2.t RUNNING",
                                          "task2.t SUCCESS(null)",
                                          "task3.t RUNNING",
                                          "task3.t FAILURE(" + woot() + ")",
                                          "task3.t REVERTING",
                                          "task3.t REVERTED(null)",
                                          "task2.t REVERTING",
                                          "task2.t REVERTED(null)",
                                          "r2.r RETRYING",
                                          "task2.t PENDING",
                                          "task3.t PENDING",
                                          "r2.r RUNNING",
                                          "r2.r SUCCESS(2)",
                                          "task2.t RUNNING",
                                          "task2.t SUCCESS(null)",
                                          "task3.t RUNNING",
                                          "task3.t SUCCESS(null)",
                                          "task4.t RUNNING",
                                          "task4.t SUCCESS(null)",
                                          "flow-1.f SUCCESS"}));
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}, {"x", 2}}));
}

// TaskFlow's test_new_revert_vs_old: without defer_reverts a subflow's REVERT stops at the
// subflow; with it, the revert reaches the atoms outside.
TEST_P(RetryCase, DeferRevertsRevertsPastTheSubflow) {
  auto make_flow = [] {
    auto inner = linear_flow("flow-2", times("r1", 1, {.provides = "x"}));
    inner->add(no_op("task2"), conditional("task3"));
    auto flow = linear_flow("flow-1");
    flow->add(no_op("task1"), std::move(inner), no_op("task4"));
    return flow;
  };
  const Lines common = {
      "flow-1.f RUNNING",       "task1.t RUNNING",        "task1.t SUCCESS(null)",
      "r1.r RUNNING",           "r1.r SUCCESS(1)",        "task2.t RUNNING",
      "task2.t SUCCESS(null)",  "task3.t RUNNING",        "task3.t FAILURE(" + woot() + ")",
      "task3.t REVERTING",      "task3.t REVERTED(null)", "task2.t REVERTING",
      "task2.t REVERTED(null)", "r1.r REVERTING",         "r1.r REVERTED(null)"};
  std::string error;
  auto engine = make_engine(make_flow(), {.store = {{"y", 2}}});
  Lines expected = common;
  expected.push_back("flow-1.f REVERTED");
  EXPECT_EQ(run_captured(*engine, &error), expected);
  EXPECT_EQ(engine->storage().get_atom_state("task1"), AtomState::kSuccess);

  auto deferred =
      make_engine(make_flow(), {.store = {{"y", 2}}, .options = {.defer_reverts = true}});
  expected = common;
  expected.insert(expected.end(),
                  {"task1.t REVERTING", "task1.t REVERTED(null)", "flow-1.f REVERTED"});
  EXPECT_EQ(run_captured(*deferred, &error), expected);
}

TEST_P(RetryCase, FailureAfterASubflowRetriesTheParentWithTheSubflow) {
  auto inner = linear_flow("flow-2", times("r2", 3, {.provides = "x2"}));
  inner->add(no_op("task2"), no_op("task3"));
  auto flow = linear_flow("flow-1", times("r1", 3, {.provides = "x1"}));
  flow->add(no_op("task1"), std::move(inner), conditional("task4", {.rebind = {{"x", "x1"}}}));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  EXPECT_EQ(run_captured(*engine), (Lines{"flow-1.f RUNNING",
                                          "r1.r RUNNING",
                                          "r1.r SUCCESS(1)",
                                          "task1.t RUNNING",
                                          "task1.t SUCCESS(null)",
                                          "r2.r RUNNING",
                                          "r2.r SUCCESS(1)",
                                          "task2.t RUNNING",
                                          "task2.t SUCCESS(null)",
                                          "task3.t RUNNING",
                                          "task3.t SUCCESS(null)",
                                          "task4.t RUNNING",
                                          "task4.t FAILURE(" + woot() + ")",
                                          "task4.t REVERTING",
                                          "task4.t REVERTED(null)",
                                          "task3.t REVERTING",
                                          "task3.t REVERTED(null)",
                                          "task2.t REVERTING",
                                          "task2.t REVERTED(null)",
                                          "r2.r REVERTING",
                                          "r2.r REVERTED(null)",
                                          "task1.t REVERTING",
                                          "task1.t REVERTED(null)",
                                          "r1.r RETRYING",
                                          "task1.t PENDING",
                                          "r2.r PENDING",
                                          "task2.t PENDING",
                                          "task3.t PENDING",
                                          "task4.t PENDING",
                                          "r1.r RUNNING",
                                          "r1.r SUCCESS(2)",
                                          "task1.t RUNNING",
                                          "task1.t SUCCESS(null)",
                                          "r2.r RUNNING",
                                          "r2.r SUCCESS(1)",
                                          "task2.t RUNNING",
                                          "task2.t SUCCESS(null)",
                                          "task3.t RUNNING",
                                          "task3.t SUCCESS(null)",
                                          "task4.t RUNNING",
                                          "task4.t SUCCESS(null)",
                                          "flow-1.f SUCCESS"}));
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}, {"x1", 2}, {"x2", 1}}));
}

TEST_P(RetryCase, UnorderedFlowRevertsItsOtherTasksBeforeRetrying) {
  auto flow = unordered_flow("flow-1", times("r", 3, {.provides = "x"}));
  flow->add(progressing("task1"), conditional("task2"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  Lines got = run_captured(*engine);
  Lines expected = {"flow-1.f RUNNING",
                    "r.r RUNNING",
                    "r.r SUCCESS(1)",
                    "task1.t RUNNING",
                    "task2.t RUNNING",
                    "task1.t SUCCESS(5)",
                    "task2.t FAILURE(" + woot() + ")",
                    "task2.t REVERTING",
                    "task1.t REVERTING",
                    "task2.t REVERTED(null)",
                    "task1.t REVERTED(null)",
                    "r.r RETRYING",
                    "task1.t PENDING",
                    "task2.t PENDING",
                    "r.r RUNNING",
                    "r.r SUCCESS(2)",
                    "task1.t RUNNING",
                    "task2.t RUNNING",
                    "task1.t SUCCESS(5)",
                    "task2.t SUCCESS(null)",
                    "flow-1.f SUCCESS"};
  // Unordered: the same transitions in some order (assertCountEqual).
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}, {"x", 2}}));
}

TEST_P(RetryCase, SubflowThatCannotRetryRevertsToTheParentRetry) {
  auto inner = linear_flow("flow-2", times("r2", 0, {.provides = "x2"}));
  inner->add(conditional("task2"));
  auto flow = linear_flow("flow-1", times("r1", 3, {.provides = "x"}));
  flow->add(progressing("task1"), std::move(inner));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  EXPECT_EQ(
      run_captured(*engine),
      (Lines{"flow-1.f RUNNING",    "r1.r RUNNING",           "r1.r SUCCESS(1)",
             "task1.t RUNNING",     "task1.t SUCCESS(5)",     "r2.r RUNNING",
             "r2.r SUCCESS(1)",     "task2.t RUNNING",        "task2.t FAILURE(" + woot() + ")",
             "task2.t REVERTING",   "task2.t REVERTED(null)", "r2.r REVERTING",
             "r2.r REVERTED(null)", "task1.t REVERTING",      "task1.t REVERTED(null)",
             "r1.r RETRYING",       "task1.t PENDING",        "r2.r PENDING",
             "task2.t PENDING",     "r1.r RUNNING",           "r1.r SUCCESS(2)",
             "task1.t RUNNING",     "task1.t SUCCESS(5)",     "r2.r RUNNING",
             "r2.r SUCCESS(1)",     "task2.t RUNNING",        "task2.t SUCCESS(null)",
             "flow-1.f SUCCESS"}));
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}, {"x", 2}, {"x2", 1}}));
}

TEST_P(RetryCase, SubflowRevertStopsAtTheSubflowWithoutParentRetry) {
  for (const bool revert_all : {false, true}) {
    auto inner = linear_flow("flow-2", times("r1", 0, {.provides = "x2"}, revert_all));
    inner->add(conditional("task2", {.inject = {{"x", 1}}}));
    auto flow = linear_flow("flow-1");
    flow->add(progressing("task1"), std::move(inner));
    auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
    std::string error;
    Lines expected = {"flow-1.f RUNNING",
                      "task1.t RUNNING",
                      "task1.t SUCCESS(5)",
                      "r1.r RUNNING",
                      "r1.r SUCCESS(1)",
                      "task2.t RUNNING",
                      "task2.t FAILURE(" + woot() + ")",
                      "task2.t REVERTING",
                      "task2.t REVERTED(null)",
                      "r1.r REVERTING",
                      "r1.r REVERTED(null)"};
    if (revert_all) {
      expected.insert(expected.end(), {"task1.t REVERTING", "task1.t REVERTED(null)"});
    }
    expected.push_back("flow-1.f REVERTED");
    EXPECT_EQ(run_captured(*engine, &error), expected) << "revert_all=" << revert_all;
    EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}}));
  }
}

TEST_P(RetryCase, RevertAllRevertsEverythingPastEveryRetry) {
  auto inner = linear_flow("flow-2", always_revert_all("r2"));
  inner->add(conditional("task2"));
  auto flow = linear_flow("flow-1", times("r1", 3, {.provides = "x"}));
  flow->add(progressing("task1"), std::move(inner));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  std::string error;
  EXPECT_EQ(
      run_captured(*engine, &error),
      (Lines{"flow-1.f RUNNING", "r1.r RUNNING", "r1.r SUCCESS(1)", "task1.t RUNNING",
             "task1.t SUCCESS(5)", "r2.r RUNNING", "r2.r SUCCESS(null)", "task2.t RUNNING",
             "task2.t FAILURE(" + woot() + ")", "task2.t REVERTING", "task2.t REVERTED(null)",
             "r2.r REVERTING", "r2.r REVERTED(null)", "task1.t REVERTING", "task1.t REVERTED(null)",
             "r1.r REVERTING", "r1.r REVERTED(null)", "flow-1.f REVERTED"}));
  EXPECT_EQ(error, "Woot!");
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"y", 2}}));
}

TEST_P(RetryCase, RevertedFlowWithRetryRunsAndFailsAgain) {
  auto flow = linear_flow("test", one_return_retry("r", {.provides = "x"}));
  flow->add(failing("fail"));
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->run(), std::runtime_error);
  EXPECT_THROW(engine->run(), std::runtime_error);
  EXPECT_EQ(engine->state(), FlowState::kReverted);
}

TEST_P(RetryCase, ResumesAFlowInterruptedWhileRetrying) {
  auto flow = linear_flow("flow-1", times("r1", 3));
  flow->add(progressing("t1"), progressing("t2"), progressing("t3"));
  auto engine = make_engine(std::move(flow));
  engine->compile();
  engine->prepare();
  Storage& s = engine->storage();
  s.set_atom_state(s.index("r1"), AtomState::kRetrying);
  s.set_atom_state(s.index("t1"), AtomState::kPending);
  s.set_atom_state(s.index("t2"), AtomState::kReverted);
  s.set_atom_state(s.index("t3"), AtomState::kReverted);
  EXPECT_EQ(run_captured(*engine),
            (Lines{"flow-1.f RUNNING", "t2.t PENDING", "t3.t PENDING", "r1.r RUNNING",
                   "r1.r SUCCESS(1)", "t1.t RUNNING", "t1.t SUCCESS(5)", "t2.t RUNNING",
                   "t2.t SUCCESS(5)", "t3.t RUNNING", "t3.t SUCCESS(5)", "flow-1.f SUCCESS"}));
}

TEST_P(RetryCase, ResumesAFlowThatShouldBeRetried) {
  auto flow = linear_flow("flow-1", times("r1", 3));
  flow->add(progressing("t1"), progressing("t2"));
  auto engine = make_engine(std::move(flow));
  engine->compile();
  engine->prepare();
  Storage& s = engine->storage();
  s.set_atom_intention(s.index("r1"), Intention::kRetry);
  s.set_atom_state(s.index("r1"), AtomState::kSuccess);
  s.set_atom_state(s.index("t1"), AtomState::kReverted);
  s.set_atom_state(s.index("t2"), AtomState::kReverted);
  EXPECT_EQ(run_captured(*engine),
            (Lines{"flow-1.f RUNNING", "r1.r RETRYING", "t1.t PENDING", "t2.t PENDING",
                   "r1.r RUNNING", "r1.r SUCCESS(1)", "t1.t RUNNING", "t1.t SUCCESS(5)",
                   "t2.t RUNNING", "t2.t SUCCESS(5)", "flow-1.f SUCCESS"}));
}

TEST_P(RetryCase, RetryResetsOnlyTheTasksThatRan) {
  auto flow = linear_flow("flow-1", times("r1", 3, {.provides = "x"}));
  flow->add(conditional("c"), progressing("t1"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 2}}});
  EXPECT_EQ(run_captured(*engine),
            (Lines{"flow-1.f RUNNING", "r1.r RUNNING", "r1.r SUCCESS(1)", "c.t RUNNING",
                   "c.t FAILURE(" + woot() + ")", "c.t REVERTING", "c.t REVERTED(null)",
                   "r1.r RETRYING", "c.t PENDING", "r1.r RUNNING", "r1.r SUCCESS(2)", "c.t RUNNING",
                   "c.t SUCCESS(null)", "t1.t RUNNING", "t1.t SUCCESS(5)", "flow-1.f SUCCESS"}));
}

// The run of a flow whose only task fails on every attempt under `retry`, as "r1 SUCCESS(v)"
// lines per value tried.
Lines failing_attempts(const std::vector<Value>& values, const std::string& task = "t1") {
  Lines lines;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      lines.insert(lines.end(), {"r1.r RETRYING", task + ".t PENDING"});
    }
    lines.insert(lines.end(),
                 {"r1.r RUNNING", "r1.r SUCCESS(" + values[i].dump() + ")", task + ".t RUNNING",
                  task + ".t FAILURE(" + woot("Woot with " + values[i].dump()) + ")",
                  task + ".t REVERTING", task + ".t REVERTED(null)"});
  }
  return lines;
}

TEST_P(RetryCase, TimesRetriesUntilItRunsOut) {
  auto flow = linear_flow("flow-1", times("r1", 3));
  flow->add(progressing("t1"), failing("t2"));
  auto engine = make_engine(std::move(flow));
  std::string error;
  Lines expected = {"flow-1.f RUNNING"};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    if (attempt > 1) {
      expected.insert(expected.end(), {"r1.r RETRYING", "t1.t PENDING", "t2.t PENDING"});
    }
    expected.insert(
        expected.end(),
        {"r1.r RUNNING", "r1.r SUCCESS(" + std::to_string(attempt) + ")", "t1.t RUNNING",
         "t1.t SUCCESS(5)", "t2.t RUNNING", "t2.t FAILURE(" + woot() + ")", "t2.t REVERTING",
         "t2.t REVERTED(null)", "t1.t REVERTING", "t1.t REVERTED(null)"});
  }
  expected.insert(expected.end(), {"r1.r REVERTING", "r1.r REVERTED(null)", "flow-1.f REVERTED"});
  EXPECT_EQ(run_captured(*engine, &error), expected);
  EXPECT_EQ(error, "Woot!");
}

TEST_P(RetryCase, ForEachTriesEveryValueInOrderDuplicatesIncluded) {
  auto flow = linear_flow("flow-1", for_each("r1", Value::array({3, 2, 3, 5}), {.provides = "x"}));
  flow->add(failing_with_arg("t1"));
  auto engine = make_engine(std::move(flow));
  std::string error;
  Lines expected = {"flow-1.f RUNNING"};
  for (const Lines& l : {failing_attempts({3, 2, 3, 5}),
                         Lines{"r1.r REVERTING", "r1.r REVERTED(null)", "flow-1.f REVERTED"}}) {
    expected.insert(expected.end(), l.begin(), l.end());
  }
  EXPECT_EQ(run_captured(*engine, &error), expected);
  EXPECT_EQ(error, "Woot with 5");
}

TEST_P(RetryCase, NestedForEachRevertsItsSubflowOrEverything) {
  for (const bool revert_all : {false, true}) {
    auto inner = linear_flow(
        "flow-2", for_each("r1", Value::array({3, 2, 3, 5}), {.provides = "x"}, revert_all));
    inner->add(failing_with_arg("task2"));
    auto flow = linear_flow("flow-1");
    flow->add(progressing("task1"), std::move(inner));
    auto engine = make_engine(std::move(flow));
    std::string error;
    Lines expected = {"flow-1.f RUNNING", "task1.t RUNNING", "task1.t SUCCESS(5)"};
    const Lines attempts = failing_attempts({3, 2, 3, 5}, "task2");
    expected.insert(expected.end(), attempts.begin(), attempts.end());
    expected.insert(expected.end(), {"r1.r REVERTING", "r1.r REVERTED(null)"});
    if (revert_all) {
      expected.insert(expected.end(), {"task1.t REVERTING", "task1.t REVERTED(null)"});
    }
    expected.push_back("flow-1.f REVERTED");
    EXPECT_EQ(run_captured(*engine, &error), expected) << "revert_all=" << revert_all;
  }
}

TEST_P(RetryCase, ForEachOverNothingFailsWithNotFound) {
  auto flow = linear_flow("flow-1", for_each("r1", Value::array(), {.provides = "x"}));
  flow->add(conditional("t1"));
  auto engine = make_engine(std::move(flow), {.store = {{"y", 1}}});
  try {
    engine->run();
    FAIL() << "an empty for_each ran";
  } catch (const NotFound& e) {
    EXPECT_EQ(std::string(e.what()).rfind("No elements left", 0), 0u) << e.what();
  }
}

TEST_P(RetryCase, ForEachRefusesValuesThatAreNoArray) {
  EXPECT_THROW((void)for_each("r1", Value{{"a", 1}}), InvalidArgument);
}

TEST_P(RetryCase, ParameterizedForEachReadsItsValuesFromStorage) {
  auto flow = linear_flow("flow-1", parameterized_for_each("r1", {.provides = "x"}));
  flow->add(failing_with_arg("t1"));
  auto engine =
      make_engine(std::move(flow), {.store = {{"values", Value::array({3, 2, 5})}, {"y", 1}}});
  std::string error;
  Lines expected = {"flow-1.f RUNNING"};
  const Lines attempts = failing_attempts({3, 2, 5});
  expected.insert(expected.end(), attempts.begin(), attempts.end());
  expected.insert(expected.end(), {"r1.r REVERTING", "r1.r REVERTED(null)", "flow-1.f REVERTED"});
  EXPECT_EQ(run_captured(*engine, &error), expected);
}

TEST_P(RetryCase, ParameterizedForEachReadsARebindName) {
  auto flow = linear_flow(
      "flow-1", parameterized_for_each("r1", {.rebind = {{"values", "sizes"}}, .provides = "x"}));
  flow->add(failing_with_arg("t1"));
  auto engine = make_engine(std::move(flow), {.store = {{"sizes", Value::array({7})}}});
  std::string error;
  Lines expected = {"flow-1.f RUNNING"};
  const Lines attempts = failing_attempts({7});
  expected.insert(expected.end(), attempts.begin(), attempts.end());
  expected.insert(expected.end(), {"r1.r REVERTING", "r1.r REVERTED(null)", "flow-1.f REVERTED"});
  EXPECT_EQ(run_captured(*engine, &error), expected);
}

TEST_P(RetryCase, ParameterizedForEachOverNothingFailsWithNotFound) {
  auto flow = linear_flow("flow-1", parameterized_for_each("r1", {.provides = "x"}));
  flow->add(conditional("t1"));
  auto engine = make_engine(std::move(flow), {.store = {{"values", Value::array()}, {"y", 1}}});
  EXPECT_THROW(engine->run(), NotFound);
}

// A retry that records the histories it is shown and retries while `attempts` is not reached.
struct Observed {
  std::vector<RetryHistory> on_failure;
  std::vector<RetryHistory> execute;
  std::vector<RetryHistory> revert;
};

RetryPtr observing_retry(Observed& seen, std::size_t attempts, AtomOptions options = {}) {
  class Observing final : public Retry {
   public:
    Observing(Observed& seen, std::size_t attempts, AtomOptions options)
        : Retry("r1", std::move(options)), seen_(&seen), attempts_(attempts) {}
    RetryDecision on_failure(const RetryHistory& history, const Value&) override {
      seen_->on_failure.push_back(history);
      return history.size() < attempts_ ? RetryDecision::kRetry : RetryDecision::kRevert;
    }
    Value execute(const RetryHistory& history, const Value&) override {
      seen_->execute.push_back(history);
      return Value("attempt-" + std::to_string(history.size() + 1));
    }
    Value revert(const RetryHistory& history, const Value&, const FailureMap&) override {
      seen_->revert.push_back(history);
      return Value();
    }

   private:
    Observed* seen_;
    std::size_t attempts_;
  };
  return std::make_unique<Observing>(seen, attempts, std::move(options));
}

TEST_P(RetryCase, HistoryHoldsEveryAttemptAndItsFailures) {
  Observed seen;
  auto flow = linear_flow("flow-1", observing_retry(seen, 2, {.provides = "attempt"}));
  flow->add(failing_with_arg("t1", {.rebind = {{"x", "attempt"}}}));
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->run(), std::runtime_error);

  ASSERT_EQ(seen.execute.size(), 2u);
  EXPECT_TRUE(seen.execute[0].empty());
  ASSERT_EQ(seen.execute[1].size(), 1u);
  EXPECT_EQ(seen.execute[1][0].result, "attempt-1");

  ASSERT_EQ(seen.on_failure.size(), 2u);
  const RetryHistory& last = seen.on_failure[1];
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last.provided(), (std::vector<Value>{"attempt-1", "attempt-2"}));
  ASSERT_EQ(last[0].failures.size(), 1u);
  ASSERT_TRUE(last[0].failures.contains("t1"));
  EXPECT_EQ(last[0].failures.at("t1").exception_str(), "Woot with \"attempt-1\"");
  EXPECT_EQ(last[1].failures.at("t1").exception_str(), "Woot with \"attempt-2\"");
  EXPECT_TRUE(last.caused_by("std::runtime_error"));
  EXPECT_FALSE(last.caused_by("std::logic_error"));

  ASSERT_EQ(seen.revert.size(), 1u);
  EXPECT_EQ(seen.revert[0].size(), 2u);
  // A retry reverted for good forgets its history, as TaskFlow cleans it up.
  EXPECT_TRUE(engine->storage().get_retry_history("r1").empty());
}

TEST_P(RetryCase, HistoryIsStoredWhileTheFlowRuns) {
  Observed seen;
  RetryHistory during;
  Engine* current = nullptr;
  auto flow = linear_flow("flow-1", observing_retry(seen, 3, {.provides = "attempt"}));
  flow->add(task("t1",
                 [&](const Value& attempt) {
                   during = current->storage().get_retry_history("r1");
                   if (attempt != "attempt-2") {
                     throw std::runtime_error("not yet");
                   }
                   return attempt;
                 },
                 {.args = {"attempt"}}));
  auto engine = make_engine(std::move(flow));
  current = engine.get();
  engine->run();
  ASSERT_EQ(during.size(), 2u);
  EXPECT_EQ(during[0].result, "attempt-1");
  EXPECT_EQ(during[0].failures.at("t1").exception_str(), "not yet");
  EXPECT_EQ(during[1].result, "attempt-2");
  EXPECT_TRUE(during[1].failures.empty());
  EXPECT_EQ(engine->storage().get_retry_history("r1"), during);
}

TEST_P(RetryCase, RetryThatFailsToExecuteRevertsWithItsFailure) {
  RetryHistory reverted_with;
  bool reverted = false;
  class FailingRetry final : public Retry {
   public:
    FailingRetry(RetryHistory& history, bool& reverted)
        : Retry("r", {}), history_(&history), reverted_(&reverted) {}
    RetryDecision on_failure(const RetryHistory&, const Value&) override {
      return RetryDecision::kRevert;
    }
    Value execute(const RetryHistory&, const Value&) override {
      throw std::invalid_argument("OMG I FAILED");
    }
    Value revert(const RetryHistory& history, const Value&, const FailureMap&) override {
      *history_ = history;
      *reverted_ = true;
      return Value();
    }

   private:
    RetryHistory* history_;
    bool* reverted_;
  };
  auto flow = linear_flow("testflow", std::make_unique<FailingRetry>(reverted_with, reverted));
  auto engine = make_engine(std::move(flow));
  try {
    engine->run();
    FAIL() << "the retry's failure was not raised";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "OMG I FAILED");
  }
  ASSERT_TRUE(reverted);
  EXPECT_TRUE(reverted_with.empty());
  ASSERT_TRUE(reverted_with.failure);
  EXPECT_TRUE(reverted_with.caused_by("std::invalid_argument", /*include_retry=*/true));
  EXPECT_FALSE(reverted_with.caused_by("std::invalid_argument"));
}

TEST_P(RetryCase, RetryWhoseRevertFailsFailsTheFlow) {
  // A retry's revert that raises: make one from a class, functions cannot revert.
  class NastyRetry final : public Retry {
   public:
    NastyRetry() : Retry("r", {}) {}
    RetryDecision on_failure(const RetryHistory&, const Value&) override {
      return RetryDecision::kRevert;
    }
    Value execute(const RetryHistory&, const Value&) override {
      throw std::invalid_argument("OMG I FAILED");
    }
    Value revert(const RetryHistory&, const Value&, const FailureMap&) override {
      throw std::invalid_argument("WOOT!");
    }
  };
  auto nasty_flow = linear_flow("testflow", std::make_unique<NastyRetry>());
  auto engine = make_engine(std::move(nasty_flow));
  EXPECT_THROW(engine->run(), WrappedFailure);
  EXPECT_EQ(engine->state(), FlowState::kFailure);
  EXPECT_EQ(engine->storage().get_atom_state("r"), AtomState::kRevertFailure);
  ASSERT_TRUE(engine->storage().get_revert_failure("r"));
  EXPECT_EQ(engine->storage().get_revert_failure("r")->exception_str(), "WOOT!");
}

TEST_P(RetryCase, GraphFlowRetriedThroughProvidesRevertsAndRetriesInOrder) {
  // test_nested_provides_graph_retried_correctly: a graph flow whose tasks are ordered by
  // what they provide, under a retry, is reverted in reverse dependency order and rerun.
  auto flow = graph_flow("test", times("r", 2, {.provides = "x"}));
  flow->add(progressing("a", {.provides = "a"}),
            task(
                "b",
                [](int x) {
                  if (x < 2) {
                    throw std::runtime_error("Woot!");
                  }
                  return 1;
                },
                {.args = {"x"}, .provides = "b"}, testing::no_revert),
            task(
                "c", [](const Value&, const Value&) { return 2; }, {.args = {"a", "b"}},
                testing::no_revert));
  auto engine = make_engine(std::move(flow));
  const Lines got = run_captured(*engine);
  auto position = [&](const std::string& line, std::size_t from = 0) {
    auto it = std::find(got.begin() + static_cast<std::ptrdiff_t>(from), got.end(), line);
    return static_cast<std::size_t>(it - got.begin());
  };
  const std::size_t retrying = position("r.r RETRYING");
  ASSERT_LT(retrying, got.size());
  // a and b ran independently; once b failed, a was reverted before the retry.
  EXPECT_LT(position("b.t FAILURE(" + woot() + ")"), retrying);
  EXPECT_LT(position("a.t REVERTED(null)"), retrying);
  EXPECT_EQ(position("c.t RUNNING"), position("c.t RUNNING", retrying));
  EXPECT_EQ(got.back(), "test.f SUCCESS");
  EXPECT_EQ(engine->storage().fetch_all()["x"], 2);
}

CABOOSE_ON_EVERY_ENGINE(RetryCase);

}  // namespace
}  // namespace caboose::engine
