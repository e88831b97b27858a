// The ZooKeeper jobboard's constructor (fetch_jobboard makes it from zookeeper:// URIs).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// zookeeper://[user:password@]host:port[,host:port...][/path][?session_timeout_ms=N] (TaskFlow's
// default path /taskflow/jobs). With credentials, every session authenticates with them (digest
// scheme) and every node the board creates, the missing parents of the path included, gets
// ZOO_CREATOR_ALL_ACL. Throws InvalidArgument for a bad URI, StorageFailure naming the hosts
// (never the password) when no server answers or the credentials are refused or lack a right.
std::unique_ptr<JobBoard> make_zookeeper_jobboard(std::string_view uri, BoardOptions options);
}  // namespace caboose::jobs
