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

// Nodes made by a client with credentials carry one ACL entry: all rights to that digest
// identity. The same identity in another session reads and writes them; a client without
// credentials, another user and a wrong password get ZNOAUTH, in a message without the password.
TEST(ZkClient, CredentialsCloseTheNodesItCreatesToOthers) {
  const std::string hosts = ZooKeeperServer::shared().hosts();
  const std::string password = "pw-" + make_uuid().substr(0, 8);
  const ZkCredentials owner{"conductor", password};
  const std::string root = fresh_root();
  ZkClient zk(hosts, 4000ms, 20000ms, owner);
  zk.ensure_path(root + "/jobs");
  EXPECT_EQ(zk.create(root + "/jobs/n", "mine"), root + "/jobs/n");
  EXPECT_TRUE(zk.multi({ZkOp::create(root + "/jobs/m", "mine too")}).ok);

  // The ACL, read with the C API: digest:conductor:<base64 sha1>, all rights, nothing else.
  // (A synchronous call queues until the handle connects. Reading an ACL takes READ or ADMIN:
  // the handle authenticates as the owner first, its later requests queued behind.)
  zhandle_t* raw = zookeeper_init(hosts.c_str(), nullptr, 4000, nullptr, nullptr, 0);
  ASSERT_NE(raw, nullptr);
  {
    ACL_vector acl{};
    Stat stat{};
    EXPECT_EQ(zoo_get_acl(raw, root.c_str(), &acl, &stat), ZNOAUTH);
  }
  const std::string cert = "conductor:" + password;
  ASSERT_EQ(
      zoo_add_auth(raw, "digest", cert.data(), static_cast<int>(cert.size()), nullptr, nullptr),
      ZOK);
  for (const std::string& path : {root, root + "/jobs", root + "/jobs/n", root + "/jobs/m"}) {
    ACL_vector acl{};
    Stat stat{};
    ASSERT_EQ(zoo_get_acl(raw, path.c_str(), &acl, &stat), ZOK) << path;
    ASSERT_EQ(acl.count, 1) << path;
    EXPECT_STREQ(acl.data[0].id.scheme, "digest");
    EXPECT_EQ(std::string(acl.data[0].id.id).rfind("conductor:", 0), 0u) << acl.data[0].id.id;
    EXPECT_EQ(std::string(acl.data[0].id.id).find(password), std::string::npos);
    EXPECT_EQ(acl.data[0].perms, ZOO_PERM_ALL);
    deallocate_ACL_vector(&acl);
  }
  zookeeper_close(raw);

  ZkClient again(hosts, 4000ms, 20000ms, owner);
  EXPECT_EQ(again.get(root + "/jobs/n")->data, "mine");
  again.set(root + "/jobs/n", "changed");

  ZkClient anonymous(hosts, 4000ms, 20000ms);
  ZkClient other(hosts, 4000ms, 20000ms, ZkCredentials{"intruder", password});
  ZkClient wrong(hosts, 4000ms, 20000ms, ZkCredentials{"conductor", "not-" + password});
  for (ZkClient* stranger : {&anonymous, &other, &wrong}) {
    try {
      (void)stranger->get(root + "/jobs/n");
      ADD_FAILURE() << "read a node closed to it";
    } catch (const StorageFailure& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("ZNOAUTH"), std::string::npos) << message;
      EXPECT_NE(message.find(hosts), std::string::npos) << message;
      EXPECT_EQ(message.find(password), std::string::npos) << message;
    }
    EXPECT_THROW(stranger->children(root + "/jobs"), StorageFailure);
    EXPECT_THROW(stranger->create(root + "/jobs/x", "theirs"), StorageFailure);
    EXPECT_THROW(stranger->set(root + "/jobs/n", "theirs"), StorageFailure);
    EXPECT_THROW(stranger->remove(root + "/jobs/n"), StorageFailure);
    EXPECT_FALSE(stranger->multi({ZkOp::create(root + "/jobs/y", "")}).ok);
  }
  EXPECT_EQ(zk.get(root + "/jobs/n")->data, "changed");
  EXPECT_EQ(zk.children(root + "/jobs").size(), 2u);
}

TEST(ZkClient, UriCredentialsAreParsedAndNeverShown) {
  const ZkAddress a = parse_zk_uri("zookeeper://user:p@ss:w0rd@127.0.0.1:2181,h2:2181/a/b", "/d");
  ASSERT_TRUE(a.credentials.has_value());
  EXPECT_EQ(a.credentials->user, "user");
  EXPECT_EQ(a.credentials->password, "p@ss:w0rd");
  EXPECT_EQ(a.hosts, "127.0.0.1:2181,h2:2181");
  EXPECT_EQ(a.path, "/a/b");
  EXPECT_FALSE(parse_zk_uri("zookeeper://127.0.0.1:2181", "/d").credentials.has_value());
  for (const std::string uri :
       {"zookeeper://user:secret@127.0.0.1:2181/p?bogus=1", "zookeeper://user:secret@/p",
        "zookeeper://:secret@h:1/p", "zookeeper://user:secret@h:1//p"}) {
    try {
      (void)parse_zk_uri(uri, "/d");
      ADD_FAILURE() << "accepted " << uri;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
  }
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
  const std::int64_t session = zk.session_id();
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
  // Connected, possibly after one more reconnection (the server may drop a connection it has
  // just accepted while it settles; the state follows the client's event thread), and in the
  // same session: the restart cost the session nothing.
  EXPECT_TRUE(zk.wait_connected(10000ms));
  EXPECT_EQ(zk.session_id(), session);
  EXPECT_FALSE(zk.expired());
}

}  // namespace
}  // namespace caboose::clients
