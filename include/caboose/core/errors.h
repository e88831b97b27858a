// The errors caboose itself reports. Every one derives from caboose::Error and is named after
// the TaskFlow exception a TaskFlow user would catch in the same place (taskflow/exceptions.py).
// Errors are values: copyable, thread-safe to read.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace caboose {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Storage (persistence) is unreachable, refused a write, or holds something unreadable.
class StorageFailure : public Error {
 public:
  using Error::Error;
};
class ConductorFailure : public Error {
 public:
  using Error::Error;
};
class JobFailure : public Error {
 public:
  using Error::Error;
};
// A job that cannot be claimed: missing, already claimed, or not yet claimable.
class UnclaimableJob : public JobFailure {
 public:
  using JobFailure::JobFailure;
};
// A write carried a claim token older than the newest one seen (fencing).
class StaleClaim : public Error {
 public:
  using Error::Error;
};
// Running something failed for a reason outside the task itself (executor, worker lost).
class ExecutionFailure : public Error {
 public:
  using Error::Error;
};
class RequestTimeout : public ExecutionFailure {
 public:
  using ExecutionFailure::ExecutionFailure;
};
// A state machine was asked for a transition it does not allow.
class InvalidState : public Error {
 public:
  using Error::Error;
};
// Flow structure problems: cycles, unsatisfiable or ambiguous requirements.
class DependencyFailure : public Error {
 public:
  using Error::Error;
};
class AmbiguousDependency : public DependencyFailure {
 public:
  using DependencyFailure::DependencyFailure;
};
// Names the atom (or flow) and the arguments no provider can satisfy.
class MissingDependencies : public DependencyFailure {
 public:
  MissingDependencies(std::string who, std::vector<std::string> missing, std::string method);
  const std::string& who() const { return who_; }
  const std::vector<std::string>& missing() const { return missing_; }
  const std::string& method() const { return method_; }

 private:
  std::string who_;
  std::vector<std::string> missing_;
  std::string method_;
};
class CompilationFailure : public Error {
 public:
  using Error::Error;
};
class IncompatibleVersion : public Error {
 public:
  using Error::Error;
};
class Duplicate : public Error {
 public:
  using Error::Error;
};
class NotFound : public Error {
 public:
  using Error::Error;
};
class Empty : public Error {
 public:
  using Error::Error;
};
class MultipleChoices : public Error {
 public:
  using Error::Error;
};
// Data that does not follow its format (a malformed dict, posting, row or URI).
class InvalidFormat : public Error {
 public:
  using Error::Error;
};
// Reading an atom's result while its state forbids it (as TaskFlow's DisallowedAccess).
class DisallowedAccess : public Error {
 public:
  using Error::Error;
};
// A caller passed an argument that can never be right (bad option, bad name).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};
class NotImplemented : public Error {
 public:
  using Error::Error;
};

}  // namespace caboose
