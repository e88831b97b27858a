#include "persistence/sqlite/sqlite_db.h"

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::detail {

SqliteDb::SqliteDb(std::string path, bool full_sync, std::chrono::milliseconds busy_timeout)
    : path_(std::move(path)) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string why = db_ != nullptr ? sqlite_error(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StorageFailure(fmt::format("cannot open SQLite database '{}': {}", path_, why));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
  try {
    if (path_ != ":memory:") {
      exec("PRAGMA journal_mode=WAL");
    }
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  } catch (...) {
    close();
    throw;
  }
}

SqliteDb::~SqliteDb() {
  close();
}

void SqliteDb::close() {
  statements_.clear();
  if (db_ != nullptr) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
}

void SqliteDb::require_open() const {
  if (db_ == nullptr) {
    throw StorageFailure(fmt::format("SQLite database '{}' is closed", path_));
  }
}

void SqliteDb::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why =
        (error != nullptr ? std::string(error) : sqlite3_errmsg(db_)) + sqlite_errno_text(db_);
    sqlite3_free(error);
    throw StorageFailure(fmt::format("SQLite database '{}': {}", path_, why));
  }
}

sqlite3_stmt* SqliteDb::stmt(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<Statement>(db_, sql, where("prepare"))).first;
  }
  return it->second->get();
}

std::string SqliteDb::where(std::string_view op) const {
  return fmt::format("SQLite database '{}': {}", path_, op);
}

bool SqliteDb::table_exists(const char* table) {
  Query q(stmt("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"), where("schema"));
  q.bind(std::string_view(table));
  return q.step();
}

}  // namespace caboose::detail
