// Failure: an exception captured as a value, as TaskFlow's taskflow.types.failure.Failure.
// It keeps the exception's type names (most derived first, ending with "Exception", the
// common root in the format TaskFlow shares), its message, its arguments and its nested
// causes (std::nested_exception chains), and, while in the capturing process, the exception
// itself so reraise() throws the original. It round-trips through TaskFlow's failure dict
// (exception_str, traceback_str, exc_type_names, version, exc_args, causes). Immutable value
// sharing its state: copying costs a reference count, and an optional<Failure> stays small.
#pragma once

#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "caboose/core/errors.h"
#include "caboose/core/value.h"

namespace caboose {

class Failure {
 public:
  // Captures `error` (by default the exception being handled). Must be called with a
  // non-null exception pointer.
  [[nodiscard]] static Failure capture(std::exception_ptr error = std::current_exception());
  // Reads TaskFlow's failure dict. Throws InvalidFormat naming the bad field; accepts what
  // TaskFlow 5.0.0 writes and nothing it would refuse (unknown keys, version != 1).
  [[nodiscard]] static Failure from_dict(const Value& dict);

  Failure(std::vector<std::string> type_names, std::string message, Value args = Value::array(),
          std::string traceback = {}, std::vector<Failure> causes = {});

  [[nodiscard]] Value to_dict() const;

  const std::vector<std::string>& exception_type_names() const { return data_->type_names; }
  const std::string& exception_str() const { return data_->message; }
  const Value& exception_args() const { return data_->args; }
  const std::string& traceback_str() const { return data_->traceback; }
  const std::vector<Failure>& causes() const { return data_->causes; }
  // The captured exception, or null for a failure read from a dict.
  const std::exception_ptr& exception() const { return data_->exception; }

  // True if any of the type names equals `type_name` (e.g. "caboose::NotFound", "OSError").
  bool check(std::string_view type_name) const;
  // True if this failure was captured from (or, read from a dict, names) an E.
  template <class E>
  bool check() const {
    return check(type_name_of(typeid(E)));
  }
  // Same type names, message and arguments; traceback and causes are not compared (as
  // TaskFlow's Failure.matches).
  bool matches(const Failure& other) const;
  // Compares every field of the dict form (as TaskFlow's Failure.__eq__).
  bool operator==(const Failure& other) const;

  // Throws the captured exception, or a WrappedFailure holding this failure.
  [[noreturn]] void reraise() const;
  // No failures: returns. One: reraise() it. Several: throws a WrappedFailure of all.
  static void reraise_if_any(const std::vector<Failure>& failures);

  // "Failure: <type>: <message>", as TaskFlow prints a failure.
  std::string to_string() const;
  // The demangled name of a type ("caboose::NotFound", "std::runtime_error").
  static std::string type_name_of(const std::type_info& type);

 private:
  struct Data {
    std::vector<std::string> type_names;
    std::string message;
    Value args;
    std::string traceback;
    std::vector<Failure> causes;
    std::exception_ptr exception;
  };
  explicit Failure(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

  std::shared_ptr<const Data> data_;  // never null
};

using FailureMap = std::map<std::string, Failure>;

// Several failures at once, raised by an engine whose run collected more than one
// (as TaskFlow's WrappedFailure).
class WrappedFailure : public Error {
 public:
  explicit WrappedFailure(std::vector<Failure> failures);
  const std::vector<Failure>& failures() const { return failures_; }
  // The first failure of type E (by name), or null.
  const Failure* find(std::string_view type_name) const;

 private:
  std::vector<Failure> failures_;
};

}  // namespace caboose
