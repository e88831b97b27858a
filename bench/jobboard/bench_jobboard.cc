// Jobboard costs, on the sqlite:// board (one file, WAL). Post: posts per second. ClaimConsume:
// claim + consume round trips per second, one job at a time. ClaimWithWaiting: the cost of
// claiming and consuming one job while N others wait on the board (it must not grow with N).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>

#include "caboose/jobs/jobboard.h"

#include "persistence/temp_dir.h"

namespace {

namespace fs = std::filesystem;

void BM_Post(benchmark::State& state) {
  caboose::persistence::testing::TempDir scratch;
  auto board = caboose::jobs::fetch_jobboard("sqlite:///" + (scratch / "board.db").string());
  for (auto _ : state) {
    board->post("job", {.details = {{"store", {{"order", 17}}}}});
  }
  state.counters["posts_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Post)->UseRealTime();

void BM_ClaimConsume(benchmark::State& state) {
  caboose::persistence::testing::TempDir scratch;
  auto board = caboose::jobs::fetch_jobboard("sqlite:///" + (scratch / "board.db").string());
  const std::int64_t waiting = state.range(0);
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
    ->Arg(0)
    ->Arg(10)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
