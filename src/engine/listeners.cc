#include "caboose/engine/listeners.h"

#include <exception>
#include <ostream>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/engine/engine.h"

#include "core/log.h"

namespace caboose::engine {
namespace {

bool is_task(const Value& details) {
  return details.contains("task_name");
}

// "Failure: <type>: <message>" for a failure dict (str(Failure) in TaskFlow).
std::string describe_failure(const Value& failure) {
  std::string type = "Exception";
  if (auto it = failure.find("exc_type_names");
      it != failure.end() && it->is_array() && !it->empty() && it->front().is_string()) {
    type = it->front().get<std::string>();
  }
  return fmt::format("Failure: {}: {}", type, failure.value("exception_str", std::string()));
}

bool is_failure_state(AtomState state) {
  return state == AtomState::kFailure || state == AtomState::kRevertFailure;
}

// The "result" of an atom notification as text: the failure description or the JSON.
std::string describe_result(AtomState state, const Value& result) {
  return is_failure_state(state) ? describe_failure(result) : result.dump();
}

std::string name_of(const Value& details, std::string_view key) {
  auto it = details.find(key);
  return it != details.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string atom_line(std::string_view kind, std::string_view name_key, AtomState state,
                      const Value& details) {
  std::string line =
      fmt::format("{} '{}' transitioned into state '{}' from state '{}'", kind,
                  name_of(details, name_key), to_string(state), name_of(details, "old_state"));
  if (auto it = details.find("result"); it != details.end()) {
    line += fmt::format(" with result '{}'", describe_result(state, *it));
  }
  return line;
}

std::string flow_line(FlowState state, const Value& details) {
  return fmt::format("Flow '{}' ({}) transitioned into state '{}' from state '{}'",
                     name_of(details, "flow_name"), name_of(details, "flow_uuid"), to_string(state),
                     name_of(details, "old_state"));
}

spdlog::level::level_enum to_spdlog(LoggingListener::Level level) {
  switch (level) {
    case LoggingListener::Level::kTrace:
      return spdlog::level::trace;
    case LoggingListener::Level::kDebug:
      return spdlog::level::debug;
    case LoggingListener::Level::kInfo:
      return spdlog::level::info;
    case LoggingListener::Level::kWarn:
      return spdlog::level::warn;
    case LoggingListener::Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::debug;
}

}  // namespace

Listener::Listener(Engine& engine, ListenFor listen_for) : engine_(&engine) {
  for (const std::string& event : listen_for.flow) {
    flow_handles_.push_back(engine.notifier().register_callback(
        event, [this](std::string_view state, const Value& details) {
          on_flow(parse_flow_state(state), details);
        }));
  }
  for (const std::string& event : listen_for.task) {
    atom_handles_.push_back(engine.atom_notifier().register_callback(
        event,
        [this](std::string_view state, const Value& details) {
          on_task(parse_atom_state(state), details);
        },
        [](const Value& details) { return is_task(details); }));
  }
  for (const std::string& event : listen_for.retry) {
    atom_handles_.push_back(engine.atom_notifier().register_callback(
        event,
        [this](std::string_view state, const Value& details) {
          on_retry(parse_atom_state(state), details);
        },
        [](const Value& details) { return !is_task(details); }));
  }
}

Listener::~Listener() {
  deregister();
}

void Listener::deregister() {
  for (Notifier::Handle h : flow_handles_) {
    engine_->notifier().deregister(h);
  }
  for (Notifier::Handle h : atom_handles_) {
    engine_->atom_notifier().deregister(h);
  }
  flow_handles_.clear();
  atom_handles_.clear();
}

// LoggingListener

LoggingListener::LoggingListener(Engine& engine, Options options)
    : Listener(engine, std::move(options.listen_for)),
      level_(options.level),
      failure_level_(options.failure_level),
      logger_name_(std::move(options.logger)) {}

LoggingListener::~LoggingListener() {
  deregister();
}

namespace {
spdlog::logger& logger_named(const std::string& name) {
  if (!name.empty()) {
    if (auto logger = spdlog::get(name)) {
      return *logger;
    }
  }
  return detail::log();
}
}  // namespace

void LoggingListener::on_flow(FlowState state, const Value& details) {
  const auto level = state == FlowState::kReverted || state == FlowState::kFailure
                         ? to_spdlog(failure_level_)
                         : to_spdlog(level_);
  spdlog::logger& logger = logger_named(logger_name_);
  if (logger.should_log(level)) {  // the line is built only when it is written
    logger.log(level, "{}", flow_line(state, details));
  }
}

void LoggingListener::on_task(AtomState state, const Value& details) {
  log_atom("Task", "task_name", state, details);
}

void LoggingListener::on_retry(AtomState state, const Value& details) {
  log_atom("Retry", "retry_name", state, details);
}

void LoggingListener::log_atom(std::string_view kind, std::string_view name_key, AtomState state,
                               const Value& details) {
  const auto level = is_failure_state(state) ? to_spdlog(failure_level_) : to_spdlog(level_);
  spdlog::logger& logger = logger_named(logger_name_);
  if (logger.should_log(level)) {
    logger.log(level, "{}", atom_line(kind, name_key, state, details));
  }
}

// PrintingListener

PrintingListener::PrintingListener(Engine& engine, std::ostream& out, ListenFor listen_for)
    : Listener(engine, std::move(listen_for)), out_(&out) {}

PrintingListener::~PrintingListener() {
  deregister();
}

void PrintingListener::on_flow(FlowState state, const Value& details) {
  print(flow_line(state, details));
}

void PrintingListener::on_task(AtomState state, const Value& details) {
  print(atom_line("Task", "task_name", state, details));
}

void PrintingListener::on_retry(AtomState state, const Value& details) {
  print(atom_line("Retry", "retry_name", state, details));
}

void PrintingListener::print(const std::string& line) {
  std::lock_guard lock(mu_);
  *out_ << line << '\n';
}

// TimingListener

TimingListener::TimingListener(Engine& engine) : Listener(engine, ListenFor{.retry = {}}) {}

TimingListener::~TimingListener() {
  deregister();
}

void TimingListener::on_flow(FlowState state, const Value& details) {
  std::optional<Clock::time_point> started;
  {
    std::lock_guard lock(mu_);
    if (state == FlowState::kRunning) {
      flow_ = Clock::now();
      return;
    }
    if (state != FlowState::kSuccess && state != FlowState::kReverted &&
        state != FlowState::kFailure && state != FlowState::kSuspended) {
      return;
    }
    started = std::exchange(flow_, std::nullopt);
  }
  if (!started) {
    return;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - *started).count();
  const std::string name = name_of(details, "flow_name");
  try {
    engine().storage().update_flow_metadata(Value{{"duration", seconds}});
  } catch (const std::exception& e) {
    detail::log().warn("cannot save the duration of flow '{}': {}", name, e.what());
    return;
  }
  on_duration("flow", name, seconds);
}

void TimingListener::on_task(AtomState state, const Value& details) {
  std::string name = name_of(details, "task_name");
  Clock::time_point started;
  {
    std::lock_guard lock(mu_);
    if (state == AtomState::kPending) {
      tasks_.erase(name);
      return;
    }
    if (state == AtomState::kRunning || state == AtomState::kReverting) {
      tasks_[name] = Clock::now();
      return;
    }
    if (state != AtomState::kSuccess && state != AtomState::kFailure &&
        state != AtomState::kReverted && state != AtomState::kRevertFailure) {
      return;
    }
    auto it = tasks_.find(name);
    if (it == tasks_.end()) {
      return;
    }
    started = it->second;
    tasks_.erase(it);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  try {
    Storage& storage = engine().storage();
    storage.update_atom_metadata(storage.index(name), Value{{"duration", seconds}});
  } catch (const std::exception& e) {
    detail::log().warn("cannot save the duration of task '{}': {}", name, e.what());
    return;
  }
  on_duration("task", name, seconds);
}

// CapturingListener

CapturingListener::CapturingListener(Engine& engine, Options options, ListenFor listen_for)
    : Listener(engine, std::move(listen_for)), options_(std::move(options)) {}

CapturingListener::~CapturingListener() {
  deregister();
}

void CapturingListener::on_flow(FlowState state, const Value& details) {
  std::string name = name_of(details, "flow_name");
  if (options_.capture_flow && !options_.skip_flows.contains(name)) {
    capture(Kind::kFlow, std::move(name), to_string(state), details);
  }
}

void CapturingListener::on_task(AtomState state, const Value& details) {
  std::string name = name_of(details, "task_name");
  if (options_.capture_task && !options_.skip_tasks.contains(name)) {
    capture(Kind::kTask, std::move(name), to_string(state), details);
  }
}

void CapturingListener::on_retry(AtomState state, const Value& details) {
  std::string name = name_of(details, "retry_name");
  if (options_.capture_retry && !options_.skip_retries.contains(name)) {
    capture(Kind::kRetry, std::move(name), to_string(state), details);
  }
}

void CapturingListener::capture(Kind kind, std::string name, std::string_view state,
                                const Value& details) {
  std::lock_guard lock(mu_);
  captures_.push_back(Capture{kind, std::move(name), std::string(state), details});
}

std::vector<CapturingListener::Capture> CapturingListener::captures() const {
  std::lock_guard lock(mu_);
  return captures_;
}

std::vector<std::string> CapturingListener::values() const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  out.reserve(captures_.size());
  for (const Capture& c : captures_) {
    const char suffix = c.kind == Kind::kFlow ? 'f' : c.kind == Kind::kTask ? 't' : 'r';
    std::string line = fmt::format("{}.{} {}", c.name, suffix, c.state);
    if (auto it = c.details.find("result"); it != c.details.end()) {
      line += fmt::format("({})", describe_result(parse_atom_state(c.state), *it));
    }
    out.push_back(std::move(line));
  }
  return out;
}

void CapturingListener::clear() {
  std::lock_guard lock(mu_);
  captures_.clear();
}

// ClaimListener

ClaimListener::ClaimListener(Engine& engine, StillClaimed still_claimed, OnLost on_lost)
    : Listener(engine, ListenFor{.retry = {}}),
      still_claimed_(std::move(still_claimed)),
      on_lost_(std::move(on_lost)) {
  if (!still_claimed_) {
    throw InvalidArgument("a claim listener needs a still_claimed check");
  }
}

ClaimListener::~ClaimListener() {
  deregister();
}

void ClaimListener::on_flow(FlowState /*state*/, const Value& /*details*/) {
  check();
}

void ClaimListener::on_task(AtomState /*state*/, const Value& /*details*/) {
  check();
}

void ClaimListener::check() {
  bool claimed = true;
  try {
    claimed = still_claimed_();
  } catch (const std::exception& e) {
    detail::log().warn("cannot tell whether flow '{}' is still claimed: {}",
                       engine().storage().flow_name(), e.what());
    return;
  }
  if (claimed || lost_.exchange(true)) {
    return;
  }
  detail::log().warn("the claim on flow '{}' was lost; suspending its engine",
                     engine().storage().flow_name());
  if (on_lost_) {
    on_lost_(engine());
  } else {
    engine().suspend();
  }
}

}  // namespace caboose::engine
