// Persistence costs. AtomSaves: update_atom_details of one atom (a state change, as the engine
// makes two per task) on each backend, counter saves_per_second. LinearFlow: a linear flow of N
// no-op tasks run by the serial engine saving to the backend, counter us_per_task.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/persistence/dir_backend.h"
#include "caboose/persistence/memory_backend.h"
#include "caboose/persistence/postgres_backend.h"
#include "caboose/persistence/sqlite_backend.h"

#include "persistence/temp_dir.h"
#include "support/postgres_server.h"

namespace {

namespace fs = std::filesystem;
using caboose::persistence::Backend;

// A fresh database file in a private directory, removed afterwards.

enum Kind : std::int64_t {
  kMemory = 0,
  kSqliteNormal = 1,
  kSqliteFull = 2,
  kDir = 3,
  kPostgres = 4
};

std::unique_ptr<Backend> open(Kind kind, const caboose::persistence::testing::TempDir& scratch) {
  switch (kind) {
    case kMemory:
      return caboose::persistence::make_memory_backend();
    case kSqliteNormal:
      return caboose::persistence::make_sqlite_backend((scratch / "normal.db").string());
    case kSqliteFull:
      return caboose::persistence::make_sqlite_backend(
          (scratch / "full.db").string(),
          {.synchronous = caboose::persistence::SqliteOptions::Synchronous::kFull});
    case kDir:
      return caboose::persistence::make_dir_backend((scratch / "tree").string());
    case kPostgres:
      // CABOOSE_BENCH_POSTGRES names a database to use; otherwise a private server is started
      // (Debian's postgresql, as the tests do) with a fresh database.
      if (const char* uri = std::getenv("CABOOSE_BENCH_POSTGRES")) {
        return caboose::persistence::make_postgres_backend(uri);
      }
      return caboose::persistence::make_postgres_backend(
          caboose::testing::PostgresServer::shared().create_database());
  }
  return nullptr;
}

const char* label(Kind kind) {
  switch (kind) {
    case kMemory:
      return "memory";
    case kSqliteNormal:
      return "sqlite synchronous=NORMAL";
    case kSqliteFull:
      return "sqlite synchronous=FULL";
    case kDir:
      return "dir (fsync per file)";
    case kPostgres:
      return "postgresql";
  }
  return "";
}

void BM_AtomSaves(benchmark::State& state) {
  const auto kind = static_cast<Kind>(state.range(0));
  caboose::persistence::testing::TempDir scratch;
  auto backend = open(kind, scratch);
  caboose::persistence::LogBook book = caboose::persistence::make_logbook("bench");
  caboose::persistence::FlowDetail flow = caboose::persistence::make_flow_detail("bench");
  caboose::persistence::AtomDetail atom;
  atom.name = "task";
  atom.uuid = "atom-0";
  atom.version = "1.0";
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  backend->save_logbook(book);
  bool running = false;
  for (auto _ : state) {
    atom.state = running ? caboose::AtomState::kSuccess : caboose::AtomState::kRunning;
    atom.results = running ? caboose::Value(42) : caboose::Value();
    running = !running;
    backend->update_atom_details(atom);
  }
  state.SetLabel(label(kind));
  state.counters["saves_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AtomSaves)
    ->Arg(kMemory)
    ->Arg(kSqliteNormal)
    ->Arg(kSqliteFull)
    ->Arg(kDir)
    ->Arg(kPostgres)
    ->UseRealTime();

void BM_LinearFlow(benchmark::State& state) {
  const auto kind = static_cast<Kind>(state.range(0));
  const std::int64_t n = state.range(1);
  caboose::persistence::testing::TempDir scratch;
  auto backend = open(kind, scratch);
  for (auto _ : state) {
    state.PauseTiming();
    auto flow = caboose::linear_flow("bench");
    for (std::int64_t i = 0; i < n; ++i) {
      std::string name = "t";
      name += std::to_string(i);
      flow->add(caboose::task(name, [] {}));
    }
    state.ResumeTiming();
    auto engine = caboose::engine::load(std::move(flow), {.backend = backend.get()});
    engine->run();
  }
  state.SetLabel(label(kind));
  state.counters["us_per_task"] = benchmark::Counter(
      static_cast<double>(n) * 1e-6,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_LinearFlow)
    ->Args({kMemory, 1000})
    ->Args({kSqliteNormal, 1000})
    ->Args({kSqliteFull, 1000})
    ->Args({kDir, 1000})
    ->Args({kPostgres, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
