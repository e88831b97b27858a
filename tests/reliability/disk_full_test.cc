// A full disk under the persistence store (RELIABILITY.md F14): the SQLite store of two
// `caboose conductor` processes lives on a 3 MiB tmpfs that the workload's results overflow.
// While the disk is full, saves fail (SQLITE_FULL, a StorageFailure): jobs are abandoned, never
// consumed with an atom unsaved, and no conductor dies. Once the tmpfs is remounted larger, every
// job ends consumed, the checker finds no violation and the database passes integrity_check.
// Needs root (mount); elsewhere it says why it cannot run.
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "conductors/conductor_cases.h"
#include "persistence/temp_dir.h"
#include "reliability/chaos.h"
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

std::string integrity(const std::string& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open";
  }
  std::string result;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] != nullptr ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(db);
  return result;
}

TEST(DiskFull, JobsWaitForSpaceAndEndOnceItIsBack) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root";
  }
  persistence::testing::TempDir dir;
  Tmpfs small(dir / "small", "3m");
  ASSERT_TRUE(small.mounted()) << "cannot mount a tmpfs: " << small.error();
  const std::string store_file = (dir / "small" / "flows.db").string();
  const std::string board_uri = "sqlite:///" + (dir / "board.db").string() + "?lease_ms=1000";
  const std::string store_uri = "sqlite:///" + store_file;
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
  ASSERT_TRUE(wait_until([&] { return outputs().find("disk is full") != std::string::npos; }, 60s))
      << outputs();
  const std::size_t left = board->job_count();
  EXPECT_GT(left, 0u) << "the disk never filled";
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
  std::string problems;
  for (const std::string& p : report.problems) {
    problems += p + "\n";
  }
  EXPECT_EQ(report.violations(), 0u) << problems;
  EXPECT_EQ(report.consumed, posted.size()) << problems;
  store.reset();
  EXPECT_EQ(integrity(store_file), "ok");
}

}  // namespace
}  // namespace caboose::reliability
