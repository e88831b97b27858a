// What the conductor tests share: a board and a backend to run on, jobs posted the way TaskFlow
// posters post them (a logbook with one flow detail naming a factory, then the job), and events
// to wait on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "caboose/conductors/conductor.h"
#include "caboose/conductors/examples.h"
#include "caboose/conductors/flow_registry.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/backend.h"

namespace caboose::conductors::testing {

// Counts a conductor's events; waits for one to have fired n times.
class EventLog {
 public:
  explicit EventLog(Notifier& notifier) {
    notifier.register_callback(std::string(Notifier::kAny),
                               [this](std::string_view event, const Value& details) {
                                 std::lock_guard lock(mu_);
                                 events_.emplace_back(std::string(event), details);
                                 changed_.notify_all();
                               });
  }
  bool wait_for(const std::string& event, std::size_t n = 1,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return count_locked(event) >= n; });
  }
  std::size_t count(const std::string& event) const {
    std::lock_guard lock(mu_);
    return count_locked(event);
  }
  std::vector<Value> details(const std::string& event) const {
    std::lock_guard lock(mu_);
    std::vector<Value> out;
    for (const auto& [name, details] : events_) {
      if (name == event) {
        out.push_back(details);
      }
    }
    return out;
  }
  std::vector<std::string> names() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      out.push_back(e.first);
    }
    return out;
  }

 private:
  std::size_t count_locked(const std::string& event) const {
    std::size_t n = 0;
    for (const auto& e : events_) {
      n += e.first == event ? 1 : 0;
    }
    return n;
  }
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, Value>> events_;  // Guarded by mu_.
};

// A saved logbook with one flow detail whose meta names `factory` (plus `meta`), as TaskFlow's
// temporary_flow_detail + save_factory_details.
inline persistence::LogBook saved_flow(persistence::Backend& backend, const FactoryCall& factory,
                                       Value meta = Value::object()) {
  persistence::LogBook book;
  book.uuid = make_uuid();
  book.name = "book-" + book.uuid.substr(0, 8);
  persistence::FlowDetail flow;
  flow.uuid = make_uuid();
  flow.name = "flow-" + flow.uuid.substr(0, 8);
  flow.meta = std::move(meta);
  save_factory_details(flow, factory);
  book.flows.push_back(std::move(flow));
  return backend.save_logbook(book);
}

// Posts a job on the book's only flow (details["flow_uuid"], plus `details`).
inline jobs::Job post_job(jobs::JobBoard& board, const persistence::LogBook& book,
                          Value details = Value::object(), std::int64_t max_attempts = 0) {
  details["flow_uuid"] = book.flows.front().uuid;
  return board.post("job-" + book.name,
                    {.details = std::move(details), .book = book, .max_attempts = max_attempts});
}

// Runs a conductor on a thread; stops and joins it when destroyed.
class Running {
 public:
  explicit Running(Conductor& conductor, std::optional<std::size_t> max_dispatches = std::nullopt)
      : conductor_(conductor),
        thread_([this, max_dispatches] { conductor_.run(max_dispatches); }) {}
  ~Running() {
    conductor_.stop();
    thread_.join();
  }

 private:
  Conductor& conductor_;
  std::jthread thread_;
};

}  // namespace caboose::conductors::testing
