// A naive UTC date and time as Python's datetime holds one (TaskFlow stores its times so: as
// "YYYY-MM-DDTHH:MM:SS.ffffff" text, as a {"year", ..., "microsecond"} dict or as msgpack), and
// the instant it names. Only what Python's datetime accepts converts: a stored time outside it
// was not written by TaskFlow, and would overflow the conversion.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace caboose {

struct CivilTime {
  std::int64_t year = 1970;
  std::int64_t month = 1;
  std::int64_t day = 1;
  std::int64_t hour = 0;
  std::int64_t minute = 0;
  std::int64_t second = 0;
  std::int64_t microsecond = 0;
};

using UtcMicros = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// The instant, or nullopt when a field is outside Python's datetime: year 1-9999, a day the
// month has, hour 0-23, minute and second 0-59, microsecond 0-999999.
[[nodiscard]] std::optional<UtcMicros> from_civil_time(const CivilTime& t);
// The date and time of an instant (proleptic Gregorian, any year), without going through
// time_t or system_clock's nanoseconds, which overflow past 2262.
[[nodiscard]] CivilTime to_civil_time(UtcMicros t);

}  // namespace caboose
