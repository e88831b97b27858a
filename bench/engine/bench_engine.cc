// Engine overhead per atom, with memory persistence. Each iteration loads, compiles, prepares,
// validates and runs a fresh engine on a flow of N no-op tasks (building the flow and tearing
// the engine down are not timed). Counter us_per_task: wall microseconds per task.
//
//   LinearSerial      a linear flow, serial engine (the baseline)
//   LinearParallel    the same on the parallel engine (its scheduling overhead)
//   UnorderedParallel an unordered flow on the parallel engine (every task ready at once)
//   GraphChain        a graph flow whose tasks form a chain through what they provide/require
//   LayeredDag        (serial and parallel) a graph flow of layers of 10 tasks, each task after
//   every task of the
//                     layer before (links added explicitly)
//   RevertLinear      a linear flow whose last task fails: N-1 executes and N reverts
//   SleepyChains      two chains of tasks waiting 100 µs each, serial and parallel
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include <benchmark/benchmark.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"

namespace {

using caboose::FlowPtr;
using caboose::engine::ExecutorKind;

std::string name(std::int64_t i) {
  std::string out = "t";
  out += std::to_string(i);
  return out;
}

FlowPtr linear(std::int64_t n, bool last_fails = false) {
  auto flow = caboose::linear_flow("bench");
  for (std::int64_t i = 0; i < n; ++i) {
    if (last_fails && i == n - 1) {
      flow->add(caboose::task(name(i), []() -> int { throw std::runtime_error("last fails"); }));
    } else {
      flow->add(caboose::task(name(i), [] {}));
    }
  }
  return flow;
}

FlowPtr unordered(std::int64_t n) {
  auto flow = caboose::unordered_flow("bench");
  for (std::int64_t i = 0; i < n; ++i) {
    flow->add(caboose::task(name(i), [] {}));
  }
  return flow;
}

std::string value(std::int64_t i) {
  std::string out = "v";
  out += std::to_string(i);
  return out;
}

// t0 provides v0; ti requires v(i-1) and provides vi: edges inferred by the graph flow.
FlowPtr graph_chain(std::int64_t n) {
  auto flow = caboose::graph_flow("bench");
  flow->add(caboose::task(name(0), [] { return 0; }, {.provides = "v0"}));
  for (std::int64_t i = 1; i < n; ++i) {
    flow->add(caboose::task(name(i), [](int v) { return v + 1; },
                            {.args = {value(i - 1)}, .provides = value(i)}));
  }
  return flow;
}

constexpr std::int64_t kLayerWidth = 10;

FlowPtr layered_dag(std::int64_t n) {
  auto flow = caboose::graph_flow("bench");
  for (std::int64_t i = 0; i < n; ++i) {
    flow->add(caboose::task(name(i), [] {}));
  }
  for (std::int64_t i = kLayerWidth; i < n; ++i) {
    const std::int64_t layer_start = (i / kLayerWidth - 1) * kLayerWidth;
    for (std::int64_t j = layer_start; j < layer_start + kLayerWidth; ++j) {
      flow->link(name(j), name(i));
    }
  }
  return flow;
}

template <class MakeFlow>
void run_engine(benchmark::State& state, MakeFlow make_flow, ExecutorKind executor,
                bool expect_failure = false) {
  const std::int64_t n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    FlowPtr flow = make_flow(n);
    state.ResumeTiming();
    auto engine = caboose::engine::load(std::move(flow),
                                        {.options = {.executor = executor, .max_workers = 2}});
    try {
      engine->run();
    } catch (const std::runtime_error&) {
      if (!expect_failure) {
        throw;
      }
    }
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

void BM_LinearSerial(benchmark::State& state) {
  run_engine(
      state, [](std::int64_t n) { return linear(n); }, ExecutorKind::kSerial);
}
void BM_LinearParallel(benchmark::State& state) {
  run_engine(
      state, [](std::int64_t n) { return linear(n); }, ExecutorKind::kParallel);
}
void BM_UnorderedParallel(benchmark::State& state) {
  run_engine(state, unordered, ExecutorKind::kParallel);
}
void BM_GraphChainSerial(benchmark::State& state) {
  run_engine(state, graph_chain, ExecutorKind::kSerial);
}
void BM_LayeredDagSerial(benchmark::State& state) {
  run_engine(state, layered_dag, ExecutorKind::kSerial);
}
void BM_LayeredDagParallel(benchmark::State& state) {
  run_engine(state, layered_dag, ExecutorKind::kParallel);
}
// Two chains of tasks that each wait 100 µs (I/O, say): the parallel engine should take about
// half the serial time. Guards against waiting schemes that only pay off for no-op tasks.
FlowPtr two_sleepy_chains(std::int64_t n) {
  auto flow = caboose::unordered_flow("bench");
  for (std::int64_t chain = 0; chain < 2; ++chain) {
    auto lf = caboose::linear_flow(name(-1 - chain));
    for (std::int64_t i = chain; i < n; i += 2) {
      lf->add(caboose::task(name(i),
                            [] { std::this_thread::sleep_for(std::chrono::microseconds(100)); }));
    }
    flow->add(std::move(lf));
  }
  return flow;
}
void BM_SleepyChainsSerial(benchmark::State& state) {
  run_engine(state, two_sleepy_chains, ExecutorKind::kSerial);
}
void BM_SleepyChainsParallel(benchmark::State& state) {
  run_engine(state, two_sleepy_chains, ExecutorKind::kParallel);
}

void BM_RevertLinearSerial(benchmark::State& state) {
  run_engine(
      state, [](std::int64_t n) { return linear(n, true); }, ExecutorKind::kSerial, true);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_LinearSerial)->Apply(sizes);
BENCHMARK(BM_LinearParallel)->Apply(sizes);
BENCHMARK(BM_UnorderedParallel)->Apply(sizes);
BENCHMARK(BM_GraphChainSerial)->Apply(sizes);
BENCHMARK(BM_LayeredDagSerial)->Apply(sizes);
BENCHMARK(BM_LayeredDagParallel)->Apply(sizes);
BENCHMARK(BM_RevertLinearSerial)->Apply(sizes);
BENCHMARK(BM_SleepyChainsSerial)->Arg(200)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SleepyChainsParallel)->Arg(200)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
