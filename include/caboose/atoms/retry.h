// Retry: an atom that controls the flow it is attached to, as taskflow.retry.Retry. When an
// atom of that flow fails, the engine asks the innermost retry what to do (on_failure):
// RETRY the flow (revert it, run the retry's execute() again, then the flow), REVERT the flow
// and let the enclosing retry decide, or REVERT_ALL the whole run. Each execution's result and
// the failures seen during it form the retry's history, stored in its atom detail.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "caboose/atoms/atom.h"

namespace caboose {

enum class RetryDecision { kRetry, kRevert, kRevertAll };

// One entry per execution of a retry, oldest first: what execute() returned and the failures
// (atom name -> failure) seen while that attempt ran.
struct RetryAttempt {
  Value result;
  FailureMap failures;
  bool operator==(const RetryAttempt&) const = default;
};
using RetryHistory = std::vector<RetryAttempt>;

class Retry : public Atom {
 public:
  AtomKind kind() const final { return AtomKind::kRetry; }
  // What to do about a failure in the controlled flow; `history` holds every attempt so far.
  virtual RetryDecision on_failure(const RetryHistory& history) = 0;
  // Runs before each attempt of the flow; its result is stored and provided.
  virtual Value execute(const RetryHistory& history, const Value& args) = 0;
  // Runs when the controlled flow is reverted for good. The default does nothing.
  virtual Value revert(const RetryHistory& history, const Value& args);

 protected:
  Retry(std::string name, AtomOptions options) : Atom(std::move(name), std::move(options)) {}
};

}  // namespace caboose
