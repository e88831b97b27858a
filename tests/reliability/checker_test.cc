// The checker finds each kind of violation it claims to find: fed a board, a store and a ledger
// made by hand to hold exactly one fault each, it counts that fault and nothing else.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/memory_backend.h"

#include "persistence/temp_dir.h"
#include "reliability/chaos.h"

namespace caboose::reliability {
namespace {

class CheckerTest : public ::testing::Test {
 protected:
  // A job on the board whose flow (in the store) holds `done` atoms finished as the ledger
  // workload finishes them; consumed when `consume`.
  PostedJob job(int done, bool consume) {
    persistence::LogBook book;
    book.uuid = make_uuid();
    book.name = "book";
    persistence::FlowDetail flow;
    flow.uuid = make_uuid();
    flow.name = "flow";
    const jobs::Job posted = board_->post("job", {.details = {{"flow_uuid", flow.uuid}}});
    for (int i = 1; i <= 2; ++i) {
      persistence::AtomDetail atom;
      atom.uuid = make_uuid();
      atom.name = "step-" + std::to_string(i);
      if (i <= done) {
        atom.state = AtomState::kSuccess;
        atom.results = posted.uuid + "/" + atom.name;
      }
      flow.atoms.push_back(atom);
    }
    if (done == 2) {
      flow.state = FlowState::kSuccess;
    }
    book.flows.push_back(flow);
    store_->save_logbook(book);
    if (consume) {
      board_->consume(board_->claim(posted.uuid, "tester"));
    }
    return {posted.uuid, flow.uuid};
  }

  // An effect under claim `token`, the job's attempt `attempt` (by default the token's number).
  static Effect effect(const PostedJob& j, const std::string& atom, std::int64_t token,
                       std::int64_t at, std::int64_t attempt = 0) {
    return Effect{j.job_uuid, atom, token, attempt > 0 ? attempt : token, "c", 1, at};
  }

  persistence::testing::TempDir dir_;
  std::unique_ptr<jobs::JobBoard> board_ =
      jobs::fetch_jobboard("sqlite:///" + (dir_ / "board.db").string());
  std::unique_ptr<persistence::Backend> store_ = persistence::make_memory_backend();
};

TEST_F(CheckerTest, ACleanRunHasNoViolations) {
  const PostedJob j = job(2, true);
  const Report r =
      check({j}, *board_, *store_, {effect(j, "step-1", 1, 1), effect(j, "step-2", 1, 2)}, 2);
  EXPECT_EQ(r.violations(), 0u);
  EXPECT_EQ(r.consumed, 1u);
}

TEST_F(CheckerTest, AJobGoneWithItsFlowUnfinishedIsLost) {
  const PostedJob j = job(1, true);
  const Report r = check({j}, *board_, *store_, {effect(j, "step-1", 1, 1)}, 2);
  EXPECT_EQ(r.lost_violations, 1u);
  EXPECT_EQ(r.violations(), 1u);
}

TEST_F(CheckerTest, AnAtomRunTwiceUnderOneClaimIsCounted) {
  const PostedJob j = job(2, true);
  const Report r =
      check({j}, *board_, *store_,
            {effect(j, "step-1", 1, 1), effect(j, "step-1", 1, 2), effect(j, "step-2", 1, 3)}, 2);
  EXPECT_EQ(r.duplicate_run_violations, 1u);
  EXPECT_EQ(r.violations(), 1u);
}

TEST_F(CheckerTest, AnOlderClaimWorkingAfterANewerOneIsStale) {
  const PostedJob j = job(2, true);
  const Report r = check({j}, *board_, *store_,
                         {effect(j, "step-1", 1, 1), effect(j, "step-1", 2, 5),
                          effect(j, "step-2", 1, 6), effect(j, "step-2", 2, 7)},
                         2);
  EXPECT_EQ(r.stale_effect_violations, 1u);
  EXPECT_EQ(r.violations(), 1u);
  EXPECT_EQ(r.takeovers, 1u);
  EXPECT_DOUBLE_EQ(r.takeover_ms.at(0), 4.0 / 1000.0);  // from 1 us to 5 us
}

TEST_F(CheckerTest, TakeoversAfterClaimsThatRecordedNothingAreToldApart) {
  const PostedJob j = job(2, true);
  // Claim 1 works; claims 2 and 3 record nothing (say the store was down); claim 4 takes over,
  // then claim 5 takes over from it directly.
  const Report r = check(
      {j}, *board_, *store_,
      {effect(j, "step-1", 1, 1000), effect(j, "step-1", 4, 9000), effect(j, "step-2", 5, 12000)},
      2);
  EXPECT_EQ(r.violations(), 0u) << r.problems_text();
  EXPECT_EQ(r.takeovers, 2u);
  EXPECT_EQ(r.takeovers_after_empty_claims, 1u);
  ASSERT_EQ(r.direct_takeover_ms.size(), 1u);
  EXPECT_DOUBLE_EQ(r.direct_takeover_ms.front(), 3.0);
  EXPECT_DOUBLE_EQ(Report::percentile(r.takeover_ms, 99), 8.0);
  EXPECT_DOUBLE_EQ(Report::percentile(r.takeover_ms, 50), 3.0);
  EXPECT_DOUBLE_EQ(Report::percentile({}, 50), 0.0);
}

TEST_F(CheckerTest, AnAtomRunAfterItsFlowSucceededIsCounted) {
  const PostedJob j = job(2, true);
  const std::vector<Effect> effects = {effect(j, "step-1", 1, 1), effect(j, "step-2", 1, 2),
                                       effect(j, "step-2", 2, 9)};
  // Without knowing the flow had succeeded under claim 1, a rerun is a takeover like any other.
  EXPECT_EQ(check({j}, *board_, *store_, effects, 2).violations(), 0u);
  const Report r = check({j}, *board_, *store_, effects, 2, {{j.job_uuid, 1}});
  EXPECT_EQ(r.rerun_after_success_violations, 1u);
  EXPECT_EQ(r.violations(), 1u);
  EXPECT_EQ(check({j}, *board_, *store_, effects, 2, {{j.job_uuid, 2}}).violations(), 0u);
}

TEST_F(CheckerTest, AWrongPersistedResultIsCounted) {
  PostedJob j = job(2, true);
  persistence::FlowDetail flow = store_->get_flow_details(j.flow_uuid);
  flow.atoms[1].results = "something else";
  store_->update_flow_details(flow);
  const Report r =
      check({j}, *board_, *store_, {effect(j, "step-1", 1, 1), effect(j, "step-2", 1, 2)}, 2);
  EXPECT_EQ(r.result_violations, 1u);
  EXPECT_EQ(r.violations(), 1u);
}

TEST_F(CheckerTest, AJobStillOnTheBoardIsPendingNotLost) {
  const PostedJob j = job(0, false);
  const Report r = check({j}, *board_, *store_, {}, 2);
  EXPECT_EQ(r.pending, 1u);
  EXPECT_EQ(r.violations(), 0u);
}

TEST_F(CheckerTest, TrashedWithAttemptsLeftIsAViolation) {
  const PostedJob j = job(0, false);
  board_->trash(board_->claim(j.job_uuid, "tester"), "for the test");
  const Report r = check({j}, *board_, *store_, {}, 2);
  EXPECT_EQ(r.trashed, 1u);
  EXPECT_EQ(r.trash_violations, 1u);
}

}  // namespace
}  // namespace caboose::reliability
