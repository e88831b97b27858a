// The conductors, in process: TaskFlow's test_conductors.py cases (on every conductor kind),
// then what caboose adds: attempts, backoff, trash, unknown factories, malformed jobs, lost
// claims, graceful stop.
#include "caboose/conductors/conductor.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/persistence/memory_backend.h"

#include "conductors/conductor_cases.h"
#include "support/child_process.h"

namespace caboose::conductors::testing {
namespace {

using namespace std::chrono_literals;
using jobs::Job;
using jobs::JobBoard;
using jobs::JobState;

enum class Kind { kBlocking, kNonBlockingMany, kNonBlockingOne };

std::string kind_name(Kind kind);
void PrintTo(Kind kind, std::ostream* os) {
  *os << kind_name(kind);
}

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::kBlocking:
      return "Blocking";
    case Kind::kNonBlockingMany:
      return "NonBlockingMany";
    case Kind::kNonBlockingOne:
      return "NonBlockingOne";
  }
  return "?";
}

// The atoms of TaskFlow's conductor tests (test_utils.ProgressingTask, FailingTask,
// TaskMultiArg, SleepTask).
FlowRegistry test_registry() {
  FlowRegistry registry;
  add_example_flows(registry);
  registry.add("tests.test_factory", [](const Value& args, const Value&) -> FlowPtr {
    auto flow = linear_flow("test");
    if (!args.at(0).get<bool>()) {
      flow->add(task("test1", [] { return 5; }, {}));
    } else {
      flow->add(task("test1", []() -> Value { throw std::runtime_error("Woot!"); }, {}));
    }
    return flow;
  });
  registry.add("tests.store_factory", [](const Value&, const Value&) -> FlowPtr {
    auto flow = linear_flow("test");
    flow->add(task("task1",
                   [](const Value& x, const Value& y, const Value& z) {
                     return Value::array({x, y, z});
                   },
                   {.args = {"x", "y", "z"}}));
    return flow;
  });
  registry.add("tests.sleep_factory", [](const Value&, const Value&) -> FlowPtr {
    auto flow = linear_flow("test");
    flow->add(task("test1",
                   [](double duration) {
                     std::this_thread::sleep_for(std::chrono::duration<double>(duration));
                   },
                   {.args = {"duration"}}));
    flow->add(task("test2", [] {}, {}));
    return flow;
  });
  return registry;
}

class ConductorTest : public ::testing::TestWithParam<Kind> {
 protected:
  ConductorTest() : board_(jobs::fetch_jobboard("sqlite://", {.lease = 2s, .max_attempts = 3})) {}

  std::unique_ptr<Conductor> make(ConductorOptions options = {}) {
    if (options.wait_timeout == ConductorOptions{}.wait_timeout) {
      options.wait_timeout = 50ms;  // TaskFlow's tests use 0.1 s
    }
    options.backoff = {.base = 1ms, .cap = 5ms};
    switch (GetParam()) {
      case Kind::kBlocking:
        return std::make_unique<BlockingConductor>("testing", *board_, backend_, registry_,
                                                   std::move(options));
      case Kind::kNonBlockingMany:
        return std::make_unique<NonBlockingConductor>("testing", *board_, backend_, registry_, 3,
                                                      std::move(options));
      case Kind::kNonBlockingOne:
        return std::make_unique<NonBlockingConductor>("testing", *board_, backend_, registry_, 1,
                                                      std::move(options));
    }
    return nullptr;
  }

  std::optional<FlowState> flow_state(const persistence::LogBook& book) {
    return backend_.get_flow_details(book.flows.front().uuid).state;
  }

  std::unique_ptr<persistence::Backend> owned_ = persistence::make_memory_backend();
  persistence::Backend& backend_ = *owned_;
  FlowRegistry registry_ = test_registry();
  std::unique_ptr<JobBoard> board_;
};

TEST_P(ConductorTest, Connection) {
  auto conductor = make();
  conductor->connect();
  conductor->close();
  EXPECT_THROW(board_->job_count(), Error);
}

TEST_P(ConductorTest, RunEmpty) {
  auto conductor = make();
  std::jthread t([&] { conductor->run(); });
  conductor->stop();
  EXPECT_TRUE(conductor->wait(20s));
  EXPECT_FALSE(conductor->dispatching());
}

TEST_P(ConductorTest, RunConsumesAJobWhoseFlowSucceeds) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book = saved_flow(backend_, {.name = "tests.test_factory", .args = {false}});
  post_job(*board_, book);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  EXPECT_EQ(events.count("job_abandoned"), 0u);
  EXPECT_EQ(flow_state(book), FlowState::kSuccess);
  EXPECT_EQ(board_->job_count(), 0u);
  EXPECT_EQ(events.names(),
            (std::vector<std::string>{"compilation_start", "compilation_end", "preparation_start",
                                      "preparation_end", "validation_start", "validation_end",
                                      "running_start", "running_end", "job_consumed"}));
}

TEST_P(ConductorTest, RunStopsAfterMaxDispatches) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  std::jthread t([&] { conductor->run(5); });
  const auto book = saved_flow(backend_, {.name = "tests.test_factory", .args = {false}});
  for (std::size_t i = 1; i <= 5; ++i) {
    post_job(*board_, book);
    ASSERT_TRUE(events.wait_for("job_consumed", i));
  }
  EXPECT_TRUE(conductor->wait(20s));  // returned by itself
  post_job(*board_, book);
  EXPECT_EQ(board_->job_count(), 1u);
  EXPECT_FALSE(conductor->dispatching());
}

TEST_P(ConductorTest, FailedRunIsConsumedWithTheFlowReverted) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book = saved_flow(backend_, {.name = "tests.test_factory", .args = {true}});
  post_job(*board_, book);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  EXPECT_EQ(events.count("job_abandoned"), 0u);
  EXPECT_EQ(flow_state(book), FlowState::kReverted);
  EXPECT_EQ(events.count("running_end"), 0u);  // a stage that throws emits its _start only
}

// TaskFlow consumes such a job (the flow never ran); caboose trashes it with the reason, so the
// job is not lost and can be requeued once the poster is fixed.
TEST_P(ConductorTest, MissingStoreTrashesTheJobWithTheReason) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book = saved_flow(backend_, {.name = "tests.store_factory"});
  const Job job = post_job(*board_, book);
  ASSERT_TRUE(events.wait_for("job_trashed"));
  EXPECT_NE(flow_state(book), FlowState::kSuccess);
  const auto bin = board_->trashed();
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_EQ(bin[0].uuid, job.uuid);
  EXPECT_NE(bin[0].trash_reason->find("validation"), std::string::npos) << *bin[0].trash_reason;
  EXPECT_NE(bin[0].trash_reason->find("x"), std::string::npos);
}

TEST_P(ConductorTest, JobStore) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book = saved_flow(backend_, {.name = "tests.store_factory"});
  post_job(*board_, book, {{"store", {{"x", true}, {"y", false}, {"z", nullptr}}}});
  ASSERT_TRUE(events.wait_for("job_consumed"));
  EXPECT_EQ(flow_state(book), FlowState::kSuccess);
}

TEST_P(ConductorTest, FlowDetailStore) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book = saved_flow(backend_, {.name = "tests.store_factory"},
                               {{"store", {{"x", true}, {"y", false}, {"z", nullptr}}}});
  post_job(*board_, book);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  EXPECT_EQ(flow_state(book), FlowState::kSuccess);
}

TEST_P(ConductorTest, CombinedStoreJobDetailsWin) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto book =
      saved_flow(backend_, {.name = "caboose.examples.sum"}, {{"store", {{"x", 1}, {"y", 100}}}});
  post_job(*board_, book, {{"store", {{"y", 2}}}});
  ASSERT_TRUE(events.wait_for("job_consumed"));
  const auto flow = backend_.get_flow_details(book.flows.front().uuid);
  ASSERT_NE(flow.find_by_name("sum"), nullptr);
  EXPECT_EQ(flow.find_by_name("sum")->results, 3);
}

TEST_P(ConductorTest, StopSuspendsTheEngineAndReleasesTheJob) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  std::jthread t([&] { conductor->run(); });
  const auto book = saved_flow(backend_, {.name = "tests.sleep_factory"});
  const Job job = post_job(*board_, book, {{"store", {{"duration", 0.3}}}});
  ASSERT_TRUE(events.wait_for("running_start"));
  conductor->stop();
  ASSERT_TRUE(events.wait_for("job_released"));
  ASSERT_TRUE(conductor->wait(20s));
  EXPECT_EQ(events.count("job_consumed"), 0u);
  const auto after = board_->find(job.uuid);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state, JobState::kUnclaimed);
  EXPECT_EQ(after->attempts, 0);  // a stop does not use an attempt
  EXPECT_EQ(flow_state(book), FlowState::kSuspended);
}

TEST_P(ConductorTest, StopThrowsNothingWhenTheFlowWasFencedOff) {
  // The job was taken over meanwhile (its flow fenced at a newer token): stopping cannot save
  // the suspension, which stop() must not throw at its caller (the CLI's signal watcher, which
  // it would end with std::terminate); the job's run ends it as lost.
  auto conductor = make();
  EventLog events(conductor->notifier());
  std::jthread t([&] { conductor->run(); });
  const auto book = saved_flow(backend_, {.name = "tests.sleep_factory"});
  post_job(*board_, book, {{"store", {{"duration", 0.3}}}});
  const std::string flow_uuid = book.flows.front().uuid;
  ASSERT_TRUE(::caboose::testing::wait_until(
      [&] {
        const auto flow = backend_.get_flow_details(flow_uuid);
        const auto* atom = flow.find_by_name("test1");
        return atom != nullptr && atom->state == AtomState::kRunning;
      },
      20s));
  (void)backend_.fence(flow_uuid, 1000);  // a newer holder's claim
  EXPECT_NO_THROW(conductor->stop());
  ASSERT_TRUE(events.wait_for("job_lost"));
  ASSERT_TRUE(conductor->wait(20s));
  EXPECT_EQ(events.count("job_consumed"), 0u);
}

TEST_P(ConductorTest, PoisonJobIsTrashedAfterExactlyMaxAttemptsWhileOthersComplete) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto poison = saved_flow(backend_, {.name = "caboose.examples.poison"});
  const Job bad = post_job(*board_, poison);
  std::vector<persistence::LogBook> good;
  for (int i = 0; i < 5; ++i) {
    good.push_back(saved_flow(backend_, {.name = "caboose.examples.sum"}));
    post_job(*board_, good.back(), {{"store", {{"x", i}, {"y", 1}}}});
  }
  ASSERT_TRUE(events.wait_for("job_trashed"));
  ASSERT_TRUE(events.wait_for("job_consumed", 5));
  std::size_t poison_runs = 0;
  for (const Value& d : events.details("running_start")) {
    poison_runs += d["job_uuid"] == bad.uuid ? 1 : 0;
  }
  EXPECT_EQ(poison_runs, 3u);
  EXPECT_EQ(events.count("job_abandoned"), 2u);
  const auto bin = board_->trashed();
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_EQ(bin[0].uuid, bad.uuid);
  EXPECT_EQ(bin[0].attempts, 3);
  EXPECT_NE(bin[0].trash_reason->find("failed 3 of 3 attempts"), std::string::npos)
      << *bin[0].trash_reason;
  ASSERT_TRUE(bin[0].last_failure.has_value());
  EXPECT_TRUE(bin[0].last_failure->check<ExecutionFailure>());
  const Value trashed = events.details("job_trashed").front();
  EXPECT_EQ(trashed["reason"], *bin[0].trash_reason);
  EXPECT_EQ(board_->job_count(), 0u);
}

TEST_P(ConductorTest, JobWithAnUnknownFactoryStaysOnTheBoardUntouched) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto unknown = saved_flow(backend_, {.name = "orders.not_registered_here"});
  const Job left = post_job(*board_, unknown);
  const auto known = saved_flow(backend_, {.name = "caboose.examples.noop"});
  post_job(*board_, known);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  std::this_thread::sleep_for(150ms);  // a few more scans of the board
  const auto after = board_->find(left.uuid);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state, JobState::kUnclaimed);
  EXPECT_EQ(after->attempts, 0);
  EXPECT_EQ(events.count("job_trashed"), 0u);
}

TEST_P(ConductorTest, MalformedJobsAreTrashedWithAClearReasonAndTheConductorGoesOn) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  const auto good = saved_flow(backend_, {.name = "caboose.examples.noop"});
  board_->post("no-book", {.details = Value{{"store", {{"x", 1}}}}});
  board_->post("bad-flow-uuid", {.details = Value{{"flow_uuid", 42}}, .book = good});
  board_->post("missing-flow", {.details = Value{{"flow_uuid", "0b1c"}}, .book = good});
  persistence::LogBook no_factory;
  no_factory.uuid = make_uuid();
  no_factory.name = "no-factory";
  persistence::FlowDetail bare;
  bare.name = "f";
  bare.uuid = make_uuid();
  no_factory.flows.push_back(bare);
  board_->post("no-factory", {.book = backend_.save_logbook(no_factory)});
  board_->post("bad-store", {.details = Value{{"flow_uuid", good.flows[0].uuid}, {"store", "x=1"}},
                             .book = good});
  const auto bad_kwargs =
      saved_flow(backend_, {.name = "caboose.examples.slow", .kwargs = {{"tasks", "many"}}});
  post_job(*board_, bad_kwargs);
  ASSERT_TRUE(events.wait_for("job_trashed", 6));
  post_job(*board_, good);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  std::map<std::string, std::string> reasons;
  for (const Job& j : board_->trashed()) {
    reasons[j.name] = j.trash_reason.value_or("");
  }
  EXPECT_NE(reasons["no-book"].find("names no logbook"), std::string::npos);
  EXPECT_NE(reasons["bad-flow-uuid"].find("flow_uuid"), std::string::npos);
  EXPECT_NE(reasons["missing-flow"].find("no flow detail 0b1c"), std::string::npos);
  EXPECT_NE(reasons["no-factory"].find("names no factory"), std::string::npos);
  EXPECT_NE(reasons["bad-store"].find("store"), std::string::npos);
  EXPECT_NE(reasons["job-" + bad_kwargs.name].find("tasks"), std::string::npos);
}

TEST_P(ConductorTest, JobNestedPastTheLimitIsNeverRunAndTheConductorGoesOn) {
  auto conductor = make();
  EventLog events(conductor->notifier());
  const auto good = saved_flow(backend_, {.name = "caboose.examples.noop"});
  // details {"store": {"x": [[...]]}}: 1002 levels, past the 1000 a board reads.
  Value deep = Value::array();
  for (int i = 0; i < 999; ++i) {
    deep = Value::array({std::move(deep)});
  }
  const Job nested =
      board_->post("nested", {.details = Value{{"store", {{"x", std::move(deep)}}}}, .book = good});
  Running running(*conductor);
  post_job(*board_, good);
  ASSERT_TRUE(events.wait_for("job_consumed"));
  for (const Job& j : board_->trashed()) {
    EXPECT_NE(j.uuid, nested.uuid);
  }
  try {
    (void)board_->find(nested.uuid);
    ADD_FAILURE() << "a job nested 1002 levels deep was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper than the limit of 1000 levels"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(ConductorTest, ClaimPastItsAttemptLimitIsTrashedWithoutRunning) {
  auto short_board = jobs::fetch_jobboard("sqlite://", {.lease = 100ms, .max_attempts = 3});
  board_ = std::move(short_board);
  const auto book = saved_flow(backend_, {.name = "caboose.examples.noop"});
  const Job job = post_job(*board_, book, Value::object(), /*max_attempts=*/1);
  (void)board_->claim(job.uuid, "died-holding-it");  // attempt 1; its holder never comes back
  std::this_thread::sleep_for(150ms);
  auto conductor = make();
  EventLog events(conductor->notifier());
  Running running(*conductor);
  ASSERT_TRUE(events.wait_for("job_trashed"));
  EXPECT_EQ(events.count("running_start"), 0u);
  const auto bin = board_->trashed();
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_NE(bin[0].trash_reason->find("gave up after 1 attempts"), std::string::npos)
      << *bin[0].trash_reason;
}

TEST_P(ConductorTest, HolderWhoseLeaseLapsesStopsStartingAtoms) {
  board_ = jobs::fetch_jobboard("sqlite://", {.lease = 150ms, .max_attempts = 3});
  auto conductor = make({.renew_every = 60s});  // it never renews in time
  EventLog events(conductor->notifier());
  const auto book = saved_flow(
      backend_, {.name = "caboose.examples.slow", .kwargs = {{"tasks", 6}, {"ms", 100}}});
  // One attempt allowed: the claim after the lapse trashes the job instead of running it again.
  post_job(*board_, book, Value::object(), /*max_attempts=*/1);
  {
    Running running(*conductor);
    ASSERT_TRUE(events.wait_for("job_lost"));
    ASSERT_TRUE(events.wait_for("job_trashed"));
  }
  const auto flow = backend_.get_flow_details(book.flows.front().uuid);
  std::size_t ran = 0;
  for (const auto& atom : flow.atoms) {
    ran += atom.state == AtomState::kSuccess ? 1 : 0;
  }
  EXPECT_GE(ran, 1u);
  EXPECT_LE(ran, 3u);  // the lease (150 ms) covers two 100 ms tasks, then nothing starts
  EXPECT_EQ(flow.state, FlowState::kSuspended);
  EXPECT_EQ(events.count("job_consumed"), 0u);
  EXPECT_EQ(events.count("running_start"), 1u);
}

TEST_P(ConductorTest, RejectsBadOptions) {
  EXPECT_THROW(make({.wait_timeout = -1ms}), InvalidArgument);
  EXPECT_THROW(NonBlockingConductor("n", *board_, backend_, registry_, 0), InvalidArgument);
  EXPECT_THROW(BlockingConductor("", *board_, backend_, registry_), InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Kinds, ConductorTest,
                         ::testing::Values(Kind::kBlocking, Kind::kNonBlockingMany,
                                           Kind::kNonBlockingOne),
                         [](const auto& p) { return kind_name(p.param); });

TEST(BackoffTest, DoublesPerAttemptUpToTheCapWithJitter) {
  const Backoff backoff{.base = 100ms, .cap = 1000ms};
  EXPECT_EQ(backoff.delay(1, 0.999999), 99ms);
  EXPECT_EQ(backoff.delay(1, 0.0), 50ms);
  EXPECT_EQ(backoff.delay(3, 0.0), 200ms);
  EXPECT_EQ(backoff.delay(30, 0.0), 500ms);
  EXPECT_LE(backoff.delay(300, 0.99), 1000ms);
}

TEST(FlowRegistryTest, MakesRegisteredFlowsAndRefusesUnknownNames) {
  FlowRegistry registry;
  add_example_flows(registry);
  EXPECT_TRUE(registry.contains("caboose.examples.sum"));
  EXPECT_THROW(registry.add("caboose.examples.sum",
                            [](const Value&, const Value&) -> FlowPtr { return nullptr; }),
               Duplicate);
  EXPECT_THROW((void)registry.make({.name = "os.system"}), NotFound);
  EXPECT_THROW(registry.add("", nullptr), InvalidArgument);
  const FlowPtr flow = registry.make({.name = "caboose.examples.slow", .kwargs = {{"tasks", 2}}});
  EXPECT_EQ(flow->size(), 2u);
}

TEST(FlowRegistryTest, FactoryDetailsInTaskFlowsFormat) {
  persistence::FlowDetail flow;
  flow.meta = {{"store", {{"x", 1}}}};
  save_factory_details(flow, {.name = "caboose.examples.sum", .args = {1, "a"}});
  EXPECT_EQ(flow.meta.dump(),
            R"({"factory":{"args":[1,"a"],"kwargs":{},"name":"caboose.examples.sum"},)"
            R"("store":{"x":1}})");
  const FactoryCall call = FactoryCall::from_meta(flow.meta);
  EXPECT_EQ(call.name, "caboose.examples.sum");
  EXPECT_EQ(call.args, Value::array({1, "a"}));
  // As TaskFlow's flow_from_detail: args and kwargs may be absent.
  EXPECT_EQ(FactoryCall::from_meta({{"factory", {{"name", "f"}}}}).kwargs, Value::object());
  EXPECT_THROW(FactoryCall::from_meta(Value::object()), InvalidFormat);
  EXPECT_THROW(FactoryCall::from_meta({{"factory", {{"name", 3}}}}), InvalidFormat);
  EXPECT_THROW(FactoryCall::from_meta({{"factory", {{"name", "f"}, {"args", "x"}}}}),
               InvalidFormat);
}

}  // namespace
}  // namespace caboose::conductors::testing
