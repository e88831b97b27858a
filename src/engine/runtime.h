// The runtime: runs a compiled flow against storage, as TaskFlow's action-engine runtime with
// its selector (which atoms may run or revert next), scheduler, completer (what a finished atom
// changes) and failure resolution (retry controllers' decisions). The engine's state machine
// drives it one step at a time: start() (RESUMING), schedule() (SCHEDULING), wait()
// (WAITING), analyze() (ANALYZING), outcome() (GAME_OVER).
//
// Readiness is kept incrementally: each node counts the predecessors it still waits for (to
// execute) and the successors still to clear (to revert), so finding the next atom costs O(1)
// however large the flow. Counts are rebuilt only when a failure, a retry or a resumed run
// changes intentions. Tasks run on the executor; everything else (state changes, saves,
// notifications, retries, deciders) happens on the engine thread, in the calls below.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caboose/core/failure.h"
#include "caboose/core/notifier.h"
#include "caboose/engine/engine.h"
#include "caboose/engine/storage.h"

#include "engine/compiler.h"
#include "engine/executor.h"
#include "engine/scopes.h"

namespace caboose::engine {

class Runtime {
 public:
  Runtime(Compilation compilation, Storage& storage, Notifier& atom_notifier,
          const EngineOptions& options);
  // Waits for jobs still running on the executor.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Compilation& compilation() const { return compilation_; }
  // Creates atom details and resolves every argument's provider.
  void prepare(bool inject_transient);
  // Throws MissingDependencies / AmbiguousDependency.
  void validate();
  // Puts every atom back to PENDING / EXECUTE (a REVERTED flow run again).
  void reset_all();

  // RESUMING: reads the atoms' states and resolves what a previous run left unresolved (a
  // failure not yet acted on, a retry caught mid-way).
  void start();
  // SCHEDULING: starts every ready atom (consulting deciders first). Starts nothing when
  // `suspending` or once a failure ends the run.
  void schedule(bool suspending);
  // Whether schedule() would start something.
  bool can_schedule() const;
  // Whether jobs are running or completions wait to be analyzed.
  bool busy() const { return running_ > 0 || !completed_.empty(); }
  // WAITING: collects finished jobs, blocking only while none has finished and some run.
  void wait();
  // ANALYZING: saves what each finished job produced and works out what follows.
  void analyze();
  // GAME_OVER: the flow's end state once nothing runs: FAILURE (failures() says why),
  // SUSPENDED (work is left), SUCCESS or REVERTED.
  FlowState outcome() const;
  // Failures that end the run as FAILURE (a revert failed, never_resolve, a decider threw).
  const std::vector<Failure>& failures() const { return failures_; }
  // Waits for every running job and drops their results (the run is being abandoned).
  void abandon() noexcept;

 private:
  struct Argument {
    std::string arg;
    std::string source;
    bool optional;
    std::vector<Provider> providers;  // nearest first (see ScopeResolver::resolve)
  };
  // How a failure is resolved, as completer.py's strategies.
  enum class Strategy : std::uint8_t { kUndefined, kRevertAll, kRevert, kRevertAndRetry };
  struct Resolution {
    Strategy strategy;
    NodeId target = 0;  // kRevert: the retry whose flow reverts; kRevertAndRetry: the retry
  };

  bool is_atom(NodeId n) const { return compilation_.nodes[n].atom != nullptr; }
  bool is_retry(NodeId n) const { return compilation_.nodes[n].kind == NodeKind::kRetry; }
  const std::string& name(NodeId n) const { return compilation_.nodes[n].atom->name(); }

  void load_states();
  void rebuild_readiness();
  bool exec_done(NodeId n) const;
  bool revert_clear(NodeId n) const;
  bool ready_to_execute(NodeId n) const;
  bool ready_to_revert(NodeId n) const;
  void on_executed(NodeId n);
  void on_reverted(NodeId n);
  // Atom nodes reachable forward from `n` (not `n` itself), depth first.
  std::vector<NodeId> successors(NodeId n) const;

  // Scheduling.
  void start_execute(NodeId n);
  void start_revert(NodeId n);
  Task* task_of(NodeId n) const;
  // Runs a retry's execute or revert (`call`) now and queues its completion.
  template <class Call>
  void run_retry(NodeId n, Work work, Call&& call);
  // Reads the job's arguments and queues it for the executor, or queues the failure to read
  // them.
  void queue_job(Job job);
  void retry_subflow(NodeId retry);
  // Consults the deciders on links into `n`; false if `n` was ignored.
  bool decide(NodeId n);
  void ignore(const std::vector<NodeId>& atoms);

  // Completion.
  void complete(Completion& c);
  void executed(NodeId n, Value result);
  void failed(NodeId n, Failure failure);
  void reverted(NodeId n, Value result);
  void revert_failed(NodeId n, Failure failure);

  // Failure resolution.
  Resolution determine_resolution(NodeId atom, const Failure& failure);
  void resolve(NodeId atom, const Failure& failure);
  void set_intention(NodeId n, Intention intention);
  // Back to PENDING / EXECUTE with results cleared.
  void reset(NodeId n);

  Value arguments(NodeId n, bool for_revert);
  RetryHistory history(NodeId retry) const;
  // Moves the atom to `state` (validated), saving it, and notifies.
  void change_state(NodeId n, AtomState state, std::optional<double> progress);
  void notify(NodeId n, AtomState old_state, AtomState state, const Value* result,
              const Failure* failure);
  bool is_success() const;

  Compilation compilation_;
  Storage& storage_;
  Notifier& atom_notifier_;
  const EngineOptions options_;
  std::vector<AtomIndex> index_;                  // storage index per node (atom nodes only)
  std::vector<std::vector<Argument>> arguments_;  // per node
  // Per atom node: the deciders on links into it (also those into the flows it starts).
  std::vector<std::vector<const EdgeDecider*>> deciders_;
  std::vector<AtomState> state_;      // per node, mirrors storage
  std::vector<Intention> intention_;  // per node, mirrors storage
  std::vector<std::uint8_t> in_flight_;
  std::vector<std::uint32_t> exec_wait_;
  std::vector<std::uint32_t> revert_wait_;
  std::deque<std::pair<NodeId, Work>> ready_;
  std::vector<Failure> failures_;
  // Every execute failure of the run, given to reverts; shared with running revert jobs.
  std::shared_ptr<FailureMap> flow_failures_;
  bool prepared_ = false;

  CompletionQueue done_;
  std::vector<Completion> completed_;  // collected by wait(), applied by analyze()
  std::size_t running_ = 0;
  std::vector<Job> starting_;           // jobs schedule() started, submitted when it ends
  std::unique_ptr<Executor> executor_;  // after done_: destroyed (joined) first
};

}  // namespace caboose::engine
