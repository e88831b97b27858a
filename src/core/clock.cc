#include "caboose/core/clock.h"

namespace caboose {

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

std::chrono::steady_clock::time_point ManualClock::now() const {
  std::lock_guard lock(mu_);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(elapsed_));
}

std::chrono::system_clock::time_point ManualClock::wall() const {
  std::lock_guard lock(mu_);
  return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed_);
}

void ManualClock::advance(std::chrono::nanoseconds by) {
  std::lock_guard lock(mu_);
  elapsed_ += by;
}

}  // namespace caboose
