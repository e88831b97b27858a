// Engine: runs a flow, as TaskFlow's action engine. Loading an engine on a flow and a flow
// detail, then compile() -> prepare() -> validate() -> run(), each callable alone (run() does
// what was not done). Every state change is saved through the persistence backend before the
// engine moves on, so an engine loaded later on the same flow detail resumes the run: atoms
// already SUCCESS never run again. When an atom fails, every atom that ran is reverted, in
// reverse order of their dependencies, and run() rethrows the failure (a WrappedFailure when
// several). One engine runs one flow once at a time; suspend() and the notifiers may be used
// from other threads.
//
//   auto flow = caboose::linear_flow("orders");
//   flow->add(caboose::task("add", [](int x, int y) { return x + y; },
//                           {.args = {"x", "y"}, .provides = "total"}));
//   caboose::Value results = caboose::engine::run(std::move(flow), {.store = {{"x", 2}, {"y",
//   3}}});
//   // results["total"] == 5
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "caboose/core/notifier.h"
#include "caboose/core/states.h"
#include "caboose/core/value.h"
#include "caboose/engine/storage.h"
#include "caboose/patterns/flow.h"
#include "caboose/persistence/backend.h"
#include "caboose/persistence/models.h"

namespace caboose::engine {

enum class ExecutorKind { kSerial, kParallel };

struct EngineOptions {
  // kSerial runs one atom at a time on the caller's thread; kParallel runs tasks on a pool of
  // max_workers threads as soon as what they depend on is done.
  ExecutorKind executor = ExecutorKind::kSerial;
  // Worker threads of the parallel engine; 0: one per hardware thread.
  std::size_t max_workers = 0;
  // Do not revert on failure: the run ends FAILURE with the failures (TaskFlow's never_resolve).
  bool never_resolve = false;
  // A REVERT decision defers to the enclosing retry (TaskFlow's defer_reverts).
  bool defer_reverts = false;
  // Atom-level `inject` values are kept in memory only (TaskFlow's inject_transient).
  bool inject_transient = true;

  // From a JSON object (a job's engine options): "engine" or "executor" ("serial", or
  // "parallel" / "threaded" / "threads"), "max_workers" (non-negative integer), "never_resolve",
  // "defer_reverts", "inject_transient" (booleans). Missing keys keep their defaults. Throws
  // InvalidArgument naming an unknown key or a value of the wrong type.
  static EngineOptions from_value(const Value& options);
  Value to_value() const;
};

// The steps of an engine's run, as TaskFlow's engine states (what run_iter() yields): RESUMING,
// then SCHEDULING / WAITING / ANALYZING until GAME_OVER, then the flow's end state.
enum class EngineState {
  kResuming,
  kScheduling,
  kWaiting,
  kAnalyzing,
  kGameOver,
  kSuccess,
  kReverted,
  kFailure,
  kSuspended,
};
std::string_view to_string(EngineState state);

struct LoadOptions {
  // Flow-level values, injected (and persisted) before the run, as engines.load(store=...).
  Value store = Value::object();
  // Where state is saved. Must outlive the engine. Null: a private memory backend.
  persistence::Backend* backend = nullptr;
  // The flow detail to run on (resuming what it holds); it must belong to a logbook saved in
  // `backend`. Absent: a new logbook and flow detail are created and saved.
  std::optional<persistence::FlowDetail> flow_detail = std::nullopt;
  // The logbook for a new flow detail. Absent: a new logbook named after the flow.
  std::optional<persistence::LogBook> book = std::nullopt;
  EngineOptions options = {};
  // The claim's fencing token (a conductor's): every save carries it, and once a newer claim
  // fences the flow detail, saves fail with StaleClaim and the run stops.
  std::optional<persistence::FenceToken> fence_token = std::nullopt;
};

class Runtime;
class Engine;

// Steps through one run of an engine (Engine::run_iter). next() does one step and says which
// state it reached; after the end state it rethrows what run() would rethrow (the failure of
// a REVERTED or FAILURE run), then returns nullopt. The engine may be suspended between steps.
class RunIterator {
 public:
  explicit RunIterator(Engine& engine) : engine_(&engine) {}
  std::optional<EngineState> next();

 private:
  enum class Phase { kStart, kResumed, kScheduled, kWaited, kAnalyzed, kGameOver, kEnded, kDone };
  Engine* engine_;
  Phase phase_ = Phase::kStart;
  FlowState end_ = FlowState::kPending;
};

class Engine {
 public:
  Engine(FlowPtr flow, LoadOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Compiles the flow into one graph of atoms. Throws Duplicate (two atoms with one name),
  // DependencyFailure.
  void compile();
  // Makes sure every atom has a detail in storage and resolves where each argument comes from.
  void prepare();
  // Checks every required argument has a provider. Throws MissingDependencies naming the atom
  // and the names, AmbiguousDependency naming two equally near providers.
  void validate();
  // Runs (or resumes) the flow to its end: SUCCESS, REVERTED (rethrows the failure),
  // FAILURE (a revert failed, or never_resolve; rethrows) or SUSPENDED.
  void run();
  // Puts every atom back to PENDING with results cleared and the flow to PENDING, so the next
  // run() starts over (TaskFlow's reset). Not while running.
  void reset();
  // The same run, one step per RunIterator::next().
  RunIterator run_iter() { return RunIterator(*this); }
  // Asks a running engine to stop starting atoms; running atoms finish; run() returns with
  // the flow SUSPENDED. Thread-safe.
  void suspend();

  FlowState state() const;
  Storage& storage();
  const Flow& flow() const { return *flow_; }
  // Flow state changes: event = new state name; details = flow_name, flow_uuid, old_state.
  Notifier& notifier() { return notifier_; }
  // Atom state changes, as TaskFlow's atom notifier: event = new state name; details =
  // task_name / retry_name, task_uuid / retry_uuid, old_state, and "result" with the result
  // (SUCCESS, REVERTED) or the failure dict (FAILURE, REVERT_FAILURE).
  Notifier& atom_notifier() { return atom_notifier_; }
  const EngineOptions& options() const { return options_.options; }

 private:
  friend class RunIterator;
  void change_state(FlowState state);
  void notify_flow(FlowState old, FlowState state);
  // The steps RunIterator takes.
  void begin_run();
  FlowState end_run(FlowState end);
  void fail_run() noexcept;
  void reraise_failures();

  FlowPtr flow_;
  LoadOptions options_;
  std::unique_ptr<persistence::Backend> owned_backend_;
  Notifier notifier_;
  Notifier atom_notifier_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Runtime> runtime_;
  bool prepared_ = false;
  std::atomic<bool> suspend_requested_{false};
};

// Makes an engine for `flow` (engines.load).
[[nodiscard]] std::unique_ptr<Engine> load(FlowPtr flow, LoadOptions options = {});
// Loads and runs `flow`, returning every stored value (engines.run + storage.fetch_all()).
Value run(FlowPtr flow, LoadOptions options = {});

}  // namespace caboose::engine
