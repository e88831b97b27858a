// Fault cases for every networked jobboard (board_faults.h): a lost claim reply, refused and
// reset connections, a slow link, and a conductor whose board is blackholed mid-job. Each checks
// the contract (DESIGN.md): one valid claim at a time, no stale write accepted, no job lost, and
// a holder that cannot renew stops starting atoms.
#include "reliability/board_faults.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/conductors/conductor.h"
#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/persistence/memory_backend.h"

#include "conductors/conductor_cases.h"
#include "support/child_process.h"
#include "support/fault_proxy.h"

namespace caboose::reliability {

BoardFaultsTest::BoardFaultsTest()
    : path_("faults-" + make_uuid().substr(0, 8)), proxy_("127.0.0.1", GetParam().server_port()) {}

std::string BoardFaultsTest::direct_uri() const {
  return GetParam().uri("127.0.0.1:" + std::to_string(GetParam().server_port()), path_);
}

std::string BoardFaultsTest::proxied_uri() const {
  return GetParam().uri(proxy_.address(), path_);
}

jobs::BoardOptions BoardFaultsTest::options() const {
  return {.lease = GetParam().lease, .max_attempts = 20};
}

namespace {

using namespace std::chrono_literals;
using caboose::testing::FaultProxy;
using caboose::testing::wait_until;
using conductors::testing::EventLog;
using jobs::Claim;
using jobs::Job;
using jobs::JobBoard;

// A call that must end (return or throw) within `limit`: a hang fails the test instead of
// stalling it. Returns the call's outcome as a future that is ready.
template <class F>
auto bounded(F f, std::chrono::seconds limit = 20s) {
  auto done = std::async(std::launch::async, std::move(f));
  EXPECT_EQ(done.wait_for(limit), std::future_status::ready) << "the call hung";
  return done;
}

// Expects `f` to throw StorageFailure naming `server` (within a bounded time).
template <class F>
void expect_storage_failure_naming(const std::string& server, F f, const char* what) {
  auto done = bounded(std::move(f));
  try {
    done.get();
    ADD_FAILURE() << what << ": no error while the server is unreachable";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find(server), std::string::npos)
        << what << ": the error does not name " << server << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a StorageFailure: " << e.what();
  }
}

// F3. The claim's request reaches the server and is applied, its reply is lost: the board reads
// the claim back. Either the caller gets it, and it is really its (renew and consume take its
// token, nobody else can claim), or the caller gets an error and the job is free for another at
// once. Never a job held in the caller's name that the caller does not know about.
TEST_P(BoardFaultsTest, LostClaimReplyIsReadBack) {
  auto direct = jobs::fetch_jobboard(direct_uri(), options());
  auto board = jobs::fetch_jobboard(proxied_uri(), options());
  for (int i = 0; i < 3; ++i) {
    const Job job = direct->post("lost-reply-" + std::to_string(i));
    const std::string who = "claimer-" + make_uuid().substr(0, 8);
    proxy_.drop_next_reply(GetParam().claim_marker(who));
    auto claimed = bounded([&] { return board->claim(job.uuid, who); });
    ASSERT_EQ(proxy_.replies_dropped(), static_cast<std::uint64_t>(i + 1))
        << "the claim's reply was not the one dropped";
    std::optional<Claim> claim;
    try {
      claim = claimed.get();
    } catch (const StorageFailure& e) {
      SCOPED_TRACE(e.what());
      // Not adopted: then it must not be held, in our name or any.
      EXPECT_EQ(direct->find_owner(job.uuid), std::nullopt);
      const Claim other = direct->claim(job.uuid, "other");
      direct->consume(other);
      continue;
    }
    EXPECT_EQ(claim->owner, who);
    EXPECT_EQ(direct->find_owner(job.uuid), who);
    EXPECT_THROW((void)direct->claim(job.uuid, "other"), UnclaimableJob);
    const Claim renewed = board->renew(*claim);  // its token is the job's current one
    EXPECT_EQ(renewed.token, claim->token);
    board->consume(renewed);
    EXPECT_EQ(direct->find(job.uuid), std::nullopt);
  }
  EXPECT_EQ(direct->job_count(), 0u);
}

// Refused connections: every call fails at once with a StorageFailure naming the server (a new
// board too), and the board works again once the server can be reached.
TEST_P(BoardFaultsTest, RefusedConnectionsFailClearlyAndTheBoardRecovers) {
  auto direct = jobs::fetch_jobboard(direct_uri(), options());
  auto board = jobs::fetch_jobboard(proxied_uri(), options());
  const Job job = direct->post("refused");
  proxy_.refuse();
  proxy_.reset_all();
  const std::string server = proxy_.address();
  expect_storage_failure_naming(
      server, [&] { (void)jobs::fetch_jobboard(proxied_uri(), options()); }, "fetch_jobboard");
  expect_storage_failure_naming(
      server, [&] { (void)board->claim(job.uuid, "c"); }, "claim");
  expect_storage_failure_naming(
      server, [&] { (void)board->iterjobs(); }, "iterjobs");
  proxy_.pass();
  // Reconnecting may take the client a moment (ZooKeeper's backs off); calls fail until then.
  EXPECT_TRUE(wait_until(
      [&] {
        try {
          return board->iterjobs().size() == 1;
        } catch (const StorageFailure&) {
          return false;
        }
      },
      20s));
  const Claim claim = board->claim(job.uuid, "c");
  board->consume(claim);
  EXPECT_EQ(direct->job_count(), 0u);
}

// Connections reset under the board: the next call fails with a StorageFailure naming the
// server or succeeds on a new connection; the board recovers without a new board object, and a
// claim held across the reset stays the holder's.
TEST_P(BoardFaultsTest, ResetConnectionsFailClearlyAndTheBoardRecovers) {
  auto direct = jobs::fetch_jobboard(direct_uri(), options());
  auto board = jobs::fetch_jobboard(proxied_uri(), options());
  const Job job = direct->post("reset");
  Claim claim = board->claim(job.uuid, "holder");
  proxy_.reset_all();
  auto first = bounded([&] { return board->renew(claim); });
  try {
    claim = first.get();
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find(proxy_.address()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(wait_until(
      [&] {
        try {
          claim = board->renew(claim);
          return true;
        } catch (const StorageFailure&) {
          return false;
        }
      },
      20s));
  EXPECT_THROW((void)direct->claim(job.uuid, "thief"), UnclaimableJob);
  board->consume(claim);
  EXPECT_EQ(direct->job_count(), 0u);
  EXPECT_GE(proxy_.connections(), 2u);  // it did reconnect
}

// A slow link (each chunk held 150 ms each way): claims, renewals and consumes still work, and
// while the holder's lease is valid a second claimant is always refused.
TEST_P(BoardFaultsTest, DelayedLinkGrantsNoSecondClaimWhileTheLeaseHolds) {
  auto direct = jobs::fetch_jobboard(direct_uri(), options());
  auto board = jobs::fetch_jobboard(proxied_uri(), options());
  const Job job = direct->post("slow-link");
  proxy_.delay(150ms);
  Claim claim = board->claim(job.uuid, "slow-holder");
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW((void)direct->claim(job.uuid, "thief"), UnclaimableJob);
    EXPECT_EQ(direct->find_owner(job.uuid), "slow-holder");
    claim = board->renew(claim);
  }
  board->consume(claim);
  EXPECT_EQ(direct->find(job.uuid), std::nullopt);
  EXPECT_THROW((void)direct->claim(job.uuid, "thief"), NotFound);
}

// What the tasks of one conductor did, in order, shared by both conductors' flows.
class Ledger {
 public:
  void add(std::string entry) {
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(entry));
  }
  std::size_t count(const std::string& entry) const {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count(entries_.begin(), entries_.end(), entry));
  }
  std::string dump() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& e : entries_) {
      out += e + " ";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> entries_;  // Guarded by mu_.
};

// "reliability.hold": tasks first, hold (sleeps `hold`), last; each records "<who>:<task>".
conductors::FlowRegistry ledger_registry(const std::string& who, Ledger& ledger,
                                         std::chrono::milliseconds hold) {
  conductors::FlowRegistry registry;
  registry.add("reliability.hold", [who, &ledger, hold](const Value&, const Value&) {
    auto flow = linear_flow("hold");
    flow->add(task("first",
                   [who, &ledger] {
                     ledger.add(who + ":first");
                     return 1;
                   },
                   {}));
    flow->add(task("hold",
                   [who, &ledger, hold] {
                     ledger.add(who + ":hold");
                     std::this_thread::sleep_for(hold);
                     ledger.add(who + ":hold-done");
                     return 2;
                   },
                   {}));
    flow->add(task("last",
                   [who, &ledger] {
                     ledger.add(who + ":last");
                     return 3;
                   },
                   {}));
    return FlowPtr(std::move(flow));
  });
  return registry;
}

// The board of conductor A is blackholed while A runs a job's long task. A's renewals fail;
// past its lease's local deadline A starts no more atoms; B (on a direct board) takes the job
// over once the lease lapses on the server and raises the fence; A's write of the task it was
// running is refused by the fence; after the link comes back A changes nothing, and the job ends
// once, consumed by B, with the atom A finished before the fault not run again.
TEST_P(BoardFaultsTest, BlackholedConductorFencesItselfAndAnotherTakesOver) {
  const std::chrono::milliseconds lease = GetParam().lease;
  const std::chrono::milliseconds hold = lease * 5 / 2;
  auto backend = persistence::make_memory_backend();
  auto board_a = jobs::fetch_jobboard(proxied_uri(), options());
  auto board_b = jobs::fetch_jobboard(direct_uri(), options());
  Ledger ledger;
  const conductors::FlowRegistry registry_a = ledger_registry("a", ledger, hold);
  const conductors::FlowRegistry registry_b = ledger_registry("b", ledger, hold);
  const conductors::ConductorOptions conductor_options{.wait_timeout = 50ms,
                                                       .backoff = {.base = 1ms, .cap = 5ms}};
  conductors::BlockingConductor a("conductor-a", *board_a, *backend, registry_a, conductor_options);
  conductors::BlockingConductor b("conductor-b", *board_b, *backend, registry_b, conductor_options);
  EventLog events_a(a.notifier());
  EventLog events_b(b.notifier());

  const persistence::LogBook book =
      conductors::testing::saved_flow(*backend, {.name = "reliability.hold"});
  const Job job = conductors::testing::post_job(*board_b, book);
  conductors::testing::Running running_a(a);
  ASSERT_TRUE(wait_until([&] { return ledger.count("a:hold") == 1; }, 20s)) << ledger.dump();
  proxy_.blackhole();
  {
    conductors::testing::Running running_b(b);
    ASSERT_TRUE(events_a.wait_for("job_lost", 1, 30s)) << ledger.dump();
    ASSERT_TRUE(events_b.wait_for("job_consumed", 1, 30s)) << ledger.dump();
    proxy_.pass();
    // A, reconnected, finds nothing to do: the job is gone.
    EXPECT_TRUE(
        wait_until([&] { return proxy_.bytes_up() > 0 && board_a->job_count() == 0; }, 20s));
  }
  a.stop();
  EXPECT_TRUE(a.wait(30s));

  // A lost the claim by the fence: its write of "hold" carried a stale token and was refused.
  const std::vector<Value> lost = events_a.details("job_lost");
  ASSERT_EQ(lost.size(), 1u);
  ASSERT_TRUE(lost[0].contains("failure")) << lost[0].dump();
  EXPECT_NE(lost[0]["failure"].dump().find("StaleClaim"), std::string::npos) << lost[0].dump();
  EXPECT_EQ(events_a.count("job_consumed"), 0u);
  EXPECT_EQ(events_b.count("job_consumed"), 1u);
  // A started no atom after losing the lease; B ran what was left, and only that.
  EXPECT_EQ(ledger.count("a:first"), 1u) << ledger.dump();
  EXPECT_EQ(ledger.count("a:last"), 0u) << ledger.dump();
  EXPECT_EQ(ledger.count("b:first"), 0u) << ledger.dump();
  EXPECT_EQ(ledger.count("b:hold"), 1u) << ledger.dump();
  EXPECT_EQ(ledger.count("b:last"), 1u) << ledger.dump();
  // The job ended once; the flow's results are B's run's.
  EXPECT_EQ(board_b->job_count(), 0u);
  EXPECT_TRUE(board_b->trashed().empty());
  const persistence::FlowDetail flow = backend->get_flow_details(book.flows.front().uuid);
  EXPECT_EQ(flow.state, FlowState::kSuccess);
  for (const char* name : {"first", "hold", "last"}) {
    const persistence::AtomDetail* atom = flow.find_by_name(name);
    ASSERT_NE(atom, nullptr) << name;
    EXPECT_EQ(atom->state, AtomState::kSuccess) << name;
  }
  EXPECT_EQ(flow.find_by_name("hold")->results, 2);
  EXPECT_EQ(job.uuid, events_b.details("job_consumed").front()["job_uuid"]);
}

}  // namespace
}  // namespace caboose::reliability
