#include "caboose/persistence/models.h"

#include <cstdio>
#include <ctime>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/civil_time.h"
#include "caboose/core/clock.h"
#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

namespace caboose::persistence {
namespace {

[[noreturn]] void bad(std::string_view what, std::string_view field, std::string_view why) {
  throw InvalidFormat(fmt::format("invalid {} dict: '{}' {}", what, field, why));
}

const Value& require(const Value& dict, std::string_view what, const char* field) {
  const auto it = dict.find(field);
  if (it == dict.end()) {
    bad(what, field, "is missing");
  }
  return *it;
}

std::string require_string(const Value& dict, std::string_view what, const char* field) {
  const Value& v = require(dict, what, field);
  if (!v.is_string()) {
    bad(what, field, "must be a string");
  }
  return v.get<std::string>();
}

Value object_or_empty(const Value& dict, std::string_view what, const char* field) {
  const auto it = dict.find(field);
  if (it == dict.end() || it->is_null()) {
    return Value::object();
  }
  if (!it->is_object()) {
    bad(what, field, "must be an object");
  }
  return *it;
}

std::optional<Failure> failure_or_null(const Value& dict, std::string_view what,
                                       const char* field) {
  const auto it = dict.find(field);
  if (it == dict.end() || it->is_null()) {
    return std::nullopt;
  }
  try {
    return Failure::from_dict(*it);
  } catch (const InvalidFormat& e) {
    bad(what, field, e.what());
  }
}

Value failure_to_dict(const std::optional<Failure>& failure) {
  return failure ? failure->to_dict() : Value();
}

// "YYYY-MM-DDTHH:MM:SS.ffffff" (UTC), as datetime.isoformat() for TaskFlow's naive UTC times.
std::string format_time(Timestamp t) {
  const CivilTime c = to_civil_time(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, c.microsecond);
}

Timestamp from_parts(const CivilTime& parts, const char* field) {
  if (const std::optional<Timestamp> t = from_civil_time(parts)) {
    return *t;
  }
  bad("logbook", field,
      fmt::format("is not a datetime Python can hold: {}-{}-{} {}:{}:{}.{}", parts.year,
                  parts.month, parts.day, parts.hour, parts.minute, parts.second,
                  parts.microsecond));
}

Value marshal_time(Timestamp t) {
  const CivilTime c = to_civil_time(t);
  return Value{{"day", c.day},
               {"month", c.month},
               {"year", c.year},
               {"hour", c.hour},
               {"minute", c.minute},
               {"second", c.second},
               {"microsecond", c.microsecond}};
}

std::optional<Timestamp> parse_time(const Value& dict, const char* field) {
  const auto it = dict.find(field);
  if (it == dict.end() || it->is_null()) {
    return std::nullopt;
  }
  if (it->is_object()) {
    const auto part = [&](const char* name) -> std::int64_t {
      const auto p = it->find(name);
      if (p == it->end() || !p->is_number_integer()) {
        bad("logbook", field, fmt::format("has no integer '{}'", name));
      }
      return p->get<std::int64_t>();
    };
    return from_parts({.year = part("year"),
                       .month = part("month"),
                       .day = part("day"),
                       .hour = part("hour"),
                       .minute = part("minute"),
                       .second = part("second"),
                       .microsecond = part("microsecond")},
                      field);
  }
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    char sep = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s,
                    &consumed) == 7 &&
        (sep == 'T' || sep == ' ')) {
      std::int64_t micro = 0;
      if (static_cast<std::size_t>(consumed) < text.size() && text[consumed] == '.') {
        // Up to six digits, as Python writes them (".5" is half a second).
        std::int64_t scale = 100'000;
        for (std::size_t i = consumed + 1; i < text.size() && scale > 0; ++i, scale /= 10) {
          if (text[i] < '0' || text[i] > '9') {
            bad("logbook", field, "has a fraction of a second that is not digits");
          }
          micro += (text[i] - '0') * scale;
        }
      }
      return from_parts({.year = y,
                         .month = mo,
                         .day = d,
                         .hour = h,
                         .minute = mi,
                         .second = s,
                         .microsecond = micro},
                        field);
    }
  }
  bad("logbook", field, "must be a datetime");
}

}  // namespace

std::string_view to_string(AtomDetailKind kind) {
  return kind == AtomDetailKind::kTask ? "TASK_DETAIL" : "RETRY_DETAIL";
}

AtomDetailKind parse_atom_detail_kind(std::string_view text) {
  if (text == "TASK_DETAIL") {
    return AtomDetailKind::kTask;
  }
  if (text == "RETRY_DETAIL") {
    return AtomDetailKind::kRetry;
  }
  throw InvalidFormat(fmt::format("unknown atom detail type '{}'", text));
}

Value AtomDetail::to_dict() const {
  return Value{{"failure", failure_to_dict(failure)},
               {"revert_failure", failure_to_dict(revert_failure)},
               {"meta", meta},
               {"name", name},
               {"results", results},
               {"revert_results", revert_results},
               {"state", to_string(state)},
               {"version", version ? Value(*version) : Value()},
               {"intention", to_string(intention)},
               {"uuid", uuid}};
}

AtomDetail AtomDetail::from_dict(const Value& dict, AtomDetailKind kind) {
  constexpr std::string_view kWhat = "atom detail";
  if (!dict.is_object()) {
    throw InvalidFormat("invalid atom detail dict: not an object");
  }
  AtomDetail d;
  d.kind = kind;
  d.name = require_string(dict, kWhat, "name");
  d.uuid = require_string(dict, kWhat, "uuid");
  // Runs `parse` on one field, reporting any error against that field.
  const auto field = [&](const char* field_name, auto parse) {
    try {
      parse();
    } catch (const nlohmann::json::exception& e) {
      bad(kWhat, field_name, e.what());
    } catch (const InvalidFormat& e) {
      bad(kWhat, field_name, e.what());
    }
  };
  field("state", [&] {
    const Value& text = require(dict, kWhat, "state");
    d.state = text.is_null() ? AtomState::kPending : parse_atom_state(text.get<std::string>());
  });
  field("intention", [&] {
    const auto text = dict.find("intention");
    d.intention = text == dict.end() || text->is_null() ? Intention::kExecute
                                                        : parse_intention(text->get<std::string>());
  });
  d.results = dict.value("results", Value());
  d.revert_results = dict.value("revert_results", Value());
  d.failure = failure_or_null(dict, kWhat, "failure");
  d.revert_failure = failure_or_null(dict, kWhat, "revert_failure");
  d.meta = object_or_empty(dict, kWhat, "meta");
  if (const auto v = dict.find("version"); v != dict.end() && !v->is_null()) {
    if (!v->is_string()) {
      bad(kWhat, "version", "must be a string");
    }
    d.version = v->get<std::string>();
  }
  if (kind == AtomDetailKind::kRetry && d.results.is_null()) {
    d.results = Value::array();  // an empty history is [] (never null)
  }
  return d;
}

void AtomDetail::merge(const AtomDetail& other) {
  state = other.state;
  intention = other.intention;
  results = other.results;
  failure = other.failure;
  revert_results = other.revert_results;
  revert_failure = other.revert_failure;
  meta = other.meta;
  version = other.version;
}

Value FlowDetail::to_dict() const {
  return Value{{"name", name},
               {"meta", meta},
               {"state", state ? Value(std::string(to_string(*state))) : Value()},
               {"uuid", uuid}};
}

FlowDetail FlowDetail::from_dict(const Value& dict) {
  constexpr std::string_view kWhat = "flow detail";
  if (!dict.is_object()) {
    throw InvalidFormat("invalid flow detail dict: not an object");
  }
  FlowDetail d;
  d.name = require_string(dict, kWhat, "name");
  d.uuid = require_string(dict, kWhat, "uuid");
  d.meta = object_or_empty(dict, kWhat, "meta");
  if (const auto s = dict.find("state"); s != dict.end() && !s->is_null()) {
    if (!s->is_string()) {
      bad(kWhat, "state", "must be a string");
    }
    try {
      d.state = parse_flow_state(s->get<std::string>());
    } catch (const InvalidFormat& e) {
      bad(kWhat, "state", e.what());
    }
  }
  return d;
}

void FlowDetail::merge(const FlowDetail& other) {
  name = other.name;
  state = other.state;
  meta = other.meta;
  for (const AtomDetail& atom : other.atoms) {
    if (AtomDetail* mine = find(atom.uuid)) {
      mine->merge(atom);
    } else {
      atoms.push_back(atom);
    }
  }
}

AtomDetail* FlowDetail::find(std::string_view atom_uuid) {
  for (AtomDetail& a : atoms) {
    if (a.uuid == atom_uuid) {
      return &a;
    }
  }
  return nullptr;
}

const AtomDetail* FlowDetail::find(std::string_view atom_uuid) const {
  return const_cast<FlowDetail*>(this)->find(atom_uuid);
}

AtomDetail* FlowDetail::find_by_name(std::string_view atom_name) {
  for (AtomDetail& a : atoms) {
    if (a.name == atom_name) {
      return &a;
    }
  }
  return nullptr;
}

const AtomDetail* FlowDetail::find_by_name(std::string_view atom_name) const {
  return const_cast<FlowDetail*>(this)->find_by_name(atom_name);
}

Value LogBook::to_dict(bool marshal) const {
  auto time = [&](const std::optional<Timestamp>& t) -> Value {
    if (!t) {
      return Value();
    }
    return marshal ? marshal_time(*t) : Value(format_time(*t));
  };
  return Value{{"name", name},
               {"meta", meta},
               {"uuid", uuid},
               {"updated_at", time(updated_at)},
               {"created_at", time(created_at)}};
}

LogBook LogBook::from_dict(const Value& dict) {
  constexpr std::string_view kWhat = "logbook";
  if (!dict.is_object()) {
    throw InvalidFormat("invalid logbook dict: not an object");
  }
  LogBook b;
  b.name = require_string(dict, kWhat, "name");
  b.uuid = require_string(dict, kWhat, "uuid");
  b.meta = object_or_empty(dict, kWhat, "meta");
  b.created_at = parse_time(dict, "created_at");
  b.updated_at = parse_time(dict, "updated_at");
  return b;
}

void LogBook::merge(const LogBook& other) {
  name = other.name;
  meta = other.meta;
  if (other.updated_at) {
    updated_at = other.updated_at;
  }
  if (!created_at) {
    created_at = other.created_at;
  }
  for (const FlowDetail& flow : other.flows) {
    if (FlowDetail* mine = find(flow.uuid)) {
      mine->merge(flow);
    } else {
      flows.push_back(flow);
    }
  }
}

FlowDetail* LogBook::find(std::string_view flow_uuid) {
  for (FlowDetail& f : flows) {
    if (f.uuid == flow_uuid) {
      return &f;
    }
  }
  return nullptr;
}

const FlowDetail* LogBook::find(std::string_view flow_uuid) const {
  return const_cast<LogBook*>(this)->find(flow_uuid);
}

LogBook make_logbook(std::string name) {
  LogBook book;
  book.name = std::move(name);
  book.uuid = make_uuid();
  book.created_at = std::chrono::time_point_cast<std::chrono::microseconds>(system_clock().wall());
  return book;
}

FlowDetail make_flow_detail(std::string name) {
  FlowDetail flow;
  flow.name = std::move(name);
  flow.uuid = make_uuid();
  return flow;
}

}  // namespace caboose::persistence
