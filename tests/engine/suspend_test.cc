// Suspend and resume, as TaskFlow's tests/unit/test_suspend.py, plus stepping a run with
// run_iter(), on every engine.
#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/engine/listeners.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"
#include "caboose/persistence/memory_backend.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using testing::failing;
using testing::progressing;
using testing::woot;
using Lines = std::vector<std::string>;

// Suspends the engine when `task` reaches `state` (TaskFlow's SuspendingListener).
class Suspender final : public Listener {
 public:
  Suspender(Engine& engine, std::string task, AtomState state)
      : Listener(engine), task_(std::move(task)), state_(state) {}
  ~Suspender() override { deregister(); }

 private:
  void on_task(AtomState state, const Value& details) override {
    if (state == state_ && details["task_name"] == task_) {
      engine().suspend();
    }
  }
  std::string task_;
  AtomState state_;
};

class SuspendCase : public testing::EngineCase {
 protected:
  SuspendCase() : backend_(persistence::make_memory_backend()) {}

  // An engine saving to this test's backend; on `detail` when given (a resumed engine).
  std::unique_ptr<Engine> engine_on(FlowPtr flow,
                                    std::optional<persistence::FlowDetail> detail = {},
                                    Value store = Value::object()) {
    if (!detail) {
      persistence::LogBook book = persistence::make_logbook("suspend");
      detail = persistence::make_flow_detail(flow->name());
      book.flows.push_back(*detail);
      backend_->save_logbook(book);
    }
    return make_engine(
        std::move(flow),
        {.store = std::move(store), .backend = backend_.get(), .flow_detail = detail});
  }

  // Runs `engine` with a capturing listener (atoms only), suspending when `task` reaches
  // `state` if a task is named. The run's exception, if any, goes to `error`.
  static Lines run_captured(Engine& engine, const std::string& task = {},
                            AtomState state = AtomState::kSuccess, std::string* error = nullptr) {
    std::optional<Suspender> suspender;
    if (!task.empty()) {
      suspender.emplace(engine, task, state);
    }
    return testing::run_captured(engine, error, {.capture_flow = false});
  }

  static FlowPtr abc(bool c_fails) {
    auto flow = linear_flow("linear");
    flow->add(progressing("a"), progressing("b"), c_fails ? failing("c") : progressing("c"));
    return flow;
  }

  std::unique_ptr<persistence::Backend> backend_;
};

TEST_P(SuspendCase, SuspendNeverAskedForRunsToTheEnd) {
  auto flow = linear_flow("one");
  flow->add(progressing("a"));
  auto engine = engine_on(std::move(flow));
  EXPECT_EQ(run_captured(*engine, "b"), (Lines{"a.t RUNNING", "a.t SUCCESS(5)"}));
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
  EXPECT_EQ(run_captured(*engine, "b"), Lines{});
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
}

TEST_P(SuspendCase, SuspendedLinearFlowResumesWhereItStopped) {
  auto engine = engine_on(abc(false));
  EXPECT_EQ(run_captured(*engine, "b"),
            (Lines{"a.t RUNNING", "a.t SUCCESS(5)", "b.t RUNNING", "b.t SUCCESS(5)"}));
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  EXPECT_EQ(engine->storage().get_atom_state("c"), AtomState::kPending);
  EXPECT_EQ(run_captured(*engine), (Lines{"c.t RUNNING", "c.t SUCCESS(5)"}));
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
}

const Lines kSuspendedInRevert = {"a.t RUNNING",   "a.t SUCCESS(5)",
                                  "b.t RUNNING",   "b.t SUCCESS(5)",
                                  "c.t RUNNING",   "c.t FAILURE(" + woot() + ")",
                                  "c.t REVERTING", "c.t REVERTED(null)",
                                  "b.t REVERTING", "b.t REVERTED(null)"};

TEST_P(SuspendCase, SuspendedRevertFinishesOnTheNextRun) {
  auto engine = engine_on(abc(true));
  EXPECT_EQ(run_captured(*engine, "b", AtomState::kReverted), kSuspendedInRevert);
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  std::string error;
  EXPECT_EQ(run_captured(*engine, {}, AtomState::kSuccess, &error),
            (Lines{"a.t REVERTING", "a.t REVERTED(null)"}));
  EXPECT_EQ(error, "Woot!");
  EXPECT_EQ(engine->state(), FlowState::kReverted);
}

TEST_P(SuspendCase, AnotherEngineOnTheFlowDetailResumesTheRevert) {
  auto engine = engine_on(abc(true));
  EXPECT_EQ(run_captured(*engine, "b", AtomState::kReverted), kSuspendedInRevert);
  auto resumed = engine_on(abc(true), engine->storage().flow_detail());
  std::string error;
  EXPECT_EQ(run_captured(*resumed, {}, AtomState::kSuccess, &error),
            (Lines{"a.t REVERTING", "a.t REVERTED(null)"}));
  EXPECT_EQ(error, "Woot!");
  EXPECT_EQ(resumed->state(), FlowState::kReverted);
}

TEST_P(SuspendCase, RevertResumesEvenIfTheFailedTaskIsGone) {
  auto engine = engine_on(abc(true));
  EXPECT_EQ(run_captured(*engine, "b", AtomState::kReverted), kSuspendedInRevert);
  auto shorter = linear_flow("linear");
  shorter->add(progressing("a"), progressing("b"));
  auto resumed = engine_on(std::move(shorter), engine->storage().flow_detail());
  std::string error;
  EXPECT_EQ(run_captured(*resumed, {}, AtomState::kSuccess, &error),
            (Lines{"a.t REVERTING", "a.t REVERTED(null)"}));
  EXPECT_EQ(error, "Woot!");
  EXPECT_EQ(resumed->state(), FlowState::kReverted);
}

TEST_P(SuspendCase, StorageIsCheckedAgainOnResume) {
  auto flow = linear_flow("linear");
  flow->add(task("b", [](const Value&) { return 5; }, {.args = {"foo"}}), progressing("c"));
  auto engine = engine_on(std::move(flow), {}, {{"foo", "bar"}});
  run_captured(*engine, "b");
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  Storage& s = engine->storage();
  s.save(s.index(kInjectorName), Value::object());  // everything un-injected
  EXPECT_THROW(engine->run(), MissingDependencies);
}

TEST_P(SuspendCase, SuspendFromAnotherThreadLetsTheRunningTaskFinish) {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> c_runs{0};
  auto make_flow = [&](bool first) {
    auto flow = linear_flow("linear");
    flow->add(progressing("a"));
    if (first) {
      flow->add(task("b", [&, released] {
        started.set_value();
        released.wait();
        return 7;
      }));
    } else {
      flow->add(task("b", []() -> int { throw std::logic_error("b ran again"); }));
    }
    flow->add(task("c", [&] { return ++c_runs; }));
    return flow;
  };
  auto engine = engine_on(make_flow(true));
  std::thread runner([&] { engine->run(); });
  started.get_future().wait();
  engine->suspend();
  release.set_value();
  runner.join();
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  EXPECT_EQ(engine->storage().get("b"), 7);
  EXPECT_EQ(engine->storage().get_atom_state("c"), AtomState::kPending);
  EXPECT_EQ(c_runs, 0);

  // A new engine on what was saved runs only what is left.
  auto resumed = engine_on(make_flow(false), engine->storage().flow_detail());
  resumed->run();
  EXPECT_EQ(resumed->state(), FlowState::kSuccess);
  EXPECT_EQ(c_runs, 1);
  EXPECT_EQ(resumed->storage().get("b"), 7);
}

TEST_P(SuspendCase, SuspendedParallelBranchesEndWithNothingRunning) {
  // Two independent branches, then a join: suspended while both may be running, every atom
  // that started ends SUCCESS and the join waits for the resumed run.
  std::atomic<int> runs{0};
  auto make_flow = [&] {
    auto flow = graph_flow("branches");
    flow->add(task("left", [&] { return ++runs; }, {.provides = "l"}),
              task("right", [&] { return ++runs; }, {.provides = "r"}),
              task("join",
                   [&](int l, int r) {
                     ++runs;
                     return l + r;
                   },
                   {.args = {"l", "r"}, .provides = "sum"}));
    return flow;
  };
  auto engine = engine_on(make_flow());
  Suspender suspender(*engine, "left", AtomState::kRunning);
  engine->run();
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  for (const char* name : {"left", "right"}) {
    const AtomState s = engine->storage().get_atom_state(name);
    EXPECT_TRUE(s == AtomState::kSuccess || s == AtomState::kPending)
        << name << " " << to_string(s);
  }
  EXPECT_EQ(engine->storage().get_atom_state("join"), AtomState::kPending);
  const int before = runs;
  auto resumed = engine_on(make_flow(), engine->storage().flow_detail());
  resumed->run();
  EXPECT_EQ(resumed->state(), FlowState::kSuccess);
  EXPECT_EQ(runs, 3);  // nothing ran twice
  EXPECT_GE(before, 1);
  EXPECT_EQ(resumed->storage().fetch("sum"), 3);
}

TEST_P(SuspendCase, RunIterStepsThroughTheEngineStates) {
  auto engine = engine_on(abc(false));
  std::vector<EngineState> states;
  RunIterator it = engine->run_iter();
  while (auto s = it.next()) {
    states.push_back(*s);
  }
  ASSERT_GE(states.size(), 3u);
  EXPECT_EQ(states.front(), EngineState::kResuming);
  EXPECT_EQ(states[states.size() - 2], EngineState::kGameOver);
  EXPECT_EQ(states.back(), EngineState::kSuccess);
  // Every atom is scheduled, waited for and analyzed: the cycle repeats per linear step.
  const auto count = [&](EngineState s) { return std::count(states.begin(), states.end(), s); };
  EXPECT_EQ(count(EngineState::kScheduling), 3);
  EXPECT_EQ(count(EngineState::kWaiting), 3);
  EXPECT_EQ(count(EngineState::kAnalyzing), 3);
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
  EXPECT_FALSE(it.next());
}

TEST_P(SuspendCase, RunIterCanBeSuspendedBetweenSteps) {
  auto engine = engine_on(abc(false));
  RunIterator it = engine->run_iter();
  std::vector<EngineState> states;
  while (auto s = it.next()) {
    states.push_back(*s);
    if (*s == EngineState::kAnalyzing) {
      engine->suspend();  // after the first atom's result was taken in
    }
  }
  EXPECT_EQ(states.back(), EngineState::kSuspended);
  EXPECT_EQ(engine->storage().get_atom_state("a"), AtomState::kSuccess);
  EXPECT_EQ(engine->storage().get_atom_state("b"), AtomState::kPending);
}

TEST_P(SuspendCase, RunIterRethrowsTheFailureAfterTheEndState) {
  auto engine = engine_on(abc(true));
  RunIterator it = engine->run_iter();
  std::optional<EngineState> last;
  try {
    while (auto s = it.next()) {
      last = s;
    }
    FAIL() << "the failure was not rethrown";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "Woot!");
  }
  EXPECT_EQ(last, EngineState::kReverted);
  EXPECT_FALSE(it.next());
}

CABOOSE_ON_EVERY_ENGINE(SuspendCase);

TEST(EngineOptionsTest, ReadFromAValueMap) {
  const EngineOptions o = EngineOptions::from_value({{"executor", "parallel"},
                                                     {"max_workers", 3},
                                                     {"never_resolve", true},
                                                     {"defer_reverts", true},
                                                     {"inject_transient", false}});
  EXPECT_EQ(o.executor, ExecutorKind::kParallel);
  EXPECT_EQ(o.max_workers, 3u);
  EXPECT_TRUE(o.never_resolve);
  EXPECT_TRUE(o.defer_reverts);
  EXPECT_FALSE(o.inject_transient);
  EXPECT_EQ(EngineOptions::from_value(o.to_value()).to_value(), o.to_value());
}

TEST(EngineOptionsTest, TaskFlowEngineNamesAreAccepted) {
  EXPECT_EQ(EngineOptions::from_value({{"engine", "serial"}}).executor, ExecutorKind::kSerial);
  for (const char* name : {"parallel", "threaded", "threads"}) {
    EXPECT_EQ(EngineOptions::from_value({{"engine", name}}).executor, ExecutorKind::kParallel)
        << name;
  }
  EXPECT_EQ(EngineOptions::from_value(Value::object()).executor, ExecutorKind::kSerial);
}

TEST(EngineOptionsTest, BadOptionsAreRefusedByName) {
  const auto message = [](const Value& v) {
    try {
      (void)EngineOptions::from_value(v);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({{"max_wokers", 2}}).find("max_wokers"), std::string::npos);
  EXPECT_NE(message({{"max_workers", -1}}).find("max_workers"), std::string::npos);
  EXPECT_NE(message({{"max_workers", "two"}}).find("max_workers"), std::string::npos);
  EXPECT_NE(message({{"executor", "processes"}}).find("processes"), std::string::npos);
  EXPECT_NE(message({{"never_resolve", "yes"}}).find("never_resolve"), std::string::npos);
  EXPECT_EQ(message(Value::array()).find("accepted"), std::string::npos);
}

TEST(EngineOptionsTest, EngineStatesHaveTaskFlowNames) {
  EXPECT_EQ(to_string(EngineState::kResuming), "RESUMING");
  EXPECT_EQ(to_string(EngineState::kGameOver), "GAME_OVER");
  EXPECT_EQ(to_string(EngineState::kSuspended), "SUSPENDED");
}

}  // namespace
}  // namespace caboose::engine
