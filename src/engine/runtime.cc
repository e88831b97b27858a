#include "engine/runtime.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "caboose/atoms/retry.h"
#include "caboose/atoms/task.h"
#include "caboose/core/errors.h"

#include "core/log.h"

namespace caboose::engine {
namespace {

constexpr double kStarted = 0.0;
constexpr double kFinished = 1.0;

bool one_of(AtomState s, std::initializer_list<AtomState> states) {
  return std::find(states.begin(), states.end(), s) != states.end();
}

// The widest of two depths (ALL > FLOW > NEIGHBORS > ATOM), as deciders.pick_widest.
DeciderDepth widest(DeciderDepth a, DeciderDepth b) {
  return static_cast<int>(a) < static_cast<int>(b) ? a : b;
}

std::size_t worker_count(std::size_t asked) {
  if (asked != 0) {
    return asked;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 2 : hw;
}

}  // namespace

Runtime::Runtime(Compilation compilation, Storage& storage, Notifier& atom_notifier,
                 const EngineOptions& options)
    : compilation_(std::move(compilation)),
      storage_(storage),
      atom_notifier_(atom_notifier),
      options_(options),
      flow_failures_(std::make_shared<FailureMap>()),
      executor_(options.executor == ExecutorKind::kParallel
                    ? make_parallel_executor(worker_count(options.max_workers))
                    : make_serial_executor()) {
  const std::size_t n = compilation_.nodes.size();
  index_.assign(n, 0);
  arguments_.resize(n);
  deciders_.resize(n);
  state_.assign(n, AtomState::kPending);
  intention_.assign(n, Intention::kExecute);
  in_flight_.assign(n, 0);
}

Runtime::~Runtime() {
  abandon();
}

void Runtime::abandon() noexcept {
  executor_.reset();  // joins: every submitted job has completed
  running_ = 0;
  completed_.clear();
  std::vector<Completion> dropped;
  done_.drain(dropped, false);
  executor_ = options_.executor == ExecutorKind::kParallel
                  ? make_parallel_executor(worker_count(options_.max_workers))
                  : make_serial_executor();
  std::fill(in_flight_.begin(), in_flight_.end(), 0);
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
    // As runtime.py's _walk_edge_deciders: deciders on links into the atom, and into the flows
    // it starts (walking back through flow entries).
    std::vector<NodeId> walk{id};
    while (!walk.empty()) {
      const NodeId n = walk.back();
      walk.pop_back();
      for (const EdgeDecider& d : compilation_.nodes[n].deciders) {
        deciders_[id].push_back(&d);
      }
      for (NodeId p : compilation_.nodes[n].preds) {
        if (compilation_.nodes[p].kind == NodeKind::kEntry) {
          walk.push_back(p);
        }
      }
    }
  }
  prepared_ = true;
}

void Runtime::validate() {
  std::vector<std::pair<std::string, std::vector<std::string>>> missing;
  for (NodeId id : compilation_.atoms) {
    std::vector<std::string> names;
    for (const Argument& a : arguments_[id]) {
      if (a.optional || !a.providers.empty() ||
          storage_.injected_arg(index_[id], a.source) != nullptr || storage_.injected(a.source)) {
        continue;
      }
      names.push_back(a.source);
    }
    if (!names.empty()) {
      missing.emplace_back(name(id), std::move(names));
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

// ---------------------------------------------------------------------------------------------
// Readiness

void Runtime::load_states() {
  for (NodeId id : compilation_.atoms) {
    state_[id] = storage_.atom_state(index_[id]);
    intention_[id] = storage_.atom_intention(index_[id]);
  }
}

bool Runtime::exec_done(NodeId n) const {
  if (!is_atom(n)) {
    return exec_wait_[n] == 0;
  }
  return (state_[n] == AtomState::kSuccess || state_[n] == AtomState::kIgnore) &&
         (intention_[n] == Intention::kExecute || intention_[n] == Intention::kIgnore);
}

bool Runtime::revert_clear(NodeId n) const {
  // An atom a decider ignored is transparent, as flow entries and exits are: what runs before
  // it reverts only once what runs after it has.
  if (!is_atom(n) || state_[n] == AtomState::kIgnore) {
    return revert_wait_[n] == 0;
  }
  return in_flight_[n] == 0 &&
         one_of(state_[n], {AtomState::kPending, AtomState::kReverted, AtomState::kIgnore});
}

bool Runtime::ready_to_execute(NodeId n) const {
  if (!is_atom(n) || in_flight_[n] != 0 || exec_wait_[n] != 0 ||
      intention_[n] != Intention::kExecute) {
    return false;
  }
  // RUNNING: an atom a stopped engine left running is run again; RETRYING: a retry about to
  // run its next attempt.
  return one_of(state_[n], {AtomState::kPending, AtomState::kRunning, AtomState::kRetrying});
}

bool Runtime::ready_to_revert(NodeId n) const {
  if (!is_atom(n) || in_flight_[n] != 0 || revert_wait_[n] != 0) {
    return false;
  }
  if (intention_[n] != Intention::kRevert && intention_[n] != Intention::kRetry) {
    return false;
  }
  return one_of(state_[n], {AtomState::kSuccess, AtomState::kFailure, AtomState::kReverting,
                            AtomState::kRunning, AtomState::kRetrying});
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
      if (exec_wait_[s] == 0 || --exec_wait_[s] != 0) {
        continue;
      }
      if (!is_atom(s)) {
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
      if (revert_wait_[p] == 0 || --revert_wait_[p] != 0) {
        continue;
      }
      if (!is_atom(p) || state_[p] == AtomState::kIgnore) {
        stack.push_back(p);
      } else if (ready_to_revert(p)) {
        ready_.emplace_back(p, Work::kRevert);
      }
    }
  }
}

std::vector<NodeId> Runtime::successors(NodeId from) const {
  std::vector<NodeId> found;
  std::vector<std::uint8_t> seen(compilation_.nodes.size(), 0);
  std::vector<NodeId> stack(compilation_.nodes[from].succs.begin(),
                            compilation_.nodes[from].succs.end());
  while (!stack.empty()) {
    const NodeId n = stack.back();
    stack.pop_back();
    if (seen[n] != 0) {
      continue;
    }
    seen[n] = 1;
    if (is_atom(n)) {
      found.push_back(n);
    }
    for (NodeId s : compilation_.nodes[n].succs) {
      stack.push_back(s);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Scheduling

void Runtime::start() {
  load_states();
  std::fill(in_flight_.begin(), in_flight_.end(), 0);
  failures_.clear();
  flow_failures_ = std::make_shared<FailureMap>(storage_.get_execute_failures());
  rebuild_readiness();
  if (!options_.never_resolve) {
    // As completer.resume(): failures a stopped engine did not act on are resolved now, and
    // retries caught between two attempts prepare their flow again.
    for (NodeId id : compilation_.atoms) {
      if (state_[id] == AtomState::kFailure && intention_[id] == Intention::kExecute) {
        if (std::optional<Failure> f = storage_.get_failure(name(id))) {
          resolve(id, *f);
        }
      }
    }
    for (NodeId id : compilation_.atoms) {
      if (is_retry(id) && state_[id] == AtomState::kRetrying) {
        retry_subflow(id);
      }
    }
  }
}

bool Runtime::can_schedule() const {
  if (!failures_.empty()) {
    return false;
  }
  for (const auto& [n, work] : ready_) {
    if (work == Work::kExecute ? ready_to_execute(n) : ready_to_revert(n)) {
      return true;
    }
  }
  return false;
}

void Runtime::schedule(bool suspending) {
  while (!ready_.empty() && failures_.empty() && !suspending) {
    const auto [n, work] = ready_.front();
    ready_.pop_front();
    if (work == Work::kExecute && ready_to_execute(n)) {
      if (!deciders_[n].empty() && !decide(n)) {
        continue;
      }
      start_execute(n);
    } else if (work == Work::kRevert && ready_to_revert(n)) {
      start_revert(n);
    }
  }
  // One job and nothing else running: handing it to a worker would only add two thread
  // switches, for no parallelism (a chain, or the last atom of a layer). It runs here.
  if (starting_.size() == 1 && executor_->idle()) {
    done_.push(run_job(starting_.front()));
    starting_.clear();
  } else if (!starting_.empty()) {
    executor_->submit(starting_, done_);
  }
}

void Runtime::start_execute(NodeId n) {
  change_state(n, AtomState::kRunning, kStarted);
  in_flight_[n] = 1;
  ++running_;
  if (is_retry(n)) {
    run_retry(n, Work::kExecute,
              [&](Retry& retry) { return retry.execute(history(n), arguments(n, false)); });
    return;
  }
  Job job;
  job.node = n;
  job.work = Work::kExecute;
  job.task = task_of(n);
  queue_job(std::move(job));
}

void Runtime::start_revert(NodeId n) {
  if (intention_[n] == Intention::kRetry) {
    // The retry's flow is reverted: run the next attempt (as RetryScheduler with RETRY).
    change_state(n, AtomState::kRetrying, std::nullopt);
    retry_subflow(n);
    return;
  }
  const std::optional<Outcome> result = storage_.outcome(index_[n]);
  change_state(n, AtomState::kReverting, kStarted);
  in_flight_[n] = 1;
  ++running_;
  if (is_retry(n)) {
    run_retry(n, Work::kRevert, [&](Retry& retry) {
      return retry.revert(history(n), arguments(n, true), *flow_failures_);
    });
    return;
  }
  Job job;
  job.node = n;
  job.work = Work::kRevert;
  job.task = task_of(n);
  job.result = result.value_or(Outcome(Value()));
  job.failures = flow_failures_;
  queue_job(std::move(job));
}

Task* Runtime::task_of(NodeId n) const {
  return &static_cast<Task&>(const_cast<Atom&>(*compilation_.nodes[n].atom));
}

template <class Call>
void Runtime::run_retry(NodeId n, Work work, Call&& call) {
  // Retries run here, on the engine thread (as TaskFlow's retry executor).
  auto& retry = static_cast<Retry&>(const_cast<Atom&>(*compilation_.nodes[n].atom));
  Completion c{n, work, Value()};
  try {
    c.outcome = call(retry);
  } catch (...) {
    c.outcome = Failure::capture();
  }
  done_.push(std::move(c));
}

void Runtime::queue_job(Job job) {
  try {
    job.args = arguments(job.node, job.work == Work::kRevert);
  } catch (...) {
    done_.push({job.node, job.work, Failure::capture()});
    return;
  }
  starting_.push_back(std::move(job));
}

void Runtime::retry_subflow(NodeId retry) {
  // As runtime.retry_subflow(): the retry back to EXECUTE, everything after it back to
  // PENDING / EXECUTE with results cleared.
  set_intention(retry, Intention::kExecute);
  for (NodeId s : successors(retry)) {
    reset(s);
  }
  rebuild_readiness();
}

bool Runtime::decide(NodeId n) {
  // As deciders.IgnoreDecider: the results of the deciders' source atoms (those not ignored)
  // form the history; any "no" ignores the atom, as far as the widest "no" reaches.
  Value history = Value::object();
  for (const EdgeDecider* d : deciders_[n]) {
    if (is_atom(d->from) && state_[d->from] != AtomState::kIgnore) {
      if (std::optional<Outcome> o = storage_.outcome(index_[d->from])) {
        history[name(d->from)] = std::holds_alternative<Value>(*o)
                                     ? std::get<Value>(*o)
                                     : std::get<Failure>(*o).to_dict();
      }
    }
  }
  std::optional<DeciderDepth> nay;
  for (const EdgeDecider* d : deciders_[n]) {
    if (is_atom(d->from) && state_[d->from] == AtomState::kIgnore) {
      continue;  // an ignored source has no say
    }
    bool run = true;
    try {
      run = d->decider(history);
    } catch (...) {
      failures_.push_back(Failure::capture());
      return false;
    }
    if (!run) {
      nay = nay ? widest(*nay, d->depth) : d->depth;
    }
  }
  if (!nay) {
    return true;
  }
  std::vector<NodeId> affected{n};
  const auto& nodes = compilation_.nodes;
  switch (*nay) {
    case DeciderDepth::kAtom:
      break;
    case DeciderDepth::kNeighbors:
      for (NodeId s : nodes[n].succs) {
        if (nodes[s].kind == NodeKind::kTask) {
          affected.push_back(s);
        }
      }
      break;
    case DeciderDepth::kFlow: {
      // Through tasks only: retries are ignored but not passed, flows not entered.
      std::vector<NodeId> stack(nodes[n].succs.begin(), nodes[n].succs.end());
      std::vector<std::uint8_t> seen(nodes.size(), 0);
      while (!stack.empty()) {
        const NodeId s = stack.back();
        stack.pop_back();
        if (seen[s] != 0 || !is_atom(s)) {
          continue;
        }
        seen[s] = 1;
        affected.push_back(s);
        if (nodes[s].kind == NodeKind::kTask) {
          stack.insert(stack.end(), nodes[s].succs.begin(), nodes[s].succs.end());
        }
      }
      break;
    }
    case DeciderDepth::kAll: {
      const std::vector<NodeId> after = successors(n);
      affected.insert(affected.end(), after.begin(), after.end());
      break;
    }
  }
  detail::log().debug("decider ignores atom={} depth={} affected={}", name(n), to_string(*nay),
                      affected.size());
  ignore(affected);
  return false;
}

void Runtime::ignore(const std::vector<NodeId>& atoms) {
  for (NodeId a : atoms) {
    if (state_[a] == AtomState::kIgnore && intention_[a] == Intention::kIgnore) {
      continue;
    }
    const AtomState old = state_[a];
    const bool ok = is_retry(a) ? check_retry_transition(old, AtomState::kIgnore)
                                : check_task_transition(old, AtomState::kIgnore);
    if (!ok && old != AtomState::kIgnore) {
      throw InvalidState(
          fmt::format("atom '{}' cannot be ignored from state {}", name(a), to_string(old)));
    }
    storage_.set_atom_state_and_intention(index_[a], AtomState::kIgnore, Intention::kIgnore);
    state_[a] = AtomState::kIgnore;
    intention_[a] = Intention::kIgnore;
    notify(a, old, AtomState::kIgnore, nullptr, nullptr);
    on_executed(a);  // an ignored atom counts as done for what follows it
  }
}

// ---------------------------------------------------------------------------------------------
// Completion

void Runtime::wait() {
  if (running_ == 0 && completed_.empty()) {
    return;
  }
  done_.drain(completed_, completed_.empty() && running_ > 0);
  // Serial and engine-thread work push before wait(); a drain that found nothing would block.
}

void Runtime::analyze() {
  std::vector<Completion> batch;
  batch.swap(completed_);
  for (Completion& c : batch) {
    complete(c);
  }
}

void Runtime::complete(Completion& c) {
  --running_;
  in_flight_[c.node] = 0;
  if (c.work == Work::kExecute) {
    if (Value* result = std::get_if<Value>(&c.outcome)) {
      executed(c.node, std::move(*result));
    } else {
      failed(c.node, std::move(std::get<Failure>(c.outcome)));
    }
  } else {
    if (Value* result = std::get_if<Value>(&c.outcome)) {
      reverted(c.node, std::move(*result));
    } else {
      revert_failed(c.node, std::move(std::get<Failure>(c.outcome)));
    }
  }
}

void Runtime::executed(NodeId n, Value result) {
  detail::log().trace("atom executed atom={}", name(n));
  const AtomState old = state_[n];
  if (is_retry(n)) {
    storage_.save_retry_result(index_[n], result);
  } else {
    storage_.save(index_[n], result, AtomState::kSuccess, kFinished);
  }
  state_[n] = AtomState::kSuccess;
  notify(n, old, AtomState::kSuccess, &result, nullptr);
  if (intention_[n] == Intention::kExecute) {
    on_executed(n);
  } else if (ready_to_revert(n)) {
    // A failure elsewhere asked for this atom's revert while it ran.
    ready_.emplace_back(n, Work::kRevert);
  }
}

void Runtime::failed(NodeId n, Failure failure) {
  detail::log().debug("atom failed atom={} failure={}", name(n), failure.to_string());
  const AtomState old = state_[n];
  storage_.save_failure(index_[n], failure, AtomState::kFailure, kFinished);
  state_[n] = AtomState::kFailure;
  if (flow_failures_.use_count() > 1) {  // a running revert holds the old map
    flow_failures_ = std::make_shared<FailureMap>(*flow_failures_);
  }
  flow_failures_->insert_or_assign(name(n), failure);
  notify(n, old, AtomState::kFailure, nullptr, &failure);
  if (options_.never_resolve) {
    failures_.push_back(std::move(failure));
    return;
  }
  resolve(n, failure);
}

void Runtime::reverted(NodeId n, Value result) {
  storage_.save_revert(index_[n], result, kFinished);
  if (is_retry(n)) {
    storage_.cleanup_retry_history(index_[n]);
  }
  state_[n] = AtomState::kReverted;
  notify(n, AtomState::kReverting, AtomState::kReverted, &result, nullptr);
  on_reverted(n);
}

void Runtime::revert_failed(NodeId n, Failure failure) {
  storage_.save_revert_failure(index_[n], failure, kFinished);
  state_[n] = AtomState::kRevertFailure;
  notify(n, AtomState::kReverting, AtomState::kRevertFailure, nullptr, &failure);
  failures_.push_back(std::move(failure));
}

// ---------------------------------------------------------------------------------------------
// Failure resolution, as completer.py

Runtime::Resolution Runtime::determine_resolution(NodeId atom, const Failure& failure) {
  const std::optional<NodeId> retry = compilation_.nodes[atom].retry;
  if (!retry) {
    return {Strategy::kUndefined};
  }
  storage_.save_retry_failure(index_[*retry], name(atom), failure);
  auto& controller = static_cast<Retry&>(const_cast<Atom&>(*compilation_.nodes[*retry].atom));
  const RetryDecision decision = controller.on_failure(history(*retry), arguments(*retry, false));
  detail::log().debug("retry decides retry={} atom={} decision={}", name(*retry), name(atom),
                      to_string(decision));
  switch (decision) {
    case RetryDecision::kRetry:
      return {Strategy::kRevertAndRetry, *retry};
    case RetryDecision::kRevert: {
      const Resolution parent = determine_resolution(*retry, failure);
      if (options_.defer_reverts) {
        return parent;
      }
      if (parent.strategy != Strategy::kUndefined && parent.strategy != Strategy::kRevert) {
        return parent;  // the enclosing retry knows best
      }
      return {Strategy::kRevert, *retry};
    }
    case RetryDecision::kRevertAll:
      return {Strategy::kRevertAll};
  }
  return {Strategy::kRevertAll};
}

void Runtime::resolve(NodeId atom, const Failure& failure) {
  const Resolution r = determine_resolution(atom, failure);
  switch (r.strategy) {
    case Strategy::kUndefined:
    case Strategy::kRevertAll:
      for (NodeId id : compilation_.atoms) {
        set_intention(id, Intention::kRevert);
      }
      break;
    case Strategy::kRevert:
      set_intention(r.target, Intention::kRevert);
      for (NodeId s : successors(r.target)) {
        set_intention(s, Intention::kRevert);
      }
      break;
    case Strategy::kRevertAndRetry:
      set_intention(r.target, Intention::kRetry);
      for (NodeId s : successors(r.target)) {
        set_intention(s, Intention::kRevert);
      }
      break;
  }
  rebuild_readiness();
}

void Runtime::set_intention(NodeId n, Intention intention) {
  if (intention_[n] != intention) {
    storage_.set_atom_intention(index_[n], intention);
    intention_[n] = intention;
  }
}

void Runtime::reset(NodeId n) {
  if (state_[n] == AtomState::kPending && intention_[n] == Intention::kExecute) {
    return;
  }
  const AtomState old = state_[n];
  storage_.reset(index_[n]);
  state_[n] = AtomState::kPending;
  intention_[n] = Intention::kExecute;
  if (flow_failures_->count(name(n)) != 0) {
    if (flow_failures_.use_count() > 1) {
      flow_failures_ = std::make_shared<FailureMap>(*flow_failures_);
    }
    flow_failures_->erase(name(n));
  }
  if (old != AtomState::kPending) {
    notify(n, old, AtomState::kPending, nullptr, nullptr);
  }
}

// ---------------------------------------------------------------------------------------------

FlowState Runtime::outcome() const {
  if (!failures_.empty()) {
    return FlowState::kFailure;
  }
  if (can_schedule()) {
    return FlowState::kSuspended;
  }
  return is_success() ? FlowState::kSuccess : FlowState::kReverted;
}

bool Runtime::is_success() const {
  for (NodeId id : compilation_.atoms) {
    if (state_[id] != AtomState::kSuccess && state_[id] != AtomState::kIgnore) {
      return false;
    }
  }
  return true;
}

RetryHistory Runtime::history(NodeId retry) const {
  return storage_.retry_history(index_[retry]);
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

void Runtime::change_state(NodeId n, AtomState state, std::optional<double> progress) {
  const AtomState old = state_[n];
  // Resuming re-runs an atom left RUNNING or REVERTING by an engine that stopped mid-way.
  const bool resumed =
      (old == state && (old == AtomState::kRunning || old == AtomState::kReverting)) ||
      (old == AtomState::kRunning && state == AtomState::kReverting);
  const bool ok =
      is_retry(n) ? check_retry_transition(old, state) : check_task_transition(old, state);
  if (!resumed && !ok) {
    throw InvalidState(fmt::format("atom '{}' cannot go from {} to {}", name(n), to_string(old),
                                   to_string(state)));
  }
  storage_.set_atom_state(index_[n], state, progress);
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
    if (!a.providers.empty()) {
      // The nearest provider not ignored by a decider (TaskFlow skips IGNORE providers).
      const Provider* from = &a.providers.front();
      for (std::size_t i = 0; a.providers.size() > 1 && i < a.providers.size(); ++i) {
        const Provider& p = a.providers[i];
        if (!p.atom || storage_.atom_state(*p.atom) != AtomState::kIgnore) {
          from = &p;
          break;
        }
      }
      try {
        args[a.arg] = storage_.provided_value(*from, a.source);
        continue;
      } catch (const Error&) {
        if (!a.optional && !for_revert) {
          throw;
        }
        continue;
      }
    }
    if (!a.optional && !for_revert) {
      throw NotFound(fmt::format("atom '{}' has no value for argument '{}' (from '{}')", name(n),
                                 a.arg, a.source));
    }
  }
  return args;
}

}  // namespace caboose::engine
