// kill -9 cycles on every board: two `caboose conductor` processes drain a board of ledger jobs
// while the harness, at random moments, kills one of them with SIGKILL (and starts a fresh one,
// as a supervisor would) or pauses one with SIGSTOP and resumes it with SIGCONT: some pauses
// shorter than the lease, some well past it (a split brain: the other conductor takes the job
// over while the paused one still believes it holds it; resumed, its writes must be refused by
// the fence, and it must not consume). Every fourth job also kills its conductor itself, right
// after a task's effect and before its SUCCESS is saved, and the first two conductors and every
// fourth started after them are killed at the fault point conductor.before_consume
// (caboose/core/fault_point.h: its flows have succeeded and are persisted, their jobs not consumed
// yet; the next claim must consume them without running any task again), and every eighth at
// conductor.after_consume. The checker (chaos.h) must find no violation of the contract, and every
// job must end consumed.
//
// The servers are restarted too, at random moments: redis-server (with an append-only file
// synced at every write), ZooKeeper and etcd are killed with SIGKILL and started again on the
// same port and data; on the fifth setup (a SQLite board, the flows in PostgreSQL) PostgreSQL is
// stopped with `pg_ctl stop -m immediate` and started again. No conductor may die of it.
//
// The defaults are the quick tier every CI run takes. scripts/chaos scales it up through
// CABOOSE_CHAOS_CYCLES (random kills per board), CABOOSE_CHAOS_PAUSES (pauses per board, every
// other one past the lease), CABOOSE_CHAOS_RESTARTS (server restarts per run, none on the SQLite
// board), CABOOSE_CHAOS_JOBS, CABOOSE_CHAOS_TASK_MS (each of a job's 3 tasks
// sleeps that long) and CABOOSE_CHAOS_SEED; CABOOSE_CHAOS_REPORT names a file each run appends
// its figures to (one JSON line).
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
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
#include "support/postgres_server.h"
#include "support/redis_server.h"
#include "support/zookeeper_server.h"

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// The ledger's clock: system_clock microseconds.
std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
using caboose::testing::ChildProcess;
using caboose::testing::wait_until;

// The board, and where the flows are kept: in ZooKeeper on its board, in PostgreSQL for
// kPostgres (on a SQLite board), else in a SQLite file.
enum class Board { kSqlite, kRedis, kZooKeeper, kEtcd, kPostgres };

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
    case Board::kPostgres:
      return "sqlite_postgres";
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

// How many lines of `text` contain `needle`.
std::size_t count_lines(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (std::string_view(text).substr(start, end - start).find(needle) != std::string_view::npos) {
      ++n;
    }
    start = end + 1;
  }
  return n;
}

// The jobs whose flows had succeeded (and were persisted) when a conductor was killed at
// conductor.before_consume, with the claim's token (the lowest, if several): its log line names
// them ("fault point conductor.before_consume fires: kill job=<uuid> token=<n> ...").
std::map<std::string, std::int64_t> succeeded_before_kill(const std::string& outputs) {
  std::map<std::string, std::int64_t> out;
  const std::string marker = "fault point conductor.before_consume fires: kill";
  for (std::size_t at = outputs.find(marker); at != std::string::npos;
       at = outputs.find(marker, at + 1)) {
    const std::size_t from = at + marker.size();
    std::istringstream words(outputs.substr(from, outputs.find('\n', from) - from));
    std::string word;
    std::string job;
    while (words >> word) {
      if (word.rfind("job=", 0) == 0) {
        job = word.substr(4);
      } else if (word.rfind("token=", 0) == 0 && !job.empty()) {
        // The earliest claim under which the flow had succeeded (a later holder armed the same
        // way may die before the same consume again).
        const std::int64_t token = std::stoll(word.substr(6));
        const auto [it, fresh] = out.emplace(job, token);
        it->second = std::min(it->second, token);
      }
    }
  }
  return out;
}

// A fault the harness injects at a random moment.
enum class Fault { kKill, kPause, kRestart };

class KillCycles : public ::testing::TestWithParam<Board> {
 protected:
  std::string board_uri() const {
    const std::string lease = "lease_ms=" + std::to_string(kLeaseMs);
    switch (GetParam()) {
      case Board::kSqlite:
      case Board::kPostgres:
        return "sqlite:///" + (dir_ / "board.db").string() + "?" + lease;
      case Board::kRedis:
        return redis_->uri() + "?namespace=" + ns_ + "&" + lease;
      case Board::kZooKeeper:
        return "zookeeper://" + caboose::testing::ZooKeeperServer::shared().hosts() + "/" + ns_ +
               "/jobs?" + lease;
      case Board::kEtcd:
        return "etcd://" + caboose::testing::EtcdServer::shared().hosts() + "/" + ns_ + "?" + lease;
    }
    return {};
  }

  std::string persistence_uri() const {
    if (GetParam() == Board::kZooKeeper) {
      return "zookeeper://" + caboose::testing::ZooKeeperServer::shared().hosts() + "/" + ns_ +
             "/flows";
    }
    if (GetParam() == Board::kPostgres) {
      return postgres_uri_;
    }
    return "sqlite:///" + (dir_ / "flows.db").string();
  }

  std::string persistence_name() const {
    switch (GetParam()) {
      case Board::kZooKeeper:
        return "zookeeper";
      case Board::kPostgres:
        return "postgresql";
      default:
        return "sqlite";
    }
  }

  // Restarts the server the run depends on, as a crash would; false on the SQLite board.
  bool restart_server() {
    switch (GetParam()) {
      case Board::kSqlite:
        return false;
      case Board::kRedis:
        redis_->restart();
        return true;
      case Board::kZooKeeper:
        caboose::testing::ZooKeeperServer::shared().restart();
        return true;
      case Board::kEtcd:
        caboose::testing::EtcdServer::shared().restart();
        return true;
      case Board::kPostgres:
        caboose::testing::PostgresServer::shared().restart_immediate();
        return true;
    }
    return false;
  }

  std::unique_ptr<ChildProcess> conductor(int generation) {
    const std::string name = "chaos-" + std::to_string(generation);
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{CABOOSE_BIN, "conductor", "--board", board_uri(), "--persistence",
                                 persistence_uri(), "--name", name, "--max-jobs", "2", "--wait-ms",
                                 "50", "--backoff-ms", "50", "--events"},
        (dir_ / (name + ".out")).string(), fault_env(generation));
  }

  // The first two conductors and every fourth after them are killed at their first consume,
  // once their flows have succeeded and are persisted; every eighth (from the seventh) right
  // after a consume.
  static std::vector<std::string> fault_env(int generation) {
    if (generation < 2 || generation % 4 == 0) {
      return {"CABOOSE_FAULT_POINTS=conductor.before_consume=kill"};
    }
    if (generation % 8 == 6) {
      return {"CABOOSE_FAULT_POINTS=conductor.after_consume=kill"};
    }
    return {};
  }

  persistence::testing::TempDir dir_;
  const std::string ns_ = "chaos-" + make_uuid().substr(0, 8);
  // A redis-server of its own, with an append-only file: it is restarted.
  const std::unique_ptr<caboose::testing::RedisServer> redis_ =
      GetParam() == Board::kRedis
          ? std::make_unique<caboose::testing::RedisServer>(
                caboose::testing::RedisServerOptions{.password = {}, .append_only = true})
          : nullptr;
  const std::string postgres_uri_ =
      GetParam() == Board::kPostgres ? caboose::testing::PostgresServer::shared().create_database()
                                     : std::string();
};

TEST_P(KillCycles, EveryJobEndsOnceWhicheverConductorDies) {
  const std::int64_t cycles = env_int("CABOOSE_CHAOS_CYCLES", 1);
  const std::int64_t pause_count = env_int("CABOOSE_CHAOS_PAUSES", 1);
  const std::int64_t restart_count =
      GetParam() == Board::kSqlite ? 0 : env_int("CABOOSE_CHAOS_RESTARTS", 1);
  const std::int64_t job_count = env_int("CABOOSE_CHAOS_JOBS", 16);
  const std::int64_t task_ms = env_int("CABOOSE_CHAOS_TASK_MS", 50);
  const Steady::time_point began = Steady::now();
  const std::uint64_t seed = static_cast<std::uint64_t>(
      env_int("CABOOSE_CHAOS_SEED", std::chrono::steady_clock::now().time_since_epoch().count()));
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (CABOOSE_CHAOS_SEED replays the fault plan)");

  const std::string ledger = (dir_ / "ledger.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(ledger.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; CREATE TABLE effects (job_uuid TEXT NOT "
                           "NULL, atom TEXT NOT NULL, token INTEGER NOT NULL, attempt INTEGER NOT "
                           "NULL, conductor TEXT NOT NULL, pid INTEGER NOT NULL, at_us INTEGER "
                           "NOT NULL); CREATE TABLE refused (job_uuid TEXT NOT NULL, atom TEXT "
                           "NOT NULL, token INTEGER NOT NULL, conductor TEXT NOT NULL, pid "
                           "INTEGER NOT NULL, at_us INTEGER NOT NULL);",
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
  // The conductor processes; a paused one has the time it is due to be resumed.
  struct Slot {
    std::unique_ptr<ChildProcess> process;
    int generation = 0;
    std::optional<Steady::time_point> resume_at;
  };
  std::vector<Slot> running;
  std::vector<std::string> unexpected_exits;  // a conductor that ended other than by SIGKILL
  // Replaces conductor `i` with a fresh one once it has ended; notes how it ended.
  auto replace_if_ended = [&](std::size_t i, std::chrono::milliseconds wait) {
    Slot& slot = running[i];
    const std::optional<int> status = slot.process->wait(wait);
    if (!status) {
      return;
    }
    if (!(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)) {
      unexpected_exits.push_back(fmt::format("chaos-{} ended with status {}:\n{}", slot.generation,
                                             *status, slot.process->output().substr(0, 4000)));
    }
    slot.generation = generation;
    slot.process = conductor(generation++);
    slot.resume_at.reset();
  };
  // Resumes the paused conductors that are due (all of them with `all`).
  auto resume_due = [&](bool all) {
    for (Slot& slot : running) {
      if (slot.resume_at && (all || Steady::now() >= *slot.resume_at)) {
        slot.process->signal(SIGCONT);
        slot.resume_at.reset();
      }
    }
  };
  for (int i = 0; i < 2; ++i) {
    running.push_back({conductor(generation), generation, std::nullopt});
    ++generation;
  }

  // The faults, in a random order, one every 150-700 ms while jobs are left. Every other pause
  // (the first included) lasts well past the lease, the others end within it.
  std::vector<Fault> plan(static_cast<std::size_t>(cycles), Fault::kKill);
  plan.insert(plan.end(), static_cast<std::size_t>(pause_count), Fault::kPause);
  plan.insert(plan.end(), static_cast<std::size_t>(restart_count), Fault::kRestart);
  std::shuffle(plan.begin(), plan.end(), rng);
  std::uniform_int_distribution<int> gap_ms(150, 700);
  std::uniform_int_distribution<int> short_pause_ms(100, kLeaseMs * 3 / 4);
  std::uniform_int_distribution<int> long_pause_ms(kLeaseMs * 2, kLeaseMs * 3);
  auto jobs_left = [&] {
    try {
      return board->job_count();
    } catch (const std::exception&) {
      return std::size_t{1};  // the board's server is down: as good as jobs left
    }
  };
  std::int64_t kills = 0;
  std::int64_t short_pauses = 0;
  std::int64_t long_pauses = 0;
  std::int64_t restarts = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> restart_windows;  // wall_us() from, to
  const std::int64_t run_from_us = wall_us();
  std::size_t done = 0;
  Steady::time_point next_at = Steady::now() + std::chrono::milliseconds(gap_ms(rng));
  while (done < plan.size() && jobs_left() > 0) {
    std::this_thread::sleep_for(10ms);
    resume_due(false);
    for (std::size_t i = 0; i < running.size(); ++i) {
      replace_if_ended(i, 0ms);  // killed by its own job meanwhile
    }
    if (Steady::now() < next_at) {
      continue;
    }
    next_at = Steady::now() + std::chrono::milliseconds(gap_ms(rng));
    const std::size_t victim = rng() % running.size();
    switch (plan[done++]) {
      case Fault::kKill:  // paused or not: SIGKILL ends a stopped process too
        running[victim].process->signal(SIGKILL);
        replace_if_ended(victim, 30s);
        ++kills;
        break;
      case Fault::kPause: {
        if (running[victim].resume_at) {
          --done;  // already paused: try again at the next turn
          break;
        }
        const bool long_pause = (short_pauses + long_pauses) % 2 == 0;
        (long_pause ? long_pauses : short_pauses)++;
        running[victim].process->signal(SIGSTOP);
        running[victim].resume_at =
            Steady::now() +
            std::chrono::milliseconds(long_pause ? long_pause_ms(rng) : short_pause_ms(rng));
        break;
      }
      case Fault::kRestart: {  // the conductors go on meanwhile (a paused one stays paused)
        const std::int64_t from = wall_us();
        if (restart_server()) {
          ++restarts;
          restart_windows.emplace_back(from, wall_us());
        }
        break;
      }
    }
  }
  const auto drained = wait_until(
      [&] {
        resume_due(false);
        for (std::size_t i = 0; i < running.size(); ++i) {
          replace_if_ended(i, 0ms);
        }
        return jobs_left() == 0;
      },
      std::chrono::seconds(120 + job_count * (1 + task_ms / 100)));
  resume_due(true);  // a stopped process would not act on SIGTERM before SIGCONT
  for (Slot& slot : running) {
    slot.process->signal(SIGTERM);
  }
  for (Slot& slot : running) {
    const std::optional<int> status = slot.process->wait(30s);
    // Ended by the SIGTERM itself: it came before the conductor blocked it (a replacement just
    // started, still loading; it blocks SIGTERM before it connects to anything), so before it
    // claimed anything: as clean as an exit 0.
    const bool before_start = status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM;
    if (!before_start && (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)) {
      unexpected_exits.push_back(fmt::format("chaos-{} did not stop cleanly on SIGTERM:\n{}",
                                             slot.generation,
                                             slot.process->output().substr(0, 4000)));
    }
  }
  std::string outputs;
  for (int g = 0; g < generation; ++g) {
    std::ifstream in(dir_ / ("chaos-" + std::to_string(g) + ".out"));
    outputs += "--- chaos-" + std::to_string(g) + "\n" +
               std::string(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(drained) << board->job_count() << " jobs left\n" << outputs.substr(0, 20000);

  const std::map<std::string, std::int64_t> succeeded = succeeded_before_kill(outputs);
  // Read with fresh connections: the harness's own may be ones a server restart closed (a
  // client learns that at its next request, which then fails).
  auto check_board = jobs::fetch_jobboard(board_uri());
  auto check_backend = persistence::fetch(persistence_uri());
  const Report report =
      check(posted, *check_board, *check_backend, read_ledger(ledger), kTasks, succeeded);
  Value line = report.to_value();
  line["board"] = board_name(GetParam());
  line["persistence"] = persistence_name();
  line["server_restarts"] = restarts;
  line["random_kills"] = kills;
  line["pauses_short"] = short_pauses;
  line["pauses_long"] = long_pauses;
  // What the resumed holders (or any holder that lost its claim) met: jobs given up as lost,
  // persistence saves refused by the fence, effects refused by the (fenced) ledger, renewals
  // refused by the board.
  line["jobs_lost_by_holders"] = count_lines(outputs, "\"event\":\"job_lost\"");
  line["stale_saves_refused"] = count_lines(outputs, "is stale (fenced at");
  line["ledger_refused"] = count_refused(ledger);
  line["claims_lost"] = count_lines(outputs, "claim lost job=");
  line["self_kills"] = self_kills;
  line["fault_point_kills_before_consume"] =
      count_lines(outputs, "fault point conductor.before_consume fires");
  line["fault_point_kills_after_consume"] =
      count_lines(outputs, "fault point conductor.after_consume fires");
  line["jobs_succeeded_unconsumed"] = succeeded.size();
  line["conductors_started"] = generation;
  line["unexpected_exits"] = unexpected_exits.size();
  line["seed"] = seed;
  line["seconds"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - began).count() / 1000.0;
  std::cout << fmt::format(
                   "{}/{}: {} kills, {} short + {} long pauses, {} server restarts, {} + {} fault "
                   "point kills; {} jobs, {} consumed, {} takeovers (median {:.0f} ms, p99 {:.0f} "
                   "ms; {} after claims that recorded nothing, the others median {:.0f} ms, p99 "
                   "{:.0f} ms), {} jobs lost by their holders, {} saves and {} effects refused by "
                   "the fence; {} violations",
                   line["board"].get<std::string>(), line["persistence"].get<std::string>(), kills,
                   short_pauses, long_pauses, restarts,
                   line["fault_point_kills_before_consume"].get<std::size_t>(),
                   line["fault_point_kills_after_consume"].get<std::size_t>(), report.jobs,
                   report.consumed, report.takeovers, report.takeover_percentile(50),
                   report.takeover_percentile(99), report.takeovers_after_empty_claims,
                   Report::percentile(report.direct_takeover_ms, 50),
                   Report::percentile(report.direct_takeover_ms, 99),
                   line["jobs_lost_by_holders"].get<std::size_t>(),
                   line["stale_saves_refused"].get<std::size_t>(),
                   line["ledger_refused"].get<std::size_t>(), report.violations())
            << "\n"
            << line.dump() << "\n";
  if (!restart_windows.empty()) {
    std::vector<double> lengths;
    for (const auto& [from, to] : restart_windows) {
      lengths.push_back(static_cast<double>(to - from) / 1e6);
    }
    std::cout << fmt::format("  server restarts took {:.1f} s (median), {:.1f} s (longest)\n",
                             Report::percentile(lengths, 50), Report::percentile(lengths, 100));
  }
  // The slowest takeovers, against the server restarts, and what the conductors logged about the
  // slowest job: what a tail is made of.
  const auto secs = [&](std::int64_t us) { return static_cast<double>(us - run_from_us) / 1e6; };
  for (const Report::Takeover& t : report.slowest_takeovers) {
    std::string near;
    for (const auto& [from, to] : restart_windows) {
      if (to >= t.from_us && from <= t.to_us) {
        near += fmt::format("{}server restart {:.1f}-{:.1f} s", near.empty() ? "" : ", ",
                            secs(from), secs(to));
      }
    }
    if (near.empty()) {
      near = "no server restart in between";
    }
    std::cout << fmt::format(
        "  slow takeover {:.1f} s: job {} attempt {} ({}, last effect {:.1f} s) "
        "-> attempt {} ({}, first effect {:.1f} s); {}\n",
        static_cast<double>(t.to_us - t.from_us) / 1e6, t.job_uuid, t.from_attempt,
        t.from_conductor, secs(t.from_us), t.to_attempt, t.to_conductor, secs(t.to_us), near);
  }
  if (!report.slowest_takeovers.empty()) {
    const std::string& job = report.slowest_takeovers.front().job_uuid;
    std::istringstream lines(outputs);
    std::string section;
    int shown = 0;
    for (std::string l; std::getline(lines, l) && shown < 40;) {
      if (l.rfind("--- chaos-", 0) == 0) {
        section = l.substr(4);
      } else if (l.find(job) != std::string::npos) {
        std::cout << "    " << section << ": " << l.substr(0, 300) << "\n";
        ++shown;
      }
    }
  }
  if (const char* file = std::getenv("CABOOSE_CHAOS_REPORT")) {
    std::ofstream(file, std::ios::app) << line.dump() << "\n";
  }
  const std::string problems = report.problems_text();
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
                                           Board::kEtcd, Board::kPostgres),
                         [](const auto& p) { return board_name(p.param); });

}  // namespace
}  // namespace caboose::reliability
