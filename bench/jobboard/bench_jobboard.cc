// Jobboard costs on the sqlite:// board (one file, WAL; argument 0) and the redis:// board
// (argument 1: a private redis-server started as the tests start it, or CABOOSE_BENCH_REDIS) and
// the zookeeper:// board (argument 2: a private ZooKeeper, or CABOOSE_BENCH_ZOOKEEPER=host:port)
// and the etcd:// board (argument 3: a private etcd, or CABOOSE_BENCH_ETCD=host:port).
// Post: posts per second. ClaimConsume/<board>/<N>: claim + consume cycles per second, one job
// at a time, while N other jobs wait on the board (the cost must not grow with N).
// TaskFlowZooKeeperPost and TaskFlowZooKeeperClaimConsume/<N> measure Python TaskFlow's
// ZooKeeper board the same way, on the same server, in the same run (taskflow_zk_jobboard.py,
// Debian's python3-taskflow; skipped when CABOOSE_BENCH_PYTHON=0).
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/core/value.h"
#include "caboose/jobs/jobboard.h"

#include "persistence/temp_dir.h"
#include "support/etcd_server.h"
#include "support/redis_server.h"
#include "support/zookeeper_server.h"

namespace {

namespace fs = std::filesystem;

std::unique_ptr<caboose::jobs::JobBoard> open_board(
    std::int64_t kind, const caboose::persistence::testing::TempDir& scratch) {
  if (kind == 0) {
    return caboose::jobs::fetch_jobboard("sqlite:///" + (scratch / "board.db").string());
  }
  if (kind == 2) {
    const char* zk = std::getenv("CABOOSE_BENCH_ZOOKEEPER");
    const std::string hosts =
        zk != nullptr ? zk : caboose::testing::ZooKeeperServer::shared().hosts();
    return caboose::jobs::fetch_jobboard("zookeeper://" + hosts + "/bench-" +
                                         caboose::make_uuid().substr(0, 8) +
                                         "/jobs?session_timeout_ms=30000");
  }
  if (kind == 3) {
    const char* etcd = std::getenv("CABOOSE_BENCH_ETCD");
    const std::string hosts =
        etcd != nullptr ? etcd : caboose::testing::EtcdServer::shared().hosts();
    return caboose::jobs::fetch_jobboard("etcd://" + hosts + "/bench-" +
                                         caboose::make_uuid().substr(0, 8));
  }
  const char* given = std::getenv("CABOOSE_BENCH_REDIS");
  const std::string uri = given != nullptr ? given : caboose::testing::RedisServer::shared().uri();
  return caboose::jobs::fetch_jobboard(uri + "?namespace=bench-" + caboose::make_uuid());
}

void BM_Post(benchmark::State& state) {
  caboose::persistence::testing::TempDir scratch;
  auto board = open_board(state.range(0), scratch);
  for (auto _ : state) {
    board->post("job", {.details = {{"store", {{"order", 17}}}}});
  }
  state.counters["posts_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Post)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->UseRealTime();

void BM_ClaimConsume(benchmark::State& state) {
  caboose::persistence::testing::TempDir scratch;
  auto board = open_board(state.range(0), scratch);
  const std::int64_t waiting = state.range(1);
  for (std::int64_t i = 0; i < waiting; ++i) {
    try {
      board->post("waiting", {.priority = caboose::jobs::JobPriority::kLow});
    } catch (const caboose::StorageFailure&) {
      --i;  // a busy server timed the post out (setup, not measured): post another
    }
  }
  // One cycle before timing: the first write after a bulk of posts pays SQLite's checkpoint.
  board->consume(board->claim(board->post("warm-up").uuid, "bench"));
  for (auto _ : state) {
    state.PauseTiming();
    const caboose::jobs::Job job =
        board->post("next", {.priority = caboose::jobs::JobPriority::kHigh});
    state.ResumeTiming();
    board->consume(board->claim(job.uuid, "bench"));
  }
  state.counters["cycles_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ClaimConsume)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 10, 10000, 100000}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Runs the Python side against the ZooKeeper the C++ cases use; its JSON line's numbers become
// the case's counters.
void run_python(benchmark::State& state, const std::string& arguments) {
  const char* enabled = std::getenv("CABOOSE_BENCH_PYTHON");
  if (enabled != nullptr && std::string(enabled) == "0") {
    state.SkipWithError("CABOOSE_BENCH_PYTHON=0");
    return;
  }
  const char* zk = std::getenv("CABOOSE_BENCH_ZOOKEEPER");
  const std::string hosts =
      zk != nullptr ? zk : caboose::testing::ZooKeeperServer::shared().hosts();
  const std::string command = "/usr/bin/python3 " CABOOSE_BENCH_JOBBOARD_DIR
                              "/taskflow_zk_jobboard.py " +
                              hosts + " " + arguments;
  std::string output;
  for (auto _ : state) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      state.SkipWithError("cannot run /usr/bin/python3");
      return;
    }
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
      output += buffer.data();
    }
    if (::pclose(pipe) != 0) {
      state.SkipWithError(("the Python side failed: " + command).c_str());
      return;
    }
  }
  const caboose::Value result = caboose::Value::parse(output, nullptr, false);
  if (!result.is_object()) {
    state.SkipWithError(("the Python side printed no JSON: " + output).c_str());
    return;
  }
  for (const auto& [name, value] : result.items()) {
    state.counters[name] = value.get<double>();
  }
}

void BM_TaskFlowZooKeeperPost(benchmark::State& state) {
  run_python(state, "post 2000");
}
BENCHMARK(BM_TaskFlowZooKeeperPost)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_TaskFlowZooKeeperClaimConsume(benchmark::State& state) {
  run_python(state, "claim " + std::to_string(state.range(0)) + " 300");
}
BENCHMARK(BM_TaskFlowZooKeeperClaimConsume)
    ->Arg(0)
    ->Arg(10)
    ->Arg(10000)
    ->Arg(100000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
