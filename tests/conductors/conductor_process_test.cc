// Conductors as processes (the `caboose conductor` command) on a shared board and a SQLite
// persistence file (ZooKeeper persistence with the ZooKeeper board): two of them draining a board,
// one killed with SIGKILL mid-job and one paused with SIGSTOP past its lease (a stale holder whose
// writes must be refused), a graceful SIGTERM. The takeover side runs in this process, so its
// engine's atom events can be checked.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/conductors/conductor.h"
#include "caboose/conductors/examples.h"
#include "caboose/engine/listeners.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "conductors/conductor_cases.h"
#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/etcd_server.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/run_command.h"
#include "support/zookeeper_server.h"

namespace caboose::conductors::testing {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::EtcdServer;
using caboose::testing::RedisServer;
using caboose::testing::wait_until;
using caboose::testing::ZooKeeperServer;
using jobs::Job;
using persistence::testing::TempDir;

enum class BoardKind { kSqlite, kRedis, kZooKeeper, kEtcd };

std::string board_name(BoardKind kind) {
  switch (kind) {
    case BoardKind::kSqlite:
      return "sqlite";
    case BoardKind::kRedis:
      return "redis";
    case BoardKind::kZooKeeper:
      return "zookeeper";
    case BoardKind::kEtcd:
      return "etcd";
  }
  return "?";
}

void PrintTo(BoardKind kind, std::ostream* os) {
  *os << board_name(kind);
}

// The JSON lines a conductor printed with --events.
std::vector<Value> events_of(const std::string& output) {
  std::vector<Value> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') {
      Value v = Value::parse(line, nullptr, /*allow_exceptions=*/false);
      if (v.is_object() && v.contains("event")) {
        out.push_back(std::move(v));
      }
    }
  }
  return out;
}

// Counts every atom's RUNNING transitions in the engines of an in-process conductor.
class AtomRuns {
 public:
  ListenerFactory factory() {
    return [this](const Job&, engine::Engine& engine) {
      std::vector<std::unique_ptr<engine::Listener>> out;
      out.push_back(std::make_unique<Counter>(engine, *this));
      return out;
    };
  }
  int runs(const std::string& atom) {
    std::lock_guard lock(mu_);
    return runs_[atom];
  }

 private:
  class Counter final : public engine::Listener {
   public:
    Counter(engine::Engine& engine, AtomRuns& runs) : Listener(engine), runs_(runs) {}
    ~Counter() override { deregister(); }

   private:
    void on_task(AtomState state, const Value& details) override {
      if (state == AtomState::kRunning) {
        std::lock_guard lock(runs_.mu_);
        ++runs_.runs_[details["task_name"].get<std::string>()];
      }
    }
    AtomRuns& runs_;
  };
  std::mutex mu_;
  std::map<std::string, int> runs_;  // Guarded by mu_.
};

class ConductorProcessTest : public ::testing::TestWithParam<BoardKind> {
 protected:
  // On the ZooKeeper board the flows persist in ZooKeeper too; elsewhere in a SQLite file.
  ConductorProcessTest()
      : persistence_uri_(GetParam() == BoardKind::kZooKeeper
                             ? "zookeeper://" + ZooKeeperServer::shared().hosts() + "/" + ns_ +
                                   "/flows"
                             : "sqlite:///" + (dir_ / "flows.db").string()),
        backend_(persistence::fetch(persistence_uri_)) {}

  std::string board_uri(int lease_ms) const {
    if (GetParam() == BoardKind::kSqlite) {
      return "sqlite:///" + (dir_ / "board.db").string() + "?lease_ms=" + std::to_string(lease_ms);
    }
    if (GetParam() == BoardKind::kEtcd) {
      return "etcd://" + EtcdServer::shared().hosts() + "/" + ns_ +
             "?lease_ms=" + std::to_string(lease_ms);
    }
    if (GetParam() == BoardKind::kZooKeeper) {
      return "zookeeper://" + ZooKeeperServer::shared().hosts() + "/" + ns_ +
             "/jobs?lease_ms=" + std::to_string(lease_ms);
    }
    return RedisServer::shared().uri() + "?namespace=" + ns_ +
           "&lease_ms=" + std::to_string(lease_ms);
  }

  std::unique_ptr<ChildProcess> conductor(const std::string& name, int lease_ms,
                                          std::vector<std::string> extra = {}) {
    return conductor_on(board_uri(lease_ms), name, std::move(extra));
  }

  std::unique_ptr<ChildProcess> conductor_on(const std::string& board, const std::string& name,
                                             std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {CABOOSE_BIN,     "conductor",      "--board", board,
                                     "--persistence", persistence_uri_, "--name",  name,
                                     "--events",      "--wait-ms",      "50"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, (dir_ / (name + ".out")).string());
  }

  const persistence::AtomDetail* atom(const persistence::LogBook& book, const std::string& name) {
    flow_ = backend_->get_flow_details(book.flows.front().uuid);
    return flow_.find_by_name(name);
  }

  // A conductor process on `holder_board` runs a 4-task job and is paused (SIGSTOP) after the
  // first task; once the job is free on `board`, an in-process heir finishes it; the holder
  // resumed must report the job lost, write nothing that lands and exit cleanly on SIGTERM.
  // Returns the holder's output.
  std::string paused_holder_is_taken_over(jobs::JobBoard& board, const std::string& holder_board) {
    const auto book = saved_flow(
        *backend_, {.name = "caboose.examples.slow", .kwargs = {{"tasks", 4}, {"ms", 300}}});
    const Job job = post_job(board, book);
    auto paused = conductor_on(holder_board, "paused", {"--metrics-port", "0"});
    EXPECT_TRUE(wait_until(
        [&] {
          const auto* first = atom(book, "sleep-1");
          return first != nullptr && first->state == AtomState::kSuccess;
        },
        30s))
        << paused->output();
    paused->signal(SIGSTOP);
    EXPECT_TRUE(wait_until([&] { return !board.find_owner(job.uuid).has_value(); }, 30s))
        << paused->output();

    AtomRuns runs;
    BlockingConductor heir("heir", board, *backend_, registry_,
                           {.wait_timeout = 50ms, .listeners = runs.factory()});
    EventLog events(heir.notifier());
    {
      Running running(heir);
      EXPECT_TRUE(events.wait_for("job_consumed"))
          << "heir's events: " << Value(events.names()).dump() << "\nstale holder's output:\n"
          << paused->output();
    }
    const persistence::FenceToken fence = backend_->current_fence(book.flows.front().uuid);
    paused->signal(SIGCONT);
    EXPECT_TRUE(
        wait_until([&] { return paused->output().find("\"job_lost\"") != std::string::npos; }, 30s))
        << paused->output();
    // Its metrics say so: one claim, lost (its renewal refused, or a save refused by the fence).
    const std::optional<int> port = caboose::testing::announced_port(paused->output());
    EXPECT_TRUE(port.has_value()) << paused->output();
    if (port) {
      const std::string page = caboose::testing::http_request(*port, "GET", "/metrics").body;
      const auto value = [&](const std::string& sample) {
        return caboose::testing::metric_value(page, sample).value_or(-1);
      };
      EXPECT_EQ(value("caboose_jobs_claimed_total"), 1) << page;
      EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"lost\"}"), 1) << page;
      EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"consumed\"}"), 0) << page;
      EXPECT_GE(value("caboose_claims_lost_total") + value("caboose_fencing_refusals_total"), 1)
          << page;
    }
    paused->signal(SIGTERM);
    const auto status = paused->wait(30s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << paused->output();

    EXPECT_EQ(runs.runs("sleep-1"), 0);
    EXPECT_EQ(atom(book, "sleep-4")->state, AtomState::kSuccess);
    EXPECT_EQ(flow_.state, FlowState::kSuccess);  // the stale holder's writes were refused
    EXPECT_EQ(backend_->current_fence(book.flows.front().uuid), fence);
    EXPECT_EQ(paused->output().find("\"job_consumed\""), std::string::npos) << paused->output();
    EXPECT_FALSE(board.find(job.uuid).has_value());  // the job ended once
    EXPECT_TRUE(board.trashed().empty());
    return paused->output();
  }

  TempDir dir_;
  const std::string ns_ = "conductors-" + make_uuid().substr(0, 8);
  const std::string persistence_uri_;
  std::unique_ptr<persistence::Backend> backend_;
  persistence::FlowDetail flow_;
  FlowRegistry registry_ = [] {
    FlowRegistry r;
    add_example_flows(r);
    return r;
  }();
};

TEST_P(ConductorProcessTest, TwoConductorsDrainTheBoardRunningEveryJobOnce) {
  auto board = jobs::fetch_jobboard(board_uri(5000));
  std::map<std::string, std::int64_t> expected;  // flow uuid -> total
  std::vector<persistence::LogBook> books;
  for (int i = 0; i < 200; ++i) {
    books.push_back(saved_flow(*backend_, {.name = "caboose.examples.sum"}));
    post_job(*board, books.back(), {{"store", {{"x", i}, {"y", 1000}}}});
    expected[books.back().flows.front().uuid] = i + 1000;
  }
  const Job poison =
      post_job(*board, saved_flow(*backend_, {.name = "caboose.examples.poison"}), {}, 3);
  auto a = conductor("a", 5000, {"--drain", "--backoff-ms", "20"});
  auto b = conductor("b", 5000, {"--drain", "--backoff-ms", "20", "--max-jobs", "2"});
  const auto status_a = a->wait(120s);
  const auto status_b = b->wait(120s);
  ASSERT_TRUE(status_a && WIFEXITED(*status_a) && WEXITSTATUS(*status_a) == 0) << a->output();
  ASSERT_TRUE(status_b && WIFEXITED(*status_b) && WEXITSTATUS(*status_b) == 0) << b->output();

  std::set<std::string> consumed;
  int poison_claims = 0;
  for (const auto* out : {a.get(), b.get()}) {
    for (const Value& e : events_of(out->output())) {
      const std::string uuid = e["job_uuid"].get<std::string>();
      if (uuid == poison.uuid) {
        ++poison_claims;
        continue;
      }
      EXPECT_EQ(e["event"], "job_consumed") << e.dump();
      EXPECT_EQ(e["attempt"], 1) << e.dump();  // nothing failed: no job was claimed twice
      EXPECT_TRUE(consumed.insert(uuid).second) << "consumed twice: " << uuid;
    }
  }
  EXPECT_EQ(consumed.size(), 200u);
  EXPECT_EQ(poison_claims, 3);
  EXPECT_EQ(board->job_count(), 0u);
  const auto bin = board->trashed();
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_EQ(bin[0].uuid, poison.uuid);
  EXPECT_EQ(bin[0].attempts, 3);
  for (const auto& book : books) {
    const auto* sum = atom(book, "sum");
    ASSERT_NE(sum, nullptr);
    EXPECT_EQ(flow_.state, FlowState::kSuccess);
    EXPECT_EQ(sum->results, expected[book.flows.front().uuid]);
  }
}

TEST_P(ConductorProcessTest, KilledConductorsJobResumesElsewhereWithoutRerunningWhatSucceeded) {
  auto board = jobs::fetch_jobboard(board_uri(800));
  const auto book = saved_flow(*backend_, {.name = "caboose.examples.crash_once",
                                           .kwargs = {{"marker", (dir_ / "crashed").string()}}});
  const Job job = post_job(*board, book);
  auto doomed = conductor("doomed", 800);
  const auto status = doomed->wait(60s);
  ASSERT_TRUE(status.has_value()) << doomed->output();
  ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << doomed->output();
  ASSERT_EQ(atom(book, "before")->state, AtomState::kSuccess);
  EXPECT_EQ(atom(book, "crash")->state, AtomState::kRunning);  // it died inside the task

  AtomRuns runs;
  BlockingConductor heir("heir", *board, *backend_, registry_,
                         {.wait_timeout = 50ms, .listeners = runs.factory()});
  EventLog events(heir.notifier());
  {
    Running running(heir);
    ASSERT_TRUE(events.wait_for("job_consumed"));
  }
  EXPECT_EQ(events.details("job_consumed").front()["attempt"], 2);
  EXPECT_EQ(runs.runs("before"), 0);  // saved SUCCESS by the dead holder: never runs again
  EXPECT_EQ(runs.runs("crash"), 1);
  EXPECT_EQ(runs.runs("after"), 1);
  EXPECT_EQ(atom(book, "after")->results, 3);
  EXPECT_EQ(flow_.state, FlowState::kSuccess);
  EXPECT_FALSE(board->find(job.uuid).has_value());
}

TEST_P(ConductorProcessTest, PausedHolderWhoseLeaseLapsedCannotWriteAfterItResumes) {
  auto board = jobs::fetch_jobboard(board_uri(600));
  const std::string output = paused_holder_is_taken_over(*board, board_uri(600));
  EXPECT_NE(output.find("refused"), std::string::npos) << output;
}

// ZooKeeper: the holder is paused past its session timeout (its lease is far longer). The
// session expires, its ephemeral lock goes, another conductor takes the job over; the resumed
// holder finds its session gone, reports the job lost, and none of its writes land.
TEST_P(ConductorProcessTest, HolderWhoseSessionExpiredStopsWritingAndAnotherTakesOver) {
  if (GetParam() != BoardKind::kZooKeeper) {
    GTEST_SKIP() << "sessions are ZooKeeper's";
  }
  // Only the session's expiry can free the job: its lease runs for a minute.
  auto board = jobs::fetch_jobboard(board_uri(60000));
  paused_holder_is_taken_over(*board, "zookeeper://" + ZooKeeperServer::shared().hosts() + "/" +
                                          ns_ + "/jobs?lease_ms=60000&session_timeout_ms=1200");
}

// A conductor's metrics after a scripted workload: 4 jobs consumed, a poison job abandoned once
// then trashed at its 2 attempts, each counted where it belongs; the board's depth and bin; the
// page is valid for Prometheus (promtool).
TEST_P(ConductorProcessTest, MetricsCountWhatTheConductorDid) {
  auto board = jobs::fetch_jobboard(board_uri(1500));
  // One job outlives a few renewals of its lease (renewed every 500 ms).
  post_job(*board, saved_flow(*backend_, {.name = "caboose.examples.slow",
                                          .kwargs = {{"tasks", 1}, {"ms", 1600}}}));
  for (int i = 0; i < 4; ++i) {
    post_job(*board, saved_flow(*backend_, {.name = "caboose.examples.sum"}),
             {{"store", {{"x", i}, {"y", 1}}}});
  }
  const Job poison =
      post_job(*board, saved_flow(*backend_, {.name = "caboose.examples.poison"}), {}, 2);
  auto c = conductor("measured", 1500, {"--metrics-port", "0", "--backoff-ms", "10"});
  ASSERT_TRUE(
      wait_until([&] { return board->job_count() == 0 && board->trashed().size() == 1; }, 60s))
      << c->output();
  std::optional<int> port;
  ASSERT_TRUE(
      wait_until([&] { return (port = caboose::testing::announced_port(c->output())); }, 10s))
      << c->output();
  const caboose::testing::HttpReply reply =
      caboose::testing::http_request(*port, "GET", "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.head.find("text/plain; version=0.0.4"), std::string::npos) << reply.head;
  const std::string& page = reply.body;
  const auto value = [&](const std::string& sample) {
    const std::optional<double> v = caboose::testing::metric_value(page, sample);
    EXPECT_TRUE(v.has_value()) << sample << " missing from:\n" << page;
    return v.value_or(-1);
  };
  EXPECT_EQ(value("caboose_jobs_claimed_total"), 7);  // 5 + the poison's 2 attempts
  EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"consumed\"}"), 5);
  EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"abandoned\"}"), 1);
  EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"trashed\",reason=\"max_attempts\"}"), 1);
  EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"trashed\",reason=\"unbuildable\"}"), 0);
  EXPECT_EQ(value("caboose_jobs_finished_total{outcome=\"lost\"}"), 0);
  EXPECT_EQ(value("caboose_claim_attempt_count"), 7);
  EXPECT_EQ(value("caboose_claim_attempt_sum"), 5 + 1 + 2);
  EXPECT_EQ(value("caboose_claim_attempt_bucket{le=\"1\"}"), 6);
  EXPECT_GE(value("caboose_claim_duration_seconds_count"), 1);
  EXPECT_EQ(value("caboose_job_duration_seconds_count{outcome=\"consumed\"}"), 5);
  // The slow job's run took its 1.6 s: in the buckets above 1 s only.
  EXPECT_EQ(value("caboose_job_duration_seconds_count{outcome=\"consumed\"}") -
                value("caboose_job_duration_seconds_bucket{outcome=\"consumed\",le=\"1\"}"),
            1);
  EXPECT_EQ(value("caboose_flow_duration_seconds_count"), 7);
  EXPECT_EQ(value("caboose_atom_duration_seconds_count"), 5 + 2 * 2);  // the poison reverts too
  EXPECT_GE(value("caboose_lease_renewals_total"), 2);
  EXPECT_EQ(value("caboose_lease_renewal_failures_total"), 0);
  EXPECT_EQ(value("caboose_fencing_refusals_total"), 0);
  EXPECT_EQ(value("caboose_claims_lost_total"), 0);
  EXPECT_EQ(value("caboose_jobs_running"), 0);
  EXPECT_EQ(value("caboose_conductor_up"), 1);
  EXPECT_EQ(value("caboose_conductor_info{max_jobs=\"1\",name=\"measured\"}"), 1);
  EXPECT_GT(value("caboose_conductor_last_scan_timestamp_seconds"), 1.7e9);
  EXPECT_EQ(value("caboose_garbage_bin_jobs"), 1);
  EXPECT_EQ(value("caboose_board_jobs{priority=\"NORMAL\",state=\"claimable\"}"), 0);
  EXPECT_EQ(value("caboose_board_oldest_claimable_age_seconds"), 0);
  EXPECT_EQ(caboose::testing::http_request(*port, "GET", "/nothing").status, 404);
  EXPECT_EQ(caboose::testing::http_request(*port, "POST", "/metrics").status, 405);
  persistence::testing::TempDir scratch;
  { std::ofstream(scratch / "page.txt") << page; }
  (void)caboose::testing::run_command("promtool check metrics < " +
                                      (scratch / "page.txt").string());
  c->signal(SIGTERM);
  const auto status = c->wait(30s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << c->output();
}

TEST_P(ConductorProcessTest, SigtermReleasesTheRunningJobWithoutUsingAnAttempt) {
  auto board = jobs::fetch_jobboard(board_uri(5000));
  const auto book = saved_flow(
      *backend_, {.name = "caboose.examples.slow", .kwargs = {{"tasks", 3}, {"ms", 300}}});
  const Job job = post_job(*board, book);
  auto c = conductor("graceful", 5000);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto* first = atom(book, "sleep-1");
        return first != nullptr && first->state == AtomState::kRunning;
      },
      30s));
  c->signal(SIGTERM);
  const auto status = c->wait(30s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << c->output();
  EXPECT_NE(c->output().find("\"job_released\""), std::string::npos) << c->output();
  const auto after = board->find(job.uuid);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state, jobs::JobState::kUnclaimed);
  EXPECT_EQ(after->attempts, 0);
  EXPECT_EQ(atom(book, "sleep-1")->state, AtomState::kSuccess);  // running atoms finish
  EXPECT_EQ(flow_.state, FlowState::kSuspended);
}

INSTANTIATE_TEST_SUITE_P(Boards, ConductorProcessTest,
                         ::testing::Values(BoardKind::kSqlite, BoardKind::kRedis,
                                           BoardKind::kZooKeeper, BoardKind::kEtcd),
                         [](const auto& p) { return board_name(p.param); });

}  // namespace
}  // namespace caboose::conductors::testing

namespace caboose::conductors::testing {
namespace {

// A Python TaskFlow poster (Debian's python3-taskflow) posts on Redis a job whose flow detail
// names caboose.examples.sum; a caboose conductor runs it; Python reads total = 5 back.
TEST(PythonPosterTest, CabooseConductorRunsAJobPostedByPythonTaskFlow) {
  TempDir dir;
  const std::string ns = "interop-" + make_uuid().substr(0, 8);
  const std::string db = (dir / "flows.db").string();
  const std::string python =
      "/usr/bin/python3 " CABOOSE_CONDUCTOR_INTEROP_DIR "/taskflow_poster.py " +
      std::to_string(RedisServer::shared().port()) + " " + ns + " sqlite:///" + db + " ";
  const Value posted = Value::parse(caboose::testing::run_command(python + "post"));
  ChildProcess conductor(
      {CABOOSE_BIN, "conductor", "--board", RedisServer::shared().uri() + "?namespace=" + ns,
       "--persistence", "sqlite:///" + db, "--drain", "--wait-ms", "50", "--json"},
      (dir / "conductor.out").string());
  const auto status = conductor.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << conductor.output();
  const std::string out = conductor.output();
  EXPECT_EQ(Value::parse(out.substr(out.rfind('{')))["consumed"], 1) << out;
  const Value read = Value::parse(
      caboose::testing::run_command(python + "read " + posted["flow"].get<std::string>()));
  EXPECT_EQ(read["flow_state"], "SUCCESS");
  EXPECT_EQ(read["atom_state"], "SUCCESS");
  EXPECT_EQ(read["total"], 5);
  EXPECT_TRUE(read["jobs"].empty());
}

// A conductor started while its board's server is down (restarting, say) waits for it instead
// of exiting, then drains the board.
TEST(ConductorStartTest, WaitsForABoardThatIsDownAtStart) {
  TempDir dir;
  EtcdServer& etcd = EtcdServer::shared();
  const std::string board_uri = "etcd://" + etcd.hosts() + "/start-" + make_uuid().substr(0, 8);
  const std::string store_uri = "sqlite:///" + (dir / "flows.db").string();
  {
    auto store = persistence::fetch(store_uri);
    auto board = jobs::fetch_jobboard(board_uri);
    post_job(*board, saved_flow(*store, {.name = "caboose.examples.noop"}));
  }
  etcd.kill();
  ChildProcess conductor({CABOOSE_BIN, "conductor", "--board", board_uri, "--persistence",
                          store_uri, "--drain", "--events", "--wait-ms", "50"},
                         (dir / "conductor.out").string());
  const bool waited =
      wait_until([&] { return conductor.output().find("retrying") != std::string::npos; }, 30s);
  etcd.restart();
  ASSERT_TRUE(waited) << conductor.output();
  const auto status = conductor.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << conductor.output();
  EXPECT_NE(conductor.output().find("\"job_consumed\""), std::string::npos) << conductor.output();
}

// The main job (README's first command, after setup): every job ends as it should.
TEST(ShowcaseTest, EveryJobEndsAsItShould) {
  TempDir dir;
  ChildProcess showcase({CABOOSE_BIN, "showcase", "--json", "--dir", dir.path().string()},
                        (dir / "showcase.out").string());
  const auto status = showcase.wait(std::chrono::minutes(3));
  ASSERT_TRUE(status && WIFEXITED(*status)) << showcase.output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << showcase.output();
  const std::string out = showcase.output();
  const Value summary = Value::parse(out.substr(out.find('{')));
  EXPECT_EQ(summary["ok"], true);
  EXPECT_EQ(summary["trashed"], 1);
  EXPECT_EQ(summary["resumed"], 1);
  EXPECT_EQ(summary["consumed"], summary["jobs"].size() - 1);
}

}  // namespace
}  // namespace caboose::conductors::testing
