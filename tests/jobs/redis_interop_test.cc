// One Redis board, two programs: Python TaskFlow (Debian's python3-taskflow) and caboose list
// and claim each other's jobs, and a claim by either blocks the other.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "support/redis_server.h"
#include "support/run_command.h"

namespace caboose::jobs {
namespace {

using caboose::testing::RedisServer;

class RedisInterop : public ::testing::Test {
 protected:
  RedisInterop() : namespace_("interop-" + make_uuid()) {}

  std::string uri() const { return RedisServer::shared().uri() + "?namespace=" + namespace_; }

  // Runs the Python peer; returns its output without the last newline.
  std::string python(const std::string& args) {
    std::string out = caboose::testing::run_command(
        "/usr/bin/python3 " CABOOSE_REDIS_INTEROP_DIR "/taskflow_redis.py " +
        std::to_string(RedisServer::shared().port()) + " " + namespace_ + " " + args);
    while (!out.empty() && out.back() == '\n') {
      out.pop_back();
    }
    return out;
  }

  std::string namespace_;
};

TEST_F(RedisInterop, CabooseListsAndClaimsWhatPythonTaskFlowPosted) {
  const std::string uuid = python(R"(post from-python '{"store": {"order": 17}}')");
  auto board = fetch_jobboard(uri());
  const auto jobs = board->iterjobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].uuid, uuid);
  EXPECT_EQ(jobs[0].name, "from-python");
  EXPECT_EQ(jobs[0].details, (Value{{"store", {{"order", 17}}}}));
  EXPECT_EQ(jobs[0].priority, JobPriority::kHigh);
  EXPECT_EQ(jobs[0].book_name, "python-book");
  const Claim claim = board->claim(uuid, "caboose-conductor");
  // Python TaskFlow sees caboose's claim and cannot take the job.
  EXPECT_EQ(python("claim " + uuid + " python-conductor"), "UnclaimableJob");
  const Value listed = Value::parse(python("list"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["owner"], "caboose-conductor");
  EXPECT_EQ(listed[0]["state"], "CLAIMED");
  board->consume(claim);
  EXPECT_EQ(Value::parse(python("list")).size(), 0u);
}

TEST_F(RedisInterop, PythonTaskFlowListsAndClaimsWhatCaboosePosted) {
  auto board = fetch_jobboard(uri());
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
  EXPECT_EQ(python("claim " + posted.uuid + " python-conductor"), "claimed");
  // caboose sees Python's claim and cannot take the job.
  EXPECT_EQ(board->find_owner(posted.uuid), "python-conductor");
  EXPECT_THROW(board->claim(posted.uuid, "caboose-conductor"), UnclaimableJob);
  EXPECT_TRUE(board->iterjobs(/*only_unclaimed=*/true).empty());
}

}  // namespace
}  // namespace caboose::jobs
