#include "jobs/json_posting.h"

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "caboose/core/civil_time.h"
#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

#include "persistence/json_text.h"

namespace caboose::jobs::detail {

std::string encode_json_posting(const Job& job, PostingLayout layout) {
  using persistence::detail::python_json;
  std::string out =
      fmt::format(R"({{"uuid": {}, "name": {}, "priority": {})", Value(job.uuid).dump(),
                  python_json(job.name), Value(std::string(to_string(job.priority))).dump());
  if (layout == PostingLayout::kEtcd) {
    out += fmt::format(R"(, "created_on": "{}")", python_time(job.created_on));
  }
  out += fmt::format(R"(, "details": {})", python_json(job.details));
  if (job.book_uuid) {
    out += fmt::format(R"(, "book": {{"name": {}, "uuid": {}}})",
                       python_json(job.book_name.value_or("")), Value(*job.book_uuid).dump());
  }
  if (layout == PostingLayout::kEtcd) {
    out += fmt::format(R"(, "sequence": {})", job.sequence);
  }
  out += "}";
  return out;
}

Job decode_json_posting(std::string_view data) {
  const Value v = decode_json(data, "the posting", kPostingLimits);
  if (!v.is_object()) {
    throw InvalidFormat("the posting is not a JSON object");
  }
  if (!v.contains("uuid") || !v["uuid"].is_string() || !v.contains("name") ||
      !v["name"].is_string()) {
    throw InvalidFormat("the posting has no uuid or name");
  }
  Job job;
  job.uuid = v["uuid"].get<std::string>();
  job.name = v["name"].get<std::string>();
  if (v.contains("priority")) {
    if (!v["priority"].is_string()) {
      throw InvalidFormat("the posting's priority is not a string");
    }
    try {
      job.priority = parse_job_priority(v["priority"].get<std::string>());
    } catch (const InvalidArgument& e) {
      throw InvalidFormat(fmt::format("the posting's priority: {}", e.what()));
    }
  }
  if (v.contains("details") && !v["details"].is_null()) {
    if (!v["details"].is_object()) {
      throw InvalidFormat("the posting's details are not an object");
    }
    job.details = v["details"];
  }
  if (v.contains("book") && v["book"].is_object()) {
    const Value& book = v["book"];
    if (book.contains("uuid") && book["uuid"].is_string()) {
      job.book_uuid = book["uuid"].get<std::string>();
    }
    if (book.contains("name") && book["name"].is_string()) {
      job.book_name = book["name"].get<std::string>();
    }
  }
  if (v.contains("sequence") && v["sequence"].is_number_integer()) {
    job.sequence = v["sequence"].get<std::int64_t>();
  }
  if (v.contains("created_on") && v["created_on"].is_string()) {
    if (const auto t = parse_python_time(v["created_on"].get<std::string>())) {
      job.created_on = job.last_modified = *t;
    }
  }
  return job;
}

std::string python_time(TimePoint t) {
  std::string text = format_time(t);
  text.pop_back();  // format_time's "Z": oslo writes naive UTC
  return text;
}

std::optional<TimePoint> parse_python_time(std::string_view text) {
  const std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, micros = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6d%n", &y, &mo, &d, &h, &mi, &sec, &micros,
                  &consumed) != 7 ||
      consumed != static_cast<int>(s.size())) {
    return std::nullopt;
  }
  return from_civil_time({.year = y,
                          .month = mo,
                          .day = d,
                          .hour = h,
                          .minute = mi,
                          .second = sec,
                          .microsecond = micros});
}

}  // namespace caboose::jobs::detail
