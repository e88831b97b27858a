#include "caboose/core/failure.h"

#include <cxxabi.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>

namespace caboose {
namespace {

// The common root of every failure's type names in the format shared with TaskFlow (whose
// readers require the last name to be "Exception" or "BaseException").
constexpr std::string_view kRoot = "Exception";
constexpr int kFormatVersion = 1;

struct Probe {
  const std::type_info& type;
  bool (*is)(const std::exception*);
};

template <class T>
Probe probe() {
  return {typeid(T), [](const std::exception* e) { return dynamic_cast<const T*>(e) != nullptr; }};
}

// Known bases, most derived first within each family, so the names read as a lineage.
const std::vector<Probe>& probes() {
  static const std::vector<Probe> table = {
      probe<UnclaimableJob>(),
      probe<JobFailure>(),
      probe<RequestTimeout>(),
      probe<ExecutionFailure>(),
      probe<AmbiguousDependency>(),
      probe<MissingDependencies>(),
      probe<DependencyFailure>(),
      probe<WrappedFailure>(),
      probe<StorageFailure>(),
      probe<ConductorFailure>(),
      probe<StaleClaim>(),
      probe<InvalidState>(),
      probe<CompilationFailure>(),
      probe<IncompatibleVersion>(),
      probe<Duplicate>(),
      probe<NotFound>(),
      probe<Empty>(),
      probe<MultipleChoices>(),
      probe<InvalidFormat>(),
      probe<DisallowedAccess>(),
      probe<InvalidArgument>(),
      probe<NotImplemented>(),
      probe<Error>(),
      probe<std::system_error>(),
      probe<std::range_error>(),
      probe<std::overflow_error>(),
      probe<std::underflow_error>(),
      probe<std::runtime_error>(),
      probe<std::invalid_argument>(),
      probe<std::domain_error>(),
      probe<std::length_error>(),
      probe<std::out_of_range>(),
      probe<std::logic_error>(),
      probe<std::bad_alloc>(),
      probe<std::bad_cast>(),
      probe<std::exception>(),
  };
  return table;
}

std::vector<std::string> lineage(const std::exception& e) {
  std::vector<std::string> names{Failure::type_name_of(typeid(e))};
  for (const Probe& p : probes()) {
    if (p.is(&e)) {
      std::string name = Failure::type_name_of(p.type);
      if (name != names.front()) {
        names.push_back(std::move(name));
      }
    }
  }
  names.emplace_back(kRoot);
  return names;
}

[[noreturn]] void bad(const std::string& what) {
  throw InvalidFormat("invalid failure dict: " + what);
}

std::string join_names(const std::vector<Failure>& failures) {
  std::string text = "WrappedFailure: [";
  for (std::size_t i = 0; i < failures.size(); ++i) {
    text += (i == 0 ? "" : ", ") + failures[i].to_string();
  }
  return text + "]";
}

}  // namespace

std::string Failure::type_name_of(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

Failure::Failure(std::vector<std::string> type_names, std::string message, Value args,
                 std::string traceback, std::vector<Failure> causes)
    : data_(std::make_shared<const Data>(Data{std::move(type_names), std::move(message),
                                              std::move(args), std::move(traceback),
                                              std::move(causes), nullptr})) {}

Failure Failure::capture(std::exception_ptr error) {
  if (!error) {
    throw InvalidArgument("Failure::capture needs an exception (none is being handled)");
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::vector<Failure> causes;
    if (const auto* nested = dynamic_cast<const std::nested_exception*>(&e)) {
      if (std::exception_ptr cause = nested->nested_ptr()) {
        causes.push_back(capture(cause));
      }
    }
    return Failure(std::make_shared<const Data>(
        Data{lineage(e), e.what(), Value::array({e.what()}), {}, std::move(causes), error}));
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    std::string name = type != nullptr ? type_name_of(*type) : "unknown";
    return Failure(std::make_shared<const Data>(Data{
        {name, std::string(kRoot)}, "exception of type " + name, Value::array(), {}, {}, error}));
  }
}

Failure Failure::from_dict(const Value& dict) {
  if (!dict.is_object()) {
    bad("expected an object, got " + std::string(dict.type_name()));
  }
  static const std::set<std::string> kKeys = {"exception_str", "traceback_str", "exc_type_names",
                                              "version",       "exc_args",      "causes"};
  for (const auto& [key, _] : dict.items()) {
    if (kKeys.count(key) == 0) {
      bad("unknown key '" + key + "'");
    }
  }
  const auto version = dict.find("version");
  if (version == dict.end() || !version->is_number_integer() || *version != kFormatVersion) {
    bad("version must be 1");
  }
  const auto message = dict.find("exception_str");
  if (message == dict.end() || !message->is_string()) {
    bad("exception_str must be a string");
  }
  const auto names = dict.find("exc_type_names");
  if (names == dict.end() || !names->is_array() || names->empty()) {
    bad("exc_type_names must be a non-empty array");
  }
  std::vector<std::string> type_names;
  for (const Value& name : *names) {
    if (!name.is_string()) {
      bad("exc_type_names must hold strings");
    }
    type_names.push_back(name.get<std::string>());
  }
  std::string traceback;
  if (const auto tb = dict.find("traceback_str"); tb != dict.end() && !tb->is_null()) {
    if (!tb->is_string()) {
      bad("traceback_str must be a string");
    }
    traceback = tb->get<std::string>();
  }
  Value args = Value::array();
  if (const auto a = dict.find("exc_args"); a != dict.end() && !a->is_null()) {
    if (!a->is_array()) {
      bad("exc_args must be an array");
    }
    args = *a;
  }
  std::vector<Failure> causes;
  if (const auto c = dict.find("causes"); c != dict.end() && !c->is_null()) {
    if (!c->is_array()) {
      bad("causes must be an array");
    }
    for (const Value& cause : *c) {
      causes.push_back(from_dict(cause));
    }
  }
  return Failure(std::move(type_names), message->get<std::string>(), std::move(args),
                 std::move(traceback), std::move(causes));
}

Value Failure::to_dict() const {
  Value causes = Value::array();
  for (const Failure& cause : data_->causes) {
    causes.push_back(cause.to_dict());
  }
  return Value{{"exception_str", data_->message},
               {"traceback_str", data_->traceback},
               {"exc_type_names", data_->type_names},
               {"version", kFormatVersion},
               {"exc_args", data_->args},
               {"causes", std::move(causes)}};
}

bool Failure::check(std::string_view type_name) const {
  for (const std::string& name : data_->type_names) {
    if (name == type_name) {
      return true;
    }
  }
  return false;
}

bool Failure::matches(const Failure& other) const {
  return data_ == other.data_ ||
         (data_->type_names == other.data_->type_names && data_->message == other.data_->message &&
          data_->args == other.data_->args);
}

bool Failure::operator==(const Failure& other) const {
  return matches(other) && data_->traceback == other.data_->traceback &&
         data_->causes == other.data_->causes;
}

void Failure::reraise() const {
  if (data_->exception) {
    std::rethrow_exception(data_->exception);
  }
  throw WrappedFailure({*this});
}

void Failure::reraise_if_any(const std::vector<Failure>& failures) {
  if (failures.size() == 1) {
    failures.front().reraise();
  }
  if (failures.size() > 1) {
    throw WrappedFailure(failures);
  }
}

std::string Failure::to_string() const {
  return "Failure: " + (data_->type_names.empty() ? std::string("?") : data_->type_names.front()) +
         ": " + data_->message;
}

WrappedFailure::WrappedFailure(std::vector<Failure> failures)
    : Error(join_names(failures)), failures_(std::move(failures)) {}

const Failure* WrappedFailure::find(std::string_view type_name) const {
  for (const Failure& f : failures_) {
    if (f.check(type_name)) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace caboose
