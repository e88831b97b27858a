// Jobs: units of work posted on a jobboard, as taskflow.jobs.base.Job, with what caboose adds
// so that no job cycles forever: attempts counted at claim time, a per-job attempt limit, a
// not-before time (backoff), the last failure, and the reason a job was trashed.
//
// A Claim is a lease: it names the job, the claimer, a token that grows with every claim of
// the job, the attempt it is, and until when it holds unless renewed. Every later action on the
// job (renew, consume, abandon, trash) carries the claim and is refused (StaleClaim) once the
// token is no longer the job's current one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "caboose/core/failure.h"
#include "caboose/core/value.h"
#include "caboose/persistence/backend.h"

namespace caboose::jobs {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;
TimePoint now();

// Claim order: VERY_HIGH first, VERY_LOW last (TaskFlow's five priorities), then oldest first.
enum class JobPriority { kVeryHigh, kHigh, kNormal, kLow, kVeryLow };
// "VERY_HIGH", "HIGH", "NORMAL", "LOW", "VERY_LOW".
std::string_view to_string(JobPriority priority);
// Case-insensitive; InvalidArgument naming the text.
JobPriority parse_job_priority(std::string_view text);

// UNCLAIMED, CLAIMED, COMPLETE as TaskFlow's job states; TRASHED: in the garbage bin.
enum class JobState { kUnclaimed, kClaimed, kComplete, kTrashed };
std::string_view to_string(JobState state);
JobState parse_job_state(std::string_view text);

struct Job {
  std::string uuid;
  std::string name;
  Value details = Value::object();
  std::optional<std::string> book_uuid;
  std::optional<std::string> book_name;
  JobPriority priority = JobPriority::kNormal;
  std::int64_t sequence = 0;  // posting order on its board
  TimePoint created_on{};
  TimePoint last_modified{};
  JobState state = JobState::kUnclaimed;
  std::optional<std::string> owner;  // the claimer, while claimed
  // While claimed: when the claim lapses unless its holder renews it (as the board saw it).
  std::optional<TimePoint> lease_until;
  std::int64_t attempts = 0;      // claims so far
  std::int64_t max_attempts = 0;  // claims allowed; 0: the board's default
  std::optional<TimePoint> not_before;
  std::optional<Failure> last_failure;
  std::optional<std::string> trash_reason;

  // The logbook the job points at, read from `backend` (TaskFlow's lazy Job.book). NotFound
  // when the job names none or the backend does not hold it.
  persistence::LogBook book(persistence::Backend& backend) const;
  // JSON for tools and logs: every field, times as "YYYY-MM-DDTHH:MM:SS.ffffffZ".
  Value to_value() const;
};

struct Claim {
  std::string job_uuid;
  std::string owner;
  std::int64_t token = 0;    // grows with every claim of the job
  std::int64_t attempt = 0;  // which claim of the job this is (1 for the first)
  TimePoint lease_until{};   // the claim lapses then unless renewed
};

// "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string format_time(TimePoint t);

// Where a job stands at `at`, as operators see it: "trashed", "claimed", "waiting" (unclaimed,
// in backoff until its not_before) or "claimable".
std::string_view availability(const Job& job, TimePoint at);

}  // namespace caboose::jobs
