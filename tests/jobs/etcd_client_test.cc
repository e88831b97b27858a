// The etcd gateway client (base64, ranges, transactions, leases, the watch) against a private
// etcd server.
#include "jobs/etcd/etcd_client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

#include "jobs/etcd/base64.h"
#include "jobs/etcd/etcd_watch.h"
#include "support/etcd_server.h"

namespace caboose::jobs::detail {
namespace {

using namespace std::chrono_literals;
using caboose::testing::EtcdServer;

TEST(Base64Test, MatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), plain);
  }
}

TEST(Base64Test, EveryByteRoundTrips) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes += static_cast<char>(i);
  }
  for (std::size_t length = 0; length <= bytes.size(); length += 37) {
    const std::string part = bytes.substr(bytes.size() - length);
    EXPECT_EQ(base64_decode(base64_encode(part)), part) << length;
  }
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\xfd", 3)), "//79");
}

TEST(Base64Test, BadTextIsRefused) {
  EXPECT_THROW(base64_decode("Zm9"), InvalidFormat);       // not a multiple of 4
  EXPECT_THROW(base64_decode("Zm9v!A=="), InvalidFormat);  // bad character
  EXPECT_THROW(base64_decode("=Zm9"), InvalidFormat);      // padding first
  EXPECT_THROW(base64_decode("Zg==Zm9v"), InvalidFormat);  // padding inside
}

TEST(EtcdClientTest, PrefixEndCoversThePrefix) {
  EXPECT_EQ(prefix_end("a/b"), "a/c");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

class EtcdClientServerTest : public ::testing::Test {
 protected:
  EtcdClient client_{EtcdEndpoints{{EtcdServer::shared().hosts()}, 5000ms}};
  const std::string p_ = "/client-test-" + make_uuid().substr(0, 8) + "/";
};

TEST_F(EtcdClientServerTest, PutRangeAndDelete) {
  const std::string binary("\x00\x01\xff value", 9);
  const std::int64_t rev = client_.put(p_ + "a", binary);
  client_.put(p_ + "b", "2");
  client_.put(p_ + "c", "3");
  EtcdRangeResult one = client_.range(EtcdOp::get(p_ + "a"));
  ASSERT_EQ(one.kvs.size(), 1u);
  EXPECT_EQ(one.kvs[0].value, binary);
  EXPECT_EQ(one.kvs[0].create_revision, rev);
  EXPECT_EQ(one.kvs[0].mod_revision, rev);
  EXPECT_EQ(one.kvs[0].version, 1);
  EXPECT_TRUE(client_.range(EtcdOp::get(p_ + "none")).kvs.empty());

  EtcdOp all = EtcdOp::get_prefix(p_);
  all.sort_by_key = true;
  all.limit = 2;
  const EtcdRangeResult two = client_.range(all);
  ASSERT_EQ(two.kvs.size(), 2u);
  EXPECT_EQ(two.kvs[1].key, p_ + "b");
  EXPECT_EQ(two.count, 3);
  EXPECT_TRUE(two.more);
  EtcdOp counted = EtcdOp::get_prefix(p_);
  counted.count_only = true;
  EXPECT_EQ(client_.range(counted).count, 3);
  EXPECT_TRUE(client_.range(counted).kvs.empty());
  EtcdOp keys = EtcdOp::get_prefix(p_);
  keys.keys_only = true;
  EXPECT_EQ(client_.range(keys).kvs.at(0).value, "");

  EXPECT_EQ(client_.remove(p_ + "a"), 1);
  EXPECT_EQ(client_.remove(p_, prefix_end(p_)), 2);
  EXPECT_EQ(client_.range(counted).count, 0);  // the gateway leaves "count": 0 out
  EXPECT_GT(client_.revision(), rev);
}

TEST_F(EtcdClientServerTest, TransactionsCompareThenAct) {
  const std::int64_t rev = client_.put(p_ + "k", "v1");
  EtcdTxn txn;
  txn.compare = {EtcdCompare::mod_revision(p_ + "k", rev), EtcdCompare::version(p_ + "new", 0),
                 EtcdCompare::value_is(p_ + "k", "v1")};
  txn.success = {EtcdOp::put(p_ + "k", "v2"), EtcdOp::put(p_ + "new", "n"), EtcdOp::get(p_ + "k")};
  txn.failure = {EtcdOp::get(p_ + "k")};
  const EtcdTxnResult done = client_.txn(txn);
  EXPECT_TRUE(done.succeeded);
  ASSERT_EQ(done.responses.size(), 3u);
  EXPECT_EQ(done.responses[2].range.kvs.at(0).value, "v2");
  EXPECT_EQ(done.responses[2].range.kvs.at(0).mod_revision, done.revision);

  const EtcdTxnResult refused = client_.txn(txn);  // the same compares no longer hold
  EXPECT_FALSE(refused.succeeded);                 // the gateway leaves "succeeded" out
  ASSERT_EQ(refused.responses.size(), 1u);
  EXPECT_EQ(refused.responses[0].range.kvs.at(0).value, "v2");

  EtcdTxn nested;
  EtcdTxn yes;
  yes.compare = {EtcdCompare::create_revision(p_ + "absent", 0)};
  yes.success = {EtcdOp::put(p_ + "x", "1")};
  EtcdTxn no;
  no.compare = {EtcdCompare::version(p_ + "k", 1)};
  no.success = {EtcdOp::put(p_ + "y", "1")};
  nested.success = {EtcdOp::nested(yes), EtcdOp::nested(no), EtcdOp::remove_prefix(p_ + "n")};
  const EtcdTxnResult both = client_.txn(nested);
  ASSERT_EQ(both.responses.size(), 3u);
  EXPECT_TRUE(both.responses[0].txn.at(0).succeeded);
  EXPECT_FALSE(both.responses[1].txn.at(0).succeeded);
  EXPECT_EQ(both.responses[2].deleted, 1);
  EXPECT_EQ(client_.range(EtcdOp::get(p_ + "y")).kvs.size(), 0u);

  EtcdTxn duplicate;
  duplicate.success = {EtcdOp::put(p_ + "d", "1"), EtcdOp::remove(p_ + "d")};
  EXPECT_THROW(client_.txn(duplicate), InvalidArgument);  // etcd refuses it: said clearly
}

TEST_F(EtcdClientServerTest, LeasesKeepAndDropTheirKeys) {
  const EtcdLease lease = client_.lease_grant(5s);
  EXPECT_GT(lease.id, 0);
  EXPECT_GE(lease.ttl, 5s);
  client_.put(p_ + "held", "x", lease.id);
  EXPECT_EQ(client_.range(EtcdOp::get(p_ + "held")).kvs.at(0).lease, lease.id);
  EXPECT_TRUE(client_.lease_keepalive(lease.id).has_value());
  client_.lease_revoke(lease.id);
  EXPECT_TRUE(client_.range(EtcdOp::get(p_ + "held")).kvs.empty());
  EXPECT_FALSE(client_.lease_keepalive(lease.id).has_value());
  EXPECT_THROW(client_.lease_revoke(lease.id), NotFound);
}

TEST(EtcdClientEndpointsTest, UnreachableEndpointIsNamedAndTheNextOneTried) {
  EtcdClient dead(EtcdEndpoints{{"127.0.0.1:1"}, 2000ms});
  try {
    (void)dead.revision();
    FAIL() << "reached nothing";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
  EtcdClient second(EtcdEndpoints{{"127.0.0.1:1", EtcdServer::shared().hosts()}, 2000ms});
  EXPECT_GT(second.revision(), 0);
  EXPECT_GT(second.revision(), 0);
}

// Counts the watch's reports.
class Changes {
 public:
  void add() {
    {
      std::lock_guard lock(mu_);
      ++n_;
    }
    cv_.notify_all();
  }
  bool wait_above(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ > n; });
  }
  int count() {
    std::lock_guard lock(mu_);
    return n_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;  // Guarded by mu_.
};

TEST(EtcdWatchTest, ReportsChangesAndResumesAfterARestart) {
  EtcdServer server;  // its own: restarted here
  const EtcdEndpoints endpoints{{server.hosts()}, 2000ms};
  EtcdClient client(endpoints);
  Changes changes;
  EtcdWatch watch(endpoints, "/w/", prefix_end("/w/"), client.revision() + 1,
                  [&] { changes.add(); });
  client.put("/other", "not watched");
  client.put("/w/a", "1");
  ASSERT_TRUE(changes.wait_above(0, 10s));
  server.kill();
  const int before = changes.count();
  server.restart();
  // A change made before the watch is back is reported once it is.
  for (int i = 0;; ++i) {
    try {
      client.put("/w/b", "2");
      break;
    } catch (const StorageFailure&) {
      ASSERT_LT(i, 100) << "etcd did not come back";
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(changes.wait_above(before, 20s));
  EXPECT_GE(watch.connections(), 2u);
}

}  // namespace
}  // namespace caboose::jobs::detail
