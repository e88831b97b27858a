// The SQLite backend (sqlite://), the embedded default: TaskFlow's SQL schema in one file, so
// Python TaskFlow opens the same file and reads what caboose wrote, and the reverse. It adds
// two tables TaskFlow ignores: caboose_fences (each flow detail's fencing token) and
// caboose_schema (the version of caboose's layout). The file is in WAL mode; writes take the
// write lock at their start (BEGIN IMMEDIATE) and wait up to the busy timeout for it, so many
// processes may share one file. A crash loses nothing committed: with synchronous=NORMAL (the
// default) a power loss may lose the last transactions, never corrupt; FULL loses none.
//
//   auto backend = caboose::persistence::fetch("sqlite:///var/lib/app/flows.db");
//   auto backend = caboose::persistence::make_sqlite_backend("flows.db", {.synchronous = ...});
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {

struct SqliteOptions {
  enum class Synchronous { kNormal, kFull };
  Synchronous synchronous = Synchronous::kNormal;
  // How long a write waits for another connection's write lock before StorageFailure.
  std::chrono::milliseconds busy_timeout{10000};
};

// Opens (creating) the database at `path` (":memory:" for a private in-memory one) and creates
// or migrates its tables (upgrade()). Throws StorageFailure naming the path when it cannot be
// opened, or when its schema is newer than this caboose knows.
[[nodiscard]] std::unique_ptr<Backend> make_sqlite_backend(const std::string& path,
                                                           SqliteOptions options = {});

}  // namespace caboose::persistence
