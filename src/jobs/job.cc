#include "caboose/jobs/job.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "caboose/core/civil_time.h"
#include "caboose/core/errors.h"

namespace caboose::jobs {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

std::string_view to_string(JobPriority priority) {
  switch (priority) {
    case JobPriority::kVeryHigh:
      return "VERY_HIGH";
    case JobPriority::kVeryLow:
      return "VERY_LOW";
    case JobPriority::kHigh:
      return "HIGH";
    case JobPriority::kNormal:
      return "NORMAL";
    case JobPriority::kLow:
      return "LOW";
  }
  return "NORMAL";
}

JobPriority parse_job_priority(std::string_view text) {
  const std::string u = upper(text);
  for (JobPriority p : {JobPriority::kVeryHigh, JobPriority::kHigh, JobPriority::kNormal,
                        JobPriority::kLow, JobPriority::kVeryLow}) {
    if (to_string(p) == u) {
      return p;
    }
  }
  throw InvalidArgument(
      fmt::format("unknown job priority '{}' (VERY_HIGH, HIGH, NORMAL, LOW or VERY_LOW)", text));
}

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::kUnclaimed:
      return "UNCLAIMED";
    case JobState::kClaimed:
      return "CLAIMED";
    case JobState::kComplete:
      return "COMPLETE";
    case JobState::kTrashed:
      return "TRASHED";
  }
  return "UNCLAIMED";
}

JobState parse_job_state(std::string_view text) {
  for (JobState s :
       {JobState::kUnclaimed, JobState::kClaimed, JobState::kComplete, JobState::kTrashed}) {
    if (to_string(s) == text) {
      return s;
    }
  }
  throw InvalidFormat(fmt::format("unknown job state '{}'", text));
}

std::string format_time(TimePoint t) {
  const CivilTime c = to_civil_time(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, c.microsecond);
}

persistence::LogBook Job::book(persistence::Backend& backend) const {
  if (!book_uuid) {
    throw NotFound(fmt::format("job {} ('{}') names no logbook", uuid, name));
  }
  return backend.get_logbook(*book_uuid);
}

Value Job::to_value() const {
  const auto optional_text = [](const std::optional<std::string>& s) {
    return s ? Value(*s) : Value();
  };
  return Value{{"uuid", uuid},
               {"name", name},
               {"details", details},
               {"book_uuid", optional_text(book_uuid)},
               {"book_name", optional_text(book_name)},
               {"priority", to_string(priority)},
               {"sequence", sequence},
               {"created_on", format_time(created_on)},
               {"last_modified", format_time(last_modified)},
               {"state", to_string(state)},
               {"owner", optional_text(owner)},
               {"lease_until", lease_until ? Value(format_time(*lease_until)) : Value()},
               {"attempts", attempts},
               {"max_attempts", max_attempts},
               {"not_before", not_before ? Value(format_time(*not_before)) : Value()},
               {"last_failure", last_failure ? last_failure->to_dict() : Value()},
               {"trash_reason", optional_text(trash_reason)}};
}

std::string_view availability(const Job& job, TimePoint at) {
  switch (job.state) {
    case JobState::kTrashed:
      return "trashed";
    case JobState::kClaimed:
      return "claimed";
    default:
      return job.not_before && *job.not_before > at ? "waiting" : "claimable";
  }
}

}  // namespace caboose::jobs
