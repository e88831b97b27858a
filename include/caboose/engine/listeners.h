// Listeners: objects that watch an engine's flow, task and retry state changes, as TaskFlow's
// taskflow.listeners. A listener registers on the engine's notifiers when constructed and
// deregisters when destroyed (or on deregister()); destroy it only while the engine is not
// running. Callbacks run on the thread that changed the state (a worker thread on the parallel
// engine), so a listener's own state must be thread-safe; one that throws is logged and never
// breaks the engine.
//
//   auto engine = caboose::engine::load(std::move(flow));
//   caboose::engine::TimingListener timing(*engine);     // meta["duration"] of every task
//   caboose::engine::LoggingListener logging(*engine);   // spdlog, logger "caboose"
//   engine->run();
//
// Write your own by deriving from Listener and overriding on_flow / on_task / on_retry.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "caboose/core/notifier.h"
#include "caboose/core/states.h"
#include "caboose/core/value.h"

namespace caboose::engine {

class Engine;

// The events (state names, or Notifier::kAny) a listener hears, per kind of item.
struct ListenFor {
  std::vector<std::string> flow = {std::string(Notifier::kAny)};
  std::vector<std::string> task = {std::string(Notifier::kAny)};
  std::vector<std::string> retry = {std::string(Notifier::kAny)};
};

class Listener {
 public:
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  virtual ~Listener();

  // Stops listening; idempotent.
  void deregister();
  Engine& engine() const { return *engine_; }

 protected:
  explicit Listener(Engine& engine, ListenFor listen_for = {});

  // details: flow_name, flow_uuid, old_state.
  virtual void on_flow(FlowState /*state*/, const Value& /*details*/) {}
  // details: task_name, task_uuid, old_state, and "result" (the result, or the failure dict in
  // FAILURE / REVERT_FAILURE).
  virtual void on_task(AtomState /*state*/, const Value& /*details*/) {}
  // As on_task, with retry_name and retry_uuid.
  virtual void on_retry(AtomState /*state*/, const Value& /*details*/) {}

 private:
  Engine* engine_;
  std::vector<Notifier::Handle> flow_handles_;
  std::vector<Notifier::Handle> atom_handles_;
};

// Logs every transition through spdlog, as TaskFlow's DynamicLoggingListener: transitions at
// `level`; failures (an atom's FAILURE or REVERT_FAILURE, a flow ending REVERTED or FAILURE) at
// `failure_level`, with the failure. Logs to the library's "caboose" logger unless `logger`
// names a registered spdlog logger.
class LoggingListener final : public Listener {
 public:
  enum class Level { kTrace, kDebug, kInfo, kWarn, kError };
  struct Options {
    Level level = Level::kDebug;
    Level failure_level = Level::kWarn;
    std::string logger = {};
    ListenFor listen_for = {};
  };
  explicit LoggingListener(Engine& engine, Options options);
  explicit LoggingListener(Engine& engine) : LoggingListener(engine, Options{}) {}
  ~LoggingListener() override;

 private:
  void on_flow(FlowState state, const Value& details) override;
  void on_task(AtomState state, const Value& details) override;
  void on_retry(AtomState state, const Value& details) override;
  void log_atom(std::string_view kind, std::string_view name_key, AtomState state,
                const Value& details);
  Level level_;
  Level failure_level_;
  std::string logger_name_;
};

// Prints every transition as a line on `out` (TaskFlow's PrintingListener).
class PrintingListener final : public Listener {
 public:
  explicit PrintingListener(Engine& engine, std::ostream& out, ListenFor listen_for = {});
  ~PrintingListener() override;

 private:
  void on_flow(FlowState state, const Value& details) override;
  void on_task(AtomState state, const Value& details) override;
  void on_retry(AtomState state, const Value& details) override;
  void print(const std::string& line);
  std::ostream* out_;
  std::mutex mu_;
};

// Times tasks (RUNNING or REVERTING until SUCCESS, FAILURE, REVERTED, REVERT_FAILURE) and the
// flow (RUNNING until an end state) and records the seconds, as a double, in the atom or flow
// detail's meta["duration"], as TaskFlow's DurationListener. A failed save is logged.
class TimingListener : public Listener {
 public:
  explicit TimingListener(Engine& engine);
  ~TimingListener() override;

 protected:
  // Called after a duration was recorded; kind is "task" or "flow".
  virtual void on_duration(std::string_view /*kind*/, const std::string& /*name*/,
                           double /*seconds*/) {}

 private:
  using Clock = std::chrono::steady_clock;
  void on_flow(FlowState state, const Value& details) override;
  void on_task(AtomState state, const Value& details) override;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> tasks_;  // Guarded by mu_.
  std::optional<Clock::time_point> flow_;                     // Guarded by mu_.
};

// Records every transition, in order, for tests and tools (TaskFlow's CaptureListener).
// values() formats each as "<name>.<f|t|r> <STATE>", with "(<result>)" when the notification
// carried one: the result as JSON, a failure as "Failure: <type>: <message>".
class CapturingListener final : public Listener {
 public:
  enum class Kind { kFlow, kTask, kRetry };
  struct Capture {
    Kind kind;
    std::string name;
    std::string state;
    Value details;
  };
  struct Options {
    bool capture_flow = true;
    bool capture_task = true;
    bool capture_retry = true;
    std::set<std::string> skip_tasks = {};
    std::set<std::string> skip_retries = {};
    std::set<std::string> skip_flows = {};
  };
  explicit CapturingListener(Engine& engine, Options options, ListenFor listen_for = {});
  explicit CapturingListener(Engine& engine) : CapturingListener(engine, Options{}) {}
  ~CapturingListener() override;

  std::vector<Capture> captures() const;
  std::vector<std::string> values() const;
  void clear();

 private:
  void on_flow(FlowState state, const Value& details) override;
  void on_task(AtomState state, const Value& details) override;
  void on_retry(AtomState state, const Value& details) override;
  void capture(Kind kind, std::string name, std::string_view state, const Value& details);
  Options options_;
  mutable std::mutex mu_;
  std::vector<Capture> captures_;  // Guarded by mu_.
};

// Watches that the job an engine runs is still claimed by this conductor, as TaskFlow's
// ClaimListener: on every flow and task transition it asks `still_claimed`; when it answers
// false, `on_lost` runs (by default the engine is suspended, so no further atom starts). A
// `still_claimed` that throws is logged and taken as "unknown": nothing is done.
class ClaimListener final : public Listener {
 public:
  using StillClaimed = std::function<bool()>;
  using OnLost = std::function<void(Engine&)>;
  ClaimListener(Engine& engine, StillClaimed still_claimed, OnLost on_lost = nullptr);
  ~ClaimListener() override;

 private:
  void on_flow(FlowState state, const Value& details) override;
  void on_task(AtomState state, const Value& details) override;
  void check();
  StillClaimed still_claimed_;
  OnLost on_lost_;
  std::atomic<bool> lost_{false};  // reported once
};

}  // namespace caboose::engine
