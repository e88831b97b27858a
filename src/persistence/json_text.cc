#include "persistence/json_text.h"

#include <limits>

#include <fmt/format.h>

#include "caboose/core/decode.h"

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

}  // namespace caboose::persistence::detail
