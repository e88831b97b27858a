#include "caboose/core/civil_time.h"

namespace caboose {

std::optional<UtcMicros> from_civil_time(const CivilTime& t) {
  using namespace std::chrono;
  if (t.year < 1 || t.year > 9999 || t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 ||
      t.hour < 0 || t.hour > 23 || t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 59 ||
      t.microsecond < 0 || t.microsecond > 999'999) {
    return std::nullopt;
  }
  const year_month_day date{year{static_cast<int>(t.year)}, month{static_cast<unsigned>(t.month)},
                            day{static_cast<unsigned>(t.day)}};
  if (!date.ok()) {
    return std::nullopt;  // 30 February
  }
  return UtcMicros(sys_days(date).time_since_epoch()) + hours(t.hour) + minutes(t.minute) +
         seconds(t.second) + microseconds(t.microsecond);
}

CivilTime to_civil_time(UtcMicros t) {
  using namespace std::chrono;
  const auto day_start = floor<days>(t);
  const year_month_day date{sys_days(day_start.time_since_epoch())};
  const hh_mm_ss time{t - day_start};
  return {.year = static_cast<int>(date.year()),
          .month = static_cast<unsigned>(date.month()),
          .day = static_cast<unsigned>(date.day()),
          .hour = time.hours().count(),
          .minute = time.minutes().count(),
          .second = time.seconds().count(),
          .microsecond = time.subseconds().count()};
}

}  // namespace caboose
