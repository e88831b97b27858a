// A SQLite connection for caboose's stores (the sqlite:// persistence backend and jobboard):
// opened in WAL mode with a busy timeout, statements prepared once and cached, and
// BEGIN IMMEDIATE transactions, so many processes can share one file. Not thread-safe: the
// owner serialises calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <sqlite3.h>

#include "caboose/core/errors.h"

namespace caboose::detail {

// For an I/O error, a full disk or a file SQLite could not open on `db`, which call failed (the
// extended result code) and, when SQLite kept it, the errno's text: " (SQLITE_IOERR_FSYNC)",
// " (SQLITE_CANTOPEN: No such file or directory)"; else "". (The unix VFS often keeps no errno:
// sqlite3_system_errno() is 0 after a failed pwrite or fdatasync in SQLite 3.40.)
inline std::string sqlite_errno_text(sqlite3* db) {
  const int extended = sqlite3_extended_errcode(db);
  const int code = extended & 0xff;
  if (code != SQLITE_IOERR && code != SQLITE_FULL && code != SQLITE_CANTOPEN) {
    return "";
  }
  static constexpr std::pair<int, const char*> kNames[] = {
      {SQLITE_IOERR, "SQLITE_IOERR"},
      {SQLITE_IOERR_READ, "SQLITE_IOERR_READ"},
      {SQLITE_IOERR_SHORT_READ, "SQLITE_IOERR_SHORT_READ"},
      {SQLITE_IOERR_WRITE, "SQLITE_IOERR_WRITE"},
      {SQLITE_IOERR_FSYNC, "SQLITE_IOERR_FSYNC"},
      {SQLITE_IOERR_DIR_FSYNC, "SQLITE_IOERR_DIR_FSYNC"},
      {SQLITE_IOERR_TRUNCATE, "SQLITE_IOERR_TRUNCATE"},
      {SQLITE_IOERR_FSTAT, "SQLITE_IOERR_FSTAT"},
      {SQLITE_IOERR_UNLOCK, "SQLITE_IOERR_UNLOCK"},
      {SQLITE_IOERR_RDLOCK, "SQLITE_IOERR_RDLOCK"},
      {SQLITE_IOERR_DELETE, "SQLITE_IOERR_DELETE"},
      {SQLITE_IOERR_ACCESS, "SQLITE_IOERR_ACCESS"},
      {SQLITE_IOERR_LOCK, "SQLITE_IOERR_LOCK"},
      {SQLITE_IOERR_CLOSE, "SQLITE_IOERR_CLOSE"},
      {SQLITE_IOERR_SHMOPEN, "SQLITE_IOERR_SHMOPEN"},
      {SQLITE_IOERR_SHMSIZE, "SQLITE_IOERR_SHMSIZE"},
      {SQLITE_IOERR_SHMMAP, "SQLITE_IOERR_SHMMAP"},
      {SQLITE_IOERR_SEEK, "SQLITE_IOERR_SEEK"},
      {SQLITE_IOERR_MMAP, "SQLITE_IOERR_MMAP"},
      {SQLITE_FULL, "SQLITE_FULL"},
      {SQLITE_CANTOPEN, "SQLITE_CANTOPEN"},
  };
  std::string name = fmt::format("SQLite code {}", extended);
  for (const auto& [value, text] : kNames) {
    if (value == extended) {
      name = text;
    }
  }
  if (const int system = sqlite3_system_errno(db); system != 0) {
    return fmt::format(" ({}: {})", name, std::strerror(system));
  }
  return fmt::format(" ({})", name);
}

// SQLite's message for the last error on `db`, and for an I/O error which call failed: "disk I/O
// error (SQLITE_IOERR_WRITE)".
inline std::string sqlite_error(sqlite3* db) {
  return sqlite3_errmsg(db) + sqlite_errno_text(db);
}

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::string& where) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
      throw StorageFailure(
          fmt::format("{}: cannot prepare '{}': {}", where, sql, sqlite_error(db)));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a prepared statement: binds, steps, reads columns, and resets when done.
class Query {
 public:
  Query(sqlite3_stmt* stmt, std::string where) : stmt_(stmt), where_(std::move(where)) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view text) {
    check(sqlite3_bind_text(stmt_, ++index_, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Query& bind(const std::string& text) { return bind(std::string_view(text)); }
  Query& bind(const char* text) { return bind(std::string_view(text)); }
  Query& bind(const std::optional<std::string>& text) {
    if (!text) {
      check(sqlite3_bind_null(stmt_, ++index_));
      return *this;
    }
    return bind(std::string_view(*text));
  }
  Query& bind(std::optional<std::int64_t> n) {
    if (!n) {
      check(sqlite3_bind_null(stmt_, ++index_));
      return *this;
    }
    return bind(*n);
  }
  Query& bind(std::int64_t n) {
    check(sqlite3_bind_int64(stmt_, ++index_, n));
    return *this;
  }
  // Steps once: true while a row is there.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    throw StorageFailure(fmt::format("{}: {}", where_, sqlite_error(sqlite3_db_handle(stmt_))));
  }
  void run() {
    while (step()) {
    }
  }
  bool is_null(int column) { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string text(int column) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, column));
  }
  std::optional<std::string> optional_text(int column) {
    if (is_null(column)) {
      return std::nullopt;
    }
    return text(column);
  }
  std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) {
      throw StorageFailure(fmt::format("{}: {}", where_, sqlite_error(sqlite3_db_handle(stmt_))));
    }
  }
  sqlite3_stmt* stmt_;
  std::string where_;
  int index_ = 0;
};

class SqliteDb {
 public:
  // Opens (creating) `path` (":memory:" for a private database). Throws StorageFailure naming
  // the path.
  SqliteDb(std::string path, bool full_sync, std::chrono::milliseconds busy_timeout);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void close();
  // Throws StorageFailure when closed.
  void require_open() const;
  void exec(const char* sql);
  // The cached prepared statement for `sql`.
  sqlite3_stmt* stmt(const std::string& sql);
  // "SQLite database '<path>': <op>", for messages.
  std::string where(std::string_view op) const;
  bool table_exists(const char* table);
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }

  // BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
  class Transaction {
   public:
    explicit Transaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
    ~Transaction() {
      if (!done_) {
        sqlite3_exec(db_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
      db_.exec("COMMIT");
      done_ = true;
    }

   private:
    SqliteDb& db_;
    bool done_ = false;
  };

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, std::unique_ptr<Statement>> statements_;
};

}  // namespace caboose::detail
