// The runtime: runs a compiled flow against storage, as TaskFlow's action-engine runtime with
// its selector (which atoms may run or revert next), scheduler and completer (what a finished
// atom changes). Readiness is kept incrementally: each node counts the predecessors it still
// waits for (to execute) and the successors still to clear (to revert), so finding the next
// atom costs O(1) however large the flow. Counts are rebuilt only when a failure changes
// intentions. Used by one engine, on the engine's thread.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "caboose/core/failure.h"
#include "caboose/core/notifier.h"
#include "caboose/engine/engine.h"
#include "caboose/engine/storage.h"

#include "engine/compiler.h"
#include "engine/scopes.h"

namespace caboose::engine {

class Runtime {
 public:
  Runtime(Compilation compilation, Storage& storage, Notifier& atom_notifier,
          const EngineOptions& options);

  const Compilation& compilation() const { return compilation_; }
  // Creates atom details and resolves every argument's provider.
  void prepare(bool inject_transient);
  // Throws MissingDependencies / AmbiguousDependency.
  void validate();
  // Puts every atom back to PENDING / EXECUTE (a REVERTED flow run again).
  void reset_all();
  // Runs until nothing more can run. Returns the flow's end state; failures that end it as
  // FAILURE are in failures().
  FlowState run(const std::atomic<bool>& suspend_requested);
  const std::vector<Failure>& failures() const { return failures_; }

 private:
  enum class Work { kExecute, kRevert };
  struct Argument {
    std::string arg;
    std::string source;
    bool optional;
    std::optional<Provider> provider;
  };

  void load_states();
  void rebuild_readiness();
  bool exec_done(NodeId n) const;
  bool revert_clear(NodeId n) const;
  bool ready_to_execute(NodeId n) const;
  bool ready_to_revert(NodeId n) const;
  void on_executed(NodeId n);
  void on_reverted(NodeId n);

  void execute(NodeId n);
  void revert(NodeId n);
  void fail(NodeId n, Failure failure);
  void resolve_failure(NodeId n);
  Value arguments(NodeId n, bool for_revert);
  // Moves the atom to `state` (validated), saving it, and notifies.
  void change_state(NodeId n, AtomState state);
  void notify(NodeId n, AtomState old_state, AtomState state, const Value* result,
              const Failure* failure);
  bool is_success() const;

  Compilation compilation_;
  Storage& storage_;
  Notifier& atom_notifier_;
  const EngineOptions options_;
  std::vector<AtomIndex> index_;                  // storage index per node (atom nodes only)
  std::vector<std::vector<Argument>> arguments_;  // per node
  std::vector<AtomState> state_;                  // per node, mirrors storage
  std::vector<Intention> intention_;              // per node, mirrors storage
  std::vector<std::uint32_t> exec_wait_;
  std::vector<std::uint32_t> revert_wait_;
  std::deque<std::pair<NodeId, Work>> ready_;
  std::vector<Failure> failures_;  // failures that end the run as FAILURE
  FailureMap flow_failures_;       // every execute failure, given to reverts
  bool prepared_ = false;
};

}  // namespace caboose::engine
