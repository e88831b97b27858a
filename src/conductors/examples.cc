#include "caboose/conductors/examples.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <sqlite3.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/conductors/conductor.h"
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

// Records one effect in the ledger at `path` (a SQLite file outside the system under test):
// which job's atom ran under which claim, in which process, when. The ledger is fenced as any
// store a task writes to should be: an effect under a claim older than one that already
// recorded an effect of the job is refused (noted in `refused`, and StaleClaim thrown), so a
// holder resumed after its job was taken over changes nothing there either.
void record_effect(const std::string& path, const Value& claim, const std::string& atom) {
  sqlite3* raw = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  if (opened != SQLITE_OK) {
    throw ExecutionFailure(fmt::format("ledger: cannot open {}: {}", path,
                                       raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 30000);
  const std::string job = claim.at("job_uuid").get<std::string>();
  const std::int64_t token = claim.at("token").get<std::int64_t>();
  const std::int64_t at_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  auto exec = [&](const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw ExecutionFailure(fmt::format("ledger: cannot record in {}: {}", path, message));
    }
  };
  exec(
      "CREATE TABLE IF NOT EXISTS effects (job_uuid TEXT NOT NULL, atom TEXT NOT NULL, "
      "token INTEGER NOT NULL, attempt INTEGER NOT NULL, conductor TEXT NOT NULL, "
      "pid INTEGER NOT NULL, at_us INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS refused (job_uuid TEXT NOT NULL, atom TEXT NOT NULL, "
      "token INTEGER NOT NULL, conductor TEXT NOT NULL, pid INTEGER NOT NULL, "
      "at_us INTEGER NOT NULL);");
  // One statement, so one transaction: the check and the insert are atomic.
  exec(fmt::format(
      "INSERT INTO effects SELECT '{0}', '{1}', {2}, {3}, '{4}', {5}, {6} WHERE NOT EXISTS "
      "(SELECT 1 FROM effects WHERE job_uuid = '{0}' AND token > {2});",
      job, atom, token, claim.at("attempt").get<std::int64_t>(),
      claim.at("conductor").get<std::string>(), ::getpid(), at_us));
  if (sqlite3_changes(db.get()) == 0) {
    exec(fmt::format("INSERT INTO refused VALUES ('{}', '{}', {}, '{}', {}, {});", job, atom, token,
                     claim.at("conductor").get<std::string>(), ::getpid(), at_us));
    throw StaleClaim(fmt::format(
        "ledger: effect of job {} atom {} under claim token {} refused: a newer claim recorded one",
        job, atom, token));
  }
}

// Names in the ledger's SQL come from job data: only plain characters are accepted.
bool plain(const std::string& text) {
  return !text.empty() && text.find_first_not_of(
                              "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == std::string::npos;
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
      "caboose.examples.ledger",
      [](const Value&, const Value& kwargs) -> FlowPtr {
        if (!kwargs.contains("ledger") || !kwargs.at("ledger").is_string() ||
            kwargs.at("ledger").get_ref<const std::string&>().empty()) {
          throw InvalidArgument("ledger needs kwarg 'ledger': a SQLite file path");
        }
        const std::string ledger = kwargs.at("ledger").get<std::string>();
        const std::int64_t tasks = kwarg_int(kwargs, "tasks", 3, 1, 1000);
        const std::int64_t ms = kwarg_int(kwargs, "ms", 20, 0, 3600000);
        const std::int64_t pad = kwarg_int(kwargs, "pad", 0, 0, 1 << 20);
        std::string kill_atom;
        std::int64_t kill_attempt = 0;
        if (kwargs.contains("kill_at")) {
          const Value& at = kwargs.at("kill_at");
          if (!at.is_object() || !at.contains("atom") || !at.at("atom").is_string()) {
            throw InvalidArgument("ledger: kill_at must be {\"atom\": name, \"attempt\": k}");
          }
          kill_atom = at.at("atom").get<std::string>();
          kill_attempt = kwarg_int(at, "attempt", 1, 1, 1000);
        }
        auto flow = linear_flow("ledger");
        for (std::int64_t i = 1; i <= tasks; ++i) {
          const std::string name = fmt::format("step-{}", i);
          flow->add(task(
              name,
              [=](const Value& claim) {
                if (!claim.is_object() || !plain(claim.value("job_uuid", std::string())) ||
                    !plain(claim.value("conductor", std::string()))) {
                  throw InvalidArgument("ledger: no usable claim to record");
                }
                record_effect(ledger, claim, name);
                if (name == kill_atom && claim.at("attempt").get<std::int64_t>() == kill_attempt) {
                  ::kill(::getpid(), SIGKILL);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                Value id = claim.at("job_uuid").get<std::string>() + "/" + name;
                if (pad > 0) {  // a bigger result to store
                  return Value{{"id", std::move(id)},
                               {"pad", std::string(static_cast<std::size_t>(pad), 'x')}};
                }
                return id;
              },
              {.args = {std::string(kClaimSymbol)}, .provides = name}));
        }
        return flow;
      },
      "kwargs ledger=PATH tasks=N ms=M [kill_at]: N tasks recording effects in a ledger");
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
