// SIGINT and SIGTERM for a long-running command (a conductor, the web view): blocked in the
// constructing thread and every thread it starts after, and taken by one waiter (sigtimedwait).
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <chrono>

namespace caboose::cli {

// Blocks SIGINT and SIGTERM in this thread and every thread it starts after, so that only the
// watcher below takes them (sigtimedwait), never a worker in the middle of a save.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~StopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Waits up to `timeout` for a stop signal; returns its number, or 0.
  int wait(std::chrono::milliseconds timeout) const {
    const timespec ts{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<long>((timeout.count() % 1000) * 1000000)};
    const int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : 0;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

}  // namespace caboose::cli
