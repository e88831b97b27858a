#include "caboose/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/memory_backend.h"

#include "core/log.h"
#include "engine/compiler.h"
#include "engine/runtime.h"

namespace caboose::engine {
namespace {}  // namespace

Engine::Engine(FlowPtr flow, LoadOptions options)
    : flow_(std::move(flow)), options_(std::move(options)) {
  if (!flow_) {
    throw InvalidArgument("an engine needs a flow");
  }
  persistence::Backend* backend = options_.backend;
  if (backend == nullptr) {
    owned_backend_ = persistence::make_memory_backend();
    backend = owned_backend_.get();
  }
  persistence::FlowDetail detail;
  if (options_.flow_detail) {
    try {
      detail = backend->get_flow_details(options_.flow_detail->uuid);
    } catch (const NotFound&) {
      throw NotFound(fmt::format(
          "flow detail {} ('{}') is not in the persistence backend: save its logbook first",
          options_.flow_detail->uuid, options_.flow_detail->name));
    }
  } else {
    persistence::LogBook book =
        options_.book ? *options_.book : persistence::make_logbook(flow_->name());
    detail = persistence::make_flow_detail(flow_->name());
    book.flows.push_back(detail);
    // As LogBook.add(): adding a flow detail stamps the book's updated_at.
    book.updated_at =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    backend->save_logbook(book);
  }
  storage_ = std::make_unique<Storage>(std::move(detail), *backend, options_.fence_token);
  if (!options_.store.is_null() && !options_.store.empty()) {
    storage_->inject(options_.store);
  }
}

Engine::~Engine() = default;

Storage& Engine::storage() {
  return *storage_;
}

FlowState Engine::state() const {
  return storage_->flow_state();
}

void Engine::change_state(FlowState state) {
  const FlowState old = storage_->flow_state();
  if (storage_->change_flow_state(state)) {
    notify_flow(old, state);
  }
}

void Engine::notify_flow(FlowState old, FlowState state) {
  notifier_.notify_lazy(to_string(state), [&] {
    return Value{{"flow_name", storage_->flow_name()},
                 {"flow_uuid", storage_->flow_uuid()},
                 {"old_state", to_string(old)}};
  });
}

void Engine::compile() {
  if (runtime_) {
    return;
  }
  runtime_ = std::make_unique<Runtime>(engine::compile(*flow_), *storage_, atom_notifier_,
                                       options_.options);
}

void Engine::prepare() {
  compile();
  if (!prepared_) {
    // As TaskFlow: RESUMING while atom details are made sure of, then SUSPENDED (both are
    // no-ops for a flow that is not running).
    change_state(FlowState::kResuming);
    runtime_->prepare(options_.options.inject_transient);
    change_state(FlowState::kSuspended);
    prepared_ = true;
  }
  if (storage_->flow_state() == FlowState::kReverted) {
    runtime_->reset_all();
    change_state(FlowState::kPending);
  }
}

void Engine::reset() {
  prepare();
  runtime_->reset_all();
  const FlowState old = storage_->flow_state();
  if (old == FlowState::kPending) {
    return;
  }
  // Forced: a reset is asked for explicitly, whatever state the last run ended in.
  storage_->set_flow_state(FlowState::kPending);
  notify_flow(old, FlowState::kPending);
}

void Engine::validate() {
  prepare();
  runtime_->validate();
}

void Engine::run() {
  RunIterator it = run_iter();
  while (it.next()) {
  }
}

void Engine::begin_run() {
  validate();
  suspend_requested_.store(false);
  change_state(FlowState::kRunning);
  runtime_->start();
}

FlowState Engine::end_run(FlowState end) {
  if (end == FlowState::kSuspended && !suspend_requested_.load()) {
    // Nothing asked for it, yet work is left: a bug, never a silent stop.
    detail::log().error("engine stopped with work left flow={} uuid={}", storage_->flow_name(),
                        storage_->flow_uuid());
  }
  change_state(end);
  return end;
}

void Engine::fail_run() noexcept {
  detail::log().error("engine failed flow={} uuid={}", storage_->flow_name(),
                      storage_->flow_uuid());
  runtime_->abandon();
  try {
    change_state(FlowState::kFailure);
  } catch (const std::exception& e) {
    // A lost claim (StaleClaim) refuses this save as well; the original error is what counts.
    detail::log().warn("could not save FAILURE flow={}: {}", storage_->flow_name(), e.what());
  }
}

void Engine::reraise_failures() {
  std::vector<Failure> failures;
  for (auto& [name, failure] : storage_->get_execute_failures()) {
    failures.push_back(std::move(failure));
  }
  for (auto& [name, failure] : storage_->get_revert_failures()) {
    failures.push_back(std::move(failure));
  }
  for (const Failure& f : runtime_->failures()) {  // e.g. a decider that threw
    if (std::find(failures.begin(), failures.end(), f) == failures.end()) {
      failures.push_back(f);
    }
  }
  Failure::reraise_if_any(failures);
}

std::optional<EngineState> RunIterator::next() {
  Engine& e = *engine_;
  try {
    switch (phase_) {
      case Phase::kStart:
        e.begin_run();
        phase_ = Phase::kResumed;
        return EngineState::kResuming;
      case Phase::kResumed:
      case Phase::kAnalyzed:
        if (e.runtime_->can_schedule() && !e.suspend_requested_.load()) {
          e.runtime_->schedule(false);
          phase_ = Phase::kScheduled;
          return EngineState::kScheduling;
        }
        if (e.runtime_->busy()) {
          e.runtime_->wait();
          phase_ = Phase::kWaited;
          return EngineState::kWaiting;
        }
        phase_ = Phase::kGameOver;
        return EngineState::kGameOver;
      case Phase::kScheduled:
        e.runtime_->wait();
        phase_ = Phase::kWaited;
        return EngineState::kWaiting;
      case Phase::kWaited:
        e.runtime_->analyze();
        phase_ = Phase::kAnalyzed;
        return EngineState::kAnalyzing;
      case Phase::kGameOver:
        end_ = e.end_run(e.runtime_->outcome());
        phase_ = Phase::kEnded;
        switch (end_) {
          case FlowState::kSuccess:
            return EngineState::kSuccess;
          case FlowState::kReverted:
            return EngineState::kReverted;
          case FlowState::kSuspended:
            return EngineState::kSuspended;
          default:
            return EngineState::kFailure;
        }
      case Phase::kEnded:
        phase_ = Phase::kDone;
        if (end_ == FlowState::kReverted || end_ == FlowState::kFailure) {
          e.reraise_failures();
        }
        return std::nullopt;
      case Phase::kDone:
        return std::nullopt;
    }
  } catch (...) {
    if (phase_ != Phase::kEnded && phase_ != Phase::kDone && e.runtime_) {
      phase_ = Phase::kDone;
      e.fail_run();
    }
    phase_ = Phase::kDone;
    throw;
  }
  return std::nullopt;
}

std::string_view to_string(EngineState state) {
  switch (state) {
    case EngineState::kResuming:
      return "RESUMING";
    case EngineState::kScheduling:
      return "SCHEDULING";
    case EngineState::kWaiting:
      return "WAITING";
    case EngineState::kAnalyzing:
      return "ANALYZING";
    case EngineState::kGameOver:
      return "GAME_OVER";
    case EngineState::kSuccess:
      return "SUCCESS";
    case EngineState::kReverted:
      return "REVERTED";
    case EngineState::kFailure:
      return "FAILURE";
    case EngineState::kSuspended:
      return "SUSPENDED";
  }
  return "?";
}

EngineOptions EngineOptions::from_value(const Value& options) {
  if (options.is_null()) {
    return {};
  }
  if (!options.is_object()) {
    throw InvalidArgument(
        fmt::format("engine options must be an object, got {}", options.type_name()));
  }
  EngineOptions out;
  const auto flag = [](const std::string& key, const Value& v) {
    if (!v.is_boolean()) {
      throw InvalidArgument(
          fmt::format("engine option '{}' must be true or false, got {}", key, v.dump()));
    }
    return v.get<bool>();
  };
  for (const auto& [key, v] : options.items()) {
    if (key == "engine" || key == "executor") {
      const std::string kind = v.is_string() ? v.get<std::string>() : std::string();
      if (kind == "serial") {
        out.executor = ExecutorKind::kSerial;
      } else if (kind == "parallel" || kind == "threaded" || kind == "threads") {
        out.executor = ExecutorKind::kParallel;
      } else {
        throw InvalidArgument(fmt::format(
            "engine option '{}' must be \"serial\" or \"parallel\", got {}", key, v.dump()));
      }
    } else if (key == "max_workers") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
        throw InvalidArgument(fmt::format(
            "engine option 'max_workers' must be a non-negative integer, got {}", v.dump()));
      }
      out.max_workers = v.get<std::size_t>();
    } else if (key == "never_resolve") {
      out.never_resolve = flag(key, v);
    } else if (key == "defer_reverts") {
      out.defer_reverts = flag(key, v);
    } else if (key == "inject_transient") {
      out.inject_transient = flag(key, v);
    } else {
      throw InvalidArgument(fmt::format(
          "unknown engine option '{}' (known: engine, executor, max_workers, never_resolve, "
          "defer_reverts, inject_transient)",
          key));
    }
  }
  return out;
}

Value EngineOptions::to_value() const {
  return Value{{"executor", executor == ExecutorKind::kParallel ? "parallel" : "serial"},
               {"max_workers", max_workers},
               {"never_resolve", never_resolve},
               {"defer_reverts", defer_reverts},
               {"inject_transient", inject_transient}};
}

void Engine::suspend() {
  suspend_requested_.store(true);
  change_state(FlowState::kSuspending);
}

std::unique_ptr<Engine> load(FlowPtr flow, LoadOptions options) {
  return std::make_unique<Engine>(std::move(flow), std::move(options));
}

Value run(FlowPtr flow, LoadOptions options) {
  auto engine = load(std::move(flow), std::move(options));
  engine->run();
  return engine->storage().fetch_all();
}

}  // namespace caboose::engine
