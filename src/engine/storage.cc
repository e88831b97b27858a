#include "caboose/engine/storage.h"

#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

namespace caboose::engine {
namespace {
constexpr const char* kInjectedMeta = "injected";  // as taskflow.storage META_INJECTED
}  // namespace

Storage::Storage(persistence::FlowDetail flow, persistence::Backend& backend,
                 std::optional<persistence::FenceToken> token)
    : backend_(backend), token_(token), flow_(std::move(flow)) {
  for (AtomIndex i = 0; i < flow_.atoms.size(); ++i) {
    by_name_.emplace(flow_.atoms[i].name, i);
    if (flow_.atoms[i].name == kInjectorName) {
      injector_ = i;
    }
  }
  transient_args_.resize(flow_.atoms.size());  // null until values are injected
}

AtomIndex Storage::checked(AtomIndex atom) const {
  if (atom >= flow_.atoms.size()) {
    throw NotFound(fmt::format("no atom #{} in flow detail '{}'", atom, flow_.name));
  }
  return atom;
}

void Storage::save_atom(const persistence::AtomDetail& detail) {
  backend_.update_atom_details(detail, token_);
}

void Storage::save_flow_fields_locked() {
  persistence::FlowDetail fields;
  fields.name = flow_.name;
  fields.uuid = flow_.uuid;
  fields.state = flow_.state;
  fields.meta = flow_.meta;
  backend_.update_flow_details(fields, token_);
}

namespace {
// What an atom's execution returned: a task's result, a retry's latest attempt's result.
Value last_result(const persistence::AtomDetail& d) {
  if (d.kind != persistence::AtomDetailKind::kRetry) {
    return d.results;
  }
  if (d.results.is_array() && !d.results.empty() && d.results.back().is_array() &&
      !d.results.back().empty()) {
    return d.results.back().front();
  }
  return Value();
}

void set_progress(persistence::AtomDetail& d, std::optional<double> progress) {
  if (progress) {
    d.meta["progress"] = *progress;
  }
}
}  // namespace

void Storage::register_provides_locked(const Atom& atom, AtomIndex index) {
  for (const auto& [name, result_index] : atom.result_mapping().mapping()) {
    std::vector<Provider>& list = providers_[name];
    bool known = false;
    for (const Provider& p : list) {
      known = known || p.atom == index;
    }
    if (!known) {
      list.push_back({index, result_index});
    }
  }
}

AtomIndex Storage::ensure_atom(const Atom& atom) {
  return ensure_atoms({&atom}).front();
}

std::vector<AtomIndex> Storage::ensure_atoms(const std::vector<const Atom*>& atoms) {
  std::lock_guard lock(mu_);
  std::vector<AtomIndex> indexes;
  indexes.reserve(atoms.size());
  persistence::FlowDetail added;  // only the new atoms: the backend merges
  added.name = flow_.name;
  added.uuid = flow_.uuid;
  added.state = flow_.state;
  added.meta = flow_.meta;
  added.atoms.reserve(atoms.size());
  flow_.atoms.reserve(flow_.atoms.size() + atoms.size());
  transient_args_.reserve(flow_.atoms.size() + atoms.size());
  by_name_.reserve(flow_.atoms.size() + atoms.size());
  for (const Atom* atom : atoms) {
    const auto kind = atom->kind() == AtomKind::kTask ? persistence::AtomDetailKind::kTask
                                                      : persistence::AtomDetailKind::kRetry;
    if (const auto it = by_name_.find(atom->name()); it != by_name_.end()) {
      if (flow_.atoms[it->second].kind != kind) {
        throw Duplicate(fmt::format("atom detail '{}' already exists in flow detail '{}' as a {}",
                                    atom->name(), flow_.name,
                                    persistence::to_string(flow_.atoms[it->second].kind)));
      }
      indexes.push_back(it->second);
      register_provides_locked(*atom, it->second);
      continue;
    }
    persistence::AtomDetail detail;
    detail.kind = kind;
    detail.name = atom->name();
    detail.uuid = make_uuid();
    detail.version = atom->version();
    if (kind == persistence::AtomDetailKind::kRetry) {
      detail.results = Value::array();
    }
    added.atoms.push_back(detail);
    const AtomIndex index = flow_.atoms.size();
    flow_.atoms.push_back(std::move(detail));
    transient_args_.emplace_back();
    by_name_.emplace(atom->name(), index);
    register_provides_locked(*atom, index);
    indexes.push_back(index);
  }
  if (!added.atoms.empty()) {
    backend_.update_flow_details(added, token_);
  }
  return indexes;
}

std::optional<AtomIndex> Storage::find(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  const auto it = by_name_.find(std::string(atom_name));
  return it == by_name_.end() ? std::nullopt : std::optional<AtomIndex>(it->second);
}

AtomIndex Storage::index(std::string_view atom_name) const {
  if (auto i = find(atom_name)) {
    return *i;
  }
  throw NotFound(fmt::format("no atom '{}' in flow detail '{}'", atom_name, flow_name()));
}

std::size_t Storage::atom_count() const {
  std::lock_guard lock(mu_);
  return flow_.atoms.size();
}

std::string Storage::atom_uuid(AtomIndex atom) const {
  std::lock_guard lock(mu_);
  return flow_.atoms[checked(atom)].uuid;
}

const persistence::AtomDetail& Storage::detail_locked(std::string_view atom_name) const {
  const auto it = by_name_.find(std::string(atom_name));
  if (it == by_name_.end()) {
    throw NotFound(fmt::format("no atom '{}' in flow detail '{}'", atom_name, flow_.name));
  }
  return flow_.atoms[it->second];
}

AtomState Storage::get_atom_state(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  return detail_locked(atom_name).state;
}

AtomState Storage::atom_state(AtomIndex atom) const {
  std::lock_guard lock(mu_);
  return flow_.atoms[checked(atom)].state;
}

Intention Storage::get_atom_intention(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  return detail_locked(atom_name).intention;
}

Intention Storage::atom_intention(AtomIndex atom) const {
  std::lock_guard lock(mu_);
  return flow_.atoms[checked(atom)].intention;
}

void Storage::set_atom_state(AtomIndex atom, AtomState state, std::optional<double> progress) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = state;
  set_progress(d, progress);
  save_atom(d);
}

void Storage::set_atom_intention(AtomIndex atom, Intention intention) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  if (d.intention == intention) {
    return;
  }
  d.intention = intention;
  save_atom(d);
}

void Storage::set_atom_state_and_intention(AtomIndex atom, AtomState state, Intention intention) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = state;
  d.intention = intention;
  save_atom(d);
}

void Storage::update_atom_metadata(AtomIndex atom, const Value& update) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.meta.update(update);
  save_atom(d);
}

void Storage::set_task_progress(AtomIndex atom, double progress, const Value& details) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.meta["progress"] = progress;
  if (!details.is_null()) {  // as TaskFlow: no details leaves them; empty ones erase them
    d.meta["progress_details"] =
        details.empty() ? Value() : Value{{"at_progress", progress}, {"details", details}};
  }
  save_atom(d);
}

double Storage::get_task_progress(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  const Value& meta = detail_locked(atom_name).meta;
  const auto it = meta.find("progress");
  return it != meta.end() && it->is_number() ? it->get<double>() : 0.0;
}

Value Storage::get_task_progress_details(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  const Value& meta = detail_locked(atom_name).meta;
  const auto it = meta.find("progress_details");
  return it != meta.end() ? *it : Value();
}

void Storage::save(AtomIndex atom, Value result, AtomState state, std::optional<double> progress) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = state;
  set_progress(d, progress);
  d.results = std::move(result);
  d.failure.reset();
  save_atom(d);
}

void Storage::save_failure(AtomIndex atom, Failure failure, AtomState state,
                           std::optional<double> progress) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = state;
  set_progress(d, progress);
  d.failure = std::move(failure);
  if (d.kind == persistence::AtomDetailKind::kTask) {
    d.results = nullptr;
  }
  save_atom(d);
}

void Storage::save_retry_result(AtomIndex retry, Value result) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(retry)];
  if (!d.results.is_array()) {
    d.results = Value::array();
  }
  // As RetryDetail.put(SUCCESS): a new attempt, and the retry's own failures forgotten.
  d.results.push_back(Value::array({std::move(result), Value::object()}));
  d.state = AtomState::kSuccess;
  d.failure.reset();
  d.revert_failure.reset();
  d.revert_results = nullptr;
  save_atom(d);
}

void Storage::save_retry_failure(AtomIndex retry, const std::string& atom_name,
                                 const Failure& failure) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(retry)];
  if (!d.results.is_array() || d.results.empty() || !d.results.back().is_array() ||
      d.results.back().size() != 2) {
    throw NotFound(fmt::format("retry '{}' has no attempt to record the failure of '{}' in", d.name,
                               atom_name));
  }
  Value& failures = d.results.back()[1];
  if (!failures.is_object()) {
    failures = Value::object();
  }
  Value dict = failure.to_dict();
  if (const auto it = failures.find(atom_name); it != failures.end() && *it == dict) {
    return;
  }
  failures[atom_name] = std::move(dict);
  save_atom(d);
}

RetryHistory Storage::retry_history(AtomIndex retry) const {
  std::lock_guard lock(mu_);
  const persistence::AtomDetail& d = flow_.atoms[checked(retry)];
  RetryHistory history;
  history.failure = d.failure;
  if (!d.results.is_array()) {
    return history;
  }
  for (const Value& entry : d.results) {
    if (!entry.is_array() || entry.size() != 2) {
      throw InvalidFormat(fmt::format("retry '{}' history entry is not [result, failures]: {}",
                                      d.name, entry.dump()));
    }
    RetryAttempt attempt;
    attempt.result = entry[0];
    if (entry[1].is_object()) {
      for (const auto& [atom, failure] : entry[1].items()) {
        attempt.failures.emplace(atom, Failure::from_dict(failure));
      }
    }
    history.attempts.push_back(std::move(attempt));
  }
  return history;
}

RetryHistory Storage::get_retry_history(std::string_view retry_name) const {
  return retry_history(index(retry_name));
}

void Storage::cleanup_retry_history(AtomIndex retry) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(retry)];
  if (d.results.is_array() && d.results.empty()) {
    return;
  }
  d.results = Value::array();
  save_atom(d);
}

void Storage::save_revert(AtomIndex atom, Value result, std::optional<double> progress) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = AtomState::kReverted;
  set_progress(d, progress);
  d.revert_results = std::move(result);
  d.revert_failure.reset();
  save_atom(d);
}

void Storage::save_revert_failure(AtomIndex atom, Failure failure, std::optional<double> progress) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  d.state = AtomState::kRevertFailure;
  set_progress(d, progress);
  d.revert_failure = std::move(failure);
  save_atom(d);
}

Value Storage::get(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  const persistence::AtomDetail& d = detail_locked(atom_name);
  if (d.failure || d.state != AtomState::kSuccess) {
    throw NotFound(fmt::format("result of atom '{}' is not known (it is {}{})", atom_name,
                               to_string(d.state), d.failure ? ", with a failure" : ""));
  }
  return last_result(d);
}

std::optional<Failure> Storage::get_failure(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  return detail_locked(atom_name).failure;
}

Value Storage::get_revert_result(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  const persistence::AtomDetail& d = detail_locked(atom_name);
  if (d.revert_failure || d.state != AtomState::kReverted) {
    throw NotFound(fmt::format("revert result of atom '{}' is not known (it is {})", atom_name,
                               to_string(d.state)));
  }
  return d.revert_results;
}

std::optional<Failure> Storage::get_revert_failure(std::string_view atom_name) const {
  std::lock_guard lock(mu_);
  return detail_locked(atom_name).revert_failure;
}

std::optional<Outcome> Storage::outcome(AtomIndex atom) const {
  std::lock_guard lock(mu_);
  const persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  if (d.failure) {
    return Outcome(*d.failure);
  }
  switch (d.state) {
    case AtomState::kSuccess:
    case AtomState::kReverting:
    case AtomState::kReverted:
    case AtomState::kRevertFailure:
      return Outcome(last_result(d));
    default:
      return std::nullopt;
  }
}

FailureMap Storage::get_execute_failures() const {
  std::lock_guard lock(mu_);
  FailureMap failures;
  for (const persistence::AtomDetail& d : flow_.atoms) {
    if (d.failure) {
      failures.emplace(d.name, *d.failure);
    }
  }
  return failures;
}

FailureMap Storage::get_revert_failures() const {
  std::lock_guard lock(mu_);
  FailureMap failures;
  for (const persistence::AtomDetail& d : flow_.atoms) {
    if (d.revert_failure) {
      failures.emplace(d.name, *d.revert_failure);
    }
  }
  return failures;
}

bool Storage::has_failures() const {
  return !get_execute_failures().empty() || !get_revert_failures().empty();
}

void Storage::reset(AtomIndex atom, AtomState state) {
  std::lock_guard lock(mu_);
  persistence::AtomDetail& d = flow_.atoms[checked(atom)];
  if (d.name == kInjectorName || (d.state == state && d.intention == Intention::kExecute)) {
    return;
  }
  // As AtomDetail.reset(): results and failures cleared, intention back to EXECUTE.
  d.state = state;
  d.intention = Intention::kExecute;
  d.results = d.kind == persistence::AtomDetailKind::kRetry ? Value::array() : Value();
  d.failure.reset();
  d.revert_results = nullptr;
  d.revert_failure.reset();
  save_atom(d);
}

void Storage::inject(const Value& pairs, bool transient) {
  if (!pairs.is_object()) {
    throw InvalidArgument(
        fmt::format("values injected into flow '{}' must be an object", flow_name()));
  }
  std::lock_guard lock(mu_);
  if (transient) {
    transient_injected_.update(pairs);
    return;
  }
  if (!injector_) {
    persistence::AtomDetail detail;
    detail.name = std::string(kInjectorName);
    detail.uuid = make_uuid();
    detail.state = AtomState::kSuccess;
    detail.results = pairs;
    persistence::FlowDetail added;
    added.name = flow_.name;
    added.uuid = flow_.uuid;
    added.state = flow_.state;
    added.meta = flow_.meta;
    added.atoms.push_back(detail);
    backend_.update_flow_details(added, token_);
    injector_ = flow_.atoms.size();
    by_name_.emplace(detail.name, *injector_);
    flow_.atoms.push_back(std::move(detail));
    transient_args_.emplace_back();
    return;
  }
  persistence::AtomDetail& d = flow_.atoms[*injector_];
  if (!d.results.is_object()) {
    d.results = Value::object();
  }
  d.results.update(pairs);
  save_atom(d);
}

void Storage::inject_atom_args(std::string_view atom_name, const Value& pairs, bool transient) {
  if (!pairs.is_object()) {
    throw InvalidArgument(
        fmt::format("values injected for atom '{}' must be an object", atom_name));
  }
  std::lock_guard lock(mu_);
  const auto it = by_name_.find(std::string(atom_name));
  if (it == by_name_.end()) {
    throw NotFound(fmt::format("no atom '{}' to inject arguments for", atom_name));
  }
  if (transient) {
    transient_args_[it->second].update(pairs);
    return;
  }
  persistence::AtomDetail& d = flow_.atoms[it->second];
  Value& injected = d.meta[kInjectedMeta];
  if (!injected.is_object()) {
    injected = Value::object();
  }
  injected.update(pairs);
  save_atom(d);
}

const Value* Storage::injected_arg(AtomIndex atom, const std::string& name) const {
  std::lock_guard lock(mu_);
  const Value& transient = transient_args_[checked(atom)];
  if (const auto it = transient.find(name); it != transient.end()) {
    return &*it;
  }
  const Value& meta = flow_.atoms[atom].meta;
  if (const auto injected = meta.find(kInjectedMeta);
      injected != meta.end() && injected->is_object()) {
    if (const auto it = injected->find(name); it != injected->end()) {
      return &*it;
    }
  }
  return nullptr;
}

std::optional<Value> Storage::injected(const std::string& name) const {
  std::lock_guard lock(mu_);
  if (const auto it = transient_injected_.find(name); it != transient_injected_.end()) {
    return *it;
  }
  if (injector_) {
    const Value& results = flow_.atoms[*injector_].results;
    if (results.is_object()) {
      if (const auto it = results.find(name); it != results.end()) {
        return *it;
      }
    }
  }
  return std::nullopt;
}

std::vector<Provider> Storage::providers(const std::string& name) const {
  std::lock_guard lock(mu_);
  const auto it = providers_.find(name);
  return it == providers_.end() ? std::vector<Provider>{} : it->second;
}

std::vector<std::string> Storage::provided_names() const {
  std::lock_guard lock(mu_);
  std::set<std::string> names;
  for (const auto& [name, _] : providers_) {
    names.insert(name);
  }
  for (const auto& [name, _] : transient_injected_.items()) {
    names.insert(name);
  }
  if (injector_ && flow_.atoms[*injector_].results.is_object()) {
    for (const auto& [name, _] : flow_.atoms[*injector_].results.items()) {
      names.insert(name);
    }
  }
  return {names.begin(), names.end()};
}

Value Storage::provided_value_locked(const Provider& provider, const std::string& name) const {
  if (!provider.atom) {
    throw InvalidArgument("injected values are read with injected()");
  }
  const persistence::AtomDetail& d = flow_.atoms[checked(*provider.atom)];
  if ((d.state != AtomState::kSuccess && d.state != AtomState::kReverting) || d.failure) {
    throw DisallowedAccess(fmt::format("'{}' from atom '{}' is not available: the atom is {}", name,
                                       d.name, to_string(d.state)));
  }
  const Value* results = &d.results;
  if (d.kind == persistence::AtomDetailKind::kRetry) {
    // A retry provides what its latest execution returned (the last history entry).
    if (!results->is_array() || results->empty() || !results->back().is_array() ||
        results->back().empty()) {
      throw NotFound(fmt::format("retry '{}' has not provided '{}' yet", d.name, name));
    }
    results = &results->back().front();
  }
  try {
    return extract_result(*results, provider.index);
  } catch (const NotFound& e) {
    throw NotFound(fmt::format("'{}' expected from atom '{}': {}", name, d.name, e.what()));
  }
}

Value Storage::provided_value(const Provider& provider, const std::string& name) const {
  std::lock_guard lock(mu_);
  return provided_value_locked(provider, name);
}

Value Storage::fetch(const std::string& name) const {
  if (auto value = injected(name)) {
    return *value;
  }
  std::lock_guard lock(mu_);
  if (const auto it = providers_.find(name); it != providers_.end()) {
    for (const Provider& p : it->second) {
      try {
        return provided_value_locked(p, name);
      } catch (const NotFound&) {
      } catch (const DisallowedAccess&) {
      }
    }
    throw NotFound(fmt::format("no value for '{}' yet: none of its {} provider(s) has it", name,
                               it->second.size()));
  }
  throw NotFound(fmt::format("'{}' is not provided by any atom nor injected", name));
}

Value Storage::fetch_mapped_args(const std::map<std::string, std::string>& mapping,
                                 const std::set<std::string>& optional,
                                 std::string_view atom_name) const {
  std::optional<AtomIndex> atom;
  if (!atom_name.empty()) {
    atom = index(atom_name);
  }
  Value args = Value::object();
  for (const auto& [arg, source] : mapping) {
    if (atom) {
      if (const Value* v = injected_arg(*atom, source)) {
        args[arg] = *v;
        continue;
      }
    }
    try {
      args[arg] = fetch(source);
    } catch (const NotFound&) {
      if (optional.count(arg) == 0) {
        throw;
      }
    }
  }
  return args;
}

std::set<std::string> Storage::fetch_unsatisfied_args(
    std::string_view atom_name, const std::map<std::string, std::string>& mapping) const {
  const AtomIndex atom = index(atom_name);
  std::set<std::string> missing;
  for (const auto& [arg, source] : mapping) {
    if (injected_arg(atom, source) != nullptr || injected(source)) {
      continue;
    }
    std::lock_guard lock(mu_);
    if (providers_.count(source) == 0) {
      missing.insert(source);
    }
  }
  return missing;
}

Value Storage::fetch_all() const {
  Value all = Value::object();
  for (const std::string& name : provided_names()) {
    std::vector<Value> values;
    if (auto value = injected(name)) {
      values.push_back(std::move(*value));
    }
    std::lock_guard lock(mu_);
    if (const auto it = providers_.find(name); it != providers_.end()) {
      for (const Provider& p : it->second) {
        try {
          values.push_back(provided_value_locked(p, name));
        } catch (const NotFound&) {
        } catch (const DisallowedAccess&) {
        }
      }
    }
    if (values.size() == 1) {
      all[name] = std::move(values.front());
    } else if (values.size() > 1) {
      all[name] = Value(std::move(values));
    }
  }
  return all;
}

FlowState Storage::flow_state() const {
  std::lock_guard lock(mu_);
  return flow_.state.value_or(FlowState::kPending);
}

bool Storage::change_flow_state(FlowState state) {
  std::lock_guard lock(mu_);
  const FlowState old = flow_.state.value_or(FlowState::kPending);
  if (!check_flow_transition(old, state)) {
    return false;
  }
  flow_.state = state;
  save_flow_fields_locked();
  return true;
}

void Storage::set_flow_state(FlowState state) {
  std::lock_guard lock(mu_);
  flow_.state = state;
  save_flow_fields_locked();
}

void Storage::update_flow_metadata(const Value& update) {
  std::lock_guard lock(mu_);
  flow_.meta.update(update);
  save_flow_fields_locked();
}

std::string Storage::flow_name() const {
  std::lock_guard lock(mu_);
  return flow_.name;
}

std::string Storage::flow_uuid() const {
  std::lock_guard lock(mu_);
  return flow_.uuid;
}

Value Storage::flow_meta() const {
  std::lock_guard lock(mu_);
  return flow_.meta;
}

persistence::FlowDetail Storage::flow_detail() const {
  std::lock_guard lock(mu_);
  return flow_;
}

}  // namespace caboose::engine
