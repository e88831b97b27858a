#include "jobs/jobboard_conformance.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "caboose/core/errors.h"
#include "caboose/persistence/memory_backend.h"

namespace caboose::jobs::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> names(const std::vector<Job>& jobs) {
  std::vector<std::string> out;
  for (const Job& j : jobs) {
    out.push_back(j.name);
  }
  return out;
}

Failure failure(const std::string& message) {
  try {
    throw std::runtime_error(message);
  } catch (...) {
    return Failure::capture();
  }
}

TEST_P(JobBoardConformance, PostedJobsListInClaimOrder) {
  JobBoard& b = board();
  b.post("normal-1");
  b.post("low-1", {.priority = JobPriority::kLow});
  b.post("high-1", {.priority = JobPriority::kHigh});
  b.post("normal-2");
  b.post("high-2", {.priority = JobPriority::kHigh});
  b.post("very-low", {.priority = JobPriority::kVeryLow});
  b.post("very-high", {.priority = JobPriority::kVeryHigh});
  EXPECT_EQ(names(b.iterjobs()),
            (std::vector<std::string>{"very-high", "high-1", "high-2", "normal-1", "normal-2",
                                      "low-1", "very-low"}));
  EXPECT_EQ(names(b.iterjobs(/*only_unclaimed=*/true)), names(b.iterjobs()));
  EXPECT_EQ(b.job_count(), 7u);
  // Another connection sees the same.
  EXPECT_EQ(names(another()->iterjobs()), names(b.iterjobs()));
}

TEST_P(JobBoardConformance, PostedJobKeepsWhatItWasGiven) {
  JobBoard& b = board({.max_attempts = 7});
  persistence::LogBook book = persistence::make_logbook("orders");
  const Job posted = b.post("charge", {.details = {{"store", {{"order", 17}}}, {"tags", {"a"}}},
                                       .book = book,
                                       .priority = JobPriority::kHigh});
  const std::optional<Job> job = another()->find(posted.uuid);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->name, "charge");
  EXPECT_EQ(job->details, (Value{{"store", {{"order", 17}}}, {"tags", {"a"}}}));
  EXPECT_EQ(job->book_uuid, book.uuid);
  EXPECT_EQ(job->book_name, "orders");
  EXPECT_EQ(job->priority, JobPriority::kHigh);
  EXPECT_EQ(job->state, JobState::kUnclaimed);
  EXPECT_EQ(job->attempts, 0);
  EXPECT_EQ(job->max_attempts, 7);  // the board's default
  EXPECT_EQ(b.post("limited", {.max_attempts = 2}).max_attempts, 2);
  EXPECT_LE(job->created_on, now());
  EXPECT_FALSE(b.find("no-such-job").has_value());
}

TEST_P(JobBoardConformance, BadPostsAreRefused) {
  JobBoard& b = board();
  EXPECT_THROW(b.post(""), InvalidArgument);
  EXPECT_THROW(b.post("x", {.details = Value::array({1, 2})}), InvalidArgument);
  EXPECT_THROW(b.post("x", {.max_attempts = -1}), InvalidArgument);
  EXPECT_EQ(b.job_count(), 0u);
}

TEST_P(JobBoardConformance, JobBookIsReadThroughPersistence) {
  auto backend = persistence::make_memory_backend();
  persistence::LogBook book = persistence::make_logbook("orders");
  backend->save_logbook(book);
  const Job with = board().post("with-book", {.book = book});
  EXPECT_EQ(with.book(*backend).name, "orders");
  const Job without = board().post("without-book");
  EXPECT_THROW((void)without.book(*backend), NotFound);
}

TEST_P(JobBoardConformance, ClaimCountsTheAttemptAndBlocksOthers) {
  JobBoard& b = board();
  const Job job = b.post("j");
  const Claim first = b.claim(job.uuid, "conductor-1");
  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(first.owner, "conductor-1");
  EXPECT_GT(first.token, 0);
  EXPECT_GT(first.lease_until, now());
  EXPECT_EQ(b.find_owner(job.uuid), "conductor-1");
  auto other = another();
  EXPECT_EQ(other->find_owner(job.uuid), "conductor-1");
  EXPECT_THROW(other->claim(job.uuid, "conductor-2"), UnclaimableJob);
  EXPECT_THROW(b.claim(job.uuid, "conductor-1"), UnclaimableJob);  // no double claim either
  EXPECT_TRUE(b.iterjobs(/*only_unclaimed=*/true).empty());
  ASSERT_EQ(b.iterjobs().size(), 1u);
  EXPECT_EQ(b.iterjobs()[0].state, JobState::kClaimed);
  EXPECT_EQ(b.iterjobs()[0].attempts, 1);
  EXPECT_EQ(availability(b.iterjobs()[0], now()), "claimed");
  // The lease as the board shows it (Redis derives it from the owner key's time to live).
  for (const std::optional<Job>& seen :
       {std::optional<Job>(b.iterjobs()[0]), other->find(job.uuid)}) {
    ASSERT_TRUE(seen.has_value());
    ASSERT_TRUE(seen->lease_until.has_value());
    EXPECT_LT(*seen->lease_until - first.lease_until, 1s);
    EXPECT_LT(first.lease_until - *seen->lease_until, 1s);
  }
  EXPECT_THROW(b.claim("no-such-job", "c"), NotFound);
  EXPECT_THROW(b.claim(job.uuid, ""), InvalidArgument);
}

TEST_P(JobBoardConformance, ConsumedJobLeavesTheBoard) {
  JobBoard& b = board();
  const Job job = b.post("j");
  b.post("other");
  b.consume(b.claim(job.uuid, "c"));
  EXPECT_EQ(b.job_count(), 1u);
  EXPECT_FALSE(b.find(job.uuid).has_value());
  EXPECT_FALSE(b.find_owner(job.uuid).has_value());
  EXPECT_EQ(names(b.iterjobs()), (std::vector<std::string>{"other"}));
}

// Two conductors race for the same job, a thousand times (the factory's races): exactly one
// wins each race.
TEST_P(JobBoardConformance, OneWinnerPerRace) {
  JobBoard& b = board();
  auto other = another();
  const int races = GetParam().races;
  int doubles = 0;
  int nobody = 0;
  for (int race = 0; race < races; ++race) {
    const Job job = b.post("race-" + std::to_string(race));
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    auto attempt = [&](JobBoard& board_of, const char* who) {
      return std::async(std::launch::async, [&board_of, who, start, uuid = job.uuid] {
        start.wait();
        try {
          board_of.claim(uuid, who);
          return 1;
        } catch (const UnclaimableJob&) {
          return 0;
        }
      });
    };
    auto a = attempt(b, "a");
    auto c = attempt(*other, "c");
    go.set_value();
    const int winners = a.get() + c.get();
    doubles += winners > 1 ? 1 : 0;
    nobody += winners == 0 ? 1 : 0;
    ASSERT_EQ(b.find(job.uuid)->attempts, 1) << "race " << race;
  }
  EXPECT_EQ(doubles, 0);
  EXPECT_EQ(nobody, 0);
}

TEST_P(JobBoardConformance, LapsedLeaseMakesTheJobClaimableAndCountsAnotherAttempt) {
  JobBoard& b = board({.lease = 150ms});
  auto other = another({.lease = 150ms});
  const Job job = b.post("j");
  const Claim first = b.claim(job.uuid, "dead-conductor");
  std::this_thread::sleep_for(250ms);
  EXPECT_FALSE(b.find_owner(job.uuid).has_value());
  ASSERT_EQ(b.iterjobs(/*only_unclaimed=*/true).size(), 1u);
  // Every listing shows it as the board treats it: unclaimed, owned by nobody (operators, the
  // metrics and the web view see a claimable job, not the dead conductor's claim).
  ASSERT_EQ(b.iterjobs().size(), 1u);
  ASSERT_TRUE(other->find(job.uuid).has_value());
  for (const Job& seen : {b.iterjobs()[0], b.iterjobs(true)[0], *other->find(job.uuid)}) {
    EXPECT_EQ(seen.state, JobState::kUnclaimed);
    EXPECT_FALSE(seen.owner.has_value());
    EXPECT_FALSE(seen.lease_until.has_value());
    EXPECT_EQ(availability(seen, now()), "claimable");
  }
  const Claim second = other->claim(job.uuid, "live-conductor");
  EXPECT_EQ(second.attempt, 2);
  EXPECT_GT(second.token, first.token);
  EXPECT_EQ(b.find_owner(job.uuid), "live-conductor");
}

TEST_P(JobBoardConformance, StaleClaimChangesNothing) {
  JobBoard& b = board({.lease = 150ms});
  auto other = another({.lease = 5000ms});
  const Job job = b.post("j");
  const Claim stale = b.claim(job.uuid, "slow");
  std::this_thread::sleep_for(250ms);
  const Claim current = other->claim(job.uuid, "fast");
  EXPECT_THROW(b.renew(stale), StaleClaim);
  EXPECT_THROW(b.consume(stale), StaleClaim);
  EXPECT_THROW(b.abandon(stale), StaleClaim);
  EXPECT_THROW(b.trash(stale, "bad"), StaleClaim);
  EXPECT_THROW(b.release(stale), StaleClaim);
  const std::optional<Job> after = b.find(job.uuid);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state, JobState::kClaimed);
  EXPECT_EQ(after->owner, "fast");
  EXPECT_TRUE(b.trashed().empty());
  other->consume(current);  // the current claim still works
  EXPECT_EQ(b.job_count(), 0u);
  EXPECT_THROW(b.consume(current), NotFound);
}

TEST_P(JobBoardConformance, RenewedClaimOutlivesItsFirstLease) {
  JobBoard& b = board({.lease = 300ms});
  auto other = another({.lease = 300ms});
  const Job job = b.post("j");
  Claim claim = b.claim(job.uuid, "c");
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(120ms);
    const Claim renewed = b.renew(claim);
    EXPECT_GT(renewed.lease_until, claim.lease_until);
    EXPECT_EQ(renewed.token, claim.token);
    claim = renewed;
  }
  EXPECT_THROW(other->claim(job.uuid, "d"), UnclaimableJob);
  const std::optional<Job> seen = other->find(job.uuid);
  ASSERT_TRUE(seen.has_value() && seen->lease_until.has_value());
  EXPECT_GT(*seen->lease_until, claim.lease_until - 100ms);  // the renewed lease, not the first
  b.consume(claim);
}

TEST_P(JobBoardConformance, WaitWakesWhenAClaimLapses) {
  JobBoard& b = board({.lease = 300ms});
  auto holder = another({.lease = 300ms});
  const Job job = b.post("j");
  (void)holder->claim(job.uuid, "dies-holding-it");
  EXPECT_EQ(b.find(job.uuid)->state, JobState::kClaimed);
  EXPECT_TRUE(b.wait(10s));  // nothing changes on the board: the lease just runs out
  EXPECT_FALSE(b.find_owner(job.uuid).has_value());
  EXPECT_EQ(b.claim(job.uuid, "next").attempt, 2);
}

TEST_P(JobBoardConformance, NotBeforeHidesAJobUntilDue) {
  JobBoard& b = board();
  const Job later = b.post("later", {.not_before = now() + 300ms});
  b.post("now");
  EXPECT_EQ(names(b.iterjobs(/*only_unclaimed=*/true)), (std::vector<std::string>{"now"}));
  EXPECT_EQ(b.iterjobs().size(), 2u);
  EXPECT_THROW(b.claim(later.uuid, "c"), UnclaimableJob);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(b.iterjobs(/*only_unclaimed=*/true).size(), 2u);
  EXPECT_EQ(b.claim(later.uuid, "c").attempt, 1);
}

TEST_P(JobBoardConformance, AbandonedJobWaitsForItsBackoffWithItsFailure) {
  JobBoard& b = board();
  const Job job = b.post("flaky");
  b.abandon(b.claim(job.uuid, "c1"), now() + 300ms, failure("disk full"));
  std::optional<Job> back = b.find(job.uuid);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state, JobState::kUnclaimed);
  EXPECT_FALSE(back->owner.has_value());
  EXPECT_EQ(back->attempts, 1);
  ASSERT_TRUE(back->last_failure.has_value());
  EXPECT_EQ(back->last_failure->exception_str(), "disk full");
  EXPECT_THROW(b.claim(job.uuid, "c2"), UnclaimableJob);
  std::this_thread::sleep_for(400ms);
  const Claim again = b.claim(job.uuid, "c2");
  EXPECT_EQ(again.attempt, 2);
  b.abandon(again);  // no backoff, no new failure: the last one is kept
  back = b.find(job.uuid);
  EXPECT_EQ(back->last_failure->exception_str(), "disk full");
  EXPECT_EQ(b.claim(job.uuid, "c3").attempt, 3);
}

TEST_P(JobBoardConformance, ReleasedJobIsClaimableAtOnceWithoutUsingAnAttempt) {
  JobBoard& b = board();
  auto other = another();
  const Job job = b.post("interrupted");
  b.abandon(b.claim(job.uuid, "c1"), std::nullopt, failure("first try"));
  const Claim second = b.claim(job.uuid, "c1");
  EXPECT_EQ(second.attempt, 2);
  b.release(second);
  const std::optional<Job> back = b.find(job.uuid);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state, JobState::kUnclaimed);
  EXPECT_EQ(back->attempts, 1);
  EXPECT_EQ(back->last_failure->exception_str(), "first try");
  const Claim third = other->claim(job.uuid, "c2");
  EXPECT_EQ(third.attempt, 2);
  EXPECT_GT(third.token, second.token);
  EXPECT_THROW(b.release(second), StaleClaim);
  other->consume(third);
}

TEST_P(JobBoardConformance, ClaimManyAndConsumeManyActAsEachOneWould) {
  JobBoard& b = board();
  auto other = another();
  const Job a = b.post("a");
  const Job taken = b.post("taken");
  const Job c = b.post("c");
  const Claim theirs = other->claim(taken.uuid, "other");
  const auto claims = b.claim_many({a.uuid, taken.uuid, "no-such-job", c.uuid}, "me");
  ASSERT_EQ(claims.size(), 4u);
  ASSERT_TRUE(claims[0].has_value());
  EXPECT_FALSE(claims[1].has_value());
  EXPECT_FALSE(claims[2].has_value());
  ASSERT_TRUE(claims[3].has_value());
  EXPECT_EQ(claims[0]->attempt, 1);
  EXPECT_EQ(claims[3]->owner, "me");
  EXPECT_EQ(b.find_owner(c.uuid), "me");
  Claim stale = theirs;
  stale.token += 1000;
  const auto errors = b.consume_many({*claims[0], stale, *claims[3]});
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_FALSE(errors[0]);
  ASSERT_TRUE(errors[1]);
  EXPECT_THROW(std::rethrow_exception(errors[1]), StaleClaim);
  EXPECT_FALSE(errors[2]);
  EXPECT_EQ(b.job_count(), 1u);
  EXPECT_EQ(b.find_owner(taken.uuid), "other");
  EXPECT_TRUE(b.claim_many({}, "me").empty());
}

TEST_P(JobBoardConformance, GarbageBinListsRequeuesAndPurges) {
  JobBoard& b = board();
  const Job poison = b.post("poison");
  const Job other = b.post("other");
  b.trash(b.claim(poison.uuid, "c"), "failed 5 times", failure("bad input"));
  EXPECT_EQ(names(b.iterjobs()), (std::vector<std::string>{"other"}));
  EXPECT_EQ(b.job_count(), 1u);
  std::vector<Job> bin = another()->trashed();
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_EQ(bin[0].uuid, poison.uuid);
  EXPECT_EQ(bin[0].state, JobState::kTrashed);
  EXPECT_EQ(bin[0].trash_reason, "failed 5 times");
  EXPECT_EQ(bin[0].attempts, 1);
  ASSERT_TRUE(bin[0].last_failure.has_value());
  EXPECT_EQ(bin[0].last_failure->exception_str(), "bad input");
  EXPECT_THROW(b.claim(poison.uuid, "c"), UnclaimableJob);

  const Job requeued = b.requeue(poison.uuid);
  EXPECT_EQ(requeued.state, JobState::kUnclaimed);
  EXPECT_EQ(requeued.attempts, 0);
  EXPECT_TRUE(b.trashed().empty());
  EXPECT_THROW(b.requeue(poison.uuid), NotFound);
  EXPECT_THROW(b.requeue(other.uuid), NotFound);

  b.trash(b.claim(poison.uuid, "c"), "again");
  b.purge(poison.uuid);
  EXPECT_FALSE(b.find(poison.uuid).has_value());
  EXPECT_THROW(b.purge(poison.uuid), NotFound);
  b.trash(b.claim(other.uuid, "c"), "last");
  b.trash(b.claim(b.post("third").uuid, "c"), "last");
  EXPECT_EQ(b.purge_all(), 2u);
  EXPECT_EQ(b.job_count(), 0u);
  EXPECT_TRUE(b.trashed().empty());
}

TEST_P(JobBoardConformance, NotifiesPostsAndRemovals) {
  JobBoard& b = board();
  std::vector<std::string> events;
  std::mutex mu;
  b.notifier().register_callback(
      std::string(Notifier::kAny), [&](std::string_view event, const Value& details) {
        std::lock_guard lock(mu);
        events.push_back(std::string(event) + ":" + details.value("reason", std::string("-")));
      });
  const Job a = b.post("a");
  const Job c = b.post("c");
  b.consume(b.claim(a.uuid, "x"));
  b.trash(b.claim(c.uuid, "x"), "no");
  b.purge(c.uuid);
  EXPECT_EQ(events, (std::vector<std::string>{"posted:-", "posted:-", "removal:consumed",
                                              "removal:trashed", "removal:purged"}));
}

TEST_P(JobBoardConformance, WaitWakesWhenWorkIsPosted) {
  JobBoard& b = board();
  auto poster = another();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.wait(200ms));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke = b.wait(10s); });
  std::this_thread::sleep_for(100ms);
  const auto posted_at = std::chrono::steady_clock::now();
  poster->post("work");
  waiter.join();
  EXPECT_TRUE(woke);
  // Woken well before the timeout (the target is ~50 ms; CI machines get slack).
  EXPECT_LT(std::chrono::steady_clock::now() - posted_at, 5s);
  EXPECT_TRUE(b.wait(0ms));
}

TEST_P(JobBoardConformance, UnreadableRecordsAreSkippedAndReported) {
  JobBoard& b = board();
  b.post("good-1");
  const Job bad = b.post("bad");
  b.post("good-2");
  corrupt(bad.uuid);
  EXPECT_EQ(names(b.iterjobs()), (std::vector<std::string>{"good-1", "good-2"}));
  const std::vector<std::string> skipped = b.skipped();
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(bad.uuid), std::string::npos) << skipped[0];
  // Nothing was deleted: what cannot be read is reported, not destroyed.
  EXPECT_EQ(b.job_count(), 3u);
}

TEST_P(JobBoardConformance, EntitiesAreRegistered) {
  JobBoard& b = board();
  b.register_entity("conductor-1", {{"host", "a"}});
  another()->register_entity("conductor-2", {{"host", "b"}});
  b.register_entity("conductor-1", {{"host", "a2"}});
  const Value entities = b.entities();
  ASSERT_EQ(entities.size(), 2u);
  EXPECT_EQ(entities[0]["name"], "conductor-1");
  EXPECT_EQ(entities[0]["details"]["host"], "a2");
  EXPECT_EQ(entities[1]["name"], "conductor-2");
}

TEST_P(JobBoardConformance, ClosedBoardSaysSo) {
  JobBoard& b = board();
  b.close();
  EXPECT_THROW(b.post("x"), StorageFailure);
}

}  // namespace
}  // namespace caboose::jobs::testing
