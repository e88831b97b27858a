// The etcd jobboard's constructor (fetch_jobboard makes it from etcd:// URIs).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// etcd://host[:port][,host[:port]...]/path[?timeout_ms=N] (TaskFlow's etcd board "path": keys
// under /taskflow/jobs/<path>; port 2379 by default). Throws InvalidArgument naming what is wrong
// with the URI, StorageFailure naming the endpoints when none answers.
std::unique_ptr<JobBoard> make_etcd_jobboard(std::string_view uri, BoardOptions options);
}  // namespace caboose::jobs
