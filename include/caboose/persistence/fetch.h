// Turns a persistence URI into a backend:
//   memory://                          in this process only
//   sqlite://                          an in-memory SQLite database
//   sqlite:///relative.db              a SQLite file (four slashes: an absolute path), with
//   sqlite:////abs/path.db?synchronous=FULL&busy_timeout=5000    optional settings
//   dir:///abs/path                    TaskFlow's directory layout (dir://relative/path too)
//   postgresql://user:pw@host:port/db  a PostgreSQL database through libpq (postgres:// too)
//   zookeeper://host:port[,...]/path   TaskFlow's znode layout under path (?session_timeout_ms=N;
//                                      user:password@host: digest auth, nodes for that user only)
// Throws InvalidArgument naming what was wrong with the URI (passwords hidden), StorageFailure
// when the backend cannot be opened.
#pragma once

#include <memory>
#include <string_view>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {
[[nodiscard]] std::unique_ptr<Backend> fetch(std::string_view uri);
}  // namespace caboose::persistence
