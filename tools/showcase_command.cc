#include "showcase_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/conductors/flow_registry.h"
#include "caboose/conductors/post.h"
#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

extern char** environ;

namespace caboose::cli {
namespace {

using jobs::Job;

struct Posted {
  Job job;
  std::string factory;
  std::string flow_uuid;
  std::string expect;  // "consumed" or "trashed"
};

// One conductor process, its standard output read through a pipe.
struct Child {
  std::string name;
  pid_t pid = -1;
  int out = -1;
  std::string pending;  // a partial line
  int restarts = 0;
};

void spawn(Child& child, const std::string& self, const std::vector<std::string>& args,
           const std::string& log_path) {
  int fds[2];
  if (::pipe(fds) != 0) {
    throw Error("cannot create a pipe for a conductor process");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  std::vector<std::string> argv = {self};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& a : argv) {
    raw.push_back(a.data());
  }
  raw.push_back(nullptr);
  const int rc = posix_spawn(&child.pid, self.c_str(), &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw Error(fmt::format("cannot start a conductor process: {}", std::strerror(rc)));
  }
  child.out = fds[0];
}

std::string self_path() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error("cannot find the caboose binary (/proc/self/exe)");
  }
  return p.string();
}

}  // namespace

int run_showcase(std::ostream& out, const ShowcaseOptions& options) {
  std::string dir = options.dir;
  if (dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "caboose-showcase-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error("cannot create a temporary directory");
    }
    dir = pattern;
  }
  std::filesystem::create_directories(dir);
  const std::string board_uri = "sqlite:///" + dir + "/board.db?lease_ms=1500&max_attempts=3";
  const std::string flows_uri = "sqlite:///" + dir + "/flows.db";
  auto board = jobs::fetch_jobboard(board_uri);
  auto backend = persistence::fetch(flows_uri);

  // The batch, posted as a TaskFlow poster does: a logbook with one flow detail naming the
  // factory, then a job pointing at it.
  std::vector<Posted> posted;
  auto post = [&](const std::string& name, conductors::FactoryCall factory, Value store,
                  const std::string& expect) {
    const std::string factory_name = factory.name;
    const Job job = conductors::post_flow_job(
        *board, *backend, {.name = name, .factory = std::move(factory), .store = std::move(store)});
    posted.push_back({job, factory_name, job.details.at("flow_uuid").get<std::string>(), expect});
  };
  for (int i = 1; i <= 8; ++i) {
    post(fmt::format("sum-{}", i), {.name = "caboose.examples.sum"}, Value{{"x", i}, {"y", 10 * i}},
         "consumed");
  }
  post("slow", {.name = "caboose.examples.slow", .kwargs = {{"tasks", 3}, {"ms", 200}}}, nullptr,
       "consumed");
  post("poison", {.name = "caboose.examples.poison"}, nullptr, "trashed");
  post("crash-once",
       {.name = "caboose.examples.crash_once", .kwargs = {{"marker", dir + "/crash.marker"}}},
       nullptr, "consumed");
  if (!options.json) {
    out << fmt::format("posted {} jobs on {} (flows in {})\n", posted.size(), board_uri, flows_uri);
  }

  const std::string self = self_path();
  std::vector<Child> children(2);
  auto start = [&](Child& child) {
    spawn(child, self,
          {"conductor", "--board", board_uri, "--persistence", flows_uri, "--name", child.name,
           "--events", "--drain", "--backoff-ms", "200", "--wait-ms", "100"},
          dir + "/" + child.name + ".log");
  };
  for (std::size_t i = 0; i < children.size(); ++i) {
    children[i].name = fmt::format("conductor-{}", i + 1);
    start(children[i]);
  }

  std::map<std::string, std::vector<Value>> events;  // job uuid -> its events, in order
  std::map<std::string, std::string> names;
  for (const Posted& p : posted) {
    names[p.job.uuid] = p.job.name;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::size_t running = children.size();
  while (running > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      for (Child& c : children) {
        if (c.pid > 0) {
          ::kill(c.pid, SIGTERM);
        }
      }
      throw Error("the showcase did not finish within 5 minutes");
    }
    std::vector<pollfd> fds;
    for (Child& c : children) {
      fds.push_back({c.out, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 1000);
    for (std::size_t i = 0; i < children.size(); ++i) {
      Child& c = children[i];
      if (c.out < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) {
        continue;
      }
      char buf[4096];
      const ssize_t n = ::read(c.out, buf, sizeof buf);
      if (n > 0) {
        c.pending.append(buf, static_cast<std::size_t>(n));
        for (auto nl = c.pending.find('\n'); nl != std::string::npos; nl = c.pending.find('\n')) {
          const std::string line = c.pending.substr(0, nl);
          c.pending.erase(0, nl + 1);
          Value e = Value::parse(line, nullptr, /*allow_exceptions=*/false);
          if (!e.is_object() || !e.contains("event")) {
            continue;
          }
          const std::string uuid = e.value("job_uuid", "");
          if (!options.json) {
            out << fmt::format(
                "  [{}] {:<10} {} (attempt {}){}\n", c.name,
                names.contains(uuid) ? names[uuid] : uuid, e["event"].get<std::string>().substr(4),
                e.value("attempt", std::int64_t{0}),
                e.contains("reason") ? ": " + e["reason"].get<std::string>() : std::string());
            out.flush();
          }
          events[uuid].push_back(std::move(e));
        }
        continue;
      }
      // EOF: the process ended.
      ::close(c.out);
      c.out = -1;
      int status = 0;
      ::waitpid(c.pid, &status, 0);
      c.pid = -1;
      if (WIFSIGNALED(status) && c.restarts == 0 && board->job_count() > 0) {
        if (!options.json) {
          out << fmt::format("  [{}] killed by signal {}; restarting it, as a supervisor would\n",
                             c.name, WTERMSIG(status));
        }
        ++c.restarts;
        start(c);
        continue;
      }
      --running;
    }
  }

  // What became of each job.
  const std::vector<Job> bin = board->trashed();
  Value summary = Value::array();
  int as_expected = 0;
  int consumed = 0;
  int resumed = 0;
  int trashed = 0;
  for (const Posted& p : posted) {
    const auto& es = events[p.job.uuid];
    std::string outcome =
        es.empty() ? "unfinished" : es.back()["event"].get<std::string>().substr(4);
    Value row{{"job", p.job.name}, {"factory", p.factory}, {"outcome", outcome}};
    row["attempts"] = es.empty() ? 0 : es.back().value("attempt", std::int64_t{0});
    const persistence::FlowDetail flow = backend->get_flow_details(p.flow_uuid);
    if (outcome == "consumed") {
      ++consumed;
      if (!flow.atoms.empty()) {
        row["result"] = flow.atoms.back().results;
      }
      if (row["attempts"].get<std::int64_t>() > 1) {
        ++resumed;
        row["resumed"] = true;
      }
    }
    for (const Job& j : bin) {
      if (j.uuid == p.job.uuid) {
        ++trashed;
        row["outcome"] = outcome = "trashed";
        row["attempts"] = j.attempts;
        row["reason"] = j.trash_reason.value_or("");
      }
    }
    as_expected += outcome == p.expect ? 1 : 0;
    summary.push_back(std::move(row));
  }
  const bool ok = as_expected == static_cast<int>(posted.size()) && board->job_count() == 0;
  if (options.json) {
    out << Value{{"jobs", summary},    {"consumed", consumed},
                 {"resumed", resumed}, {"trashed", trashed},
                 {"ok", ok},           {"dir", dir}}
               .dump(2)
        << "\n";
    return ok ? 0 : 1;
  }
  out << "\n"
      << fmt::format("{:<12} {:<28} {:<9} {:>8}  {}\n", "JOB", "FACTORY", "OUTCOME", "ATTEMPTS",
                     "RESULT / REASON");
  for (const Value& row : summary) {
    std::string detail;
    if (row.contains("reason")) {
      detail = row["reason"].get<std::string>();
    } else if (row.contains("result")) {
      detail = row["result"].dump();
      if (row.contains("resumed")) {
        detail += "  (resumed after its first conductor was killed)";
      }
    }
    out << fmt::format("{:<12} {:<28} {:<9} {:>8}  {}\n", row["job"].get<std::string>(),
                       row["factory"].get<std::string>(), row["outcome"].get<std::string>(),
                       row["attempts"].get<std::int64_t>(), detail);
  }
  out << fmt::format(
      "\n{} jobs: {} consumed ({} resumed after a crash), {} trashed with the reason; {}\n",
      posted.size(), consumed, resumed, trashed,
      ok ? "every job ended as it should" : "SOME JOBS DID NOT END AS THEY SHOULD");
  out << fmt::format("board, flows and conductor logs are in {}\n", dir);
  return ok ? 0 : 1;
}

}  // namespace caboose::cli
