// Conductor throughput: jobs per second drained from a board by 1 or 2 conductors (blocking or
// non-blocking), each job a 1-task flow (caboose.examples.noop) posted as
// a TaskFlow poster posts it (a logbook with one flow detail naming the factory, then the job).
//
// Drain/<board>/<persistence>/<conductors>/<kind>: board 0 = sqlite:// (one file, WAL), 1 =
// redis:// (a private redis-server, or CABOOSE_BENCH_REDIS), 2 = zookeeper:// (a private
// ZooKeeper, or CABOOSE_BENCH_ZOOKEEPER=host:port); persistence 0 = SQLite file shared
// by the conductors, 1 = memory (each conductor's own, the books copied in before the clock
// starts, as the Python peer's benchmark does); kind 0 = blocking, 1 = non-blocking running 4 jobs
// at once (the Python peer's setting), 2 = non-blocking running 16.
// metrics 1: each conductor counts into a MetricsRegistry (nothing scrapes it).
// Posting is not timed; the clock runs from the conductors' start to the last job consumed.
//
// IdleRss: the resident memory of an idle `caboose conductor` process (an empty board), in KiB.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "caboose/conductors/conductor.h"
#include "caboose/conductors/examples.h"
#include "caboose/conductors/post.h"
#include "caboose/core/metrics.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/redis_server.h"
#include "support/zookeeper_server.h"

namespace {

using namespace std::chrono_literals;
using caboose::Value;
namespace conductors = caboose::conductors;
namespace jobs = caboose::jobs;
namespace persistence = caboose::persistence;

constexpr int kJobs = 1000;

std::string board_uri(std::int64_t kind, const persistence::testing::TempDir& scratch,
                      const std::string& ns) {
  if (kind == 0) {
    return "sqlite:///" + (scratch / "board.db").string();
  }
  if (kind == 2) {
    const char* zk = std::getenv("CABOOSE_BENCH_ZOOKEEPER");
    return "zookeeper://" +
           std::string(zk != nullptr ? zk : caboose::testing::ZooKeeperServer::shared().hosts()) +
           "/" + ns + "/jobs";
  }
  const char* given = std::getenv("CABOOSE_BENCH_REDIS");
  const std::string uri = given != nullptr ? given : caboose::testing::RedisServer::shared().uri();
  return uri + "?namespace=" + ns;
}

const conductors::FlowRegistry& registry() {
  static const conductors::FlowRegistry r = [] {
    conductors::FlowRegistry out;
    conductors::add_example_flows(out);
    return out;
  }();
  return r;
}

void BM_Drain(benchmark::State& state) {
  const std::int64_t board_kind = state.range(0);
  const bool memory = state.range(1) == 1;
  const auto count = static_cast<std::size_t>(state.range(2));
  const std::int64_t kind = state.range(3);  // 0 blocking, 1: 4 at once, 2: 16 at once
  const bool measured = state.range(4) == 1;
  double total_seconds = 0;
  std::int64_t total_jobs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    persistence::testing::TempDir scratch;
    const std::string ns = "bench-" + caboose::make_uuid();
    const std::string flows_uri = "sqlite:///" + (scratch / "flows.db").string();
    auto poster_board = jobs::fetch_jobboard(board_uri(board_kind, scratch, ns));
    auto poster_backend = persistence::fetch(flows_uri);
    std::vector<persistence::LogBook> books;
    for (int i = 0; i < kJobs; ++i) {
      const jobs::Job job = conductors::post_flow_job(
          *poster_board, *poster_backend,
          {.name = "bench", .factory = {.name = "caboose.examples.noop"}});
      books.push_back(poster_backend->get_logbook(*job.book_uuid));
    }
    // Each conductor: its own board connection and persistence backend.
    std::vector<std::unique_ptr<jobs::JobBoard>> boards;
    std::vector<std::unique_ptr<persistence::Backend>> backends;
    std::vector<std::unique_ptr<caboose::MetricsRegistry>> metrics;  // outlive the conductors
    std::vector<std::unique_ptr<conductors::Conductor>> running;
    std::mutex mu;
    std::condition_variable done;
    int consumed = 0;
    for (std::size_t c = 0; c < count; ++c) {
      boards.push_back(jobs::fetch_jobboard(board_uri(board_kind, scratch, ns)));
      backends.push_back(memory ? persistence::fetch("memory://") : persistence::fetch(flows_uri));
      if (memory) {
        for (const auto& book : books) {
          backends.back()->save_logbook(book);
        }
      }
      conductors::ConductorOptions options{.wait_timeout = 20ms};
      if (measured) {
        metrics.push_back(std::make_unique<caboose::MetricsRegistry>());
        options.metrics = metrics.back().get();
      }
      const std::string name = "bench-" + std::to_string(c);
      if (kind > 0) {
        running.push_back(std::make_unique<conductors::NonBlockingConductor>(
            name, *boards.back(), *backends.back(), registry(), kind == 1 ? 4 : 16, options));
      } else {
        running.push_back(std::make_unique<conductors::BlockingConductor>(
            name, *boards.back(), *backends.back(), registry(), options));
      }
      running.back()->notifier().register_callback("job_consumed",
                                                   [&](std::string_view, const Value&) {
                                                     std::lock_guard lock(mu);
                                                     if (++consumed == kJobs) {
                                                       done.notify_all();
                                                     }
                                                   });
    }
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::jthread> threads;
    for (auto& conductor : running) {
      threads.emplace_back([&conductor] { conductor->run(); });
    }
    {
      std::unique_lock lock(mu);
      done.wait(lock, [&] { return consumed == kJobs; });
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.PauseTiming();
    for (auto& conductor : running) {
      conductor->stop();
    }
    threads.clear();
    total_seconds += seconds;
    total_jobs += kJobs;
    state.ResumeTiming();
  }
  state.counters["jobs_per_second"] = static_cast<double>(total_jobs) / total_seconds;
  state.counters["us_per_job"] = total_seconds * 1e6 / static_cast<double>(total_jobs);
}
BENCHMARK(BM_Drain)
    ->ArgNames({"board", "memory", "conductors", "kind", "metrics"})
    ->ArgsProduct({{0, 1}, {0, 1}, {1, 2}, {0, 1, 2}, {0}})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// ZooKeeper (board 2): one conductor, blocking or 4 at once.
BENCHMARK(BM_Drain)
    ->ArgNames({"board", "memory", "conductors", "kind", "metrics"})
    ->ArgsProduct({{2}, {0, 1}, {1}, {0, 1}, {0}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The cost of metrics (ConductorOptions::metrics): the same drains with and without.
BENCHMARK(BM_Drain)
    ->ArgNames({"board", "memory", "conductors", "kind", "metrics"})
    ->ArgsProduct({{0, 1}, {1}, {1}, {0, 2}, {0, 1}})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Drain)
    ->ArgNames({"board", "memory", "conductors", "kind", "metrics"})
    ->ArgsProduct({{2}, {1}, {1}, {0}, {0, 1}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

std::int64_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

void BM_IdleRss(benchmark::State& state) {
  const std::int64_t board_kind = state.range(0);
  std::int64_t rss = 0;
  for (auto _ : state) {
    persistence::testing::TempDir scratch;
    caboose::testing::ChildProcess conductor(
        {CABOOSE_BIN, "conductor", "--board",
         board_uri(board_kind, scratch, "bench-" + caboose::make_uuid()), "--persistence",
         "sqlite:///" + (scratch / "flows.db").string()},
        (scratch / "out").string());
    std::this_thread::sleep_for(2s);  // settle: connected, idle, waiting on the board
    rss = rss_kib(conductor.pid());
    conductor.signal(SIGTERM);
    (void)conductor.wait(10s);
  }
  state.counters["rss_kib"] = static_cast<double>(rss);
}
BENCHMARK(BM_IdleRss)->ArgNames({"board"})->Arg(0)->Arg(1)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
