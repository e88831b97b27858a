#include "caboose/engine/engine.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"
#include "caboose/persistence/memory_backend.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using Log = std::vector<std::string>;

class EngineTest : public testing::EngineCase {
 protected:
  // Loads and runs `flow`, returning every stored value (engine::run on this executor).
  Value run_flow(FlowPtr flow, LoadOptions options = {}) {
    auto engine = make_engine(std::move(flow), std::move(options));
    engine->run();
    return engine->storage().fetch_all();
  }
};
using EngineFencing = EngineTest;

// A task that logs "name" on execute and "name.revert(<result or failure>)" on revert.
AtomPtr recording(const std::string& name, Log& log, AtomOptions options = {}) {
  return task(
      name,
      [&log, name]() {
        log.push_back(name);
        return name + "-result";
      },
      std::move(options),
      [&log, name](const Value&, const Outcome& result, const FailureMap&) {
        log.push_back(name + ".revert(" +
                      (std::holds_alternative<Failure>(result) ? std::string("failure")
                                                               : std::get<Value>(result).dump()) +
                      ")");
        return Value();
      });
}

AtomPtr failing(const std::string& name, Log& log) {
  return task(
      name,
      [&log, name]() -> Value {
        log.push_back(name);
        throw std::invalid_argument(name + " failed");
      },
      {},
      [&log, name](const Value&, const Outcome&, const FailureMap& failures) {
        log.push_back(name + ".revert(failures=" + std::to_string(failures.size()) + ")");
        return Value();
      });
}

TEST_P(EngineTest, LinearFlowRunsInOrderAndStoresResults) {
  Log log;
  auto flow = linear_flow("f");
  flow->add(recording("a", log, {.provides = "x"}), recording("b", log, {.provides = "y"}));
  const Value results = run_flow(std::move(flow));
  EXPECT_EQ(log, (Log{"a", "b"}));
  EXPECT_EQ(results["x"], "a-result");
  EXPECT_EQ(results["y"], "b-result");
}

TEST_P(EngineTest, FailureRevertsExecutedAtomsInReverseOrderAndRethrows) {
  Log log;
  auto flow = linear_flow("f");
  flow->add(recording("a", log), recording("b", log), failing("c", log), recording("d", log));
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->run(), std::invalid_argument);
  EXPECT_EQ(log, (Log{"a", "b", "c", "c.revert(failures=1)", "b.revert(\"b-result\")",
                      "a.revert(\"a-result\")"}));
  EXPECT_EQ(engine->state(), FlowState::kReverted);
  Storage& s = engine->storage();
  EXPECT_EQ(s.get_atom_state("a"), AtomState::kReverted);
  EXPECT_EQ(s.get_atom_state("c"), AtomState::kReverted);
  EXPECT_EQ(s.get_atom_state("d"), AtomState::kPending);
  EXPECT_EQ(s.get_atom_intention("d"), Intention::kRevert);
  ASSERT_TRUE(s.get_failure("c"));
  EXPECT_TRUE(s.get_failure("c")->check<std::invalid_argument>());
}

TEST_P(EngineTest, RevertThatThrowsEndsTheFlowInFailure) {
  Log log;
  auto flow = linear_flow("f");
  flow->add(task(
                "a", [] { return 1; }, {},
                [](const Value&, const Outcome&, const FailureMap&) -> Value {
                  throw std::runtime_error("cannot undo");
                }),
            failing("b", log));
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->run(), WrappedFailure);
  EXPECT_EQ(engine->state(), FlowState::kFailure);
  EXPECT_EQ(engine->storage().get_atom_state("a"), AtomState::kRevertFailure);
}

TEST_P(EngineTest, NeverResolveLeavesTheFlowFailedWithoutRevert) {
  Log log;
  auto flow = linear_flow("f");
  flow->add(recording("a", log), failing("b", log));
  auto engine = make_engine(std::move(flow), {.options = {.never_resolve = true}});
  EXPECT_THROW(engine->run(), std::invalid_argument);
  EXPECT_EQ(engine->state(), FlowState::kFailure);
  EXPECT_EQ(log, (Log{"a", "b"}));
  EXPECT_EQ(engine->storage().get_atom_state("a"), AtomState::kSuccess);
}

TEST_P(EngineTest, DuplicateAtomNamesAreRefusedAtCompile) {
  Log log;
  auto flow = linear_flow("f");
  flow->add(recording("a", log), unordered_flow("u"));
  auto inner = linear_flow("inner");
  inner->add(recording("a", log));
  flow->add(std::move(inner));
  auto engine = make_engine(std::move(flow));
  EXPECT_THROW(engine->compile(), Duplicate);
}

TEST_P(EngineTest, MissingRequirementIsNamedAtValidate) {
  auto flow = linear_flow("f");
  flow->add(task("needs", [](int x, int y) { return x + y; }, {.args = {"x", "y"}}));
  auto engine = make_engine(std::move(flow), {.store = {{"x", 1}}});
  try {
    engine->validate();
    FAIL() << "expected MissingDependencies";
  } catch (const MissingDependencies& e) {
    EXPECT_EQ(e.who(), "needs");
    EXPECT_EQ(e.missing(), (std::vector<std::string>{"y"}));
  }
}

TEST_P(EngineTest, StoreValuesAndProvidersFeedArguments) {
  auto flow = linear_flow("f");
  flow->add(
      task("add", [](int x, int y) { return x + y; }, {.args = {"x", "y"}, .provides = "total"}));
  flow->add(task("split",
                 [](int total) {
                   return Value::array({total, total * 2});
                 },
                 {.args = {"total"}, .provides = {"one", "two"}}));
  flow->add(task("use", [](int two, int z) { return two + z; },
                 {.args = {"two", "z"}, .rebind = {{"z", "x"}}, .provides = "out"}));
  const Value r = run_flow(std::move(flow), {.store = {{"x", 2}, {"y", 3}}});
  EXPECT_EQ(r["total"], 5);
  EXPECT_EQ(r["one"], 5);
  EXPECT_EQ(r["two"], 10);
  EXPECT_EQ(r["out"], 12);
}

TEST_P(EngineTest, NearestProviderWins) {
  auto flow = linear_flow("outer");
  flow->add(task("first", [] { return 1; }, {.provides = "x"}));
  auto inner = linear_flow("inner");
  inner->add(task("second", [] { return 2; }, {.provides = "x"}));
  inner->add(task("reader", [](int x) { return x; }, {.args = {"x"}, .provides = "seen"}));
  flow->add(std::move(inner));
  EXPECT_EQ(run_flow(std::move(flow))["seen"], 2);
}

TEST_P(EngineTest, GraphFlowOrdersByInferredDependencies) {
  Log log;
  auto flow = graph_flow("g");
  flow->add(task("c",
                 [&log](int b) {
                   log.push_back("c");
                   return b + 1;
                 },
                 {.args = {"b"}, .provides = "c"}));
  flow->add(task("b",
                 [&log](int a) {
                   log.push_back("b");
                   return a + 1;
                 },
                 {.args = {"a"}, .provides = "b"}));
  flow->add(task("a",
                 [&log]() {
                   log.push_back("a");
                   return 1;
                 },
                 {.provides = "a"}));
  EXPECT_EQ(run_flow(std::move(flow))["c"], 3);
  EXPECT_EQ(log, (Log{"a", "b", "c"}));
}

TEST_P(EngineTest, ResumedFlowDoesNotRerunSuccessfulAtoms) {
  auto backend = persistence::make_memory_backend();
  Log log;
  auto book = persistence::make_logbook("book");
  auto detail = persistence::make_flow_detail("f");
  book.flows.push_back(detail);
  backend->save_logbook(book);
  auto make = [&] {
    auto flow = linear_flow("f");
    flow->add(recording("a", log), recording("b", log));
    return flow;
  };
  auto first = make_engine(make(), {.backend = backend.get(), .flow_detail = detail});
  first->atom_notifier().register_callback("SUCCESS", [&](std::string_view, const Value& d) {
    if (d["task_name"] == "a") {
      first->suspend();
    }
  });
  first->run();
  EXPECT_EQ(first->state(), FlowState::kSuspended);
  EXPECT_EQ(log, (Log{"a"}));
  auto second = make_engine(make(), {.backend = backend.get(), .flow_detail = detail});
  second->run();
  EXPECT_EQ(second->state(), FlowState::kSuccess);
  EXPECT_EQ(log, (Log{"a", "b"}));
  const auto stored = backend->get_flow_details(detail.uuid);
  EXPECT_EQ(stored.state, FlowState::kSuccess);
  ASSERT_NE(stored.find_by_name("b"), nullptr);
  EXPECT_EQ(stored.find_by_name("b")->results, "b-result");
}

TEST_P(EngineTest, InjectorIsPersistedAsTaskFlowDoes) {
  auto backend = persistence::make_memory_backend();
  auto flow = linear_flow("f");
  flow->add(task("a", [](int x) { return x; }, {.args = {"x"}}));
  auto engine = make_engine(std::move(flow), {.store = {{"x", 7}}, .backend = backend.get()});
  engine->run();
  const auto stored = backend->get_flow_details(engine->storage().flow_uuid());
  const auto* injector = stored.find_by_name("_TaskFlow_INJECTOR");
  ASSERT_NE(injector, nullptr);
  EXPECT_EQ(injector->state, AtomState::kSuccess);
  EXPECT_EQ(injector->results, (Value{{"x", 7}}));
  EXPECT_EQ(stored.find_by_name("a")->meta["progress"], 1.0);
}

TEST_P(EngineTest, NotifiesFlowAndAtomStatesInOrder) {
  Log events;
  auto flow = linear_flow("f");
  flow->add(task("a", [] { return 1; }, {}));
  auto engine = make_engine(std::move(flow));
  engine->notifier().register_callback(
      std::string(Notifier::kAny), [&](std::string_view s, const Value& d) {
        events.push_back("flow:" + std::string(s) + ":" + d["flow_name"].get<std::string>());
      });
  engine->atom_notifier().register_callback(
      std::string(Notifier::kAny),
      [&](std::string_view s, const Value&) { events.push_back("atom:" + std::string(s)); });
  engine->run();
  EXPECT_EQ(events, (Log{"flow:RUNNING:f", "atom:RUNNING", "atom:SUCCESS", "flow:SUCCESS:f"}));
}

// A conductor that lost its claim can never write: once a newer claim fences the flow
// detail, the engine's next save is refused and the run stops with StaleClaim, leaving what
// the newer owner sees untouched.
TEST_P(EngineFencing, StaleClaimStopsTheRunAndWritesNothing) {
  auto backend = persistence::make_memory_backend();
  persistence::LogBook book = persistence::make_logbook("b");
  persistence::FlowDetail detail = persistence::make_flow_detail("fenced");
  book.flows.push_back(detail);
  backend->save_logbook(book);
  backend->fence(detail.uuid, 1);

  Log log;
  auto flow = linear_flow("fenced");
  flow->add(recording("a", log));
  flow->add(task("taken-over", [&] {
    log.push_back("taken-over");
    backend->fence(detail.uuid, 2);  // another conductor claims the job meanwhile
    return 1;
  }));
  flow->add(recording("c", log));
  auto engine = make_engine(std::move(flow),
                            {.backend = backend.get(), .flow_detail = detail, .fence_token = 1});
  EXPECT_THROW(engine->run(), StaleClaim);
  EXPECT_EQ(log, (Log{"a", "taken-over"}));  // "c" never started

  const persistence::FlowDetail stored = backend->get_flow_details(detail.uuid);
  EXPECT_EQ(stored.find_by_name("a")->state, AtomState::kSuccess);
  EXPECT_EQ(stored.find_by_name("taken-over")->state, AtomState::kRunning);  // as it was fenced
  EXPECT_EQ(stored.find_by_name("c")->state, AtomState::kPending);
  EXPECT_EQ(stored.state, FlowState::kRunning);
}

CABOOSE_ON_EVERY_ENGINE(EngineTest);
CABOOSE_ON_EVERY_ENGINE(EngineFencing);

}  // namespace
}  // namespace caboose::engine
