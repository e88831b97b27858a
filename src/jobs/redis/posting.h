// TaskFlow's Redis job postings (shared/formats/redis-layout.txt): the msgpack map a
// RedisJobBoard stores as taskflow:listings[<job uuid>] (uuid, name, priority, created_on,
// details, book, sequence, in that order) and its datetimes (msgpack ext type 1 holding a map
// of day, month, year, hour, minute, second, microsecond; naive UTC). Encoding gives the bytes
// msgpack-python gives (smallest integer widths, str never bin), so Python TaskFlow reads what
// caboose posts; decoding accepts any integer width and key order.
#pragma once

#include <string>
#include <string_view>

#include "caboose/jobs/job.h"

namespace caboose::jobs::detail {

// The posting of `job` (its uuid, name, priority, created_on, details, book and sequence).
std::string encode_posting(const Job& job);
// A posting's job (UNCLAIMED, no attempts: those live elsewhere). InvalidFormat naming what is
// wrong when the bytes are not a posting TaskFlow 5.0.0 would accept.
Job decode_posting(std::string_view bytes);

// A datetime as msgpack ext type 1 (a <job>.last_modified value), and back.
std::string encode_datetime(TimePoint t);
TimePoint decode_datetime(std::string_view bytes);

}  // namespace caboose::jobs::detail
