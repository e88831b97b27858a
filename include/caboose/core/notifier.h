// Notifier: a registry of callbacks called when an event happens, as TaskFlow's
// taskflow.types.notifier.Notifier. Callbacks register for one event name or for any event
// (kAny). Thread-safe: registering, deregistering and notifying may happen concurrently;
// notify() calls the callbacks registered when it started, outside any lock. A callback that
// throws is logged and the others still run: a listener never breaks an engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/value.h"

namespace caboose {

class Notifier {
 public:
  using Callback = std::function<void(std::string_view event, const Value& details)>;
  // Decides from the details whether a callback is called (TaskFlow's details_filter).
  using DetailsFilter = std::function<bool(const Value& details)>;
  using Handle = std::uint64_t;
  static constexpr std::string_view kAny = "*";

  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Registers `callback` for `event` (or kAny). Returns the handle to deregister it.
  // Throws InvalidArgument for an empty callback or event name.
  Handle register_callback(std::string event, Callback callback, DetailsFilter filter = nullptr);
  // Returns whether the handle was registered.
  bool deregister(Handle handle);
  // Removes every callback of `event`; returns how many.
  std::size_t deregister_event(std::string_view event);
  void reset();

  // Calls the callbacks of `event` and of kAny with `details`.
  void notify(std::string_view event, const Value& details) const;
  // As notify(), but builds the details only when someone listens (hot paths).
  template <class MakeDetails>
  void notify_lazy(std::string_view event, MakeDetails&& make_details) const {
    if (count_.load(std::memory_order_acquire) == 0 || !listens(event)) {
      return;
    }
    notify(event, make_details());
  }
  // Whether a callback for `event` (or for any event) is registered.
  bool listens(std::string_view event) const;
  std::size_t size() const { return count_.load(std::memory_order_acquire); }
  bool empty() const { return size() == 0; }

 private:
  struct Listener {
    Handle handle;
    std::string event;
    Callback callback;
    DetailsFilter filter;
  };
  using Listeners = std::vector<Listener>;
  std::shared_ptr<const Listeners> snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const Listeners> listeners_ = std::make_shared<Listeners>();  // Guarded by mu_.
  Handle next_handle_ = 1;                                                      // Guarded by mu_.
  std::atomic<std::size_t> count_{0};
};

}  // namespace caboose
