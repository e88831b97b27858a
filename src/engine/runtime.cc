#include "engine/runtime.h"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "caboose/atoms/task.h"
#include "caboose/core/errors.h"

#include "core/log.h"

namespace caboose::engine {
namespace {

constexpr double kStarted = 0.0;
constexpr double kFinished = 1.0;

bool one_of(AtomState s, std::initializer_list<AtomState> states) {
  for (AtomState candidate : states) {
    if (s == candidate) {
      return true;
    }
  }
  return false;
}

}  // namespace

Runtime::Runtime(Compilation compilation, Storage& storage, Notifier& atom_notifier,
                 const EngineOptions& options)
    : compilation_(std::move(compilation)),
      storage_(storage),
      atom_notifier_(atom_notifier),
      options_(options) {
  const std::size_t n = compilation_.nodes.size();
  index_.assign(n, 0);
  arguments_.resize(n);
  state_.assign(n, AtomState::kPending);
  intention_.assign(n, Intention::kExecute);
}

void Runtime::prepare(bool inject_transient) {
  if (prepared_) {
    return;
  }
  std::vector<const Atom*> atoms;
  atoms.reserve(compilation_.atoms.size());
  for (NodeId id : compilation_.atoms) {
    atoms.push_back(compilation_.nodes[id].atom);
  }
  const std::vector<AtomIndex> indexes = storage_.ensure_atoms(atoms);
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    index_[compilation_.atoms[i]] = indexes[i];
  }
  for (const Atom* atom : atoms) {
    if (!atom->inject().empty()) {
      storage_.inject_atom_args(atom->name(), atom->inject(), inject_transient);
    }
  }
  ScopeResolver resolver(compilation_, index_);
  std::map<std::string, std::vector<Provider>> candidates;
  for (NodeId id : compilation_.atoms) {
    const Atom& atom = *compilation_.nodes[id].atom;
    for (const auto& [arg, source] : atom.args_mapping()) {
      auto [it, added] = candidates.try_emplace(source);
      if (added) {
        it->second = storage_.providers(source);
      }
      arguments_[id].push_back(
          {arg, source, atom.is_optional(arg), resolver.resolve(id, source, it->second)});
    }
  }
  prepared_ = true;
}

void Runtime::validate() {
  std::vector<std::pair<std::string, std::vector<std::string>>> missing;
  for (NodeId id : compilation_.atoms) {
    std::vector<std::string> names;
    for (const Argument& a : arguments_[id]) {
      if (a.optional || a.provider || storage_.injected_arg(index_[id], a.source) != nullptr ||
          storage_.injected(a.source)) {
        continue;
      }
      names.push_back(a.source);
    }
    if (!names.empty()) {
      missing.emplace_back(compilation_.nodes[id].atom->name(), std::move(names));
    }
  }
  if (missing.size() == 1) {
    throw MissingDependencies(missing.front().first, missing.front().second, "execute");
  }
  if (!missing.empty()) {
    std::string who;
    std::vector<std::string> all;
    for (const auto& [atom, names] : missing) {
      who += (who.empty() ? "'" : ", '") + atom + "' (";
      for (std::size_t i = 0; i < names.size(); ++i) {
        who += (i == 0 ? "" : ", ") + names[i];
        all.push_back(names[i]);
      }
      who += ")";
    }
    throw MissingDependencies("atoms " + who, all, "execute");
  }
}

void Runtime::reset_all() {
  for (NodeId id : compilation_.atoms) {
    storage_.reset(index_[id]);
  }
}

void Runtime::load_states() {
  for (NodeId id : compilation_.atoms) {
    state_[id] = storage_.atom_state(index_[id]);
    intention_[id] = storage_.atom_intention(index_[id]);
  }
}

bool Runtime::exec_done(NodeId n) const {
  if (compilation_.nodes[n].atom == nullptr) {
    return exec_wait_[n] == 0;
  }
  return (state_[n] == AtomState::kSuccess || state_[n] == AtomState::kIgnore) &&
         (intention_[n] == Intention::kExecute || intention_[n] == Intention::kIgnore);
}

bool Runtime::revert_clear(NodeId n) const {
  if (compilation_.nodes[n].atom == nullptr) {
    return revert_wait_[n] == 0;
  }
  return one_of(state_[n], {AtomState::kPending, AtomState::kReverted, AtomState::kIgnore});
}

bool Runtime::ready_to_execute(NodeId n) const {
  return compilation_.nodes[n].atom != nullptr && exec_wait_[n] == 0 &&
         intention_[n] == Intention::kExecute &&
         (state_[n] == AtomState::kPending || state_[n] == AtomState::kRunning);
}

bool Runtime::ready_to_revert(NodeId n) const {
  return compilation_.nodes[n].atom != nullptr && revert_wait_[n] == 0 &&
         (intention_[n] == Intention::kRevert || intention_[n] == Intention::kRetry) &&
         one_of(state_[n], {AtomState::kSuccess, AtomState::kFailure, AtomState::kReverting,
                            AtomState::kRunning});
}

void Runtime::rebuild_readiness() {
  const auto& nodes = compilation_.nodes;
  const auto& order = compilation_.topological;
  exec_wait_.assign(nodes.size(), 0);
  revert_wait_.assign(nodes.size(), 0);
  for (NodeId n : order) {
    for (NodeId p : nodes[n].preds) {
      exec_wait_[n] += exec_done(p) ? 0 : 1;
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    for (NodeId s : nodes[*it].succs) {
      revert_wait_[*it] += revert_clear(s) ? 0 : 1;
    }
  }
  ready_.clear();
  for (NodeId n : order) {
    if (ready_to_execute(n)) {
      ready_.emplace_back(n, Work::kExecute);
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (ready_to_revert(*it)) {
      ready_.emplace_back(*it, Work::kRevert);
    }
  }
}

void Runtime::on_executed(NodeId done) {
  std::vector<NodeId> stack{done};
  while (!stack.empty()) {
    const NodeId n = stack.back();
    stack.pop_back();
    for (NodeId s : compilation_.nodes[n].succs) {
      if (--exec_wait_[s] != 0) {
        continue;
      }
      if (compilation_.nodes[s].atom == nullptr) {
        stack.push_back(s);
      } else if (ready_to_execute(s)) {
        ready_.emplace_back(s, Work::kExecute);
      }
    }
  }
}

void Runtime::on_reverted(NodeId done) {
  std::vector<NodeId> stack{done};
  while (!stack.empty()) {
    const NodeId n = stack.back();
    stack.pop_back();
    for (NodeId p : compilation_.nodes[n].preds) {
      if (--revert_wait_[p] != 0) {
        continue;
      }
      if (compilation_.nodes[p].atom == nullptr) {
        stack.push_back(p);
      } else if (ready_to_revert(p)) {
        ready_.emplace_back(p, Work::kRevert);
      }
    }
  }
}

void Runtime::notify(NodeId n, AtomState old_state, AtomState state, const Value* result,
                     const Failure* failure) {
  atom_notifier_.notify_lazy(to_string(state), [&] {
    const Atom& atom = *compilation_.nodes[n].atom;
    const bool task = atom.kind() == AtomKind::kTask;
    Value details{{task ? "task_name" : "retry_name", atom.name()},
                  {task ? "task_uuid" : "retry_uuid", storage_.atom_uuid(index_[n])},
                  {"old_state", to_string(old_state)}};
    if (result != nullptr) {
      details["result"] = *result;
    } else if (failure != nullptr) {
      details["result"] = failure->to_dict();
    }
    return details;
  });
}

void Runtime::change_state(NodeId n, AtomState state) {
  const AtomState old = state_[n];
  // Resuming re-runs an atom left RUNNING or REVERTING by an engine that stopped mid-way.
  const bool resumed =
      (old == state && (old == AtomState::kRunning || old == AtomState::kReverting)) ||
      (old == AtomState::kRunning && state == AtomState::kReverting);
  if (!resumed && !check_task_transition(old, state)) {
    throw InvalidState(fmt::format("atom '{}' cannot go from {} to {}",
                                   compilation_.nodes[n].atom->name(), to_string(old),
                                   to_string(state)));
  }
  storage_.set_atom_state(index_[n], state, kStarted);
  state_[n] = state;
  notify(n, old, state, nullptr, nullptr);
}

Value Runtime::arguments(NodeId n, bool for_revert) {
  Value args = Value::object();
  for (const Argument& a : arguments_[n]) {
    if (const Value* v = storage_.injected_arg(index_[n], a.source)) {
      args[a.arg] = *v;
      continue;
    }
    if (auto v = storage_.injected(a.source)) {
      args[a.arg] = std::move(*v);
      continue;
    }
    if (a.provider) {
      try {
        args[a.arg] = storage_.provided_value(*a.provider, a.source);
        continue;
      } catch (const Error&) {
        if (!a.optional && !for_revert) {
          throw;
        }
        continue;
      }
    }
    if (!a.optional && !for_revert) {
      throw NotFound(fmt::format("atom '{}' has no value for argument '{}' (from '{}')",
                                 compilation_.nodes[n].atom->name(), a.arg, a.source));
    }
  }
  return args;
}

void Runtime::execute(NodeId n) {
  const Atom& atom = *compilation_.nodes[n].atom;
  change_state(n, AtomState::kRunning);
  Value result;
  try {
    const Value args = arguments(n, false);
    result = static_cast<Task&>(const_cast<Atom&>(atom)).execute(args);
  } catch (...) {
    fail(n, Failure::capture());
    return;
  }
  detail::log().trace("atom executed atom={}", atom.name());
  const AtomState old = state_[n];
  storage_.save(index_[n], result, AtomState::kSuccess, kFinished);
  state_[n] = AtomState::kSuccess;
  notify(n, old, AtomState::kSuccess, &result, nullptr);
  on_executed(n);
}

void Runtime::fail(NodeId n, Failure failure) {
  const AtomState old = state_[n];
  storage_.save_failure(index_[n], failure, AtomState::kFailure, kFinished);
  state_[n] = AtomState::kFailure;
  flow_failures_.insert_or_assign(compilation_.nodes[n].atom->name(), failure);
  notify(n, old, AtomState::kFailure, nullptr, &failure);
  if (options_.never_resolve) {
    failures_.push_back(std::move(failure));
    return;
  }
  resolve_failure(n);
}

void Runtime::resolve_failure(NodeId n) {
  // As completer.py with no retry controller: RevertAll sets every atom's intention to
  // REVERT; atoms that ran then revert, the others stay PENDING.
  detail::log().debug("reverting flow after failure of atom={}",
                      compilation_.nodes[n].atom->name());
  for (NodeId id : compilation_.atoms) {
    if (intention_[id] != Intention::kRevert) {
      storage_.set_atom_intention(index_[id], Intention::kRevert);
      intention_[id] = Intention::kRevert;
    }
  }
  rebuild_readiness();
}

void Runtime::revert(NodeId n) {
  const Atom& atom = *compilation_.nodes[n].atom;
  const std::optional<Outcome> outcome = storage_.outcome(index_[n]);
  change_state(n, AtomState::kReverting);
  Value result;
  try {
    const Value args = arguments(n, true);
    result = static_cast<Task&>(const_cast<Atom&>(atom))
                 .revert(args, outcome.value_or(Outcome(Value())), flow_failures_);
  } catch (...) {
    Failure failure = Failure::capture();
    storage_.save_revert_failure(index_[n], failure, kFinished);
    state_[n] = AtomState::kRevertFailure;
    notify(n, AtomState::kReverting, AtomState::kRevertFailure, nullptr, &failure);
    failures_.push_back(std::move(failure));
    return;
  }
  storage_.save_revert(index_[n], result, kFinished);
  state_[n] = AtomState::kReverted;
  notify(n, AtomState::kReverting, AtomState::kReverted, &result, nullptr);
  on_reverted(n);
}

bool Runtime::is_success() const {
  for (NodeId id : compilation_.atoms) {
    if (state_[id] != AtomState::kSuccess && state_[id] != AtomState::kIgnore) {
      return false;
    }
  }
  return true;
}

FlowState Runtime::run(const std::atomic<bool>& suspend_requested) {
  load_states();
  failures_.clear();
  flow_failures_ = storage_.get_execute_failures();
  bool unresolved = false;
  for (NodeId id : compilation_.atoms) {
    unresolved =
        unresolved || (state_[id] == AtomState::kFailure && intention_[id] == Intention::kExecute);
  }
  if (unresolved && !options_.never_resolve) {
    // A previous run stopped between a failure and its resolution: resolve it now.
    resolve_failure(compilation_.atoms.front());
  } else {
    rebuild_readiness();
  }
  while (!ready_.empty() && failures_.empty() && !suspend_requested.load()) {
    const auto [n, work] = ready_.front();
    ready_.pop_front();
    if (work == Work::kExecute && ready_to_execute(n)) {
      execute(n);
    } else if (work == Work::kRevert && ready_to_revert(n)) {
      revert(n);
    }
  }
  if (!failures_.empty()) {
    return FlowState::kFailure;
  }
  for (const auto& [n, work] : ready_) {
    if (work == Work::kExecute ? ready_to_execute(n) : ready_to_revert(n)) {
      return FlowState::kSuspended;
    }
  }
  return is_success() ? FlowState::kSuccess : FlowState::kReverted;
}

}  // namespace caboose::engine
