// The PostgreSQL backend (postgresql://), through libpq: TaskFlow's schema as its migrations
// leave it on PostgreSQL (json columns, the atom_types and intention_type enums, the
// alembic_version row at TaskFlow's head revision), so Python TaskFlow and caboose share one
// database. Adds caboose_fences and caboose_schema, which TaskFlow ignores. A small pool of
// connections serves concurrent callers; statements are prepared once per connection; every
// save is one transaction, and a save under a claim locks the flow's fence row (FOR SHARE)
// while it checks the token, so raising a fence waits for saves in flight and none slips past.
//
//   auto backend = caboose::persistence::fetch("postgresql://app@127.0.0.1:5432/flows");
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {

struct PostgresOptions {
  std::size_t pool_size = 4;  // connections opened at most
  // The longest one statement (or a connection's start-up) may take before the call fails with
  // StorageFailure and the connection is dropped: a server that stops answering (a network
  // partition) never blocks a caller for ever. The conninfo's timeout_ms overrides it.
  std::chrono::milliseconds timeout{30000};
};

// A conninfo split into what libpq reads and caboose's own option: timeout_ms (in the URI's query,
// postgresql://host/db?timeout_ms=5000, or as a key=value pair), 1 to 3 600 000.
struct PostgresConninfo {
  std::string libpq;
  std::optional<std::chrono::milliseconds> timeout;
};
// Throws InvalidArgument (password hidden) on a timeout_ms that is not such a number.
[[nodiscard]] PostgresConninfo parse_postgres_conninfo(const std::string& conninfo);

// `conninfo` is a libpq connection URI (postgresql://user:password@host:port/db?...) or
// key=value string, with caboose's timeout_ms. Libpq's keepalive settings default to values
// derived from the timeout (the conninfo's own win). Connects, then creates or migrates the tables
// (upgrade()). Throws StorageFailure naming the server (password hidden) when it cannot connect, or
// when the database's caboose schema is newer than this caboose knows.
[[nodiscard]] std::unique_ptr<Backend> make_postgres_backend(const std::string& conninfo,
                                                             PostgresOptions options = {});

// `conninfo` with any password replaced by "***", for messages.
[[nodiscard]] std::string redact_conninfo(const std::string& conninfo);

}  // namespace caboose::persistence
