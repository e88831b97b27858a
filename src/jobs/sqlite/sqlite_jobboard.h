// The SQLite jobboard's constructor (fetch_jobboard makes it from sqlite:// URIs).
#pragma once

#include <memory>
#include <string>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {
// Opens (creating) the board's tables in the SQLite file at `path` (":memory:" for a private
// one). Throws StorageFailure naming the path, InvalidArgument for bad options.
std::unique_ptr<JobBoard> make_sqlite_jobboard(const std::string& path, BoardOptions options);
}  // namespace caboose::jobs
