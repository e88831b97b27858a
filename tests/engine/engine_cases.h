// What the engine tests share: a fixture parameterized over the executors, so every behaviour
// case runs on the serial and the parallel engine, and atoms shaped like TaskFlow's test
// utilities (taskflow/tests/utils.py), so ported cases read as the originals.
#pragma once

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/atoms/retry.h"
#include "caboose/engine/engine.h"
#include "caboose/engine/listeners.h"

namespace caboose::engine {
// Test names and failure messages show "Serial" / "Parallel".
inline void PrintTo(ExecutorKind kind, std::ostream* out) {
  *out << (kind == ExecutorKind::kSerial ? "Serial" : "Parallel");
}
}  // namespace caboose::engine

namespace caboose::engine::testing {

inline std::string executor_name(const ::testing::TestParamInfo<ExecutorKind>& info) {
  return info.param == ExecutorKind::kSerial ? "Serial" : "Parallel";
}

class EngineCase : public ::testing::TestWithParam<ExecutorKind> {
 protected:
  std::unique_ptr<Engine> make_engine(FlowPtr flow, LoadOptions options = {}) {
    options.options.executor = GetParam();
    if (GetParam() == ExecutorKind::kParallel && options.options.max_workers == 0) {
      options.options.max_workers = 4;  // more workers than cores: interleavings happen
    }
    return load(std::move(flow), std::move(options));
  }
};

// Instantiates a TEST_P suite derived from EngineCase on both executors.
#define CABOOSE_ON_EVERY_ENGINE(Suite)                                                    \
  INSTANTIATE_TEST_SUITE_P(Engines, Suite,                                                \
                           ::testing::Values(::caboose::engine::ExecutorKind::kSerial,    \
                                             ::caboose::engine::ExecutorKind::kParallel), \
                           ::caboose::engine::testing::executor_name)

inline Value no_revert(const Value&, const Outcome&, const FailureMap&) {
  return Value();
}

// Returns 5 (ProgressingTask).
inline AtomPtr progressing(std::string name, AtomOptions options = {}) {
  return task(
      std::move(name), [] { return 5; }, std::move(options), no_revert);
}

// Returns nothing (TaskNoRequiresNoReturns).
inline AtomPtr no_op(std::string name, AtomOptions options = {}) {
  return task(
      std::move(name), [] {}, std::move(options), no_revert);
}

// Raises RuntimeError('Woot!') (FailingTask).
inline AtomPtr failing(std::string name, AtomOptions options = {}) {
  return task(
      std::move(name), []() -> Value { throw std::runtime_error("Woot!"); }, std::move(options),
      no_revert);
}

// Raises 'Woot with <x>' (FailingTaskWithOneArg).
inline AtomPtr failing_with_arg(std::string name, AtomOptions options = {}) {
  options.args = {"x"};
  return task(
      std::move(name),
      [](const Value& x) -> Value { throw std::runtime_error("Woot with " + x.dump()); },
      std::move(options), no_revert);
}

// Fails with 'Woot!' unless x == y (ConditionalTask).
inline AtomPtr conditional(std::string name, AtomOptions options = {}) {
  options.args = {"x", "y"};
  return task(
      std::move(name),
      [](const Value& x, const Value& y) {
        if (x != y) {
          throw std::runtime_error("Woot!");
        }
      },
      std::move(options), no_revert);
}

// Succeeds, and its revert raises 'Gotcha!' (NastyTask).
inline AtomPtr nasty(std::string name, AtomOptions options = {}) {
  return task(
      std::move(name), [] {}, std::move(options),
      [](const Value&, const Outcome&, const FailureMap&) -> Value {
        throw std::runtime_error("Gotcha!");
      });
}

// Provides 1 and always reverts (OneReturnRetry).
inline RetryPtr one_return_retry(std::string name, AtomOptions options = {}) {
  return retry(
      std::move(name), [](const RetryHistory&, const Value&) { return RetryDecision::kRevert; },
      [](const RetryHistory&, const Value&) { return Value(1); }, std::move(options));
}

// Runs `engine` with a capturing listener; returns the lines it captured. The run's exception,
// if any, goes to `error` (its what()); with no `error`, an exception fails the test.
inline std::vector<std::string> run_captured(Engine& engine, std::string* error = nullptr,
                                             CapturingListener::Options options = {}) {
  CapturingListener capture(engine, std::move(options));
  try {
    engine.run();
  } catch (const std::exception& e) {
    if (error == nullptr) {
      ADD_FAILURE() << "unexpected failure: " << e.what();
    } else {
      *error = e.what();
    }
  }
  return capture.values();
}

// The failure text CapturingListener shows for a std::runtime_error.
inline std::string woot(const std::string& message = "Woot!") {
  return "Failure: std::runtime_error: " + message;
}

}  // namespace caboose::engine::testing
