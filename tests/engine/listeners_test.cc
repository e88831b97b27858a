// Listeners, as TaskFlow's tests/unit/test_listeners.py: timing, logging, printing,
// capturing, the claim listener, and the base class's registration.
#include "caboose/engine/listeners.h"

#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"
#include "caboose/persistence/memory_backend.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using testing::failing;
using testing::no_op;
using testing::progressing;
using Lines = std::vector<std::string>;

class ListenerCase : public testing::EngineCase {};

AtomPtr sleepy(std::string name, std::chrono::milliseconds for_how_long) {
  return task(std::move(name), [for_how_long] { std::this_thread::sleep_for(for_how_long); });
}

FlowPtr dummy_flow(int tasks) {
  auto flow = linear_flow("dummy");
  for (int i = 0; i < tasks; ++i) {
    flow->add(no_op("dummy_" + std::to_string(i)));
  }
  return flow;
}

TEST_P(ListenerCase, TimingRecordsTaskAndFlowDurationsInMeta) {
  auto backend = persistence::make_memory_backend();
  auto flow = linear_flow("test");
  flow->add(sleepy("test-1", std::chrono::milliseconds(20)));
  auto engine = make_engine(std::move(flow), {.backend = backend.get()});
  {
    TimingListener timing(*engine);
    engine->run();
  }
  const persistence::FlowDetail stored = backend->get_flow_details(engine->storage().flow_uuid());
  const persistence::AtomDetail* task = stored.find_by_name("test-1");
  ASSERT_NE(task, nullptr);
  ASSERT_TRUE(task->meta.contains("duration"));
  EXPECT_GE(task->meta["duration"].get<double>(), 0.02);
  EXPECT_LT(task->meta["duration"].get<double>(), 60.0);
  ASSERT_TRUE(stored.meta.contains("duration"));
  EXPECT_GE(stored.meta["duration"].get<double>(), task->meta["duration"].get<double>());
}

TEST_P(ListenerCase, TimingReportsEachDurationToSubclasses) {
  class Recording final : public TimingListener {
   public:
    using TimingListener::TimingListener;
    ~Recording() override { deregister(); }
    std::vector<std::string> seen;
    std::mutex mu;

   private:
    void on_duration(std::string_view kind, const std::string& name, double seconds) override {
      std::lock_guard lock(mu);
      seen.push_back(std::string(kind) + ":" + name + (seconds >= 0 ? "" : "<0"));
    }
  };
  auto flow = linear_flow("timed");
  flow->add(no_op("a"), failing("b"));
  auto engine = make_engine(std::move(flow));
  Recording timing(*engine);
  EXPECT_THROW(engine->run(), std::runtime_error);
  // a: SUCCESS, then REVERTED; b: FAILURE, then REVERTED; the flow once.
  std::sort(timing.seen.begin(), timing.seen.end());
  EXPECT_EQ(timing.seen, (Lines{"flow:timed", "task:a", "task:a", "task:b", "task:b"}));
}

TEST_P(ListenerCase, DeregisteredListenerHearsNothing) {
  auto engine = make_engine(dummy_flow(2));
  CapturingListener capture(*engine);
  capture.deregister();
  capture.deregister();  // idempotent
  engine->run();
  EXPECT_TRUE(capture.values().empty());
  EXPECT_TRUE(engine->notifier().empty());
  EXPECT_TRUE(engine->atom_notifier().empty());
}

TEST_P(ListenerCase, ListenerLeavesTheNotifiersWhenDestroyed) {
  auto engine = make_engine(dummy_flow(1));
  {
    CapturingListener capture(*engine);
    TimingListener timing(*engine);
    EXPECT_FALSE(engine->atom_notifier().empty());
  }
  EXPECT_TRUE(engine->notifier().empty());
  EXPECT_TRUE(engine->atom_notifier().empty());
  engine->run();
}

TEST_P(ListenerCase, CapturingSkipsWhatItIsToldTo) {
  auto flow = linear_flow("test", testing::one_return_retry("r"));
  flow->add(progressing("a"), progressing("b"));
  auto engine = make_engine(std::move(flow));
  CapturingListener capture(*engine,
                            {.capture_flow = false, .capture_retry = false, .skip_tasks = {"a"}});
  engine->run();
  EXPECT_EQ(capture.values(), (Lines{"b.t RUNNING", "b.t SUCCESS(5)"}));
  ASSERT_EQ(capture.captures().size(), 2u);
  EXPECT_EQ(capture.captures()[1].details["result"], 5);
  capture.clear();
  EXPECT_TRUE(capture.values().empty());
}

TEST_P(ListenerCase, CapturingListensOnlyForTheEventsAsked) {
  auto engine = make_engine(dummy_flow(2));
  CapturingListener capture(*engine, {}, {.flow = {"SUCCESS"}, .task = {"RUNNING"}, .retry = {}});
  engine->run();
  EXPECT_EQ(capture.values(), (Lines{"dummy_0.t RUNNING", "dummy_1.t RUNNING", "dummy.f SUCCESS"}));
}

TEST_P(ListenerCase, ListenerThatThrowsDoesNotBreakTheEngine) {
  class Throwing final : public Listener {
   public:
    explicit Throwing(Engine& e) : Listener(e) {}
    ~Throwing() override { deregister(); }

   private:
    void on_task(AtomState, const Value&) override { throw std::runtime_error("listener bug"); }
    void on_flow(FlowState, const Value&) override { throw std::runtime_error("listener bug"); }
  };
  auto engine = make_engine(dummy_flow(3));
  Throwing throwing(*engine);
  engine->run();
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
}

// An spdlog logger writing into a string, registered under `name` for the test's life.
class CapturedLog {
 public:
  explicit CapturedLog(std::string name) : name_(std::move(name)) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>(name_, sink);
    logger->set_level(spdlog::level::trace);
    spdlog::register_logger(logger);
  }
  ~CapturedLog() { spdlog::drop(name_); }
  Lines lines() const {
    Lines out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }
  std::size_t count(const std::string& level) const {
    std::size_t n = 0;
    for (const std::string& l : lines()) {
      n += l.rfind(level + " ", 0) == 0 ? 1 : 0;
    }
    return n;
  }

 private:
  std::string name_;
  std::ostringstream out_;
};

TEST_P(ListenerCase, LoggingLogsTransitionsAtItsLevel) {
  CapturedLog log("listener-test");
  auto flow = linear_flow("test");
  flow->add(no_op("test-1"));
  auto engine = make_engine(std::move(flow));
  {
    LoggingListener logging(*engine, {.logger = "listener-test"});
    engine->run();
  }
  EXPECT_GT(log.count("debug"), 0u);
  EXPECT_EQ(log.count("debug"), log.lines().size());
  const Lines lines = log.lines();
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) {
                           return l.find(
                                      "Task 'test-1' transitioned into state 'SUCCESS' from "
                                      "state 'RUNNING' with result 'null'") != std::string::npos;
                         }),
            lines.end());
}

TEST_P(ListenerCase, LoggingRaisesTheLevelOfFailures) {
  CapturedLog log("listener-failure-test");
  auto flow = linear_flow("test");
  flow->add(failing("test-1"));
  auto engine = make_engine(std::move(flow));
  {
    LoggingListener logging(*engine, {.failure_level = LoggingListener::Level::kError,
                                      .logger = "listener-failure-test"});
    EXPECT_THROW(engine->run(), std::runtime_error);
  }
  EXPECT_GT(log.count("debug"), 0u);
  // The task's FAILURE and the flow's REVERTED.
  EXPECT_EQ(log.count("error"), 2u);
  EXPECT_EQ(log.count("warning"), 0u);
  const Lines lines = log.lines();
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) {
                           return l.find("Failure: std::runtime_error: Woot!") != std::string::npos;
                         }),
            lines.end());
}

TEST_P(ListenerCase, PrintingWritesALinePerTransition) {
  std::ostringstream out;
  auto engine = make_engine(dummy_flow(1));
  {
    PrintingListener printing(*engine, out);
    engine->run();
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("Flow 'dummy' ("), std::string::npos) << text;
  EXPECT_NE(text.find("transitioned into state 'RUNNING' from state 'PENDING'"), std::string::npos);
  EXPECT_NE(text.find("Task 'dummy_0' transitioned into state 'SUCCESS'"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);  // flow x2, task x2
}

TEST_P(ListenerCase, LostClaimSuspendsTheEngine) {
  auto engine = make_engine(dummy_flow(10));
  std::atomic<bool> claimed{true};
  ClaimListener claim(*engine, [&] { return claimed.load(); });
  std::vector<EngineState> states;
  RunIterator it = engine->run_iter();
  while (auto s = it.next()) {
    states.push_back(*s);
    if (*s == EngineState::kScheduling) {
      claimed = false;  // another conductor took the job over
    }
  }
  EXPECT_EQ(engine->state(), FlowState::kSuspended);
  EXPECT_EQ(std::count(states.begin(), states.end(), EngineState::kScheduling), 1);
  EXPECT_EQ(std::count(states.begin(), states.end(), EngineState::kWaiting), 1);
  EXPECT_EQ(std::count(states.begin(), states.end(), EngineState::kAnalyzing), 1);
  EXPECT_EQ(engine->storage().get_atom_state("dummy_1"), AtomState::kPending);
}

TEST_P(ListenerCase, LostClaimCallsTheCustomHandler) {
  auto engine = make_engine(dummy_flow(10));
  std::atomic<bool> claimed{true};
  std::atomic<int> handled{0};
  ClaimListener claim(
      *engine, [&] { return claimed.load(); }, [&](Engine&) { ++handled; });
  std::vector<EngineState> states;
  RunIterator it = engine->run_iter();
  while (auto s = it.next()) {
    states.push_back(*s);
    if (*s == EngineState::kScheduling) {
      claimed = false;
    }
  }
  // The handler decides: this one lets the run go on.
  EXPECT_GT(handled, 0);
  EXPECT_EQ(std::count(states.begin(), states.end(), EngineState::kScheduling), 10);
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
}

TEST_P(ListenerCase, ClaimCheckThatThrowsChangesNothing) {
  auto engine = make_engine(dummy_flow(3));
  ClaimListener claim(*engine, []() -> bool { throw std::runtime_error("board unreachable"); });
  engine->run();
  EXPECT_EQ(engine->state(), FlowState::kSuccess);
  EXPECT_THROW(ClaimListener(*engine, nullptr), InvalidArgument);
}

CABOOSE_ON_EVERY_ENGINE(ListenerCase);

}  // namespace
}  // namespace caboose::engine
