// Clock: where caboose reads time. Library code never calls std::chrono clocks directly, so
// tests drive time with ManualClock. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

namespace caboose {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for durations, deadlines and leases.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // Wall-clock time, for timestamps people and other processes read.
  virtual std::chrono::system_clock::time_point wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point wall() const override {
    return std::chrono::system_clock::now();
  }
};

// The process-wide system clock.
const Clock& system_clock();

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override;
  std::chrono::system_clock::time_point wall() const override;
  void advance(std::chrono::nanoseconds by);

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds elapsed_{0};  // Guarded by mu_.
  const std::chrono::system_clock::time_point wall_start_{std::chrono::system_clock::now()};
};

}  // namespace caboose
