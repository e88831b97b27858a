// The Redis connection under the Redis jobboard, against a real redis-server started for the
// test: URIs, binary-safe commands, AUTH, database numbers, scripts the server forgot, and a
// connection the server dropped.
#include "jobs/redis/redis_client.h"

#include <string>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

#include "support/redis_server.h"

namespace caboose::jobs::detail {
namespace {

using caboose::testing::RedisServer;

TEST(RedisAddress, ParsesTaskFlowStyleUris) {
  const RedisAddress a = RedisAddress::parse("redis://:s3cret@10.0.0.5:6380/2?namespace=tf-prod");
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 2);
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.key_namespace, "tf-prod");
  EXPECT_EQ(a.shown.find("s3cret"), std::string::npos) << a.shown;
  const RedisAddress d = RedisAddress::parse("redis://127.0.0.1");
  EXPECT_EQ(d.port, 6379);
  EXPECT_EQ(d.db, 0);
  EXPECT_EQ(d.key_namespace, "taskflow");
  for (const char* bad : {"http://x", "redis://h:99999/0", "redis://h:1/x", "redis://h/0?colour=1",
                          "redis://h:port"}) {
    EXPECT_THROW((void)RedisAddress::parse(bad), InvalidArgument) << bad;
  }
}

TEST(RedisClient, CommandsAreBinarySafe) {
  RedisClient c(RedisAddress::parse(RedisServer::shared().uri()));
  const std::string bytes("a\0b\xff", 4);
  c.command({"SET", "caboose-test:bytes", bytes});
  EXPECT_EQ(c.command({"GET", "caboose-test:bytes"}).text, bytes);
  EXPECT_TRUE(c.command({"GET", "caboose-test:absent"}).is_nil());
  EXPECT_EQ(c.command({"INCRBY", "caboose-test:n", "5"}).integer, 5);
  EXPECT_THROW(c.command({"NOSUCHCOMMAND"}), StorageFailure);
  EXPECT_EQ(c.command({"PING"}).text, "PONG");  // an error reply leaves the connection usable
}

TEST(RedisClient, DatabaseNumbersSeparateKeys) {
  RedisClient three(RedisAddress::parse(RedisServer::shared().uri(3)));
  RedisClient zero(RedisAddress::parse(RedisServer::shared().uri(0)));
  three.command({"SET", "caboose-test:db", "three"});
  EXPECT_TRUE(zero.command({"GET", "caboose-test:db"}).is_nil());
  EXPECT_EQ(three.command({"GET", "caboose-test:db"}).text, "three");
}

TEST(RedisClient, AuthenticatesWithThePasswordOfTheUri) {
  RedisServer guarded("hunter2");
  RedisClient c(RedisAddress::parse(guarded.uri()));
  EXPECT_EQ(c.command({"PING"}).text, "PONG");
  const std::string no_password = "redis://127.0.0.1:" + std::to_string(guarded.port()) + "/0";
  RedisClient anonymous(RedisAddress::parse(no_password));
  EXPECT_THROW(anonymous.command({"GET", "x"}), StorageFailure);
  const std::string wrong = "redis://:wrong@127.0.0.1:" + std::to_string(guarded.port()) + "/0";
  try {
    RedisClient bad(RedisAddress::parse(wrong));
    FAIL() << "a wrong password was accepted";
  } catch (const StorageFailure& e) {
    EXPECT_EQ(std::string(e.what()).find("wrong"), std::string::npos) << e.what();
  }
}

TEST(RedisClient, ScriptsReloadWhenTheServerForgetsThem) {
  RedisClient c(RedisAddress::parse(RedisServer::shared().uri()));
  Script script{"return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}", ""};
  Reply r = c.eval(script, {"caboose-test:counter"}, {"2"});
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].text, "caboose-test:counter");
  EXPECT_FALSE(script.sha.empty());
  const std::string sha = script.sha;
  c.command({"SCRIPT", "FLUSH"});
  r = c.eval(script, {"caboose-test:counter"}, {"3"});
  EXPECT_EQ(r.elements[2].integer, 5);  // ran once more, not twice
  EXPECT_EQ(script.sha, sha);
}

TEST(RedisClient, DroppedConnectionIsReopenedByTheNextCommand) {
  RedisClient c(RedisAddress::parse(RedisServer::shared().uri()));
  RedisClient admin(RedisAddress::parse(RedisServer::shared().uri()));
  const std::int64_t id = c.command({"CLIENT", "ID"}).integer;
  admin.command({"CLIENT", "KILL", "ID", std::to_string(id)});
  EXPECT_THROW(c.command({"PING"}), StorageFailure);
  EXPECT_EQ(c.command({"PING"}).text, "PONG");
  EXPECT_NE(c.command({"CLIENT", "ID"}).integer, id);
}

TEST(RedisClient, UnreachableServerIsNamed) {
  try {
    RedisClient c(RedisAddress::parse("redis://:pw@127.0.0.1:1/0?timeout_ms=500"));
    FAIL() << "connected to nothing";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(":pw@"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace caboose::jobs::detail
