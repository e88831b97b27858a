// Resuming after kill -9: a child process runs a long flow on SQLite or PostgreSQL and is SIGKILLed
// at a random moment; a new process loads the same flow detail and finishes the run. Every task the
// dead process had saved SUCCESS is never run again, and the results equal an uninterrupted run's.
// Repeated with different kill times on both engines.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"
#include "caboose/persistence/postgres_backend.h"
#include "caboose/persistence/sqlite_backend.h"

#include "support/postgres_server.h"

namespace caboose::engine {
namespace {

namespace fs = std::filesystem;

constexpr int kTasks = 120;

// Appends "<name>\n" to `log` (one write(2) on an O_APPEND file: whole lines even if killed).
void record(const std::string& log, const std::string& name) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  const std::string line = name + "\n";
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

// Two linear chains side by side; each task returns i * i and records that it ran.
FlowPtr make_flow(const std::string& log) {
  auto flow = unordered_flow("crashy");
  for (int chain = 0; chain < 2; ++chain) {
    auto lf = linear_flow("chain-" + std::to_string(chain));
    for (int i = chain; i < kTasks; i += 2) {
      const std::string name = "t" + std::to_string(i);
      lf->add(task(name,
                   [log, name, i] {
                     record(log, name);
                     std::this_thread::sleep_for(std::chrono::microseconds(200));
                     return i * i;
                   },
                   {.provides = "v" + std::to_string(i)}));
    }
    flow->add(std::move(lf));
  }
  return flow;
}

std::multiset<std::string> lines(const std::string& file) {
  std::multiset<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    out.insert(line);
  }
  return out;
}

struct Case {
  ExecutorKind executor;
  std::string backend;  // "sqlite" or "postgresql"
};

class CrashResume : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "caboose-crash-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  // A fresh store for one round: a SQLite file, or a new PostgreSQL database.
  std::string fresh_store(int round) {
    if (GetParam().backend == "postgresql") {
      return caboose::testing::PostgresServer::shared().create_database();
    }
    return (dir_ / ("run-" + std::to_string(round) + ".db")).string();
  }
  // Opens the store (in whichever process calls it: connections are never inherited).
  std::unique_ptr<persistence::Backend> open(const std::string& store) {
    if (GetParam().backend == "postgresql") {
      return persistence::make_postgres_backend(store);
    }
    return persistence::make_sqlite_backend(store);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_P(CrashResume, KilledRunResumesWithoutRerunningSavedTasks) {
  Value expected = Value::object();
  for (int i = 0; i < kTasks; ++i) {
    expected["v" + std::to_string(i)] = i * i;
  }
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::uniform_int_distribution<int> kill_after_ms(1, 40);
  for (int round = 0; round < 20; ++round) {
    const std::string db = fresh_store(round);
    const std::string first_log = (dir_ / ("first-" + std::to_string(round))).string();
    const std::string second_log = (dir_ / ("second-" + std::to_string(round))).string();
    persistence::LogBook book = persistence::make_logbook("crash");
    persistence::FlowDetail detail = persistence::make_flow_detail("crashy");
    book.flows.push_back(detail);
    open(db)->save_logbook(book);

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        auto backend = open(db);
        auto engine = load(make_flow(first_log), {.backend = backend.get(),
                                                  .flow_detail = detail,
                                                  .options = {.executor = GetParam().executor}});
        engine->run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "first run: %s\n", e.what());
        _exit(2);
      }
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms(random)));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "the first run failed";

    // What the dead process had saved as done.
    auto backend = open(db);
    std::set<std::string> saved_done;
    for (const persistence::AtomDetail& a : backend->get_flow_details(detail.uuid).atoms) {
      if (a.state == AtomState::kSuccess && a.name != "_TaskFlow_INJECTOR") {
        saved_done.insert(a.name);
      }
    }
    const auto ran_first = lines(first_log);
    for (const std::string& name : saved_done) {
      EXPECT_EQ(ran_first.count(name), 1u) << name << " saved SUCCESS without running once";
    }

    // A new process resumes.
    const pid_t resumer = fork();
    ASSERT_GE(resumer, 0);
    if (resumer == 0) {
      try {
        auto b = open(db);
        auto engine = load(make_flow(second_log), {.backend = b.get(),
                                                   .flow_detail = b->get_flow_details(detail.uuid),
                                                   .options = {.executor = GetParam().executor}});
        engine->run();
        _exit(engine->state() == FlowState::kSuccess ? 0 : 3);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "resumed run: %s\n", e.what());
        _exit(2);
      }
    }
    ASSERT_EQ(waitpid(resumer, &status, 0), resumer);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "round " << round << ": the resumed run failed, status " << status;

    const auto ran_second = lines(second_log);
    for (const std::string& name : saved_done) {
      EXPECT_EQ(ran_second.count(name), 0u) << name << " ran again after it was saved SUCCESS";
    }
    for (int i = 0; i < kTasks; ++i) {
      const std::string name = "t" + std::to_string(i);
      EXPECT_GE(ran_first.count(name) + ran_second.count(name), 1u) << name << " never ran";
      EXPECT_LE(ran_second.count(name), 1u) << name;
    }
    // The results: those of an uninterrupted run.
    const persistence::FlowDetail done = backend->get_flow_details(detail.uuid);
    EXPECT_EQ(done.state, FlowState::kSuccess);
    Value results = Value::object();
    for (const persistence::AtomDetail& a : done.atoms) {
      if (a.name != "_TaskFlow_INJECTOR") {
        EXPECT_EQ(a.state, AtomState::kSuccess) << a.name;
        results["v" + a.name.substr(1)] = a.results;
      }
    }
    EXPECT_EQ(results, expected) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, CrashResume,
                         ::testing::Values(Case{ExecutorKind::kSerial, "sqlite"},
                                           Case{ExecutorKind::kParallel, "sqlite"},
                                           Case{ExecutorKind::kSerial, "postgresql"},
                                           Case{ExecutorKind::kParallel, "postgresql"}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return std::string(p.param.executor == ExecutorKind::kSerial
                                                  ? "Serial"
                                                  : "Parallel") +
                                  "_" + p.param.backend;
                         });

}  // namespace
}  // namespace caboose::engine
