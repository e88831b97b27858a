// Retry: an atom that controls the flow it is attached to, as taskflow.retry.Retry. It runs
// before the flow's items; when an atom of that flow fails, the engine asks the innermost
// retry what to do (on_failure): RETRY the flow (revert it, run the retry's execute() again,
// then the flow), REVERT the flow and let the enclosing retry decide, or REVERT_ALL the whole
// run. Each execution's result and the failures seen during it form the retry's history,
// stored in its atom detail as TaskFlow stores it ([[result, {atom: failure dict}], ...]).
//
//   auto flow = caboose::linear_flow("charge", caboose::times("try-3", 3));
//   flow->add(caboose::task("charge", charge_card, {.args = {"card"}}));
//
// The strategies TaskFlow ships are here: times(), for_each(), parameterized_for_each(),
// always_revert(), always_revert_all(); retry() makes one from functions.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caboose/atoms/atom.h"

namespace caboose {

enum class RetryDecision { kRetry, kRevert, kRevertAll };
// "RETRY", "REVERT", "REVERT_ALL" (TaskFlow's decision names).
std::string_view to_string(RetryDecision decision);

// One execution of a retry: what execute() returned and the failures (atom name -> failure)
// seen while that attempt ran.
struct RetryAttempt {
  Value result;
  FailureMap failures;
  bool operator==(const RetryAttempt&) const = default;
};

// A retry's history, oldest attempt first, as taskflow.retry.History.
struct RetryHistory {
  std::vector<RetryAttempt> attempts;
  std::optional<Failure> failure;  // the retry's own failure (its execute raised), if any

  std::size_t size() const { return attempts.size(); }
  bool empty() const { return attempts.empty(); }
  const RetryAttempt& operator[](std::size_t i) const { return attempts[i]; }
  // The values tried so far, in order (provided_iter).
  std::vector<Value> provided() const;
  // Whether some failure of the attempts (or of the retry itself, with include_retry) has
  // `type_name` among its exception type names.
  bool caused_by(std::string_view type_name, bool include_retry = false) const;
  bool operator==(const RetryHistory&) const = default;
};

class Retry : public Atom {
 public:
  AtomKind kind() const final { return AtomKind::kRetry; }
  // What to do about a failure in the controlled flow. `history` holds every attempt so far,
  // the last one with the failure that triggered this call; `args` are the retry's arguments.
  virtual RetryDecision on_failure(const RetryHistory& history, const Value& args) = 0;
  // Runs before each attempt of the flow; its result is appended to the history and is what
  // the retry provides.
  virtual Value execute(const RetryHistory& history, const Value& args) = 0;
  // Runs when the controlled flow is reverted for good. The default does nothing.
  virtual Value revert(const RetryHistory& history, const Value& args,
                       const FailureMap& flow_failures);

 protected:
  Retry(std::string name, AtomOptions options) : Atom(std::move(name), std::move(options)) {}
};

using RetryPtr = std::unique_ptr<Retry>;

// Retries the flow until it has run `attempts` times, then reverts it (or, with
// revert_all, the whole run). Provides the attempt number (1, 2, ...).
[[nodiscard]] RetryPtr times(std::string name, std::size_t attempts, AtomOptions options = {},
                             bool revert_all = false);
// Runs the flow once per value not yet tried (in order), providing the value; reverts when
// none is left. InvalidArgument if `values` is not an array.
[[nodiscard]] RetryPtr for_each(std::string name, Value values, AtomOptions options = {},
                                bool revert_all = false);
// As for_each, with the values read from the argument named "values" (rebind it to read
// another stored name).
[[nodiscard]] RetryPtr parameterized_for_each(std::string name, AtomOptions options = {},
                                              bool revert_all = false);
// Never retries: the flow is reverted and the enclosing retry decides.
[[nodiscard]] RetryPtr always_revert(std::string name, AtomOptions options = {});
// Never retries: the whole run is reverted.
[[nodiscard]] RetryPtr always_revert_all(std::string name, AtomOptions options = {});

using RetryDecideFunction =
    std::function<RetryDecision(const RetryHistory& history, const Value& args)>;
using RetryExecuteFunction = std::function<Value(const RetryHistory& history, const Value& args)>;
// A retry from functions; a null `execute` returns null.
[[nodiscard]] RetryPtr retry(std::string name, RetryDecideFunction on_failure,
                             RetryExecuteFunction execute = nullptr, AtomOptions options = {});

}  // namespace caboose
