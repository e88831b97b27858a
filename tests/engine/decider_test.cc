// Graph-flow conditional links (deciders and their depths), as TaskFlow's
// EngineDeciderDepthTest and EngineGraphConditionalFlowTest, on every engine.
#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/listeners.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using testing::failing;
using testing::no_op;
using testing::progressing;
using Lines = std::vector<std::string>;
using LineSet = std::set<std::string>;

class DeciderCase : public testing::EngineCase {
 protected:
  // Runs with a capturing listener (atoms only) and returns the lines captured.
  static Lines run_captured(Engine& engine) {
    return testing::run_captured(engine, nullptr, {.capture_flow = false});
  }
  static LineSet as_set(const Lines& lines) { return LineSet(lines.begin(), lines.end()); }
};

Decider always(bool answer) {
  return [answer](const Value&) { return answer; };
}

TEST_P(DeciderCase, DepthDecidesHowMuchARefusedLinkIgnores) {
  const std::vector<std::pair<DeciderDepth, int>> cases = {{DeciderDepth::kAll, 1},
                                                           {DeciderDepth::kAtom, 4},
                                                           {DeciderDepth::kFlow, 2},
                                                           {DeciderDepth::kNeighbors, 3}};
  for (const auto& [depth, ran] : cases) {
    auto sub = graph_flow("g_1");
    sub->add(progressing("g_1-1"));
    auto flow = graph_flow("g");
    flow->add(progressing("g-1"), progressing("g-2"), std::move(sub), progressing("g-3"),
              progressing("g-4"));
    flow->link("g-1", "g-2", always(false), depth);
    flow->link("g-2", "g_1");
    flow->link("g-2", "g-3");
    flow->link("g-3", "g-4");
    flow->link("g-1", "g_1", always(true), depth);
    auto engine = make_engine(std::move(flow));
    const Lines lines = run_captured(*engine);
    const auto running = std::count_if(lines.begin(), lines.end(),
                                       [](const std::string& l) { return l.ends_with("RUNNING"); });
    EXPECT_EQ(running, ran) << "depth " << to_string(depth);
    EXPECT_EQ(engine->state(), FlowState::kSuccess);
    EXPECT_EQ(engine->storage().get_atom_state("g-2"), AtomState::kIgnore);
  }
}

// AddOneSameProvidesRequires: value + 1, requiring and providing "value".
AtomPtr add_one(std::string name, AtomOptions options = {}) {
  options.args = {"value"};
  options.provides = "value";
  return task(
      std::move(name), [](int value) { return value + 1; }, std::move(options));
}

TEST_P(DeciderCase, AtomDepthJumpsOverTheAtomOnly) {
  auto flow = graph_flow("g");
  // Explicit links only: the three provide and require "value".
  flow->add(add_one("a", {.inject = {{"value", 0}}}));
  flow->add_unresolved(add_one("b"), add_one("c"));
  flow->link("a", "b", always(false), DeciderDepth::kAtom);
  flow->link("b", "c");
  auto engine = make_engine(std::move(flow));
  engine->run();
  EXPECT_EQ(engine->storage().get("c"), 2);
  EXPECT_EQ(engine->storage().get_atom_state("b"), AtomState::kIgnore);
}

TEST_P(DeciderCase, AtomDepthJumpsOverAFailingAtom) {
  auto flow = graph_flow("g");
  flow->add(no_op("a"), failing("b"), no_op("c"));
  flow->link("a", "b", always(false), DeciderDepth::kAtom);
  flow->link("b", "c");
  auto engine = make_engine(std::move(flow));
  engine->run();
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
  EXPECT_EQ(engine->storage().get_atom_state("c"), AtomState::kSuccess);
}

TEST_P(DeciderCase, IgnoredAtomsAreNotRevertedWhenALaterOneFails) {
  auto flow = graph_flow("g");
  flow->add(no_op("a"), no_op("b"), failing("c"));
  flow->link("a", "b", always(false), DeciderDepth::kAtom);
  flow->link("b", "c");
  auto engine = make_engine(std::move(flow));
  CapturingListener capture(*engine, {.capture_flow = false});
  EXPECT_THROW(engine->run(), std::runtime_error);
  EXPECT_EQ(capture.values(),
            (Lines{"a.t RUNNING", "a.t SUCCESS(null)", "b.t IGNORE", "c.t RUNNING",
                   "c.t FAILURE(" + testing::woot() + ")", "c.t REVERTING", "c.t REVERTED(null)",
                   "a.t REVERTING", "a.t REVERTED(null)"}));
}

TEST_P(DeciderCase, RefusedLinkIntoASubflowIgnoresAllOfIt) {
  std::mutex mu;
  std::vector<Value> histories;
  auto subsub = linear_flow("more-more-work");
  subsub->add(progressing("task3"), progressing("task4"));
  auto sub = linear_flow("more-work");
  sub->add(std::move(subsub));
  auto flow = graph_flow("main-work");
  flow->add(progressing("task1"), progressing("task2"));
  flow->link("task1", "task2");
  flow->add(std::move(sub));
  flow->link("task2", "more-work", [&](const Value& history) {
    std::lock_guard lock(mu);
    histories.push_back(history);
    return false;
  });
  auto engine = make_engine(std::move(flow));
  EXPECT_EQ(run_captured(*engine),
            (Lines{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t RUNNING", "task2.t SUCCESS(5)",
                   "task3.t IGNORE", "task4.t IGNORE"}));
  ASSERT_EQ(histories.size(), 1u);
  EXPECT_EQ(histories[0], (Value{{"task2", 5}}));
}

TEST_P(DeciderCase, EveryDeciderIntoASubflowSeesEveryLinkedResult) {
  std::mutex mu;
  std::vector<Value> histories;
  auto should_go = [&](const Value& history) {
    std::lock_guard lock(mu);
    histories.push_back(history);
    return false;
  };
  auto sub = linear_flow("more-work");
  sub->add(progressing("task3"), progressing("task4"));
  auto flow = graph_flow("main-work");
  flow->add(progressing("task1"), progressing("task2"));
  flow->link("task1", "task2");
  flow->add(std::move(sub));
  flow->link("task2", "more-work", should_go);
  flow->link("task1", "more-work", should_go);
  auto engine = make_engine(std::move(flow));
  EXPECT_EQ(run_captured(*engine),
            (Lines{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t RUNNING", "task2.t SUCCESS(5)",
                   "task3.t IGNORE", "task4.t IGNORE"}));
  ASSERT_EQ(histories.size(), 2u);
  for (const Value& h : histories) {
    EXPECT_EQ(h, (Value{{"task1", 5}, {"task2", 5}}));
  }
}

TEST_P(DeciderCase, FalseIgnoresTheBranchTrueRunsIt) {
  auto flow = graph_flow("root");
  flow->add(progressing("task1"), progressing("task2"), progressing("task2_2"),
            progressing("task3"));
  flow->link("task1", "task2", always(false));
  flow->link("task2", "task2_2");
  flow->link("task1", "task3", always(true));
  auto engine = make_engine(std::move(flow));
  EXPECT_EQ(as_set(run_captured(*engine)),
            (LineSet{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t IGNORE", "task2_2.t IGNORE",
                     "task3.t RUNNING", "task3.t SUCCESS(5)"}));
}

TEST_P(DeciderCase, ResetEngineAsksTheDecidersAgain) {
  std::atomic<bool> allow{false};
  auto flow = graph_flow("root");
  flow->add(progressing("task1"), progressing("task2"), progressing("task3"));
  flow->link("task1", "task2");
  flow->link("task2", "task3", [&](const Value&) { return allow.load(); });
  auto engine = make_engine(std::move(flow));
  EXPECT_EQ(as_set(run_captured(*engine)),
            (LineSet{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t RUNNING",
                     "task2.t SUCCESS(5)", "task3.t IGNORE"}));
  EXPECT_EQ(engine->storage().get_atom_state("task3"), AtomState::kIgnore);
  EXPECT_EQ(engine->storage().get_atom_intention("task3"), Intention::kIgnore);

  engine->reset();
  EXPECT_EQ(engine->state(), FlowState::kPending);
  allow = true;
  EXPECT_EQ(as_set(run_captured(*engine)),
            (LineSet{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t RUNNING",
                     "task2.t SUCCESS(5)", "task3.t RUNNING", "task3.t SUCCESS(5)"}));
}

TEST_P(DeciderCase, DiamondWithOneRefusingLinkIgnoresTheJoin) {
  auto flow = graph_flow("root");
  flow->add(progressing("task1"), progressing("task2"), progressing("task3"), progressing("task4"));
  flow->link("task1", "task2");
  flow->link("task2", "task4", always(false));
  flow->link("task1", "task3");
  flow->link("task3", "task4", always(true));
  auto engine = make_engine(std::move(flow));
  EXPECT_EQ(
      as_set(run_captured(*engine)),
      (LineSet{"task1.t RUNNING", "task1.t SUCCESS(5)", "task2.t RUNNING", "task2.t SUCCESS(5)",
               "task3.t RUNNING", "task3.t SUCCESS(5)", "task4.t IGNORE"}));
  EXPECT_EQ(engine->storage().get_atom_intention("task4"), Intention::kIgnore);
}

TEST_P(DeciderCase, DecidersReadTheResultsOfTheirLinks) {
  auto make_flow = [] {
    auto sum_equals = [](int allowed) {
      return [allowed](const Value& history) {
        int total = 0;
        for (const auto& [name, result] : history.items()) {
          total += result.get<int>();
        }
        return total == allowed;
      };
    };
    auto flow = graph_flow("root");
    flow->add(
        task("task1", [](int x, int y, int z) { return x + y + z; }, {.args = {"x", "y", "z"}}),
        progressing("task2"), progressing("task2_2"), progressing("task3"), progressing("task3_3"));
    flow->link("task1", "task2", sum_equals(2));
    flow->link("task2", "task2_2");
    flow->link("task1", "task3", sum_equals(1));
    flow->link("task3", "task3_3");
    return flow;
  };
  auto engine = make_engine(make_flow(), {.store = {{"x", 0}, {"y", 1}, {"z", 1}}});
  EXPECT_EQ(as_set(run_captured(*engine)),
            (LineSet{"task1.t RUNNING", "task1.t SUCCESS(2)", "task3.t IGNORE", "task3_3.t IGNORE",
                     "task2.t RUNNING", "task2.t SUCCESS(5)", "task2_2.t RUNNING",
                     "task2_2.t SUCCESS(5)"}));
  auto other = make_engine(make_flow(), {.store = {{"x", 0}, {"y", 0}, {"z", 1}}});
  EXPECT_EQ(as_set(run_captured(*other)),
            (LineSet{"task1.t RUNNING", "task1.t SUCCESS(1)", "task2.t IGNORE", "task2_2.t IGNORE",
                     "task3.t RUNNING", "task3.t SUCCESS(5)", "task3_3.t RUNNING",
                     "task3_3.t SUCCESS(5)"}));
}

TEST_P(DeciderCase, DeciderThatThrowsFailsTheRun) {
  auto flow = graph_flow("root");
  flow->add(progressing("task1"), progressing("task2"));
  flow->link("task1", "task2",
             [](const Value&) -> bool { throw std::logic_error("cannot decide"); });
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->run(), std::logic_error);
  EXPECT_EQ(engine->state(), FlowState::kFailure);
  EXPECT_EQ(engine->storage().get_atom_state("task2"), AtomState::kPending);
}

TEST_P(DeciderCase, DepthsParseFromTheirNames) {
  EXPECT_EQ(parse_decider_depth("all"), DeciderDepth::kAll);
  EXPECT_EQ(parse_decider_depth("FLOW"), DeciderDepth::kFlow);
  EXPECT_EQ(parse_decider_depth("Neighbors"), DeciderDepth::kNeighbors);
  EXPECT_EQ(parse_decider_depth("atom"), DeciderDepth::kAtom);
  EXPECT_THROW(parse_decider_depth("everything"), InvalidArgument);
  EXPECT_EQ(to_string(DeciderDepth::kNeighbors), "NEIGHBORS");
}

CABOOSE_ON_EVERY_ENGINE(DeciderCase);

}  // namespace
}  // namespace caboose::engine
