// The ZooKeeper client against a real server (Debian's zookeeper, started on a free loopback
// port): nodes, sequential and ephemeral ones, versions, transactions, child watches.
#include "clients/zookeeper/zk_client.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

#include "support/zookeeper_server.h"

namespace caboose::clients {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ZooKeeperServer;

std::unique_ptr<ZkClient> connect() {
  return std::make_unique<ZkClient>(ZooKeeperServer::shared().hosts(), 4000ms, 20000ms);
}

std::string fresh_root() {
  return "/test-" + make_uuid().substr(0, 8);
}

TEST(ZkClient, CreatesReadsUpdatesAndDeletesNodes) {
  auto zk = connect();
  const std::string root = fresh_root();
  zk->ensure_path(root + "/a/b");
  EXPECT_TRUE(zk->exists(root + "/a/b").has_value());
  EXPECT_EQ(zk->create(root + "/a/b/n", "hello"), root + "/a/b/n");
  EXPECT_THROW(zk->create(root + "/a/b/n", "again"), Duplicate);
  EXPECT_THROW(zk->create(root + "/missing/n", "x"), NotFound);
  auto node = zk->get(root + "/a/b/n");
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->data, "hello");
  EXPECT_EQ(node->stat.version, 0);
  EXPECT_THROW(zk->set(root + "/a/b/n", "stale", 5), InvalidState);
  zk->set(root + "/a/b/n", std::string(100000, 'x'), 0);  // larger than the first read buffer
  node = zk->get(root + "/a/b/n");
  EXPECT_EQ(node->data.size(), 100000u);
  EXPECT_EQ(node->stat.version, 1);
  EXPECT_EQ(zk->children(root + "/a/b"), std::vector<std::string>{"n"});
  zk->remove(root + "/a/b/n", 1);
  EXPECT_FALSE(zk->get(root + "/a/b/n").has_value());
  EXPECT_THROW(zk->remove(root + "/a/b/n"), NotFound);
  EXPECT_THROW(zk->children(root + "/nothing"), NotFound);
}

TEST(ZkClient, SequentialNodesGrowAndEphemeralOnesDieWithTheirSession) {
  const std::string root = fresh_root();
  auto zk = connect();
  zk->ensure_path(root);
  const std::string first = zk->create(root + "/job", "", ZkMode::kPersistentSequential);
  const std::string second = zk->create(root + "/job", "", ZkMode::kPersistentSequential);
  EXPECT_EQ(first, root + "/job0000000000");
  EXPECT_EQ(second, root + "/job0000000001");
  {
    auto other = connect();
    other->create(root + "/job0000000000.lock", R"({"owner": "c1"})", ZkMode::kEphemeral);
    const auto lock = zk->exists(root + "/job0000000000.lock");
    ASSERT_TRUE(lock.has_value());
    EXPECT_EQ(lock->ephemeral_owner, other->session_id());
    EXPECT_GT(lock->czxid, zk->exists(second)->czxid);
  }
  EXPECT_FALSE(zk->exists(root + "/job0000000000.lock").has_value());  // closed: lock gone
}

TEST(ZkClient, MultiIsAllOrNothing) {
  const std::string root = fresh_root();
  auto zk = connect();
  zk->ensure_path(root);
  zk->create(root + "/job", "posting");
  // As a claim: check the job's version, create its lock.
  ZkMultiResult r = zk->multi(
      {ZkOp::check(root + "/job", 0), ZkOp::create(root + "/job.lock", "me", ZkMode::kEphemeral)});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.created, std::vector<std::string>{root + "/job.lock"});
  r = zk->multi(
      {ZkOp::check(root + "/job", 0), ZkOp::create(root + "/job.lock", "you", ZkMode::kEphemeral)});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_op, 1);
  EXPECT_EQ(r.code, ZNODEEXISTS);
  r = zk->multi({ZkOp::create(root + "/other", "x"), ZkOp::check(root + "/job", 7)});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_op, 1);
  EXPECT_EQ(r.code, ZBADVERSION);
  EXPECT_FALSE(zk->exists(root + "/other").has_value());  // rolled back
  r = zk->multi({ZkOp::remove(root + "/job.lock"), ZkOp::set(root + "/job", "done", 0)});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(zk->get(root + "/job")->data, "done");
}

TEST(ZkClient, ChildWatchFiresOnceWhenChildrenChange) {
  const std::string root = fresh_root();
  auto zk = connect();
  zk->ensure_path(root);
  std::mutex mu;
  std::condition_variable cv;
  int fired = 0;
  std::string fired_path;
  zk->set_child_watcher([&](const std::string& path) {
    std::lock_guard lock(mu);
    ++fired;
    fired_path = path;
    cv.notify_all();
  });
  EXPECT_TRUE(zk->children(root, /*watch=*/true).empty());
  auto poster = connect();
  poster->create(root + "/job", "", ZkMode::kPersistentSequential);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return fired == 1; }));
    EXPECT_EQ(fired_path, root);
  }
  EXPECT_EQ(zk->children(root).size(), 1u);  // no watch set again: later changes are silent
  poster->create(root + "/job", "", ZkMode::kPersistentSequential);
  zk->children(root, /*watch=*/true);
  poster->create(root + "/job", "", ZkMode::kPersistentSequential);
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return fired == 2; }));
}

TEST(ZkClient, UnreachableServerIsAClearError) {
  try {
    ZkClient zk("127.0.0.1:1", 4000ms, 500ms);
    FAIL() << "connected to nothing";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

TEST(ZkClient, ReconnectsAfterTheServerRestarts) {
  ZooKeeperServer server;  // its own: restarted here
  ZkClient zk(server.hosts(), 10000ms, 20000ms);
  zk.create("/before", "x");
  server.restart();
  bool done = false;
  for (int i = 0; i < 200 && !done; ++i) {  // calls fail with connection loss until reconnected
    try {
      EXPECT_EQ(zk.get("/before")->data, "x");
      done = true;
    } catch (const StorageFailure&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(zk.connected());
  EXPECT_FALSE(zk.expired());
}

}  // namespace
}  // namespace caboose::clients
