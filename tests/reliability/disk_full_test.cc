// A full disk under the persistence store (RELIABILITY.md F14): the store (SQLite, or the
// directory backend) of two `caboose conductor` processes lives on a small tmpfs that the
// workload's results overflow. While the disk is full, saves fail (SQLITE_FULL or ENOSPC, a
// StorageFailure): jobs are abandoned, never consumed with an atom unsaved, and no conductor
// dies. Once the tmpfs is remounted larger, every job ends consumed, the checker finds no
// violation, and the store is whole: the database passes integrity_check, every record of the
// directory parses. Needs root (mount); elsewhere it says why it cannot run.
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
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

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::wait_until;

// A tmpfs mounted at `path` for the test's life.
class Tmpfs {
 public:
  Tmpfs(std::filesystem::path path, const std::string& size) : path_(std::move(path)) {
    std::filesystem::create_directories(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
    }
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool resize(const std::string& size) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string error_;
};

// One store on the small tmpfs.
struct DiskFullCase {
  std::string name;  // test-name suffix
  std::string size;  // of the tmpfs: the jobs' first saves fit, their results do not
  std::string (*uri)(const std::string& path);
  std::string full_message;  // in a conductor's log once a save failed for want of space
};

class DiskFull : public ::testing::TestWithParam<DiskFullCase> {};

std::string first_line_with(const std::string& text, const std::string& what) {
  const std::size_t at = text.find(what);
  if (at == std::string::npos) {
    return "";
  }
  const std::size_t begin = text.rfind('\n', at);
  const std::size_t start = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(start, text.find('\n', at) - start);
}

TEST_P(DiskFull, JobsWaitForSpaceAndEndOnceItIsBack) {
  const DiskFullCase& param = GetParam();
  if (::geteuid() != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root";
  }
  persistence::testing::TempDir dir;
  Tmpfs small(dir / "small", param.size);
  ASSERT_TRUE(small.mounted()) << "cannot mount a tmpfs: " << small.error();
  const std::string store_path = (dir / "small" / "flows").string();
  const std::string board_uri = "sqlite:///" + (dir / "board.db").string() + "?lease_ms=1000";
  const std::string store_uri = param.uri(store_path);
  const std::string ledger = (dir / "ledger.db").string();
  auto board = jobs::fetch_jobboard(board_uri);
  auto store = persistence::fetch(store_uri);

  constexpr int kJobs = 24;
  constexpr int kTasks = 3;
  std::vector<PostedJob> posted;
  for (int i = 0; i < kJobs; ++i) {
    // Each job writes some 3 x 24 KiB of results (and more in the WAL): the disk fills midway.
    const auto book = conductors::testing::saved_flow(
        *store, {.name = "caboose.examples.ledger",
                 .kwargs = {{"ledger", ledger}, {"tasks", kTasks}, {"ms", 10}, {"pad", 24000}}});
    posted.push_back({conductors::testing::post_job(*board, book, Value::object(), 1000).uuid,
                      book.flows.front().uuid});
  }
  std::vector<std::unique_ptr<ChildProcess>> conductors;
  for (int c = 0; c < 2; ++c) {
    conductors.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{CABOOSE_BIN, "conductor", "--board", board_uri, "--persistence",
                                 store_uri, "--name", fmt::format("full-{}", c), "--max-jobs", "2",
                                 "--wait-ms", "50", "--backoff-ms", "100"},
        (dir / fmt::format("full-{}.out", c)).string()));
  }
  auto outputs = [&] {
    std::string all;
    for (const auto& c : conductors) {
      all += c->output();
    }
    return all;
  };
  // The disk fills: saves fail, jobs are abandoned, and the board stops draining.
  ASSERT_TRUE(
      wait_until([&] { return outputs().find(param.full_message) != std::string::npos; }, 60s))
      << outputs();
  const std::size_t left = board->job_count();
  EXPECT_GT(left, 0u) << "the disk never filled";
  // While it stays full, jobs keep failing and being abandoned (each waits out its backoff).
  EXPECT_TRUE(wait_until(
      [&] {
        const std::string all = outputs();
        std::size_t n = 0;
        for (auto at = all.find("job abandoned"); at != std::string::npos;
             at = all.find("job abandoned", at + 1)) {
          ++n;
        }
        return n >= 3;
      },
      60s))
      << outputs();
  for (const auto& c : conductors) {
    EXPECT_FALSE(c->wait(0ms).has_value()) << "a conductor died of a full disk:\n" << c->output();
  }

  ASSERT_TRUE(small.resize("64m"));
  ASSERT_TRUE(wait_until([&] { return board->job_count() == 0; }, 120s))
      << board->job_count() << " jobs left\n"
      << outputs();
  for (const auto& c : conductors) {
    c->signal(SIGTERM);
  }
  for (const auto& c : conductors) {
    const auto status = c->wait(30s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << c->output();
  }

  const Report report = check(posted, *board, *store, read_ledger(ledger), kTasks);
  const std::string problems = report.problems_text();
  EXPECT_EQ(report.violations(), 0u) << problems;
  EXPECT_EQ(report.consumed, posted.size()) << problems;
  store.reset();
  EXPECT_EQ(store_problems(store_uri), "");
  const std::string all = outputs();
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = all.find(what); at != std::string::npos; at = all.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  std::cout << fmt::format(
      "{}: jobs={} left when the disk filled={} failures naming '{}'={} jobs abandoned={} "
      "consumed={} violations={}\n  first failure: {}\n",
      param.name, posted.size(), left, param.full_message, count(param.full_message),
      count("job abandoned"), report.consumed, report.violations(),
      first_line_with(all, param.full_message));
}

INSTANTIATE_TEST_SUITE_P(
    Stores, DiskFull,
    ::testing::Values(
        DiskFullCase{"sqlite", "3m", [](const std::string& p) { return "sqlite:///" + p + ".db"; },
                     "database or disk is full"},
        // Each job's records take some 40 KiB before it runs (one page per small file): 1.4 MiB
        // holds them, and the results (3 x 24 KiB a job) overflow it midway.
        DiskFullCase{"dir", "1400k", [](const std::string& p) { return "dir://" + p; },
                     "No space left on device"}),
    [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace caboose::reliability
