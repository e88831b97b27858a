// The ZooKeeper jobboard's constructor (fetch_jobboard makes it from zookeeper:// URIs).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// zookeeper://host:port[,host:port...][/path][?session_timeout_ms=N] (TaskFlow's default path
// /taskflow/jobs). Throws InvalidArgument for a bad URI, StorageFailure naming the hosts when
// no server answers.
std::unique_ptr<JobBoard> make_zookeeper_jobboard(std::string_view uri, BoardOptions options);
}  // namespace caboose::jobs
