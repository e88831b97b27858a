// TaskFlow's JSON job postings, shared by the ZooKeeper and etcd boards (oslo jsonutils.dumps of
// taskflow.jobs.base.format_posting): uuid, name, priority, details, book. TaskFlow's etcd board
// adds created_on (a naive UTC "YYYY-MM-DDTHH:MM:SS.ffffff") and the sequence number.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "caboose/jobs/job.h"

namespace caboose::jobs::detail {

enum class PostingLayout {
  kZooKeeper,  // uuid, name, priority, details, book
  kEtcd,       // uuid, name, priority, created_on, details, book, sequence
};

std::string encode_json_posting(const Job& job, PostingLayout layout);
// A posting as TaskFlow reads one: a JSON object with "uuid" and "name"; a missing priority is
// NORMAL. Fills sequence and created_on when the posting has them. InvalidFormat saying what
// is wrong.
Job decode_json_posting(std::string_view data);

// A time as oslo's jsonutils writes a naive UTC datetime ("YYYY-MM-DDTHH:MM:SS.ffffff"), and
// back (nullopt when the text is not one).
std::string python_time(TimePoint t);
std::optional<TimePoint> parse_python_time(std::string_view text);

}  // namespace caboose::jobs::detail
