#include "caboose/jobs/board_metrics.h"

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <string>

namespace caboose::jobs {

void add_board_metrics(MetricsRegistry& metrics, JobBoard& board,
                       std::chrono::milliseconds min_interval) {
  struct Last {
    std::mutex mu;
    std::chrono::steady_clock::time_point at{};
    bool listed = false;
  };
  auto last = std::make_shared<Last>();
  metrics.add_collector([&board, min_interval, last](MetricsRegistry& m) {
    std::lock_guard lock(last->mu);
    const auto now = std::chrono::steady_clock::now();
    if (last->listed && now - last->at < min_interval) {
      return;
    }
    constexpr std::array<JobPriority, 5> kPriorities = {JobPriority::kVeryHigh, JobPriority::kHigh,
                                                        JobPriority::kNormal, JobPriority::kLow,
                                                        JobPriority::kVeryLow};
    constexpr std::array<std::string_view, 3> kStates = {"claimable", "waiting", "claimed"};
    std::array<std::array<double, 3>, 5> counts{};
    const TimePoint at = jobs::now();
    std::optional<TimePoint> oldest;
    for (const Job& job : board.iterjobs()) {
      const std::string_view state = availability(job, at);
      if (state == "claimable") {
        oldest = oldest ? std::min(*oldest, job.created_on) : job.created_on;
      }
      const auto s = static_cast<std::size_t>(std::find(kStates.begin(), kStates.end(), state) -
                                              kStates.begin());
      if (s < kStates.size()) {  // a listing holds no trashed job; never index past the table
        counts[static_cast<std::size_t>(job.priority)][s] += 1;
      }
    }
    const double bin = static_cast<double>(board.trashed().size());
    for (const JobPriority p : kPriorities) {
      for (std::size_t s = 0; s < kStates.size(); ++s) {
        m.gauge("caboose_board_jobs", "Jobs on the board by state and priority",
                {{"state", std::string(kStates[s])}, {"priority", std::string(to_string(p))}})
            .set(counts[static_cast<std::size_t>(p)][s]);
      }
    }
    m.gauge("caboose_garbage_bin_jobs", "Jobs in the board's garbage bin").set(bin);
    m.gauge("caboose_board_oldest_claimable_age_seconds",
            "Age of the oldest job waiting to be claimed (0: none)")
        .set(oldest ? std::max(0.0, std::chrono::duration<double>(at - *oldest).count()) : 0.0);
    last->at = now;
    last->listed = true;
  });
}

}  // namespace caboose::jobs
