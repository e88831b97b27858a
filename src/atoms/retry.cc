#include "caboose/atoms/retry.h"

#include <algorithm>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {

std::string_view to_string(RetryDecision decision) {
  switch (decision) {
    case RetryDecision::kRetry:
      return "RETRY";
    case RetryDecision::kRevert:
      return "REVERT";
    case RetryDecision::kRevertAll:
      return "REVERT_ALL";
  }
  return "?";
}

std::vector<Value> RetryHistory::provided() const {
  std::vector<Value> values;
  values.reserve(attempts.size());
  for (const RetryAttempt& a : attempts) {
    values.push_back(a.result);
  }
  return values;
}

bool RetryHistory::caused_by(std::string_view type_name, bool include_retry) const {
  for (const RetryAttempt& a : attempts) {
    for (const auto& [atom, f] : a.failures) {
      if (f.check(type_name)) {
        return true;
      }
    }
  }
  return include_retry && failure && failure->check(type_name);
}

Value Retry::revert(const RetryHistory& /*history*/, const Value& /*args*/,
                    const FailureMap& /*flow_failures*/) {
  return nullptr;
}

namespace {

RetryDecision give_up(bool revert_all) {
  return revert_all ? RetryDecision::kRevertAll : RetryDecision::kRevert;
}

class Times final : public Retry {
 public:
  Times(std::string name, std::size_t attempts, AtomOptions options, bool revert_all)
      : Retry(std::move(name), std::move(options)), attempts_(attempts), revert_all_(revert_all) {}
  RetryDecision on_failure(const RetryHistory& history, const Value&) override {
    return history.size() < attempts_ ? RetryDecision::kRetry : give_up(revert_all_);
  }
  Value execute(const RetryHistory& history, const Value&) override { return history.size() + 1; }

 private:
  std::size_t attempts_;
  bool revert_all_;
};

// The first of `values` not yet tried, or nullopt.
// The first value not yet tried, each attempt crossing out one equal value (a value listed
// twice is tried twice), as TaskFlow's sequence_minus.
std::optional<Value> next_value(const Value& values, const RetryHistory& history) {
  std::vector<const Value*> remaining;
  remaining.reserve(values.size());
  for (const Value& v : values) {
    remaining.push_back(&v);
  }
  for (const Value& tried : history.provided()) {
    auto it = std::find_if(remaining.begin(), remaining.end(),
                           [&](const Value* v) { return *v == tried; });
    if (it != remaining.end()) {
      remaining.erase(it);
    }
  }
  if (remaining.empty()) {
    return std::nullopt;
  }
  return *remaining.front();
}

class ForEachBase : public Retry {
 protected:
  ForEachBase(std::string name, AtomOptions options, bool revert_all)
      : Retry(std::move(name), std::move(options)), revert_all_(revert_all) {}
  RetryDecision decide(const Value& values, const RetryHistory& history) const {
    return next_value(values, history) ? RetryDecision::kRetry : give_up(revert_all_);
  }
  Value next(const Value& values, const RetryHistory& history) const {
    if (!values.is_array()) {
      throw InvalidArgument(
          fmt::format("retry '{}' needs an array of values, got {}", name(), values.dump()));
    }
    if (auto v = next_value(values, history)) {
      return *v;
    }
    throw NotFound(
        fmt::format("No elements left in collection of iterable retry controller {}", name()));
  }

 private:
  bool revert_all_;
};

class ForEach final : public ForEachBase {
 public:
  ForEach(std::string name, Value values, AtomOptions options, bool revert_all)
      : ForEachBase(std::move(name), std::move(options), revert_all), values_(std::move(values)) {
    if (!values_.is_array()) {
      throw InvalidArgument(fmt::format("for_each retry '{}' needs an array of values, got {}",
                                        this->name(), values_.dump()));
    }
  }
  RetryDecision on_failure(const RetryHistory& history, const Value&) override {
    return decide(values_, history);
  }
  Value execute(const RetryHistory& history, const Value&) override {
    return next(values_, history);
  }

 private:
  Value values_;
};

AtomOptions with_values_arg(AtomOptions options) {
  if (std::find(options.args.begin(), options.args.end(), "values") == options.args.end()) {
    options.args.insert(options.args.begin(), "values");
  }
  return options;
}

class ParameterizedForEach final : public ForEachBase {
 public:
  ParameterizedForEach(std::string name, AtomOptions options, bool revert_all)
      : ForEachBase(std::move(name), with_values_arg(std::move(options)), revert_all) {}
  RetryDecision on_failure(const RetryHistory& history, const Value& args) override {
    return decide(args.value("values", Value::array()), history);
  }
  Value execute(const RetryHistory& history, const Value& args) override {
    return next(args.value("values", Value()), history);
  }
};

class FunctorRetry final : public Retry {
 public:
  FunctorRetry(std::string name, RetryDecideFunction decide, RetryExecuteFunction execute,
               AtomOptions options)
      : Retry(std::move(name), std::move(options)),
        decide_(std::move(decide)),
        execute_(std::move(execute)) {
    if (!decide_) {
      throw InvalidArgument(fmt::format("retry '{}' needs an on_failure function", this->name()));
    }
  }
  RetryDecision on_failure(const RetryHistory& history, const Value& args) override {
    return decide_(history, args);
  }
  Value execute(const RetryHistory& history, const Value& args) override {
    return execute_ ? execute_(history, args) : Value();
  }

 private:
  RetryDecideFunction decide_;
  RetryExecuteFunction execute_;
};

}  // namespace

RetryPtr times(std::string name, std::size_t attempts, AtomOptions options, bool revert_all) {
  return std::make_unique<Times>(std::move(name), attempts, std::move(options), revert_all);
}

RetryPtr for_each(std::string name, Value values, AtomOptions options, bool revert_all) {
  return std::make_unique<ForEach>(std::move(name), std::move(values), std::move(options),
                                   revert_all);
}

RetryPtr parameterized_for_each(std::string name, AtomOptions options, bool revert_all) {
  return std::make_unique<ParameterizedForEach>(std::move(name), std::move(options), revert_all);
}

RetryPtr always_revert(std::string name, AtomOptions options) {
  return retry(
      std::move(name), [](const RetryHistory&, const Value&) { return RetryDecision::kRevert; },
      nullptr, std::move(options));
}

RetryPtr always_revert_all(std::string name, AtomOptions options) {
  return retry(
      std::move(name), [](const RetryHistory&, const Value&) { return RetryDecision::kRevertAll; },
      nullptr, std::move(options));
}

RetryPtr retry(std::string name, RetryDecideFunction on_failure, RetryExecuteFunction execute,
               AtomOptions options) {
  return std::make_unique<FunctorRetry>(std::move(name), std::move(on_failure), std::move(execute),
                                        std::move(options));
}

}  // namespace caboose
