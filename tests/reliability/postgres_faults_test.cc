// The PostgreSQL persistence backend with a FaultProxy between it and a private server: a save
// cut after n bytes (for several n, up to inside the COMMIT's reply) or reset while in flight
// lands whole or not at all, the next save works once the link is back, and the fence still
// refuses a stale token; a blackholed server fails the call at the backend's timeout; refused
// connections fail with a StorageFailure naming the server.
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/persistence/backend.h"
#include "caboose/persistence/postgres_backend.h"

#include "support/child_process.h"
#include "support/fault_proxy.h"
#include "support/postgres_server.h"

namespace caboose::reliability {
namespace {

using namespace std::chrono_literals;
using caboose::testing::FaultProxy;
using caboose::testing::PostgresServer;
using caboose::testing::wait_until;
using persistence::AtomDetail;
using persistence::Backend;
using persistence::FlowDetail;
using persistence::LogBook;

constexpr int kAtoms = 8;
constexpr persistence::FenceToken kToken = 5;
constexpr std::chrono::milliseconds kTimeout{1500};  // the proxied backend's per-call limit

class PostgresFaultsTest : public ::testing::Test {
 protected:
  PostgresFaultsTest()
      : database_(PostgresServer::shared().create_database()),
        proxy_("127.0.0.1", PostgresServer::shared().port()),
        direct_(persistence::make_postgres_backend(database_)),
        proxied_(persistence::make_postgres_backend(proxied_uri(),
                                                    {.pool_size = 1, .timeout = kTimeout})) {
    book_.uuid = make_uuid();
    book_.name = "faults";
    FlowDetail flow;
    flow.uuid = make_uuid();
    flow.name = "flow";
    for (int i = 0; i < kAtoms; ++i) {
      AtomDetail atom;
      atom.name = "atom-" + std::to_string(i);
      atom.uuid = make_uuid();
      atom.version = "1.0";
      flow.atoms.push_back(atom);
    }
    book_.flows.push_back(flow);
    direct_->save_logbook(with_version("v0"));
    direct_->fence(flow.uuid, kToken);
  }

  std::string proxied_uri() const {
    return "postgresql://postgres@" + proxy_.address() +
           database_.substr(database_.find_last_of('/'));
  }
  const std::string& flow_uuid() const { return book_.flows.front().uuid; }

  // The book with its flow and every atom saying `version` (every atom SUCCESS with it).
  LogBook with_version(const std::string& version) const {
    LogBook book = book_;
    FlowDetail& flow = book.flows.front();
    flow.meta = Value{{"version", version}};
    flow.state = FlowState::kRunning;
    for (AtomDetail& atom : flow.atoms) {
      atom.state = AtomState::kSuccess;
      atom.results = version;
    }
    return book;
  }

  // The version the stored flow says, checking every atom says the same (no partial save).
  std::string stored_version() {
    const FlowDetail flow = direct_->get_flow_details(flow_uuid());
    std::set<std::string> seen = {flow.meta.value("version", std::string("?"))};
    EXPECT_EQ(flow.atoms.size(), static_cast<std::size_t>(kAtoms));
    for (const AtomDetail& atom : flow.atoms) {
      seen.insert(atom.results.is_string() ? atom.results.get<std::string>() : "?");
    }
    EXPECT_EQ(seen.size(), 1u) << "a partial save: " << ::testing::PrintToString(seen);
    return *seen.begin();
  }

  // A save through the proxy that must end within a bounded time; the error if it threw.
  std::optional<std::string> save(const std::string& version, persistence::FenceToken token) {
    auto done = std::async(std::launch::async,
                           [&] { (void)proxied_->save_logbook(with_version(version), token); });
    EXPECT_EQ(done.wait_for(30s), std::future_status::ready) << "the save hung";
    try {
      done.get();
      return std::nullopt;
    } catch (const StorageFailure& e) {
      EXPECT_NE(std::string(e.what()).find(proxy_.address()), std::string::npos) << e.what();
      return e.what();
    }
  }

  // After a fault: the save landed whole or not at all; then a save works again, and the fence
  // still refuses an older token.
  void expect_whole_or_nothing(const std::string& before, const std::string& tried,
                               const std::optional<std::string>& error) {
    const std::string now = stored_version();
    if (!error) {
      EXPECT_EQ(now, tried);
    } else {
      EXPECT_TRUE(now == before || now == tried) << now;  // a lost COMMIT reply may have landed
    }
    proxy_.pass();
    const std::string next = tried + "-next";
    EXPECT_EQ(save(next, kToken), std::nullopt);
    EXPECT_EQ(stored_version(), next);
  }

  // Opening a backend through the proxy fails, within a bounded time, naming the server.
  void expect_open_fails(const std::string& through) {
    auto opened = std::async(std::launch::async, [&] {
      return persistence::make_postgres_backend(proxied_uri(), {.timeout = kTimeout});
    });
    ASSERT_EQ(opened.wait_for(30s), std::future_status::ready) << "opening hung";
    try {
      (void)opened.get();
      ADD_FAILURE() << "opened a backend through " << through;
    } catch (const StorageFailure& e) {
      EXPECT_NE(std::string(e.what()).find(proxy_.address()), std::string::npos) << e.what();
    }
  }

  std::string database_;
  FaultProxy proxy_;
  std::unique_ptr<Backend> direct_;
  std::unique_ptr<Backend> proxied_;
  LogBook book_;
};

TEST_F(PostgresFaultsTest, SaveCutAfterNBytesLandsWholeOrNotAtAll) {
  ASSERT_EQ(save("warm", kToken), std::nullopt);  // the connection is open, statements prepared
  const std::uint64_t before = proxy_.bytes_up() + proxy_.bytes_down();
  ASSERT_EQ(save("measure", kToken), std::nullopt);
  const std::uint64_t total = proxy_.bytes_up() + proxy_.bytes_down() - before;
  ASSERT_GT(total, 100u);
  std::string last = "measure-next";
  ASSERT_EQ(save(last, kToken), std::nullopt);
  int failed = 0;
  // From the first bytes of BEGIN to the last of the COMMIT's reply. The connection after each
  // cut is a new one (more bytes: startup, statements prepared again), so later cuts land
  // anywhere in the save.
  for (const std::uint64_t n :
       {std::uint64_t{1}, total / 4, total / 2, total * 3 / 4, total - 5, total - 1}) {
    SCOPED_TRACE("cut after " + std::to_string(n) + " of " + std::to_string(total));
    const std::string tried = "cut-" + std::to_string(n);
    proxy_.cut_after(n);
    const std::optional<std::string> error = save(tried, kToken);
    failed += error ? 1 : 0;
    expect_whole_or_nothing(last, tried, error);
    last = tried + "-next";
  }
  EXPECT_GE(failed, 3);  // the cuts did hit saves
  EXPECT_GE(proxy_.cuts(), 3u);
  // The fence holds through it all: a newer holder's fence refuses this token's writes.
  ASSERT_EQ(direct_->fence(flow_uuid(), kToken + 1), kToken + 1);
  EXPECT_THROW((void)proxied_->save_logbook(with_version("stale"), kToken), StaleClaim);
  EXPECT_EQ(stored_version(), last);
}

TEST_F(PostgresFaultsTest, ConnectionResetDuringASaveLandsWholeOrNotAtAll) {
  ASSERT_EQ(save("warm", kToken), std::nullopt);
  std::string last = "warm";
  for (int i = 0; i < 3; ++i) {
    const std::string tried = "reset-" + std::to_string(i);
    proxy_.delay(20ms);  // each round trip of the save takes 40 ms: time to reset in between
    const std::uint64_t sent = proxy_.bytes_up();
    auto done = std::async(std::launch::async, [&] { return save(tried, kToken); });
    ASSERT_TRUE(wait_until([&] { return proxy_.bytes_up() > sent; }, 10s));
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 30 * i));  // first, middle, late
    proxy_.reset_all();
    const std::optional<std::string> error = done.get();
    expect_whole_or_nothing(last, tried, error);
    last = tried + "-next";
  }
  ASSERT_EQ(direct_->fence(flow_uuid(), kToken + 1), kToken + 1);
  EXPECT_THROW((void)proxied_->save_logbook(with_version("stale"), kToken), StaleClaim);
  EXPECT_EQ(stored_version(), last);
}

// A server that stops answering (a partition: the connection stays open, nothing comes back)
// must not hold a caller for ever: libpq has no timeout of its own, the backend's timeout ends
// the call and drops the connection. Whatever the save did lands whole or not at all, and so
// does opening a backend through the blackhole (libpq's connect_timeout, whole seconds >= 2).
TEST_F(PostgresFaultsTest, BlackholedServerFailsTheCallAtTheTimeoutAndLosesNothing) {
  ASSERT_EQ(save("warm", kToken), std::nullopt);
  std::string last = "warm";
  int timed_out = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string tried = "blackholed-" + std::to_string(i);
    proxy_.delay(20ms);
    const std::uint64_t sent = proxy_.bytes_up();
    const auto start = std::chrono::steady_clock::now();
    auto done = std::async(std::launch::async, [&] { return save(tried, kToken); });
    ASSERT_TRUE(wait_until([&] { return proxy_.bytes_up() > sent; }, 10s));
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 30 * i));  // first, middle, late
    proxy_.blackhole();
    const std::optional<std::string> error = done.get();
    const auto took = std::chrono::steady_clock::now() - start;
    if (error) {
      EXPECT_NE(error->find("no reply within 1500 ms"), std::string::npos) << *error;
      EXPECT_GE(took, kTimeout);
      ++timed_out;
    }
    expect_whole_or_nothing(last, tried, error);
    last = tried + "-next";
  }
  EXPECT_GE(timed_out, 2);  // the blackhole did catch saves in flight
  proxy_.blackhole();
  expect_open_fails("a blackhole");
  proxy_.pass();
  ASSERT_EQ(direct_->fence(flow_uuid(), kToken + 1), kToken + 1);
  EXPECT_THROW((void)proxied_->save_logbook(with_version("stale"), kToken), StaleClaim);
  EXPECT_EQ(stored_version(), last);
}

TEST_F(PostgresFaultsTest, RefusedConnectionsFailClearlyAndTheBackendRecovers) {
  proxy_.refuse();
  proxy_.reset_all();
  const std::optional<std::string> error = save("refused", kToken);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(stored_version(), "v0");
  expect_open_fails("a proxy that refuses");
  proxy_.pass();
  EXPECT_EQ(save("after", kToken), std::nullopt);
  EXPECT_EQ(stored_version(), "after");
}

}  // namespace
}  // namespace caboose::reliability
