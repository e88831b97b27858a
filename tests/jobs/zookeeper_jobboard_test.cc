// The zookeeper:// jobboard against the jobboard conformance suite, on a private ZooKeeper
// (a fresh board path per test; another() is a second client, with its own session).
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "clients/zookeeper/zk_client.h"
#include "jobs/jobboard_conformance.h"
#include "support/zookeeper_server.h"

namespace caboose::jobs::testing {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ZooKeeperServer;

class ZooKeeperBoardFixture : public BoardFixture {
 public:
  // With `credentials`, the board's URI carries them (digest authentication and ACLs).
  explicit ZooKeeperBoardFixture(std::optional<clients::ZkCredentials> credentials = std::nullopt)
      : credentials_(std::move(credentials)),
        path_("/caboose-test-" + make_uuid().substr(0, 8) + "/jobs"),
        uri_("zookeeper://" +
             (credentials_ ? credentials_->user + ":" + credentials_->password + "@" : "") +
             ZooKeeperServer::shared().hosts() + path_) {}
  JobBoard& board(const BoardOptions& options) override {
    if (!board_) {
      board_ = fetch_jobboard(uri_, options);
    }
    return *board_;
  }
  std::unique_ptr<JobBoard> another(const BoardOptions& options) override {
    return fetch_jobboard(uri_, options);
  }
  void corrupt(const std::string& job_uuid) override {
    clients::ZkClient zk(ZooKeeperServer::shared().hosts(), 4000ms, 20000ms, credentials_);
    for (const std::string& child : zk.children(path_)) {
      const auto node = zk.get(path_ + "/" + child);
      if (node && node->data.find(job_uuid) != std::string::npos) {
        zk.set(path_ + "/" + child, std::string("\x00\xff\x13", 3));
      }
    }
  }

 private:
  std::optional<clients::ZkCredentials> credentials_;
  std::string path_;
  std::string uri_;
  std::unique_ptr<JobBoard> board_;
};

// The suite once as everyone else runs it, and once with credentials in the URI (every node
// then closed to anyone without them).
INSTANTIATE_TEST_SUITE_P(
    ZooKeeper, JobBoardConformance,
    ::testing::Values(BoardFactory{"zookeeper",
                                   [] { return std::make_unique<ZooKeeperBoardFixture>(); }},
                      BoardFactory{"zookeeper_digest",
                                   [] {
                                     return std::make_unique<ZooKeeperBoardFixture>(
                                         clients::ZkCredentials{"conductor", "s3cret"});
                                   },
                                   /*races=*/100}),
    BoardName());

TEST(ZooKeeperJobBoardUri, OptionsAndErrors) {
  const std::string hosts = ZooKeeperServer::shared().hosts();
  auto board =
      fetch_jobboard("zookeeper://" + hosts + "/uri-test/jobs?lease_ms=1500&max_attempts=3");
  EXPECT_EQ(board->options().lease, std::chrono::milliseconds(1500));
  EXPECT_EQ(board->post("j").max_attempts, 3);
  EXPECT_THROW(fetch_jobboard("zookeeper:///nohost"), InvalidArgument);
  EXPECT_THROW(fetch_jobboard("zookeeper://" + hosts + "/p?bogus=1"), InvalidArgument);
  try {
    (void)fetch_jobboard("zookeeper://127.0.0.1:1/jobs?session_timeout_ms=2000");
    FAIL() << "connected to nothing";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace caboose::jobs::testing

namespace caboose::jobs::testing {
namespace {

// The server restarts (SIGKILL, same data) while a job is claimed: the session survives it, so
// the claim does; renewals fail while the server is away, then work again; the job ends once.
TEST(ZooKeeperJobBoardFaults, ClaimSurvivesAServerRestartWithinTheSession) {
  ZooKeeperServer server;  // its own: restarted here
  const std::string uri =
      "zookeeper://" + server.hosts() + "/restart/jobs?session_timeout_ms=10000&lease_ms=20000";
  auto board = fetch_jobboard(uri);
  auto other = fetch_jobboard(uri);
  const Job job = board->post("survivor");
  Claim claim = board->claim(job.uuid, "holder");
  server.restart();
  bool renewed = false;
  for (int i = 0; i < 100 && !renewed; ++i) {  // connection loss until the client is back
    try {
      claim = board->renew(claim);
      renewed = true;
    } catch (const StorageFailure&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(renewed);
  EXPECT_THROW(other->claim(job.uuid, "thief"), UnclaimableJob);
  EXPECT_EQ(other->find_owner(job.uuid), "holder");
  board->consume(claim);
  EXPECT_EQ(other->job_count(), 0u);
}

// A holder whose session ends (closed, or expired) loses its claim at once (its lock was
// ephemeral): another board claims without waiting for the lease, and the old claim's actions
// are refused.
TEST(ZooKeeperJobBoardFaults, EndedSessionLosesTheClaimAtOnce) {
  const std::string path = "/expiry-" + make_uuid().substr(0, 8) + "/jobs";
  const std::string uri = "zookeeper://" + ZooKeeperServer::shared().hosts() + path +
                          "?session_timeout_ms=1000&lease_ms=60000";
  auto holder = fetch_jobboard(uri);
  auto other = fetch_jobboard(uri);
  const Job job = holder->post("expiring");
  const Claim claim = holder->claim(job.uuid, "holder");
  holder->close();  // its session ends, and its lock with it
  const Claim taken = other->claim(job.uuid, "heir");
  EXPECT_EQ(taken.attempt, 2);
  EXPECT_GT(taken.token, claim.token);
  auto reopened = fetch_jobboard(uri);
  EXPECT_THROW(reopened->consume(claim), StaleClaim);
  EXPECT_THROW(reopened->renew(claim), StaleClaim);
  other->consume(taken);
}

}  // namespace
}  // namespace caboose::jobs::testing
