// What a stranger who can write jobs cannot do: make a conductor execute or load anything by a
// name taken from job data (checked on the system calls, with strace), read a password back from
// logs or errors, or reach jobs of another namespace.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "conductors/conductor_cases.h"
#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/redis_server.h"

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::RedisServer;
using persistence::testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Jobs naming factories that are paths, shell commands and Python callables: the conductor runs
// only the registered one; in its system calls, nothing is executed after its own start and no
// file a job named is opened (so nothing is dlopen()ed either), though such files exist.
TEST(SecurityTest, FactoryNamesFromJobsAreNeverExecutedOrLoaded) {
  TempDir dir;
  const std::string evil_lib = (dir / "evil.so").string();
  const std::string evil_exe = (dir / "evil.sh").string();
  std::ofstream(evil_lib) << "not a library";
  std::ofstream(evil_exe) << "#!/bin/sh\ntouch " << (dir / "pwned").string() << "\n";
  const std::string board_uri = "sqlite:///" + (dir / "board.db").string();
  const std::string store_uri = "sqlite:///" + (dir / "flows.db").string();
  auto board = jobs::fetch_jobboard(board_uri);
  auto store = persistence::fetch(store_uri);
  const std::vector<std::string> hostile = {evil_lib,
                                            evil_exe,
                                            "os.system",
                                            "subprocess.check_call",
                                            "/bin/sh -c 'touch " + (dir / "pwned").string() + "'",
                                            evil_lib + ":init"};
  std::vector<std::string> hostile_jobs;
  for (const std::string& name : hostile) {
    const auto book = conductors::testing::saved_flow(*store, {.name = name, .args = {evil_exe}});
    hostile_jobs.push_back(conductors::testing::post_job(*board, book).uuid);
  }
  const auto legit = conductors::testing::saved_flow(
      *store, {.name = "caboose.examples.sum", .kwargs = Value::object()},
      {{"store", {{"x", 1}, {"y", 2}}}});
  const jobs::Job legit_job = conductors::testing::post_job(*board, legit);

  const std::string trace = (dir / "trace.txt").string();
  // LeakSanitizer cannot run under ptrace: a sanitized build's conductor skips its leak check.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_options =
      "ASAN_OPTIONS=" + std::string(asan != nullptr ? asan : "") + ":detect_leaks=0";
  ChildProcess traced(
      {"/usr/bin/strace", "-f", "-qq", "-E", asan_options, "-e",
       "trace=execve,execveat,open,openat", "-o", trace, CABOOSE_BIN, "conductor", "--board",
       board_uri, "--persistence", store_uri, "--max-dispatches", "1", "--wait-ms", "50"},
      (dir / "conductor.out").string());
  const auto status = traced.wait(120s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << traced.output();

  EXPECT_FALSE(board->find(legit_job.uuid).has_value()) << "the registered factory's job ran";
  for (const std::string& uuid : hostile_jobs) {
    const auto job = board->find(uuid);
    ASSERT_TRUE(job.has_value()) << "a job naming an unknown factory stays on the board";
    EXPECT_EQ(job->attempts, 0) << "and is never claimed";
  }
  EXPECT_FALSE(std::ifstream(dir / "pwned").good());

  const std::string calls = read_all(trace);
  ASSERT_FALSE(calls.empty());
  std::istringstream lines(calls);
  int execs = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("execve(") != std::string::npos || line.find("execveat(") != std::string::npos) {
      ++execs;
      EXPECT_NE(line.find(CABOOSE_BIN), std::string::npos) << "executed: " << line;
    }
    for (const std::string& path : {evil_lib, evil_exe}) {
      EXPECT_EQ(line.find(path), std::string::npos) << "touched a path a job named: " << line;
    }
    EXPECT_EQ(line.find("/bin/sh"), std::string::npos) << line;
  }
  // Only the conductor's own start (a sanitizer's runtime may re-execute it once).
  EXPECT_GE(execs, 1);
}

// A Redis password given in the URI authenticates, and appears in no log line, event or error
// message, with the right password or a wrong one.
TEST(SecurityTest, PasswordsNeverAppearInLogsOrErrors) {
  const std::string password = "s3cret-" + make_uuid().substr(0, 8);
  RedisServer server(password);
  TempDir dir;
  const std::string ns = "sec-" + make_uuid().substr(0, 6);
  const std::string board_uri = server.uri() + "?namespace=" + ns;
  ASSERT_NE(board_uri.find(password), std::string::npos);
  const std::string store_uri = "sqlite:///" + (dir / "flows.db").string();
  auto board = jobs::fetch_jobboard(board_uri);
  auto store = persistence::fetch(store_uri);
  const auto book = conductors::testing::saved_flow(*store, {.name = "caboose.examples.sum"},
                                                    {{"store", {{"x", 2}, {"y", 3}}}});
  conductors::testing::post_job(*board, book);

  ChildProcess conductor(
      {CABOOSE_BIN, "conductor", "--board", board_uri, "--persistence", store_uri, "--drain",
       "--wait-ms", "50", "--events", "--log-level", "debug"},
      (dir / "conductor.out").string());
  const auto status = conductor.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << conductor.output();
  EXPECT_NE(conductor.output().find("job_consumed"), std::string::npos) << conductor.output();
  EXPECT_EQ(conductor.output().find(password), std::string::npos) << conductor.output();

  std::string wrong_uri = board_uri;
  wrong_uri.replace(wrong_uri.find(password), password.size(), "wrong-" + password);
  ChildProcess refused({CABOOSE_BIN, "jobs", "list", "--board", wrong_uri},
                       (dir / "refused.out").string());
  const auto refused_status = refused.wait(60s);
  ASSERT_TRUE(refused_status && WIFEXITED(*refused_status));
  EXPECT_NE(WEXITSTATUS(*refused_status), 0);
  EXPECT_EQ(refused.output().find(password), std::string::npos) << refused.output();
  EXPECT_NE(refused.output().find("127.0.0.1"), std::string::npos)
      << "the error names the server: " << refused.output();
  try {
    (void)jobs::fetch_jobboard(wrong_uri)->job_count();
    ADD_FAILURE() << "a wrong password was accepted";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).find(password), std::string::npos) << e.what();
  }
}

// A conductor of one namespace drains it and never touches the jobs of another namespace on the
// same server.
TEST(SecurityTest, AnotherNamespacesJobsAreNeverTouched) {
  TempDir dir;
  const std::string store_uri = "sqlite:///" + (dir / "flows.db").string();
  auto store = persistence::fetch(store_uri);
  const std::string mine = RedisServer::shared().uri() + "?namespace=mine-" + make_uuid();
  const std::string theirs = RedisServer::shared().uri() + "?namespace=theirs-" + make_uuid();
  auto my_board = jobs::fetch_jobboard(mine);
  auto their_board = jobs::fetch_jobboard(theirs);
  std::vector<std::string> their_jobs;
  for (int i = 0; i < 5; ++i) {
    conductors::testing::post_job(
        *my_board, conductors::testing::saved_flow(*store, {.name = "caboose.examples.noop"}));
    their_jobs.push_back(
        conductors::testing::post_job(*their_board, conductors::testing::saved_flow(
                                                        *store, {.name = "caboose.examples.noop"}))
            .uuid);
  }
  ChildProcess conductor({CABOOSE_BIN, "conductor", "--board", mine, "--persistence", store_uri,
                          "--drain", "--wait-ms", "50"},
                         (dir / "conductor.out").string());
  const auto status = conductor.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << conductor.output();
  EXPECT_EQ(my_board->job_count(), 0u);
  ASSERT_EQ(their_board->job_count(), their_jobs.size());
  for (const std::string& uuid : their_jobs) {
    const auto job = their_board->find(uuid);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->attempts, 0);
    EXPECT_EQ(job->state, jobs::JobState::kUnclaimed);
  }
}

}  // namespace
}  // namespace caboose::reliability
