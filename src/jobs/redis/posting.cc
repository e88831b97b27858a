#include "jobs/redis/posting.h"

#include <cstdint>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/civil_time.h"
#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

namespace caboose::jobs::detail {
namespace {

using Ordered = nlohmann::ordered_json;
using Bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t kDatetimeExt = 1;

Ordered datetime_value(TimePoint t) {
  const CivilTime c = to_civil_time(t);
  Ordered parts = Ordered::object();
  parts["day"] = c.day;
  parts["month"] = c.month;
  parts["year"] = c.year;
  parts["hour"] = c.hour;
  parts["minute"] = c.minute;
  parts["second"] = c.second;
  parts["microsecond"] = c.microsecond;
  return Ordered::binary(Ordered::to_msgpack(parts), kDatetimeExt);
}

TimePoint datetime_from(const Value& v, const std::string& what) {
  if (!v.is_binary() || !v.get_binary().has_subtype() || v.get_binary().subtype() != kDatetimeExt) {
    throw InvalidFormat(fmt::format("{} is not a msgpack datetime (ext type 1)", what));
  }
  const std::vector<std::uint8_t>& payload = v.get_binary();
  const Value parts = decode_msgpack(
      std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()),
      what + " datetime payload", kPostingLimits);
  const auto part = [&](const char* name) -> std::int64_t {
    const auto p = parts.is_object() ? parts.find(name) : parts.end();
    if (p == parts.end() || !p->is_number_integer()) {
      throw InvalidFormat(fmt::format("{}: the datetime has no integer '{}'", what, name));
    }
    return p->get<std::int64_t>();
  };
  const CivilTime civil{.year = part("year"),
                        .month = part("month"),
                        .day = part("day"),
                        .hour = part("hour"),
                        .minute = part("minute"),
                        .second = part("second"),
                        .microsecond = part("microsecond")};
  const std::optional<TimePoint> t = from_civil_time(civil);
  if (!t) {
    throw InvalidFormat(fmt::format("{}: {}-{}-{} {}:{}:{}.{} is not a datetime Python can hold",
                                    what, civil.year, civil.month, civil.day, civil.hour,
                                    civil.minute, civil.second, civil.microsecond));
  }
  return *t;
}

std::string as_string(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

const Value& field(const Value& posting, const char* key, const std::string& what) {
  const auto it = posting.find(key);
  if (it == posting.end()) {
    throw InvalidFormat(fmt::format("{} has no '{}'", what, key));
  }
  return *it;
}

std::string text_field(const Value& posting, const char* key, const std::string& what) {
  const Value& v = field(posting, key, what);
  if (!v.is_string()) {
    throw InvalidFormat(fmt::format("{}: '{}' is not text", what, key));
  }
  return v.get<std::string>();
}

}  // namespace

std::string encode_posting(const Job& job) {
  Ordered posting = Ordered::object();
  posting["uuid"] = job.uuid;
  posting["name"] = job.name;
  posting["priority"] = std::string(to_string(job.priority));
  posting["created_on"] = datetime_value(job.created_on);
  // Through msgpack, not JSON text: a value TaskFlow's msgpackutils wrote as an ext type (a
  // datetime, a UUID) or as bytes stays what it was (JSON text would turn it into a map).
  posting["details"] = Ordered::from_msgpack(Value::to_msgpack(job.details));
  if (job.book_uuid) {
    Ordered book = Ordered::object();
    book["name"] = job.book_name.value_or("");
    book["uuid"] = *job.book_uuid;
    posting["book"] = std::move(book);
  }
  posting["sequence"] = job.sequence;
  return as_string(Ordered::to_msgpack(posting));
}

Job decode_posting(std::string_view bytes) {
  const Value posting = decode_msgpack(bytes, "a job posting", kPostingLimits);
  if (!posting.is_object()) {
    throw InvalidFormat("a job posting is not a map");
  }
  Job job;
  job.uuid = text_field(posting, "uuid", "a job posting");
  const std::string what = fmt::format("job posting {}", job.uuid);
  job.name = text_field(posting, "name", what);
  try {
    job.priority = parse_job_priority(text_field(posting, "priority", what));
  } catch (const InvalidArgument& e) {
    throw InvalidFormat(fmt::format("{}: {}", what, e.what()));
  }
  job.created_on = datetime_from(field(posting, "created_on", what), what + " created_on");
  job.last_modified = job.created_on;
  job.details = field(posting, "details", what);
  if (!job.details.is_object()) {
    throw InvalidFormat(fmt::format("{}: details are not a map", what));
  }
  if (const auto book = posting.find("book"); book != posting.end() && !book->is_null()) {
    if (!book->is_object()) {
      throw InvalidFormat(fmt::format("{}: book is not a map", what));
    }
    job.book_uuid = text_field(*book, "uuid", what + " book");
    job.book_name = text_field(*book, "name", what + " book");
  }
  const Value& sequence = field(posting, "sequence", what);
  if (!sequence.is_number_integer()) {
    throw InvalidFormat(fmt::format("{}: sequence is not an integer", what));
  }
  job.sequence = sequence.get<std::int64_t>();
  return job;
}

std::string encode_datetime(TimePoint t) {
  return as_string(Ordered::to_msgpack(datetime_value(t)));
}

TimePoint decode_datetime(std::string_view bytes) {
  return datetime_from(decode_msgpack(bytes, "a datetime", kPostingLimits), "a datetime");
}

}  // namespace caboose::jobs::detail
