#include "caboose/engine/engine.h"

#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/memory_backend.h"

#include "core/log.h"
#include "engine/compiler.h"
#include "engine/runtime.h"

namespace caboose::engine {
namespace {

void reject_retries(const Flow& flow) {
  // Retry controllers are compiled into the graph, but the runtime that consults them comes
  // with the complete engine; refuse them clearly rather than ignore them.
  if (flow.retry() != nullptr) {
    throw NotImplemented(fmt::format(
        "flow '{}' has retry controller '{}': retries are not supported by this engine yet",
        flow.name(), flow.retry()->name()));
  }
  for (const FlowItem& item : flow.items()) {
    if (item.flow() != nullptr) {
      reject_retries(*item.flow());
    }
  }
}

}  // namespace

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
    notifier_.notify_lazy(to_string(state), [&] {
      return Value{{"flow_name", storage_->flow_name()},
                   {"flow_uuid", storage_->flow_uuid()},
                   {"old_state", to_string(old)}};
    });
  }
}

void Engine::compile() {
  if (runtime_) {
    return;
  }
  reject_retries(*flow_);
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

void Engine::validate() {
  prepare();
  runtime_->validate();
}

void Engine::run() {
  validate();
  suspend_requested_.store(false);
  change_state(FlowState::kRunning);
  FlowState end = FlowState::kFailure;
  try {
    end = runtime_->run(suspend_requested_);
  } catch (...) {
    detail::log().error("engine failed flow={} uuid={}", storage_->flow_name(),
                        storage_->flow_uuid());
    change_state(FlowState::kFailure);
    throw;
  }
  change_state(end);
  if (end == FlowState::kReverted || end == FlowState::kFailure) {
    std::vector<Failure> failures;
    for (auto& [name, failure] : storage_->get_execute_failures()) {
      failures.push_back(std::move(failure));
    }
    for (auto& [name, failure] : storage_->get_revert_failures()) {
      failures.push_back(std::move(failure));
    }
    Failure::reraise_if_any(failures);
  }
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
