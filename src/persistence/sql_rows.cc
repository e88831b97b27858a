#include "persistence/sql_rows.h"

#include <ctime>

#include <fmt/format.h>

#include "caboose/core/civil_time.h"
#include "caboose/core/errors.h"

#include "persistence/json_text.h"

namespace caboose::persistence::detail {
namespace {

Value json(const Column& column, const std::string& what) {
  return column ? parse_stored_json(*column, what) : Value();
}

Value text(const Column& column) {
  return column ? Value(*column) : Value();
}

}  // namespace

LogBook book_from_row(const BookRow& row) {
  const std::string what = fmt::format("logbook {}", row.uuid);
  Value meta = json(row.meta, what + " meta");
  Value dict{{"name", row.name},
             {"uuid", row.uuid},
             {"meta", meta.is_null() ? Value::object() : std::move(meta)},
             {"created_at", text(row.created_at)},
             {"updated_at", text(row.updated_at)}};
  return LogBook::from_dict(dict);
}

FlowDetail flow_from_row(const FlowRow& row) {
  Value meta = json(row.meta, fmt::format("flow detail {} meta", row.uuid));
  Value dict{{"name", row.name},
             {"uuid", row.uuid},
             {"state", text(row.state)},
             {"meta", meta.is_null() ? Value::object() : std::move(meta)}};
  return FlowDetail::from_dict(dict);
}

AtomDetail atom_from_row(const AtomRow& row) {
  const auto column = [&](const Column& c, const char* field) {
    return json(c, fmt::format("atom detail {} column {}", row.uuid, field));
  };
  Value meta = column(row.meta, "meta");
  Value dict{{"name", row.name},
             {"uuid", row.uuid},
             {"state", text(row.state)},
             {"intention", row.intention ? Value(*row.intention) : Value("EXECUTE")},
             {"results", column(row.results, "results")},
             {"failure", column(row.failure, "failure")},
             {"revert_results", column(row.revert_results, "revert_results")},
             {"revert_failure", column(row.revert_failure, "revert_failure")},
             {"meta", meta.is_null() ? Value::object() : std::move(meta)},
             {"version", text(row.version)}};
  const std::string type = row.atom_type.value_or("TASK_DETAIL");
  AtomDetailKind kind = AtomDetailKind::kTask;
  try {
    kind = parse_atom_detail_kind(type);
  } catch (const Error&) {
    throw InvalidFormat(
        fmt::format("atom detail {} has an unknown atom_type '{}'", row.uuid, type));
  }
  return AtomDetail::from_dict(dict, kind);
}

Column json_column(const Value& value, bool null_as_sql_null) {
  if (value.is_null() && null_as_sql_null) {
    return std::nullopt;
  }
  return python_json(value);
}

Value failure_value(const std::optional<Failure>& failure) {
  return failure ? failure->to_dict() : Value();
}

std::string sql_time(std::chrono::system_clock::time_point at) {
  const auto micros = std::chrono::time_point_cast<std::chrono::microseconds>(at);
  const CivilTime c = to_civil_time(micros);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, c.microsecond);
}

std::string sql_now() {
  return sql_time(std::chrono::system_clock::now());
}

Column sql_time(const std::optional<Timestamp>& at) {
  if (!at) {
    return std::nullopt;
  }
  return sql_time(std::chrono::system_clock::time_point(at->time_since_epoch()));
}

}  // namespace caboose::persistence::detail
