// Credentials given in a backend's URI: ZooKeeper digest authentication with ACLs on every
// znode caboose creates, etcd's authentication (a token on every request and watch, a new one
// when etcd refuses the old), a PostgreSQL password (scram-sha-256). Each works with the right
// credentials, and with wrong or missing ones fails with a clear error naming the server; the
// password appears in no log line, event or error message.
#include <sys/wait.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"
#include "caboose/persistence/postgres_backend.h"

#include "clients/zookeeper/zk_client.h"
#include "conductors/conductor_cases.h"
#include "core/log.h"
#include "jobs/etcd/etcd_client.h"
#include "jobs/etcd/etcd_watch.h"
#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/etcd_server.h"
#include "support/postgres_server.h"
#include "support/zookeeper_server.h"

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::EtcdServer;
using caboose::testing::PostgresServer;
using caboose::testing::ZooKeeperServer;
using persistence::testing::TempDir;
namespace etcd = jobs::detail;

// Every line the library logs (its "caboose" logger, all levels) while it lives. Made while
// no thread of the library runs (the logger's sink list is not guarded).
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)),
        logger_(caboose::detail::log()),
        level_(logger_.level()) {
    logger_.sinks().push_back(sink_);
    logger_.set_level(spdlog::level::trace);
  }
  ~LogCapture() {
    logger_.set_level(level_);
    std::erase(logger_.sinks(), sink_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() {
    sink_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::logger& logger_;
  const spdlog::level::level_enum level_;
};

std::string secret() {
  return "s3cret-" + make_uuid().substr(0, 12);
}

// What `call` throws, as text; a test failure when it throws nothing or no caboose::Error.
std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a caboose::Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

// `caboose conductor --drain` on the board and store, with events and debug logs: it must
// consume the posted job and never print `password`.
void drain_with_conductor(const std::string& board_uri, const std::string& store_uri,
                          const std::string& password, const TempDir& dir) {
  ChildProcess conductor(
      {CABOOSE_BIN, "conductor", "--board", board_uri, "--persistence", store_uri, "--drain",
       "--wait-ms", "50", "--events", "--log-level", "debug"},
      (dir / "conductor.out").string());
  const auto status = conductor.wait(120s);
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << conductor.output();
  EXPECT_NE(conductor.output().find("job_consumed"), std::string::npos) << conductor.output();
  EXPECT_EQ(conductor.output().find(password), std::string::npos) << conductor.output();
}

// `caboose jobs list --board <uri>` must fail, naming the server and not `password`.
void listing_refused(const std::string& board_uri, const std::string& password,
                     const TempDir& dir) {
  ChildProcess refused({CABOOSE_BIN, "jobs", "list", "--board", board_uri},
                       (dir / "refused.out").string());
  const auto status = refused.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0) << refused.output();
  EXPECT_EQ(refused.output().find(password), std::string::npos) << refused.output();
  EXPECT_NE(refused.output().find("127.0.0.1"), std::string::npos) << refused.output();
}

// Every znode at and under `path`, read with `zk`.
void walk(clients::ZkClient& zk, const std::string& path, std::vector<std::string>& out) {
  out.push_back(path);
  for (const std::string& child : zk.children(path)) {
    walk(zk, path + "/" + child, out);
  }
}

// A URI the parsers refuse names what is wrong with the password shown as ***.
TEST(CredentialsTest, UriErrorsNeverShowThePassword) {
  const std::string password = secret();
  for (const std::string& uri :
       {"redis://user:" + password + "@127.0.0.1:notaport/0",
        "redis://:" + password + "@127.0.0.1:6379/0?bogus=1",
        "zookeeper://user:" + password + "@127.0.0.1:2181/p?bogus=1",
        "zookeeper://user:" + password + "@/p", "zookeeper://:" + password + "@127.0.0.1:2181/p",
        "etcd://user:" + password + "@127.0.0.1:0/p", "etcd://user:" + password + "@127.0.0.1:2379",
        "etcd://user:" + password + "@127.0.0.1:2379/p?bogus=1"}) {
    const std::string message = error_of([&] { (void)jobs::fetch_jobboard(uri); });
    EXPECT_EQ(message.find(password), std::string::npos) << message;
  }
  const std::string store =
      error_of([&] { (void)persistence::fetch("zookeeper://u:" + password + "@/p"); });
  EXPECT_EQ(store.find(password), std::string::npos) << store;
}

// A board and a store on ZooKeeper with digest credentials: a conductor drains them; every znode
// caboose created (the parents of its paths too) carries one ACL entry, all rights to that
// identity; no client without it (anonymous, another user, the wrong password) can read, list,
// write or delete any of them; a wrong password is refused with the address, never the password.
TEST(CredentialsTest, ZooKeeperDigestCredentialsCloseEveryZnodeToOthers) {
  const std::string password = secret();
  const std::string hosts = ZooKeeperServer::shared().hosts();
  const std::string root = "/caboose-auth-" + make_uuid().substr(0, 8);
  const std::string userinfo = "conductor:" + password + "@";
  const std::string board_uri = "zookeeper://" + userinfo + hosts + root + "/jobs";
  const std::string store_uri = "zookeeper://" + userinfo + hosts + root + "/store";
  TempDir dir;
  LogCapture logs;
  {
    auto board = jobs::fetch_jobboard(board_uri);
    auto store = persistence::fetch(store_uri);
    const auto book = conductors::testing::saved_flow(*store, {.name = "caboose.examples.sum"},
                                                      {{"store", {{"x", 2}, {"y", 3}}}});
    conductors::testing::post_job(*board, book);
    conductors::testing::post_job(*board, book);
    const jobs::Job trashed = conductors::testing::post_job(*board, book);
    const jobs::Claim claim = board->claim(trashed.uuid, "test");
    board->trash(claim, "to fill the bin");
    board->register_entity("conductor-a", Value::object());
  }
  drain_with_conductor(board_uri, store_uri, password, dir);

  clients::ZkClient owner(hosts, 4000ms, 20000ms, clients::ZkCredentials{"conductor", password});
  std::vector<std::string> znodes;
  walk(owner, root, znodes);
  EXPECT_GT(znodes.size(), 10u);
  std::cout << "checking the ACLs of " << znodes.size() << " znodes\n";
  // Each znode's ACL through the C API (reading one takes READ or ADMIN: as the owner).
  zhandle_t* raw = zookeeper_init(hosts.c_str(), nullptr, 4000, nullptr, nullptr, 0);
  ASSERT_NE(raw, nullptr);
  const std::string cert = "conductor:" + password;
  ASSERT_EQ(
      zoo_add_auth(raw, "digest", cert.data(), static_cast<int>(cert.size()), nullptr, nullptr),
      ZOK);
  for (const std::string& path : znodes) {
    ACL_vector acl{};
    Stat stat{};
    ASSERT_EQ(zoo_get_acl(raw, path.c_str(), &acl, &stat), ZOK) << path;
    ASSERT_EQ(acl.count, 1) << path;
    EXPECT_STREQ(acl.data[0].id.scheme, "digest") << path;
    EXPECT_EQ(std::string(acl.data[0].id.id).rfind("conductor:", 0), 0u) << path;
    EXPECT_EQ(acl.data[0].perms, ZOO_PERM_ALL) << path;
    deallocate_ACL_vector(&acl);
  }
  zookeeper_close(raw);

  clients::ZkClient anonymous(hosts, 4000ms, 20000ms);
  clients::ZkClient intruder(hosts, 4000ms, 20000ms, clients::ZkCredentials{"intruder", password});
  clients::ZkClient wrong(hosts, 4000ms, 20000ms,
                          clients::ZkCredentials{"conductor", "wrong-" + password});
  for (clients::ZkClient* stranger : {&anonymous, &intruder, &wrong}) {
    for (const std::string& path : znodes) {
      const std::string read = error_of([&] { (void)stranger->get(path); });
      EXPECT_NE(read.find("ZNOAUTH"), std::string::npos) << path << ": " << read;
      EXPECT_EQ(read.find(password), std::string::npos) << read;
      EXPECT_THROW(stranger->children(path), StorageFailure) << path;
      EXPECT_THROW(stranger->create(path + "/intruder", ""), StorageFailure) << path;
      EXPECT_THROW(stranger->set(path, "x"), StorageFailure) << path;
    }
    EXPECT_THROW(stranger->remove(root + "/jobs"), StorageFailure);
  }
  EXPECT_TRUE(owner.exists(root + "/jobs").has_value());

  const std::string wrong_uri = "zookeeper://conductor:wrong-" + password + "@" + hosts + root;
  for (const std::string& uri : {wrong_uri + "/jobs", "zookeeper://" + hosts + root + "/jobs"}) {
    const std::string board_error = error_of([&] { (void)jobs::fetch_jobboard(uri)->job_count(); });
    EXPECT_NE(board_error.find("ZNOAUTH"), std::string::npos) << board_error;
    EXPECT_NE(board_error.find(hosts), std::string::npos) << board_error;
    EXPECT_EQ(board_error.find(password), std::string::npos) << board_error;
    listing_refused(uri, password, dir);
  }
  const std::string store_error = error_of([&] { (void)persistence::fetch(wrong_uri + "/store"); });
  EXPECT_NE(store_error.find("conductor:***@" + hosts), std::string::npos) << store_error;
  EXPECT_EQ(store_error.find(password), std::string::npos) << store_error;
  EXPECT_EQ(logs.text().find(password), std::string::npos) << logs.text();
}

// An etcd with authentication on: the root user, a user whose role grants readwrite on the
// board's two prefixes, and one with a role on another prefix only.
class EtcdAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<EtcdServer>();
    server_->enable_auth(secret());
    for (const std::string path : {kPath, kOtherPath}) {
      server_->add_user(path == kPath ? "conductor" : "stranger", password(),
                        {"/taskflow/jobs/" + path, "/taskflow/.trash/" + path});
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  static const std::string& password() {
    static const std::string p = secret();
    return p;
  }
  static std::string uri(const std::string& userinfo, const std::string& path = kPath) {
    return "etcd://" + userinfo + server_->hosts() + "/" + path;
  }
  static etcd::EtcdEndpoints endpoints() {
    return etcd::EtcdEndpoints{
        {server_->hosts()}, 5000ms, etcd::EtcdCredentials{"conductor", password()}};
  }

  static constexpr const char* kPath = "authboard";
  static constexpr const char* kOtherPath = "otherboard";
  static std::unique_ptr<EtcdServer> server_;
};
std::unique_ptr<EtcdServer> EtcdAuth::server_;

// With its user's credentials, the board posts, claims, renews, consumes, trashes and waits,
// and a conductor drains it; events and logs never show the password.
TEST_F(EtcdAuth, AuthenticatedBoardWorks) {
  TempDir dir;
  LogCapture logs;
  const std::string board_uri = uri("conductor:" + password() + "@");
  const std::string store_uri = "sqlite:///" + (dir / "flows.db").string();
  {
    auto board = jobs::fetch_jobboard(board_uri);
    auto other = jobs::fetch_jobboard(board_uri);
    auto store = persistence::fetch(store_uri);
    const auto book = conductors::testing::saved_flow(*store, {.name = "caboose.examples.sum"},
                                                      {{"store", {{"x", 2}, {"y", 3}}}});
    const jobs::Job job = conductors::testing::post_job(*board, book);
    EXPECT_TRUE(other->wait(10s));
    jobs::Claim claim = other->claim(job.uuid, "test");
    EXPECT_THROW((void)board->claim(job.uuid, "rival"), UnclaimableJob);
    claim = other->renew(claim);
    other->trash(claim, "binned");
    ASSERT_EQ(board->trashed().size(), 1u);
    board->requeue(job.uuid);
    conductors::testing::post_job(*board, book);
    EXPECT_EQ(board->job_count(), 2u);
  }
  drain_with_conductor(board_uri, store_uri, password(), dir);
  EXPECT_EQ(jobs::fetch_jobboard(board_uri)->job_count(), 0u);
  EXPECT_EQ(logs.text().find(password()), std::string::npos) << logs.text();
}

// No credentials, a wrong password, or a user without a role on the board's keys: a clear
// StorageFailure naming the server and what is wrong, never the password.
TEST_F(EtcdAuth, MissingWrongOrUnprivilegedCredentialsAreClearErrors) {
  TempDir dir;
  LogCapture logs;
  const std::string none = error_of([&] { (void)jobs::fetch_jobboard(uri("")); });
  EXPECT_NE(none.find("requires authentication"), std::string::npos) << none;
  EXPECT_NE(none.find(server_->hosts()), std::string::npos) << none;

  const std::string wrong_uri = uri("conductor:wrong-" + password() + "@");
  const std::string wrong = error_of([&] { (void)jobs::fetch_jobboard(wrong_uri); });
  EXPECT_NE(wrong.find("authentication as user 'conductor' failed"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find(server_->hosts()), std::string::npos) << wrong;
  EXPECT_EQ(wrong.find(password()), std::string::npos) << wrong;
  listing_refused(wrong_uri, password(), dir);

  // stranger may use only otherboard's keys.
  const std::string denied =
      error_of([&] { (void)jobs::fetch_jobboard(uri("stranger:" + password() + "@")); });
  EXPECT_NE(denied.find("permission denied"), std::string::npos) << denied;
  EXPECT_NE(denied.find("'stranger'"), std::string::npos) << denied;
  EXPECT_EQ(denied.find(password()), std::string::npos) << denied;
  auto theirs = jobs::fetch_jobboard(uri("stranger:" + password() + "@", kOtherPath));
  theirs->post("theirs");
  EXPECT_EQ(theirs->job_count(), 1u);

  const std::string bad_uri =
      error_of([&] { (void)jobs::fetch_jobboard(uri("conductor:" + password() + "@") + "?x=1"); });
  EXPECT_EQ(bad_uri.find(password()), std::string::npos) << bad_uri;
  EXPECT_EQ(logs.text().find(password()), std::string::npos) << logs.text();
}

// A token etcd no longer accepts (setting the user's password, even to the same value, drops
// every token etcd gave that user) costs one more authentication: the request is sent again and
// works. The watch keeps its stream; when the server restarts, its next stream is refused for
// the dropped token (etcd replays both the tokens and the drop from its log), and the watch
// comes back with a new one.
TEST_F(EtcdAuth, RefusedTokensAreRenewed) {
  LogCapture logs;
  etcd::EtcdClient client(endpoints());
  const std::string key = "/taskflow/jobs/" + std::string(kPath) + "/token-test";
  client.put(key, "1");
  const std::string first = client.token();
  ASSERT_FALSE(first.empty());

  // The watch's tokens come from a client of its own: only a refused stream renews them.
  etcd::EtcdClient watch_tokens(endpoints());
  std::mutex mu;
  std::condition_variable cv;
  int changes = 0;
  etcd::EtcdWatch watch(
      endpoints(), key, etcd::prefix_end(key), client.revision(key) + 1,
      [&] {
        {
          std::lock_guard lock(mu);
          ++changes;
        }
        cv.notify_all();
      },
      [&watch_tokens](const std::string& refused) { return watch_tokens.token(refused); });
  const auto changed_past = [&](int seen) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return changes > seen; });
  };
  const auto seen = [&] {
    std::lock_guard lock(mu);
    return changes;
  };
  int before = seen();
  client.put(key, "2");
  ASSERT_TRUE(changed_past(before));
  ASSERT_EQ(watch.connections(), 1u);

  server_->set_password("conductor", password());
  EXPECT_EQ(client.range(etcd::EtcdOp::get(key)).kvs.at(0).value, "2");
  EXPECT_NE(client.token(), first);

  server_->restart();
  ASSERT_TRUE(caboose::testing::wait_until([&] { return watch.connections() == 2; }, 30s));
  EXPECT_NE(logs.text().find("etcd watch on " + server_->hosts() + ": refused"), std::string::npos)
      << logs.text();
  before = seen();
  client.put(key, "3");
  EXPECT_TRUE(changed_past(before));
  EXPECT_EQ(logs.text().find(password()), std::string::npos) << logs.text();
}

// Tokens etcd let lapse while their client was idle (simple tokens live --auth-token-ttl
// seconds past their last use): the next request is refused for its token, authenticates again
// and works, for the client and for a board left idle.
TEST(EtcdAuthTokenTtl, TokensThatLapsedWhileIdleAreRenewed) {
  EtcdServer server({"--auth-token-ttl=1"});
  const std::string password = secret();
  server.enable_auth(secret());
  server.add_user("conductor", password, {"/taskflow/jobs/ttl", "/taskflow/.trash/ttl"});
  LogCapture logs;

  etcd::EtcdClient client(
      etcd::EtcdEndpoints{{server.hosts()}, 5000ms, etcd::EtcdCredentials{"conductor", password}});
  const std::string key = "/taskflow/jobs/ttl/idle";
  client.put(key, "1");
  const std::string first = client.token();
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(client.range(etcd::EtcdOp::get(key)).kvs.at(0).value, "1");
  EXPECT_NE(client.token(), first);

  auto board = jobs::fetch_jobboard("etcd://conductor:" + password + "@" + server.hosts() + "/ttl");
  const jobs::Job job = board->post("idle-job");
  std::this_thread::sleep_for(2500ms);
  jobs::Claim claim = board->claim(job.uuid, "test");
  std::this_thread::sleep_for(2500ms);
  board->consume(board->renew(claim));
  EXPECT_EQ(board->job_count(), 0u);
  EXPECT_EQ(logs.text().find(password), std::string::npos) << logs.text();
}

// A password in a PostgreSQL URI or conninfo: the store works with the right one; a wrong or
// missing one is a StorageFailure naming the server, without the password (libpq's own message
// included); no log line shows it.
TEST(CredentialsTest, PostgresPasswordWorksAndIsNeverShown) {
  const std::string password = secret();
  PostgresServer server({.password = password});
  const std::string store_uri = server.create_database();
  ASSERT_NE(store_uri.find(password), std::string::npos);
  TempDir dir;
  LogCapture logs;
  const std::string board_uri = "sqlite:///" + (dir / "board.db").string();
  {
    auto board = jobs::fetch_jobboard(board_uri);
    auto store = persistence::fetch(store_uri);
    const auto book = conductors::testing::saved_flow(*store, {.name = "caboose.examples.sum"},
                                                      {{"store", {{"x", 2}, {"y", 3}}}});
    conductors::testing::post_job(*board, book);
    EXPECT_EQ(store->get_logbooks().size(), 1u);
  }
  drain_with_conductor(board_uri, store_uri, password, dir);

  std::string wrong_uri = store_uri;
  wrong_uri.replace(wrong_uri.find(password), password.size(), "wrong-" + password);
  std::string no_password = store_uri;
  no_password.erase(no_password.find(":" + password), password.size() + 1);
  const std::string database = store_uri.substr(store_uri.rfind('/') + 1);
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(server.port()) +
                               " user=postgres password=wrong-" + password + " dbname=" + database;
  for (const auto& open : std::vector<std::function<void()>>{
           [&] { (void)persistence::fetch(wrong_uri); },
           [&] { (void)persistence::make_postgres_backend(conninfo); },
           [&] { (void)persistence::fetch(no_password); }}) {
    try {
      open();
      ADD_FAILURE() << "opened without the right password";
    } catch (const StorageFailure& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
      EXPECT_NE(message.find("password"), std::string::npos) << message;  // says what failed
      EXPECT_EQ(message.find(password), std::string::npos) << message;
    }
  }
  ChildProcess refused({CABOOSE_BIN, "books", "list", "--persistence", wrong_uri},
                       (dir / "refused.out").string());
  const auto status = refused.wait(60s);
  ASSERT_TRUE(status && WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0) << refused.output();
  EXPECT_EQ(refused.output().find(password), std::string::npos) << refused.output();
  EXPECT_EQ(logs.text().find(password), std::string::npos) << logs.text();
}

}  // namespace
}  // namespace caboose::reliability
