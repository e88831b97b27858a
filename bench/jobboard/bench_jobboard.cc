// Jobboard costs on the sqlite:// board (one file, WAL; argument 0) and the redis:// board
// (argument 1: a private redis-server started as the tests start it, or CABOOSE_BENCH_REDIS) and
// the zookeeper:// board (argument 2: a private ZooKeeper, or CABOOSE_BENCH_ZOOKEEPER=host:port).
// Post: posts per second. ClaimConsume/<board>/<N>: claim + consume cycles per second, one job
// at a time, while N other jobs wait on the board (the cost must not grow with N).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>

#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "persistence/temp_dir.h"
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
                                         caboose::make_uuid().substr(0, 8) + "/jobs");
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
BENCHMARK(BM_Post)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

void BM_ClaimConsume(benchmark::State& state) {
  caboose::persistence::testing::TempDir scratch;
  auto board = open_board(state.range(0), scratch);
  const std::int64_t waiting = state.range(1);
  for (std::int64_t i = 0; i < waiting; ++i) {
    board->post("waiting", {.priority = caboose::jobs::JobPriority::kLow});
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
    ->ArgsProduct({{0, 1, 2}, {0, 10, 10000, 100000}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
