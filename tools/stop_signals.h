// SIGINT and SIGTERM for a long-running command (a conductor, the web view): blocked in the
// constructing thread and every thread it starts after, and taken by one waiter (sigtimedwait).
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>

namespace caboose::cli {

namespace detail {
// A stop signal taken by a thread that does not block it (see StopSignals).
inline std::atomic<int> stray_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

inline void note_stray_signal(int sig) {
  stray_signal.store(sig);
}
}  // namespace detail

// Blocks SIGINT and SIGTERM in this thread and every thread it starts after, so that only the
// watcher below takes them (sigtimedwait), never a worker in the middle of a save. A thread
// started before main() by a preloaded library (libfiu's fiu-run, say) does not block them: a
// signal the kernel hands to it runs a handler that notes it for the watcher, instead of the
// default action killing the process.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    struct sigaction note {};
    note.sa_handler = detail::note_stray_signal;
    sigemptyset(&note.sa_mask);
    sigaction(SIGINT, &note, &old_int_);
    sigaction(SIGTERM, &note, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Waits up to `timeout` for a stop signal; returns its number, or 0.
  int wait(std::chrono::milliseconds timeout) const {
    const timespec ts{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<long>((timeout.count() % 1000) * 1000000)};
    const int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : detail::stray_signal.exchange(0);
  }

 private:
  sigset_t set_;
  sigset_t old_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace caboose::cli
