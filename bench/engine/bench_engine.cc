// Engine overhead: a linear flow of N no-op tasks on the serial engine with memory persistence.
// Each iteration loads, compiles, prepares, validates and runs a fresh engine (building the flow
// is not timed). Counter per_task: wall time per task.
#include <string>

#include <benchmark/benchmark.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"

namespace {

caboose::FlowPtr no_op_linear_flow(std::int64_t n) {
  auto flow = caboose::linear_flow("bench");
  for (std::int64_t i = 0; i < n; ++i) {
    flow->add(caboose::task("t" + std::to_string(i), [] {}, {}));
  }
  return flow;
}

void BM_LinearSerialMemory(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    caboose::FlowPtr flow = no_op_linear_flow(n);
    state.ResumeTiming();
    auto engine = caboose::engine::load(std::move(flow));
    engine->run();
    state.PauseTiming();
    engine.reset();  // teardown is not engine overhead
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
  // Inverted iteration-invariant rate: seconds / (iterations * n * 1e-6) = microseconds per task.
  state.counters["us_per_task"] = benchmark::Counter(
      static_cast<double>(n) * 1e-6,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_LinearSerialMemory)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
