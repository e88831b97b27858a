// I/O errors under the persistence store (RELIABILITY.md F13): two `caboose conductor` processes
// run under libfiu's POSIX preload (`fiu-run -x`, Debian's fiu-utils) and drain a board of
// ledger jobs while the file I/O calls their store makes (SQLite: pwrite64, pread64, fdatasync;
// the directory backend: open, read, write, fsync, rename, and in a case of their own its
// listings and removals: opendir, fdopendir, readdir, unlink) fail at random with EIO or ENOSPC.
// (SQLite maps its WAL index once per process and file: a fault in mmap could only hit a
// conductor's start, so none is injected there.)
// The same calls also fail under the embedded SQLite board and the ledger in those processes:
// they must be survived too. Faults are switched on once the conductors run and off again with
// fiu-ctrl through each process's control fifo. Expected: the failures surface as
// StorageFailure with the errno's text, the jobs are abandoned and later consumed, no conductor
// dies, the checker finds no violation and the store is whole (integrity_check ok; every record
// of the directory parses). The test fails if no fault was observed, so injection that silently
// stops working cannot pass. CABOOSE_IOFAULT_JOBS=N runs more jobs (the long tier:
// scripts/chaos io).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "conductors/conductor_cases.h"
#include "persistence/temp_dir.h"
#include "reliability/chaos.h"
#include "reliability/store_check.h"
#include "support/child_process.h"

#if defined(__SANITIZE_ADDRESS__)
#define CABOOSE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CABOOSE_UNDER_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define CABOOSE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CABOOSE_UNDER_TSAN 1
#endif
#endif

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::wait_until;

constexpr const char* kFiuRun = "/usr/bin/fiu-run";
constexpr const char* kFiuCtrl = "/usr/bin/fiu-ctrl";
constexpr const char* kFiuPreloads =
    "/usr/lib/fiu/fiu_run_preload.so /usr/lib/fiu/fiu_posix_preload.so";
constexpr int kTasks = 3;

std::int64_t env_int(const char* name, std::int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoll(v) : fallback;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The log lines that name `store` and one of `errors`: failures of the store's own calls.
std::vector<std::string> store_failures(const std::string& text, const std::string& store,
                                        const std::vector<std::string>& errors) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(store) == std::string::npos) {
      continue;
    }
    for (const std::string& e : errors) {
      if (line.find(e) != std::string::npos) {
        lines.push_back(line);
        break;
      }
    }
  }
  return lines;
}

#ifdef CABOOSE_UNDER_ASAN
// The path of the loaded library whose file name starts with `prefix` ("libasan.so"), or "".
std::string loaded_library(const std::string& prefix) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const std::size_t slash = line.rfind('/');
    if (slash != std::string::npos && line.compare(slash + 1, prefix.size(), prefix) == 0) {
      return line.substr(line.find('/'));
    }
  }
  return "";
}
#endif

// The command that runs `program` under libfiu's POSIX preload with its control fifo at
// `fifos`-PID: fiu-run -x. A sanitized build sets fiu-run's environment itself, with the
// sanitizer's runtime first in LD_PRELOAD: after libfiu's, whose malloc wrapper calls dlsym
// before ASan is up, the process dies at start. ASan's interceptors then call libfiu's wrappers
// (the next definition), so the faults still reach the program.
std::vector<std::string> under_fiu(const std::string& fifos, std::vector<std::string> program) {
  std::vector<std::string> argv;
#ifdef CABOOSE_UNDER_ASAN
  const char* asan = std::getenv("ASAN_OPTIONS");
  argv = {"/usr/bin/env",
          "ASAN_OPTIONS=" + std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0",
          fmt::format("LD_PRELOAD={} {}", loaded_library("libasan.so"), kFiuPreloads),
          "FIU_CTRL_FIFO=" + fifos, "FIU_ENABLE="};
#else
  argv = {kFiuRun, "-x", "-f", fifos};
#endif
  argv.insert(argv.end(), std::make_move_iterator(program.begin()),
              std::make_move_iterator(program.end()));
  return argv;
}

// A log file read as it grows: each call returns the complete lines added since the last.
class LogTail {
 public:
  explicit LogTail(std::string path) : path_(std::move(path)) {}
  std::string new_lines() {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(read_));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t end = text.rfind('\n');
    if (end == std::string::npos) {
      return "";
    }
    read_ += end + 1;
    return text.substr(0, end + 1);
  }

 private:
  std::string path_;
  std::size_t read_ = 0;
};

struct IoFaultCase {
  std::string name;  // test-name suffix
  std::string (*uri)(const std::string& path);
  int error;                        // the errno every injected failure sets
  std::vector<std::string> points;  // libfiu's names of the calls that fail
  double probability;               // of each call failing while faults are on
  // What the store's StorageFailure says then: the errno's text (dir); SQLite's message with
  // the failed call's code (SQLite keeps no errno).
  std::vector<std::string> errors;
};

class IoFaults : public ::testing::TestWithParam<IoFaultCase> {};

TEST_P(IoFaults, FailedWritesAndReadsAreRetriedAndNothingIsLost) {
#ifdef CABOOSE_UNDER_TSAN
  GTEST_SKIP() << "a ThreadSanitizer build of caboose dies at start (SIGSEGV) under libfiu's "
                  "POSIX preload, with or without libtsan first in LD_PRELOAD; the plain and "
                  "ASan+UBSan builds run this test";
#endif
  ASSERT_TRUE(std::filesystem::exists(kFiuRun) && std::filesystem::exists(kFiuCtrl))
      << "fiu-run and fiu-ctrl are missing: apt-get install fiu-utils libfiu0 (scripts/setup)";
  const IoFaultCase& param = GetParam();
  persistence::testing::TempDir dir;
  const std::string board_uri = "sqlite:///" + (dir / "board.db").string() + "?lease_ms=1000";
  const std::string store_path = (dir / "flows").string();
  const std::string store_uri = param.uri(store_path);
  const std::string ledger = (dir / "ledger.db").string();
  const std::string fifos = (dir / "fiu").string();
  auto board = jobs::fetch_jobboard(board_uri);
  auto store = persistence::fetch(store_uri);

  const auto jobs = env_int("CABOOSE_IOFAULT_JOBS", 12);
  std::vector<PostedJob> posted;
  for (std::int64_t i = 0; i < jobs; ++i) {
    const auto book = conductors::testing::saved_flow(
        *store, {.name = "caboose.examples.ledger",
                 .kwargs = {{"ledger", ledger}, {"tasks", kTasks}, {"ms", 5}}});
    posted.push_back({conductors::testing::post_job(*board, book, Value::object(), 1000).uuid,
                      book.flows.front().uuid});
  }

  std::vector<std::unique_ptr<ChildProcess>> conductors;
  for (int c = 0; c < 2; ++c) {
    conductors.push_back(std::make_unique<ChildProcess>(
        under_fiu(fifos, {CABOOSE_BIN, "conductor", "--board", board_uri, "--persistence",
                          store_uri, "--name", fmt::format("io-{}", c), "--max-jobs", "2",
                          "--wait-ms", "50", "--backoff-ms", "5", "--log-level", "info"}),
        (dir / fmt::format("io-{}.out", c)).string()));
  }
  auto outputs = [&] {
    std::string all;
    for (const auto& c : conductors) {
      all += c->output();
    }
    return all;
  };
  // Tells every conductor `command` through its control fifo (fiu-ctrl waits for the reply).
  auto control = [&](const std::string& command) {
    for (const auto& c : conductors) {
      ChildProcess ctrl({kFiuCtrl, "-f", fifos, "-c", command, std::to_string(c->pid())},
                        (dir / "fiu-ctrl.out").string());
      const auto status = ctrl.wait(30s);
      ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0 &&
                  ctrl.output().find("error") == std::string::npos)
          << command << ": " << ctrl.output();
    }
  };
  // Faults start once both conductors run (opening the board or the store on a failing disk,
  // a conductor exits with the error, as it should; that is not what this test is about).
  ASSERT_TRUE(wait_until(
      [&] {
        for (std::size_t c = 0; c < conductors.size(); ++c) {
          if (!std::filesystem::exists(fmt::format("{}-{}.in", fifos, conductors[c]->pid())) ||
              conductors[c]->output().find(fmt::format("conductor started name=io-{}", c)) ==
                  std::string::npos) {
            return false;
          }
        }
        return true;
      },
      60s))
      << "the conductors did not start, or libfiu made no control fifo:\n"
      << outputs();

  for (const std::string& point : param.points) {
    control(fmt::format("enable_random name={},probability={},failinfo={}", point,
                        param.probability, param.error));
  }
  // Faults stay on until the store's own calls failed a few times (a job abandoned waits out a
  // backoff that doubles per attempt, so a long fault phase makes a long drain).
  const auto wanted = static_cast<std::size_t>(std::max<std::int64_t>(3, jobs / 4));
  std::vector<LogTail> logs;
  for (std::size_t c = 0; c < conductors.size(); ++c) {
    logs.emplace_back((dir / fmt::format("io-{}.out", c)).string());
  }
  std::size_t seen = 0;  // store failures in the lines read so far
  const bool observed = wait_until(
      [&] {
        for (LogTail& log : logs) {
          seen += store_failures(log.new_lines(), store_path, param.errors).size();
        }
        return seen >= wanted;
      },
      std::chrono::seconds(env_int("CABOOSE_IOFAULT_SECONDS", 30)));
  for (const std::string& point : param.points) {
    control(fmt::format("disable name={}", point));
  }
  const std::string under_faults = outputs();
  const std::vector<std::string> failures = store_failures(under_faults, store_path, param.errors);
  EXPECT_TRUE(observed) << "the store's calls failed " << failures.size() << " times, not "
                        << wanted << "\n"
                        << under_faults;
  ASSERT_GT(failures.size(), 0u)
      << "no injected fault surfaced from the store: is libfiu's preload wrapping its calls?\n"
      << under_faults;
  for (const auto& c : conductors) {
    EXPECT_FALSE(c->wait(0ms).has_value()) << "a conductor died of an I/O error:\n" << c->output();
  }

  ASSERT_TRUE(wait_until([&] { return board->job_count() == 0; },
                         std::max<std::chrono::milliseconds>(120s, jobs * 1s)))
      << board->job_count() << " jobs left\n"
      << outputs();
  for (const auto& c : conductors) {
    c->signal(SIGTERM);
  }
  for (const auto& c : conductors) {
    const auto status = c->wait(30s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "status " << (status ? *status : -1) << "\n"
        << c->output();
  }

  const std::string all = outputs();
  const Report report = check(posted, *board, *store, read_ledger(ledger), kTasks);
  const std::string problems = report.problems_text();
  EXPECT_EQ(report.violations(), 0u) << problems;
  EXPECT_EQ(report.consumed, posted.size()) << problems;
  store.reset();
  EXPECT_EQ(store_problems(store_uri), "");
  std::cout << fmt::format(
      "{}: jobs={} consumed={} store failures={} jobs abandoned={} task failures (ledger)={} "
      "board failures={} claims lost={} violations={}\n  first store failure: {}\n",
      param.name, jobs, report.consumed, store_failures(all, store_path, param.errors).size(),
      count(all, "job abandoned"), count(all, "ledger: cannot"),
      store_failures(all, (dir / "board.db").string(), param.errors).size(), count(all, "job lost"),
      report.violations(), failures.front());
}

std::string sqlite_uri(const std::string& path) {
  return "sqlite:///" + path + ".db";
}
std::string dir_uri(const std::string& path) {
  return "dir://" + path;
}

// SQLite's unix VFS writes with pwrite64, reads with pread64 and syncs with fdatasync (libfiu's
// points posix/io/rw/pwrite, posix/io/rw/pread, posix/io/sync/fdatasync). The directory backend
// opens, reads, writes, fsyncs and renames.
const std::vector<std::string> kSqlitePoints = {"posix/io/rw/pwrite", "posix/io/rw/pread",
                                                "posix/io/sync/fdatasync"};
const std::vector<std::string> kDirPoints = {"posix/io/oc/open", "posix/io/rw/read",
                                             "posix/io/rw/write", "posix/io/sync/fsync",
                                             "posix/io/dir/rename"};
// Its listings (a flow's atoms, a book's flows: std::filesystem's opendir/readdir) and removals.
const std::vector<std::string> kDirListingPoints = {"posix/io/dir/opendir",
                                                    "posix/io/dir/fdopendir",
                                                    "posix/io/dir/readdir", "posix/io/dir/unlink"};

INSTANTIATE_TEST_SUITE_P(
    Stores, IoFaults,
    ::testing::Values(
        IoFaultCase{"sqlite_eio", sqlite_uri, EIO, kSqlitePoints, 0.05, {"disk I/O error"}},
        IoFaultCase{"sqlite_enospc",
                    sqlite_uri,
                    ENOSPC,
                    kSqlitePoints,
                    0.05,
                    {"database or disk is full", "disk I/O error"}},
        IoFaultCase{"dir_eio", dir_uri, EIO, kDirPoints, 0.05, {std::strerror(EIO)}},
        IoFaultCase{"dir_enospc", dir_uri, ENOSPC, kDirPoints, 0.05, {std::strerror(ENOSPC)}},
        IoFaultCase{
            "dir_listing_eio", dir_uri, EIO, kDirListingPoints, 0.05, {std::strerror(EIO)}}),
    [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace caboose::reliability
