// The Redis jobboard's constructor (fetch_jobboard makes it from redis:// URIs).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// redis://[[user]:password@]host[:port][/db][?namespace=ns&timeout_ms=N] (TaskFlow's default
// namespace "taskflow"). Throws InvalidArgument for a bad URI, StorageFailure naming the server
// (password hidden) when it cannot be reached.
std::unique_ptr<JobBoard> make_redis_jobboard(std::string_view uri, BoardOptions options);
}  // namespace caboose::jobs
