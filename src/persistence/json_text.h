// JSON text as Python TaskFlow writes it into SQL columns and files (json.dumps defaults, as
// oslo's jsonutils.dumps): ", " between items, ": " after keys, non-ASCII escaped as \uXXXX.
// Keys come in the order Value holds them (sorted), where Python keeps insertion order; readers
// of either side do not depend on it.
#pragma once

#include <string>

#include "caboose/core/value.h"
#include "caboose/persistence/models.h"

namespace caboose::persistence::detail {
std::string python_json(const Value& value);
// Parses JSON text read from storage; InvalidFormat naming `what` if it is not JSON or is over
// kRecordLimits (caboose/core/decode.h).
Value parse_stored_json(const std::string& text, const std::string& what);

// A path-based backend's atom record, as TaskFlow's base._format_atom: {"atom": the atom's dict,
// "type": "TASK_DETAIL" | "RETRY_DETAIL"}, as JSON text.
std::string atom_record(const AtomDetail& atom);
// Reads one back; InvalidFormat naming `what` when it is not such a record.
AtomDetail parse_atom_record(const std::string& text, const std::string& what);
}  // namespace caboose::persistence::detail
