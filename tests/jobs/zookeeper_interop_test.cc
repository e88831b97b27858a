// One ZooKeeper board, two programs: Python TaskFlow (Debian's python3-taskflow with
// python3-kazoo) and caboose list and claim each other's jobs, and a claim by either blocks
// the other (a Python claim for as long as its session lives).
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/run_command.h"
#include "support/zookeeper_server.h"

namespace caboose::jobs {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ZooKeeperServer;

class ZooKeeperInterop : public ::testing::Test {
 protected:
  ZooKeeperInterop() : path_("/interop-" + make_uuid().substr(0, 8) + "/jobs") {}

  std::string uri() const { return "zookeeper://" + ZooKeeperServer::shared().hosts() + path_; }
  std::string script() const {
    return std::string(CABOOSE_ZK_INTEROP_DIR) + "/taskflow_zookeeper.py";
  }

  // Runs the Python peer (with `userinfo`, "user:password@", its kazoo client authenticates);
  // returns its output without the last newline.
  std::string python(const std::string& args, const std::string& userinfo = "") {
    std::string out =
        caboose::testing::run_command("/usr/bin/python3 " + script() + " " + userinfo +
                                      ZooKeeperServer::shared().hosts() + " " + path_ + " " + args);
    while (!out.empty() && out.back() == '\n') {
      out.pop_back();
    }
    return out.substr(out.rfind('\n') + 1);  // kazoo may log before the answer
  }

  std::string path_;
};

TEST_F(ZooKeeperInterop, CabooseListsAndClaimsWhatPythonTaskFlowPosted) {
  auto board = fetch_jobboard(uri());  // creates the paths TaskFlow expects too
  const std::string uuid = python(R"(post from-python '{"store": {"order": 17}}')");
  const auto jobs = board->iterjobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].uuid, uuid);
  EXPECT_EQ(jobs[0].name, "from-python");
  EXPECT_EQ(jobs[0].details, (Value{{"store", {{"order", 17}}}}));
  EXPECT_EQ(jobs[0].priority, JobPriority::kHigh);
  EXPECT_EQ(jobs[0].book_name, "python-book");
  const Claim claim = board->claim(uuid, "caboose-conductor");
  EXPECT_EQ(claim.attempt, 1);
  // Python TaskFlow sees caboose's claim and cannot take the job.
  EXPECT_EQ(python("claim " + uuid + " python-conductor"), "UnclaimableJob");
  const Value listed = Value::parse(python("list"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["owner"], "caboose-conductor");
  EXPECT_EQ(listed[0]["state"], "CLAIMED");
  board->consume(claim);
  EXPECT_EQ(Value::parse(python("list")).size(), 0u);
}

TEST_F(ZooKeeperInterop, PythonTaskFlowListsAndClaimsWhatCaboosePosted) {
  auto board = fetch_jobboard(uri() + "?lease_ms=200");
  persistence::LogBook book = persistence::make_logbook("caboose-book");
  const Job posted = board->post(
      "from-caboose",
      {.details = {{"flow_uuid", "f-1"}, {"n", 2}}, .book = book, .priority = JobPriority::kLow});
  const Value listed = Value::parse(python("list"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["uuid"], posted.uuid);
  EXPECT_EQ(listed[0]["name"], "from-caboose");
  EXPECT_EQ(listed[0]["details"], (Value{{"flow_uuid", "f-1"}, {"n", 2}}));
  EXPECT_EQ(listed[0]["state"], "UNCLAIMED");

  persistence::testing::TempDir dir;
  caboose::testing::ChildProcess holder(
      {"/usr/bin/python3", script(), ZooKeeperServer::shared().hosts(), path_, "hold", posted.uuid,
       "python-conductor"},
      (dir / "holder.out").string());
  ASSERT_TRUE(caboose::testing::wait_until(
      [&] { return holder.output().find("claimed") != std::string::npos; }, 30s))
      << holder.output();
  // caboose sees Python's claim and cannot take the job, even past its own lease length:
  // a TaskFlow claim holds as long as its holder's session.
  EXPECT_EQ(board->find_owner(posted.uuid), "python-conductor");
  std::this_thread::sleep_for(300ms);
  EXPECT_THROW(board->claim(posted.uuid, "caboose-conductor"), UnclaimableJob);
  EXPECT_TRUE(board->iterjobs(/*only_unclaimed=*/true).empty());
}

// A board closed by digest credentials: Python TaskFlow, given a kazoo client with the same
// auth data, lists and claims what caboose posted and the reverse; without them it cannot list.
TEST_F(ZooKeeperInterop, BothShareABoardClosedByDigestCredentials) {
  const std::string userinfo = "conductor:s3cret@";
  auto board =
      fetch_jobboard("zookeeper://" + userinfo + ZooKeeperServer::shared().hosts() + path_);
  const Job posted = board->post("from-caboose", {.details = {{"n", 1}}});
  const Value listed = Value::parse(python("list", userinfo));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["uuid"], posted.uuid);
  const std::string uuid = python(R"(post from-python '{"n": 2}')", userinfo);
  EXPECT_EQ(board->job_count(), 2u);
  // (Its lock goes with its session when the script ends.)
  EXPECT_EQ(python("claim " + posted.uuid + " python-conductor", userinfo), "claimed");
  EXPECT_EQ(board->claim(uuid, "caboose-conductor").attempt, 1);

  persistence::testing::TempDir dir;
  caboose::testing::ChildProcess anonymous(
      {"/usr/bin/python3", script(), ZooKeeperServer::shared().hosts(), path_, "list"},
      (dir / "anonymous.out").string());
  const auto status = anonymous.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status)) << anonymous.output();
  EXPECT_NE(WEXITSTATUS(*status), 0) << anonymous.output();
  EXPECT_NE(anonymous.output().find("NoAuth"), std::string::npos) << anonymous.output();
}

}  // namespace
}  // namespace caboose::jobs
