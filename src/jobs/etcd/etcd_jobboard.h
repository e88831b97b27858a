// The etcd jobboard's constructor (fetch_jobboard makes it from etcd:// URIs).
#pragma once

#include <memory>
#include <string_view>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// etcd://[user:password@]host[:port][,host[:port]...]/path[?timeout_ms=N] (TaskFlow's etcd board
// "path": keys under /taskflow/jobs/<path>; port 2379 by default). With credentials, the board
// authenticates and sends its token with every request and watch (authenticating again when
// etcd says the token is invalid); the user's roles need readwrite on the prefixes
// /taskflow/jobs/<path> and /taskflow/.trash/<path>. Throws InvalidArgument naming what is wrong
// with the URI, StorageFailure naming the endpoints (never the password) when none answers, the
// credentials are refused, or a permission is missing.
std::unique_ptr<JobBoard> make_etcd_jobboard(std::string_view uri, BoardOptions options);
}  // namespace caboose::jobs
