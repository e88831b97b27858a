// kill -9 cycles on every board: two `caboose conductor` processes drain a board of ledger jobs
// while the harness kills one of them with SIGKILL at random moments and starts a fresh one (as
// a supervisor would); every fourth job also kills its conductor itself, right after a task's
// effect and before its SUCCESS is saved. The checker (chaos.h) must find no violation of the
// contract, and every job must end consumed.
//
// The defaults are the quick tier every CI run takes. scripts/chaos scales it up through
// CABOOSE_CHAOS_CYCLES (random kills per board), CABOOSE_CHAOS_JOBS, CABOOSE_CHAOS_TASK_MS (each
// of a job's 3 tasks sleeps that long) and CABOOSE_CHAOS_SEED;
// CABOOSE_CHAOS_REPORT names a file each run appends its figures to (one JSON line).
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "caboose/conductors/flow_registry.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "conductors/conductor_cases.h"
#include "persistence/temp_dir.h"
#include "reliability/chaos.h"
#include "support/child_process.h"
#include "support/etcd_server.h"
#include "support/redis_server.h"
#include "support/zookeeper_server.h"

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::wait_until;

enum class Board { kSqlite, kRedis, kZooKeeper, kEtcd };

std::string board_name(Board b) {
  switch (b) {
    case Board::kSqlite:
      return "sqlite";
    case Board::kRedis:
      return "redis";
    case Board::kZooKeeper:
      return "zookeeper";
    case Board::kEtcd:
      return "etcd";
  }
  return "?";
}

void PrintTo(Board b, std::ostream* os) {
  *os << board_name(b);
}

std::int64_t env_int(const char* name, std::int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoll(v) : fallback;
}

constexpr int kTasks = 3;
constexpr int kLeaseMs = 800;

class KillCycles : public ::testing::TestWithParam<Board> {
 protected:
  std::string board_uri() const {
    const std::string lease = "lease_ms=" + std::to_string(kLeaseMs);
    switch (GetParam()) {
      case Board::kSqlite:
        return "sqlite:///" + (dir_ / "board.db").string() + "?" + lease;
      case Board::kRedis:
        return caboose::testing::RedisServer::shared().uri() + "?namespace=" + ns_ + "&" + lease;
      case Board::kZooKeeper:
        return "zookeeper://" + caboose::testing::ZooKeeperServer::shared().hosts() + "/" + ns_ +
               "/jobs?" + lease;
      case Board::kEtcd:
        return "etcd://" + caboose::testing::EtcdServer::shared().hosts() + "/" + ns_ + "?" + lease;
    }
    return {};
  }

  // ZooKeeper's board keeps its flows in ZooKeeper; the others in a SQLite file.
  std::string persistence_uri() const {
    if (GetParam() == Board::kZooKeeper) {
      return "zookeeper://" + caboose::testing::ZooKeeperServer::shared().hosts() + "/" + ns_ +
             "/flows";
    }
    return "sqlite:///" + (dir_ / "flows.db").string();
  }

  std::unique_ptr<ChildProcess> conductor(int generation) {
    const std::string name = "chaos-" + std::to_string(generation);
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{CABOOSE_BIN, "conductor", "--board", board_uri(), "--persistence",
                                 persistence_uri(), "--name", name, "--max-jobs", "2", "--wait-ms",
                                 "50", "--backoff-ms", "50"},
        (dir_ / (name + ".out")).string());
  }

  persistence::testing::TempDir dir_;
  const std::string ns_ = "chaos-" + make_uuid().substr(0, 8);
};

TEST_P(KillCycles, EveryJobEndsOnceWhicheverConductorDies) {
  const std::int64_t cycles = env_int("CABOOSE_CHAOS_CYCLES", 1);
  const std::int64_t job_count = env_int("CABOOSE_CHAOS_JOBS", 12);
  const std::int64_t task_ms = env_int("CABOOSE_CHAOS_TASK_MS", 30);
  const std::uint64_t seed = static_cast<std::uint64_t>(
      env_int("CABOOSE_CHAOS_SEED", std::chrono::steady_clock::now().time_since_epoch().count()));
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (CABOOSE_CHAOS_SEED replays the kill times)");

  const std::string ledger = (dir_ / "ledger.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(ledger.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; CREATE TABLE effects (job_uuid TEXT NOT "
                           "NULL, atom TEXT NOT NULL, token INTEGER NOT NULL, attempt INTEGER NOT "
                           "NULL, conductor TEXT NOT NULL, pid INTEGER NOT NULL, at_us INTEGER "
                           "NOT NULL);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto board = jobs::fetch_jobboard(board_uri());
  auto backend = persistence::fetch(persistence_uri());
  std::vector<PostedJob> posted;
  std::int64_t self_kills = 0;
  for (std::int64_t i = 0; i < job_count; ++i) {
    Value kwargs = {{"ledger", ledger}, {"tasks", kTasks}, {"ms", task_ms}};
    if (i % 4 == 3) {  // dies between step-2's effect and its saved SUCCESS, on attempt 1
      kwargs["kill_at"] = {{"atom", "step-2"}, {"attempt", 1}};
      ++self_kills;
    }
    const auto book = conductors::testing::saved_flow(
        *backend, {.name = "caboose.examples.ledger", .kwargs = kwargs});
    const jobs::Job job = conductors::testing::post_job(*board, book, Value::object(), 50);
    posted.push_back({job.uuid, book.flows.front().uuid});
  }

  int generation = 0;
  std::vector<std::unique_ptr<ChildProcess>> running;
  std::vector<int> generation_of;
  std::vector<std::string> unexpected_exits;  // a conductor that ended other than by SIGKILL
  // Replaces conductor `i` with a fresh one once it has ended; notes how it ended.
  auto replace_if_ended = [&](std::size_t i, std::chrono::milliseconds wait) {
    const std::optional<int> status = running[i]->wait(wait);
    if (!status) {
      return;
    }
    if (!(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)) {
      unexpected_exits.push_back(fmt::format("chaos-{} ended with status {}:\n{}", generation_of[i],
                                             *status, running[i]->output().substr(0, 4000)));
    }
    generation_of[i] = generation;
    running[i] = conductor(generation++);
  };
  for (int i = 0; i < 2; ++i) {
    generation_of.push_back(generation);
    running.push_back(conductor(generation++));
  }
  std::uniform_int_distribution<int> pause_ms(150, 700);
  std::int64_t kills = 0;
  while (kills < cycles && board->job_count() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    for (std::size_t i = 0; i < running.size(); ++i) {
      replace_if_ended(i, 0ms);  // killed by its own job meanwhile
    }
    const std::size_t victim = rng() % running.size();
    running[victim]->signal(SIGKILL);
    replace_if_ended(victim, 30s);
    ++kills;
  }
  const auto drained = wait_until(
      [&] {
        for (std::size_t i = 0; i < running.size(); ++i) {
          replace_if_ended(i, 0ms);
        }
        return board->job_count() == 0;
      },
      std::chrono::seconds(120 + job_count * (1 + task_ms / 100)));
  for (auto& c : running) {
    c->signal(SIGTERM);
  }
  for (std::size_t i = 0; i < running.size(); ++i) {
    const std::optional<int> status = running[i]->wait(30s);
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      unexpected_exits.push_back(fmt::format("chaos-{} did not stop cleanly on SIGTERM:\n{}",
                                             generation_of[i],
                                             running[i]->output().substr(0, 4000)));
    }
  }
  std::string outputs;
  for (int g = 0; g < generation; ++g) {
    std::ifstream in(dir_ / ("chaos-" + std::to_string(g) + ".out"));
    outputs += "--- chaos-" + std::to_string(g) + "\n" +
               std::string(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(drained) << board->job_count() << " jobs left\n" << outputs.substr(0, 20000);

  const Report report = check(posted, *board, *backend, read_ledger(ledger), kTasks);
  Value line = report.to_value();
  line["board"] = board_name(GetParam());
  line["persistence"] = GetParam() == Board::kZooKeeper ? "zookeeper" : "sqlite";
  line["random_kills"] = kills;
  line["self_kills"] = self_kills;
  line["conductors_started"] = generation;
  line["unexpected_exits"] = unexpected_exits.size();
  line["seed"] = seed;
  std::cout << line.dump() << "\n";
  if (const char* file = std::getenv("CABOOSE_CHAOS_REPORT")) {
    std::ofstream(file, std::ios::app) << line.dump() << "\n";
  }
  std::string problems;
  for (const std::string& p : report.problems) {
    problems += p + "\n";
  }
  EXPECT_EQ(report.violations(), 0u) << problems << outputs.substr(0, 20000);
  std::string exits;
  for (const std::string& e : unexpected_exits) {
    exits += e + "\n";
  }
  EXPECT_TRUE(unexpected_exits.empty()) << exits;
  EXPECT_EQ(report.consumed, posted.size()) << problems;
  // Every self-killing job was taken over at least once.
  EXPECT_GE(report.takeovers, static_cast<std::size_t>(self_kills));
}

INSTANTIATE_TEST_SUITE_P(Boards, KillCycles,
                         ::testing::Values(Board::kSqlite, Board::kRedis, Board::kZooKeeper,
                                           Board::kEtcd),
                         [](const auto& p) { return board_name(p.param); });

}  // namespace
}  // namespace caboose::reliability
