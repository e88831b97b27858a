// The etcd:// jobboard against the jobboard conformance suite, on a private etcd (a fresh board
// path per test; another() is a second board object, with its own connection and etcd lease),
// then its URIs and its faults: a claim lapsing while its holder runs, the server restarting.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/memory_backend.h"

#include "jobs/etcd/etcd_client.h"
#include "jobs/etcd/etcd_layout.h"
#include "jobs/jobboard_conformance.h"
#include "support/etcd_server.h"

namespace caboose::jobs::testing {
namespace {

using namespace std::chrono_literals;
using caboose::testing::EtcdServer;
using detail::EtcdClient;
using detail::EtcdEndpoints;
using detail::EtcdKeys;
using detail::EtcdOp;

// A private etcd with authentication on, for the suite run with credentials: the user
// "conductor" has a role granting readwrite on /taskflow/jobs/ and /taskflow/.trash/.
EtcdServer& auth_server() {
  static EtcdServer server;
  static const bool ready = [] {
    server.enable_auth("root-" + make_uuid());
    server.add_user("conductor", "s3cret", {"/taskflow/jobs/", "/taskflow/.trash/"});
    return true;
  }();
  (void)ready;
  return server;
}

class EtcdBoardFixture : public BoardFixture {
 public:
  // With `authenticated`, on auth_server() with the URI carrying the user's credentials.
  explicit EtcdBoardFixture(bool authenticated = false)
      : server_(authenticated ? auth_server() : EtcdServer::shared()),
        credentials_(authenticated ? std::optional<detail::EtcdCredentials>(
                                         detail::EtcdCredentials{"conductor", "s3cret"})
                                   : std::nullopt),
        path_("caboose-test-" + make_uuid().substr(0, 8)),
        uri_("etcd://" + (authenticated ? std::string("conductor:s3cret@") : std::string()) +
             server_.hosts() + "/" + path_) {}
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
    EtcdClient etcd(EtcdEndpoints{{server_.hosts()}, 5000ms, credentials_});
    const EtcdKeys keys(path_);
    for (const auto& kv : etcd.range(EtcdOp::get_prefix(keys.jobs())).kvs) {
      if (kv.key.ends_with(".data") && kv.value.find(job_uuid) != std::string::npos) {
        etcd.put(kv.key, std::string("\x00\xff\x13", 3));
      }
    }
  }

 private:
  EtcdServer& server_;
  std::optional<detail::EtcdCredentials> credentials_;
  std::string path_;
  std::string uri_;
  std::unique_ptr<JobBoard> board_;
};

// The suite once as everyone else runs it, and once with etcd's authentication on and the
// user's credentials in the URI.
INSTANTIATE_TEST_SUITE_P(
    Etcd, JobBoardConformance,
    ::testing::Values(BoardFactory{"etcd", [] { return std::make_unique<EtcdBoardFixture>(); }},
                      BoardFactory{"etcd_auth",
                                   [] { return std::make_unique<EtcdBoardFixture>(true); },
                                   /*races=*/100}),
    BoardName());

// A fresh board path on `hosts`, and its URI.
struct TestBoard {
  TestBoard(const std::string& hosts, const std::string& query)
      : path("t-" + make_uuid().substr(0, 8)), uri("etcd://" + hosts + "/" + path + query) {}
  std::string path;
  std::string uri;
  // The job's lock key as etcd holds it (nullopt when there is none).
  std::optional<detail::EtcdKv> lock(EtcdClient& etcd) const {
    for (const auto& kv : etcd.range(EtcdOp::get_prefix(EtcdKeys(path).jobs())).kvs) {
      if (kv.key.ends_with(".lock")) {
        return kv;
      }
    }
    return std::nullopt;
  }
};

std::string board_uri(const std::string& hosts, const std::string& query = "") {
  return TestBoard(hosts, query).uri;
}

TEST(EtcdJobBoardUri, OptionsAndErrors) {
  const std::string hosts = EtcdServer::shared().hosts();
  auto board = fetch_jobboard(board_uri(hosts, "?lease_ms=1500&max_attempts=3&timeout_ms=2000"));
  EXPECT_EQ(board->options().lease, 1500ms);
  EXPECT_EQ(board->post("j").max_attempts, 3);
  auto says = [](const std::string& uri, const std::string& what) {
    try {
      (void)fetch_jobboard(uri);
      ADD_FAILURE() << uri << " was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  says("etcd://127.0.0.1:99999/jobs", "bad port in '127.0.0.1:99999'");
  says("etcd://127.0.0.1:2x79/jobs", "bad port in '127.0.0.1:2x79'");
  says("etcd://" + hosts, "names no board path");
  says("etcd://" + hosts + "/", "names no board path");
  says("etcd:///jobs", "names no host");
  says("etcd://" + hosts + "/jobs?bogus=1", "unknown option 'bogus'");
  says("etcd://" + hosts + "/jobs?timeout_ms=0", "timeout_ms must be a positive integer");
  says("etcd://" + hosts + "/jobs?lease_ms=-5", "lease_ms must be a positive integer");
}

TEST(EtcdJobBoardUri, UnreachableServerIsNamedQuickly) {
  try {
    (void)fetch_jobboard("etcd://127.0.0.1:1/jobs?timeout_ms=2000");
    FAIL() << "connected to nothing";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

// TaskFlow's key layout: the posting under /taskflow/jobs/<path>/job<N>.data with its sequence,
// the lock as {"owner", "lease_id"} bound to that lease, the trash under /taskflow/.trash.
TEST(EtcdJobBoardLayout, KeysAreTaskFlows) {
  const std::string path = "layout-" + make_uuid().substr(0, 8);
  auto board = fetch_jobboard("etcd://" + EtcdServer::shared().hosts() + "/" + path);
  persistence::LogBook book = persistence::make_logbook("orders");
  const Job job = board->post("charge", {.details = {{"store", {{"x", 1}}}}, .book = book});
  EtcdClient etcd(EtcdEndpoints{{EtcdServer::shared().hosts()}, 5000ms});
  const std::string root = "/taskflow/jobs/" + path;
  auto get = [&](const std::string& key) {
    const auto r = etcd.range(EtcdOp::get(key));
    return r.kvs.empty() ? std::optional<detail::EtcdKv>() : r.kvs.front();
  };
  EXPECT_EQ(get(root + "/sequence")->value, "1");
  const Value posting = Value::parse(get(root + "/job1.data")->value);
  EXPECT_EQ(posting["uuid"], job.uuid);
  EXPECT_EQ(posting["name"], "charge");
  EXPECT_EQ(posting["priority"], "NORMAL");
  EXPECT_EQ(posting["sequence"], 1);
  EXPECT_EQ(posting["details"], (Value{{"store", {{"x", 1}}}}));
  EXPECT_EQ(posting["book"], (Value{{"name", "orders"}, {"uuid", book.uuid}}));
  EXPECT_TRUE(posting["created_on"].is_string());

  const Claim claim = board->claim(job.uuid, "conductor-1");
  const auto lock = get(root + "/job1.lock");
  ASSERT_TRUE(lock.has_value());
  const Value owner = Value::parse(lock->value);
  EXPECT_EQ(owner["owner"], "conductor-1");
  EXPECT_EQ(owner["lease_id"], lock->lease);
  EXPECT_NE(lock->lease, 0);
  EXPECT_EQ(claim.token, lock->mod_revision);
  EXPECT_EQ(claim.token, lock->create_revision);
  EXPECT_TRUE(Value::parse(get(root + "/job1.last_modified")->value)["last_modified"].is_string());

  board->trash(claim, "no good");
  EXPECT_FALSE(get(root + "/job1.data").has_value());
  EXPECT_FALSE(get(root + "/job1.lock").has_value());
  EXPECT_EQ(Value::parse(get("/taskflow/.trash/" + path + "/job1")->value)["uuid"], job.uuid);
}

// A job posted the way TaskFlow's etcd board posts one (its keys only) is listed, claimed and
// consumed by caboose.
TEST(EtcdJobBoardLayout, JobPostedByTaskFlowRuns) {
  const std::string path = "tf-" + make_uuid().substr(0, 8);
  const std::string root = "/taskflow/jobs/" + path;
  EtcdClient etcd(EtcdEndpoints{{EtcdServer::shared().hosts()}, 5000ms});
  etcd.put(root + "/sequence", "7");
  etcd.put(root + "/job7.data",
           R"({"uuid": "a1b2", "name": "from-python", "priority": "HIGH", )"
           R"("created_on": "2026-03-12T19:39:58.123456", "details": {}, "sequence": 7})");
  auto board = fetch_jobboard("etcd://" + EtcdServer::shared().hosts() + "/" + path);
  const auto jobs = board->iterjobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].uuid, "a1b2");
  EXPECT_EQ(jobs[0].priority, JobPriority::kHigh);
  EXPECT_EQ(jobs[0].sequence, 7);
  EXPECT_EQ(format_time(jobs[0].created_on), "2026-03-12T19:39:58.123456Z");
  const Claim claim = board->claim("a1b2", "c");
  EXPECT_EQ(claim.attempt, 1);
  board->consume(claim);
  EXPECT_EQ(board->job_count(), 0u);
  EXPECT_TRUE(etcd.range(EtcdOp::get_prefix(root + "/job")).kvs.empty());
  EXPECT_EQ(board->post("next").sequence, 8);  // the counter TaskFlow left is followed
}

}  // namespace
}  // namespace caboose::jobs::testing

namespace caboose::jobs::testing {
namespace {

// The holder's claim lapses while it still runs (a pause; its etcd lease is revoked too, as
// when it expires): another board claims the job, the holder's consume is refused, and a
// persistence write carrying its token is refused by the fence the new holder raised.
TEST(EtcdJobBoardFaults, LapsedHolderIsRefusedByTheBoardAndTheFence) {
  const TestBoard t(EtcdServer::shared().hosts(), "?lease_ms=300");
  auto holder = fetch_jobboard(t.uri);
  auto heir = fetch_jobboard(t.uri);
  auto backend = persistence::make_memory_backend();
  persistence::LogBook book = persistence::make_logbook("b");
  persistence::FlowDetail flow = persistence::make_flow_detail("f");
  persistence::AtomDetail atom;
  atom.name = "a";
  atom.uuid = make_uuid();
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  backend->save_logbook(book);

  const Job job = holder->post("slow", {.book = book});
  const Claim stale = holder->claim(job.uuid, "holder");
  EXPECT_EQ(backend->fence(flow.uuid, stale.token), stale.token);
  atom.state = AtomState::kRunning;
  backend->update_atom_details(atom, stale.token);

  // The etcd lease goes (revoked, as on expiry): the lock with it.
  EtcdClient etcd(EtcdEndpoints{{EtcdServer::shared().hosts()}, 5000ms});
  const std::optional<detail::EtcdKv> lock = t.lock(etcd);
  ASSERT_TRUE(lock.has_value());
  ASSERT_NE(lock->lease, 0);
  etcd.lease_revoke(lock->lease);
  EXPECT_FALSE(heir->find_owner(job.uuid).has_value());
  EXPECT_THROW(holder->renew(stale), StaleClaim);

  const Claim current = heir->claim(job.uuid, "heir");
  EXPECT_GT(current.token, stale.token);
  EXPECT_EQ(current.attempt, 2);
  EXPECT_EQ(backend->fence(flow.uuid, current.token), current.token);

  EXPECT_THROW(holder->consume(stale), StaleClaim);
  EXPECT_THROW(holder->abandon(stale), StaleClaim);
  atom.state = AtomState::kSuccess;
  EXPECT_THROW(backend->update_atom_details(atom, stale.token), StaleClaim);
  EXPECT_EQ(backend->get_atom_details(atom.uuid).state, AtomState::kRunning);
  backend->update_atom_details(atom, current.token);
  heir->consume(current);
  EXPECT_EQ(holder->job_count(), 0u);
}

// The same with no help: the caboose lease (300 ms) ends while etcd's (whole seconds) still
// holds the lock. The taking claim overwrites the stale lock in its transaction.
TEST(EtcdJobBoardFaults, LapsedLeaseIsTakenOverBeforeEtcdsExpires) {
  const TestBoard t(EtcdServer::shared().hosts(), "?lease_ms=300");
  auto holder = fetch_jobboard(t.uri);
  auto heir = fetch_jobboard(t.uri);
  const Job job = holder->post("slow");
  const Claim stale = holder->claim(job.uuid, "holder");
  EXPECT_FALSE(heir->claim_many({job.uuid}, "heir").front().has_value());
  // wait() wakes when the lease ends (no key changes then): the job is claimable again.
  ASSERT_TRUE(heir->wait(10s));
  const Claim current = heir->claim(job.uuid, "heir");
  EXPECT_GT(current.token, stale.token);
  // Taken over while etcd still held the stale lock (its lease lasts whole seconds): the lock
  // was overwritten in the claim's transaction, so its creation is the stale claim's.
  EtcdClient etcd(EtcdEndpoints{{EtcdServer::shared().hosts()}, 5000ms});
  const std::optional<detail::EtcdKv> lock = t.lock(etcd);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->create_revision, stale.token);
  EXPECT_EQ(lock->mod_revision, current.token);
  EXPECT_THROW(holder->consume(stale), StaleClaim);
  EXPECT_THROW(holder->renew(stale), StaleClaim);
  EXPECT_EQ(holder->find_owner(job.uuid), "heir");
  heir->consume(current);
}

// The server is killed and started again (same data, same ports) while a job is claimed: the
// claim survives (etcd keeps its leases), calls fail while it is down and work again after,
// the watch comes back, and the job ends once.
TEST(EtcdJobBoardFaults, ClaimSurvivesAServerRestart) {
  EtcdServer server;  // its own: restarted here
  const std::string uri = board_uri(server.hosts(), "?lease_ms=20000&timeout_ms=1000");
  auto board = fetch_jobboard(uri);
  auto other = fetch_jobboard(uri);
  const Job job = board->post("survivor");
  Claim claim = board->claim(job.uuid, "holder");
  server.kill();
  EXPECT_THROW(board->renew(claim), StorageFailure);
  server.restart();
  bool renewed = false;
  for (int i = 0; i < 100 && !renewed; ++i) {  // until the server answers again
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
  // other's watch reconnected: a post wakes its wait().
  std::thread poster([&] {
    std::this_thread::sleep_for(200ms);
    board->post("after-restart");
  });
  EXPECT_TRUE(other->wait(20s));
  poster.join();
  board->consume(claim);
  EXPECT_EQ(other->job_count(), 1u);
  EXPECT_FALSE(other->find(job.uuid).has_value());
  EXPECT_THROW(board->consume(claim), NotFound);
}

// A board that closes ends its claims at once (its etcd lease is revoked): another board claims
// without waiting for the lease.
TEST(EtcdJobBoardFaults, ClosedBoardsClaimsEndAtOnce) {
  const std::string uri = board_uri(EtcdServer::shared().hosts(), "?lease_ms=60000");
  auto holder = fetch_jobboard(uri);
  auto other = fetch_jobboard(uri);
  const Job job = holder->post("j");
  const Claim claim = holder->claim(job.uuid, "holder");
  holder->close();
  const Claim taken = other->claim(job.uuid, "heir");
  EXPECT_EQ(taken.attempt, 2);
  EXPECT_GT(taken.token, claim.token);
  EXPECT_THROW(other->consume(claim), StaleClaim);
  other->consume(taken);
}

}  // namespace
}  // namespace caboose::jobs::testing
