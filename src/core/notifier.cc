#include "caboose/core/notifier.h"

#include <exception>
#include <string>
#include <utility>

#include "caboose/core/errors.h"

#include "core/log.h"

namespace caboose {

Notifier::Handle Notifier::register_callback(std::string event, Callback callback,
                                             DetailsFilter filter) {
  if (event.empty()) {
    throw InvalidArgument("a notifier callback needs an event name (or Notifier::kAny)");
  }
  if (!callback) {
    throw InvalidArgument("a notifier callback for '" + event + "' must be callable");
  }
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Listeners>(*listeners_);
  const Handle handle = next_handle_++;
  next->push_back({handle, std::move(event), std::move(callback), std::move(filter)});
  listeners_ = std::move(next);
  count_.store(listeners_->size(), std::memory_order_release);
  return handle;
}

bool Notifier::deregister(Handle handle) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Listeners>(*listeners_);
  std::erase_if(*next, [&](const Listener& l) { return l.handle == handle; });
  const bool removed = next->size() != listeners_->size();
  listeners_ = std::move(next);
  count_.store(listeners_->size(), std::memory_order_release);
  return removed;
}

std::size_t Notifier::deregister_event(std::string_view event) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Listeners>(*listeners_);
  const std::size_t removed =
      std::erase_if(*next, [&](const Listener& l) { return l.event == event; });
  listeners_ = std::move(next);
  count_.store(listeners_->size(), std::memory_order_release);
  return removed;
}

void Notifier::reset() {
  std::lock_guard lock(mu_);
  listeners_ = std::make_shared<Listeners>();
  count_.store(0, std::memory_order_release);
}

std::shared_ptr<const Notifier::Listeners> Notifier::snapshot() const {
  std::lock_guard lock(mu_);
  return listeners_;
}

bool Notifier::listens(std::string_view event) const {
  if (count_.load(std::memory_order_acquire) == 0) {
    return false;
  }
  for (const Listener& l : *snapshot()) {
    if (l.event == event || l.event == kAny) {
      return true;
    }
  }
  return false;
}

void Notifier::notify(std::string_view event, const Value& details) const {
  if (count_.load(std::memory_order_acquire) == 0) {
    return;
  }
  const auto listeners = snapshot();  // called outside the lock
  for (const Listener& l : *listeners) {
    if (l.event != event && l.event != kAny) {
      continue;
    }
    try {
      if (l.filter && !l.filter(details)) {
        continue;
      }
      l.callback(event, details);
    } catch (const std::exception& e) {
      detail::log().warn("notifier callback failed event={} error={}", event, e.what());
    } catch (...) {
      detail::log().warn("notifier callback failed event={} error=unknown exception", event);
    }
  }
}

}  // namespace caboose
