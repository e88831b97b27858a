// Storage: what an engine knows about one flow run, kept in a FlowDetail and saved through a
// persistence backend on every change, as taskflow.storage.Storage. It holds each atom's
// state, intention, result or failure; values injected for the whole flow (persisted as the
// results of the "_TaskFlow_INJECTOR" atom detail, as TaskFlow does) or for one atom; and the
// map from provided names to the atoms that provide them. Thread-safe: the engine's threads
// and the caller may use it at once. The backend must outlive the storage.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "caboose/atoms/atom.h"
#include "caboose/atoms/retry.h"
#include "caboose/atoms/task.h"
#include "caboose/core/failure.h"
#include "caboose/core/states.h"
#include "caboose/persistence/backend.h"
#include "caboose/persistence/models.h"

namespace caboose::engine {

// The flow-level injected values' atom detail name, as TaskFlow's Storage.injector_name.
inline constexpr std::string_view kInjectorName = "_TaskFlow_INJECTOR";

// An atom's position in storage; stable for the storage's life.
using AtomIndex = std::size_t;

// Who may provide a stored name: an atom's result (at an index) or the flow's injected values.
struct Provider {
  std::optional<AtomIndex> atom;  // nullopt: the injected values
  ResultIndex index;
};

class Storage {
 public:
  // Takes the flow detail (as loaded from or saved to `backend`). With a fencing token, every
  // save carries it, and the backend refuses them (StaleClaim) once a newer claim fenced the
  // flow.
  Storage(persistence::FlowDetail flow, persistence::Backend& backend,
          std::optional<persistence::FenceToken> token = std::nullopt);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Makes sure an atom detail exists for `atom` (created PENDING/EXECUTE and saved if not;
  // an existing one keeps its state, so a resumed run continues) and records what it
  // provides. Throws Duplicate if an atom of another kind has that name.
  AtomIndex ensure_atom(const Atom& atom);
  // The same for many atoms, saved in one write.
  std::vector<AtomIndex> ensure_atoms(const std::vector<const Atom*>& atoms);
  std::optional<AtomIndex> find(std::string_view atom_name) const;
  AtomIndex index(std::string_view atom_name) const;  // throws NotFound
  std::size_t atom_count() const;
  std::string atom_uuid(AtomIndex atom) const;

  AtomState get_atom_state(std::string_view atom_name) const;
  AtomState atom_state(AtomIndex atom) const;
  Intention get_atom_intention(std::string_view atom_name) const;
  Intention atom_intention(AtomIndex atom) const;
  // `progress`, when given, is recorded in the detail's meta["progress"] in the same save
  // (the engine records 0.0 when an atom starts and 1.0 when it ends, as TaskFlow).
  void set_atom_state(AtomIndex atom, AtomState state,
                      std::optional<double> progress = std::nullopt);
  void set_atom_intention(AtomIndex atom, Intention intention);
  // Sets state and intention in one save.
  void set_atom_state_and_intention(AtomIndex atom, AtomState state, Intention intention);
  void update_atom_metadata(AtomIndex atom, const Value& update);
  // A task's progress in [0, 1] (0.0 until set), kept in meta["progress"]; with non-empty
  // `details`, meta["progress_details"] becomes {"at_progress": progress, "details": details}
  // (as TaskFlow's set_task_progress; empty details erase them only at 0.0..1.0 as TaskFlow).
  void set_task_progress(AtomIndex atom, double progress, const Value& details = Value());
  double get_task_progress(std::string_view atom_name) const;
  // The last progress details recorded, or null.
  Value get_task_progress_details(std::string_view atom_name) const;

  // Saves an execute result (state SUCCESS) or failure (state FAILURE) in one write.
  void save(AtomIndex atom, Value result, AtomState state = AtomState::kSuccess,
            std::optional<double> progress = std::nullopt);
  void save_failure(AtomIndex atom, Failure failure, AtomState state = AtomState::kFailure,
                    std::optional<double> progress = std::nullopt);
  // Saves a revert result (REVERTED) or revert failure (REVERT_FAILURE).
  void save_revert(AtomIndex atom, Value result, std::optional<double> progress = std::nullopt);
  void save_revert_failure(AtomIndex atom, Failure failure,
                           std::optional<double> progress = std::nullopt);
  // Retries. A retry's history is its detail's results, as TaskFlow stores it:
  // [[result, {atom name: failure dict}], ...]. save_retry_result appends an attempt (state
  // SUCCESS); save_retry_failure records a failure of the controlled flow in the last attempt;
  // cleanup_retry_history empties it (a retry reverted for good).
  void save_retry_result(AtomIndex retry, Value result);
  void save_retry_failure(AtomIndex retry, const std::string& atom_name, const Failure& failure);
  RetryHistory retry_history(AtomIndex retry) const;
  RetryHistory get_retry_history(std::string_view retry_name) const;  // throws NotFound
  void cleanup_retry_history(AtomIndex retry);

  // The execute result of a SUCCESS atom. Throws NotFound (no such atom, or no result: it
  // did not succeed; get_failure() tells what it raised).
  Value get(std::string_view atom_name) const;
  std::optional<Failure> get_failure(std::string_view atom_name) const;
  // The revert result of a REVERTED atom. Throws NotFound.
  Value get_revert_result(std::string_view atom_name) const;
  std::optional<Failure> get_revert_failure(std::string_view atom_name) const;
  // What the atom's execution ended with, if it ran.
  std::optional<Outcome> outcome(AtomIndex atom) const;
  FailureMap get_execute_failures() const;
  FailureMap get_revert_failures() const;
  bool has_failures() const;
  // Back to `state` with EXECUTE intention, results and failures cleared.
  void reset(AtomIndex atom, AtomState state = AtomState::kPending);

  // Flow-level values (by default persisted in the injector atom detail).
  void inject(const Value& pairs, bool transient = false);
  // Values for one atom's arguments (by default kept in memory only; persisted in the atom
  // detail's meta["injected"] when not transient).
  void inject_atom_args(std::string_view atom_name, const Value& pairs, bool transient = true);
  // The atom's injected value for `name`, if any.
  const Value* injected_arg(AtomIndex atom, const std::string& name) const;
  // A flow-level injected value, if any.
  std::optional<Value> injected(const std::string& name) const;
  // The atoms registered (by ensure_atom) as providers of `name`, in registration order.
  std::vector<Provider> providers(const std::string& name) const;
  // Names some atom provides or the flow-level injected values hold.
  std::vector<std::string> provided_names() const;
  // The value `provider` holds for `name` now. Throws NotFound (nothing there yet, or the
  // result lacks the index) or DisallowedAccess (the provider is not SUCCESS).
  Value provided_value(const Provider& provider, const std::string& name) const;

  // The first value any provider holds for `name` (injected values first). Throws NotFound.
  Value fetch(const std::string& name) const;
  // {argument: value} for an {argument: stored name} mapping, looking first at what was
  // injected for `atom_name` (when given), then flow-wide. A name with no value throws
  // NotFound unless its argument is in `optional` (then it is left out).
  Value fetch_mapped_args(const std::map<std::string, std::string>& mapping,
                          const std::set<std::string>& optional = {},
                          std::string_view atom_name = {}) const;
  // The stored names of `mapping` nothing provides or holds (injected for the atom, injected
  // for the flow, or registered as provided by some atom), as TaskFlow's
  // fetch_unsatisfied_args.
  std::set<std::string> fetch_unsatisfied_args(
      std::string_view atom_name, const std::map<std::string, std::string>& mapping) const;
  // Every name with a value: one value, or an array when several providers hold one.
  Value fetch_all() const;

  // The flow's state; PENDING until an engine first moves it.
  FlowState flow_state() const;
  // Moves the flow state (validated by check_flow_transition); returns whether it moved.
  bool change_flow_state(FlowState state);
  void set_flow_state(FlowState state);
  void update_flow_metadata(const Value& update);
  std::string flow_name() const;
  std::string flow_uuid() const;
  Value flow_meta() const;
  // A copy of the flow detail as stored now.
  persistence::FlowDetail flow_detail() const;
  persistence::Backend& backend() { return backend_; }

 private:
  AtomIndex checked(AtomIndex atom) const;
  void save_atom(const persistence::AtomDetail& detail);
  // Saves the flow detail's own fields (not its atoms).
  void save_flow_fields_locked();
  const persistence::AtomDetail& detail_locked(std::string_view atom_name) const;
  void register_provides_locked(const Atom& atom, AtomIndex index);
  Value provided_value_locked(const Provider& provider, const std::string& name) const;

  persistence::Backend& backend_;
  const std::optional<persistence::FenceToken> token_;
  mutable std::mutex mu_;
  persistence::FlowDetail flow_;  // Guarded by mu_. Atom details in ensure order.
  std::unordered_map<std::string, AtomIndex> by_name_;                // Guarded by mu_.
  std::vector<Value> transient_args_;                                 // Guarded by mu_. Per atom.
  Value transient_injected_ = Value::object();                        // Guarded by mu_.
  std::optional<AtomIndex> injector_;                                 // Guarded by mu_.
  std::unordered_map<std::string, std::vector<Provider>> providers_;  // Guarded by mu_.
};

}  // namespace caboose::engine
