// The persistence model, as taskflow.persistence.models: a LogBook holds FlowDetails, a
// FlowDetail holds the AtomDetails (TaskDetail or RetryDetail) of one flow run. These are
// plain values: they copy, compare with == and hold no connection. Each converts to and from
// TaskFlow's dict form (to_dict / from_dict), byte-compatible with what Python TaskFlow
// stores, and merges as TaskFlow merges (merge: take the other's fields, keep our identity).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/failure.h"
#include "caboose/core/states.h"
#include "caboose/core/value.h"

namespace caboose::persistence {

using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

enum class AtomDetailKind { kTask, kRetry };
std::string_view to_string(AtomDetailKind kind);  // "TASK_DETAIL" / "RETRY_DETAIL"
AtomDetailKind parse_atom_detail_kind(std::string_view text);

struct AtomDetail {
  AtomDetailKind kind = AtomDetailKind::kTask;
  std::string name;
  std::string uuid;
  AtomState state = AtomState::kPending;
  Intention intention = Intention::kExecute;
  Value results;                          // null until set; a retry's history (an array)
  std::optional<Failure> failure;         // what execute raised
  Value revert_results;                   // null until set
  std::optional<Failure> revert_failure;  // what revert raised
  Value meta = Value::object();
  std::optional<std::string> version;  // "1.0"; null for the injector

  // TaskFlow's AtomDetail.to_dict() (the kind is not part of it).
  Value to_dict() const;
  // Throws InvalidFormat naming the bad field.
  static AtomDetail from_dict(const Value& dict, AtomDetailKind kind);
  // Takes every field of `other` except name, uuid and kind.
  void merge(const AtomDetail& other);
  bool operator==(const AtomDetail&) const = default;
};

struct FlowDetail {
  std::string name;
  std::string uuid;
  std::optional<FlowState> state;  // null until an engine first runs it
  Value meta = Value::object();
  std::vector<AtomDetail> atoms;  // in the order they were added

  // TaskFlow's FlowDetail.to_dict(): name, meta, state, uuid (no atoms).
  Value to_dict() const;
  static FlowDetail from_dict(const Value& dict);
  // Takes name, state and meta of `other`, and merges its atoms by uuid (adding new ones).
  void merge(const FlowDetail& other);
  AtomDetail* find(std::string_view atom_uuid);
  const AtomDetail* find(std::string_view atom_uuid) const;
  AtomDetail* find_by_name(std::string_view atom_name);
  const AtomDetail* find_by_name(std::string_view atom_name) const;
  bool operator==(const FlowDetail&) const = default;
};

struct LogBook {
  std::string name;
  std::string uuid;
  Value meta = Value::object();
  std::optional<Timestamp> created_at;
  std::optional<Timestamp> updated_at;
  std::vector<FlowDetail> flows;

  // TaskFlow's LogBook.to_dict(marshal_time): datetimes as "YYYY-MM-DDTHH:MM:SS.ffffff"
  // strings, or, marshalled, as {"day", "month", "year", "hour", "minute", "second",
  // "microsecond"} objects (the dir:// and ZooKeeper form). No flows.
  Value to_dict(bool marshal_time = false) const;
  static LogBook from_dict(const Value& dict);
  // Takes name, meta and updated_at of `other`, and merges its flows by uuid.
  void merge(const LogBook& other);
  FlowDetail* find(std::string_view flow_uuid);
  const FlowDetail* find(std::string_view flow_uuid) const;
  bool operator==(const LogBook&) const = default;
};

// New values with fresh uuids.
[[nodiscard]] LogBook make_logbook(std::string name);
[[nodiscard]] FlowDetail make_flow_detail(std::string name);

}  // namespace caboose::persistence
