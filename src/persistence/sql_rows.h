// What the SQL backends share: TaskFlow's rows as text columns, turned into the model and
// back. A JSON column is NULL (SQLite's None) or JSON text (PostgreSQL's None is 'null');
// both read as null.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "caboose/persistence/models.h"

namespace caboose::persistence::detail {

using Column = std::optional<std::string>;  // nullopt: SQL NULL

struct BookRow {
  std::string name, uuid;
  Column meta, created_at, updated_at;
};
struct FlowRow {
  std::string name, uuid;
  Column state, meta;
};
struct AtomRow {
  std::string name, uuid;
  Column state, intention, results, failure, revert_results, revert_failure, meta, version,
      atom_type;
};

// Throw InvalidFormat naming the record and the column that is not what TaskFlow writes.
LogBook book_from_row(const BookRow& row);
FlowDetail flow_from_row(const FlowRow& row);
AtomDetail atom_from_row(const AtomRow& row);

// A JSON column's text: NULL for null when `null_as_sql_null` (SQLite), else "null".
Column json_column(const Value& value, bool null_as_sql_null);
// A failure column's value (the failure dict, or null).
Value failure_value(const std::optional<Failure>& failure);
// Naive UTC "YYYY-MM-DD HH:MM:SS.ffffff", as SQLAlchemy writes DATETIME.
std::string sql_time(std::chrono::system_clock::time_point at);
std::string sql_now();
Column sql_time(const std::optional<Timestamp>& at);

}  // namespace caboose::persistence::detail
