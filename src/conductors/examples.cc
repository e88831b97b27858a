#include "caboose/conductors/examples.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/core/errors.h"
#include "caboose/patterns/linear_flow.h"

namespace caboose::conductors {
namespace {

std::int64_t kwarg_int(const Value& kwargs, const char* name, std::int64_t fallback,
                       std::int64_t low, std::int64_t high) {
  if (!kwargs.contains(name)) {
    return fallback;
  }
  const Value& v = kwargs.at(name);
  if (!v.is_number_integer() || v.get<std::int64_t>() < low || v.get<std::int64_t>() > high) {
    throw InvalidArgument(
        fmt::format("kwarg '{}' must be an integer in [{}, {}]", name, low, high));
  }
  return v.get<std::int64_t>();
}

Value add(const Value& x, const Value& y) {
  if (!x.is_number() || !y.is_number()) {
    throw InvalidArgument("sum: x and y must be numbers");
  }
  if (x.is_number_integer() && y.is_number_integer()) {
    return x.get<std::int64_t>() + y.get<std::int64_t>();
  }
  return x.get<double>() + y.get<double>();
}

// Creates `path`; true if this call created it.
bool create_marker(const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      return false;
    }
    throw ExecutionFailure(
        fmt::format("crash_once: cannot create {}: {}", path, std::strerror(errno)));
  }
  ::fsync(fd);
  ::close(fd);
  return true;
}

}  // namespace

void add_example_flows(FlowRegistry& registry) {
  registry.add(
      "caboose.examples.sum",
      [](const Value&, const Value&) -> FlowPtr {
        auto flow = linear_flow("sum");
        flow->add(task("sum", add, {.args = {"x", "y"}, .provides = "total"}));
        return flow;
      },
      "one task: total = x + y (from the store)");
  registry.add(
      "caboose.examples.noop",
      [](const Value&, const Value&) -> FlowPtr {
        auto flow = linear_flow("noop");
        flow->add(task("noop", [] {}, {}));
        return flow;
      },
      "one task that does nothing");
  registry.add(
      "caboose.examples.poison",
      [](const Value&, const Value&) -> FlowPtr {
        auto flow = linear_flow("poison");
        flow->add(task(
            "poison",
            []() -> Value { throw ExecutionFailure("poison: this task fails on every attempt"); },
            {}));
        return flow;
      },
      "one task that always fails (retried until its attempts run out, then trashed)");
  registry.add(
      "caboose.examples.slow",
      [](const Value&, const Value& kwargs) -> FlowPtr {
        const std::int64_t tasks = kwarg_int(kwargs, "tasks", 3, 1, 10000);
        const std::int64_t ms = kwarg_int(kwargs, "ms", 100, 0, 3600000);
        auto flow = linear_flow("slow");
        for (std::int64_t i = 1; i <= tasks; ++i) {
          flow->add(task(fmt::format("sleep-{}", i),
                         [ms] { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }, {}));
        }
        return flow;
      },
      "kwargs tasks=N ms=M: N tasks that each sleep M milliseconds");
  registry.add(
      "caboose.examples.crash_once",
      [](const Value&, const Value& kwargs) -> FlowPtr {
        if (!kwargs.contains("marker") || !kwargs.at("marker").is_string() ||
            kwargs.at("marker").get_ref<const std::string&>().empty()) {
          throw InvalidArgument("crash_once needs kwarg 'marker': a file path");
        }
        const std::string marker = kwargs.at("marker").get<std::string>();
        auto flow = linear_flow("crash_once");
        flow->add(task("before", [] { return 1; }, {.provides = "before"}));
        flow->add(task("crash",
                       [marker] {
                         if (create_marker(marker)) {
                           ::kill(::getpid(), SIGKILL);
                         }
                         return 2;
                       },
                       {.provides = "crash"}));
        flow->add(task("after", [](int a, int b) { return a + b; },
                       {.args = {"before", "crash"}, .provides = "after"}));
        return flow;
      },
      "kwargs marker=PATH: kills its conductor (SIGKILL) once, then completes");
}

}  // namespace caboose::conductors
