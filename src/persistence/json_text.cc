#include "persistence/json_text.h"

#include <limits>

#include <fmt/format.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

namespace caboose::persistence::detail {
namespace {

void write(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::value_t::array: {
      out += '[';
      bool first = true;
      for (const Value& item : v) {
        if (!first) {
          out += ", ";
        }
        first = false;
        write(item, out);
      }
      out += ']';
      return;
    }
    case Value::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) {
          out += ", ";
        }
        first = false;
        out += Value(key).dump(-1, ' ', /*ensure_ascii=*/true);
        out += ": ";
        write(item, out);
      }
      out += '}';
      return;
    }
    case Value::value_t::number_float: {
      const double d = v.get<double>();
      if (d != d) {
        out += "NaN";  // as Python's json module writes it
      } else if (d == std::numeric_limits<double>::infinity()) {
        out += "Infinity";
      } else if (d == -std::numeric_limits<double>::infinity()) {
        out += "-Infinity";
      } else {
        out += v.dump();
      }
      return;
    }
    default:
      out += v.dump(-1, ' ', /*ensure_ascii=*/true);
  }
}

}  // namespace

std::string python_json(const Value& value) {
  std::string out;
  write(value, out);
  return out;
}

Value parse_stored_json(const std::string& text, const std::string& what) {
  return decode_json(text, what, kRecordLimits);
}

std::string atom_record(const AtomDetail& atom) {
  return python_json(Value{{"atom", atom.to_dict()}, {"type", std::string(to_string(atom.kind))}});
}

AtomDetail parse_atom_record(const std::string& text, const std::string& what) {
  const Value record = parse_stored_json(text, what);
  if (!record.is_object() || !record.contains("atom") || !record.contains("type") ||
      !record["type"].is_string()) {
    throw InvalidFormat(fmt::format("{} is not an {{\"atom\", \"type\"}} record", what));
  }
  AtomDetailKind kind = AtomDetailKind::kTask;
  try {
    kind = parse_atom_detail_kind(record["type"].get<std::string>());
  } catch (const Error&) {
    throw InvalidFormat(fmt::format("{} has an unknown type {}", what, record["type"].dump()));
  }
  return AtomDetail::from_dict(record["atom"], kind);
}

}  // namespace caboose::persistence::detail
