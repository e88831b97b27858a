// The zookeeper:// jobboard against the jobboard conformance suite, on a private ZooKeeper
// (a fresh board path per test; another() is a second client, with its own session).
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "jobs/jobboard_conformance.h"
#include "jobs/zookeeper/zk_client.h"
#include "support/zookeeper_server.h"

namespace caboose::jobs::testing {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ZooKeeperServer;

class ZooKeeperBoardFixture : public BoardFixture {
 public:
  ZooKeeperBoardFixture()
      : path_("/caboose-test-" + make_uuid().substr(0, 8) + "/jobs"),
        uri_("zookeeper://" + ZooKeeperServer::shared().hosts() + path_) {}
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
    detail::ZkClient zk(ZooKeeperServer::shared().hosts(), 4000ms, 20000ms);
    for (const std::string& child : zk.children(path_)) {
      const auto node = zk.get(path_ + "/" + child);
      if (node && node->data.find(job_uuid) != std::string::npos) {
        zk.set(path_ + "/" + child, std::string("\x00\xff\x13", 3));
      }
    }
  }

 private:
  std::string path_;
  std::string uri_;
  std::unique_ptr<JobBoard> board_;
};

INSTANTIATE_TEST_SUITE_P(ZooKeeper, JobBoardConformance,
                         ::testing::Values(BoardFactory{
                             "zookeeper",
                             [] { return std::make_unique<ZooKeeperBoardFixture>(); }}),
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
