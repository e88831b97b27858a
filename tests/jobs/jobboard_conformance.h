// The jobboard conformance suite: every JobBoard passes the same cases. A board joins by
// instantiating the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobBoardConformance,
//                            ::testing::Values(BoardFactory{"sqlite", make_sqlite_fixture}),
//                            BoardName());
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "caboose/jobs/jobboard.h"

namespace caboose::jobs::testing {

// One empty board for one test.
class BoardFixture {
 public:
  virtual ~BoardFixture() = default;
  // The board (made on first use with `options`).
  virtual JobBoard& board(const BoardOptions& options) = 0;
  // Another connection to the same board, as another conductor would have.
  virtual std::unique_ptr<JobBoard> another(const BoardOptions& options) = 0;
  // Makes the stored record of the job unreadable (garbage where its details are).
  virtual void corrupt(const std::string& job_uuid) = 0;
};

struct BoardFactory {
  std::string name;
  std::function<std::unique_ptr<BoardFixture>()> make;
  // Claim races run by OneWinnerPerRace: fewer for a variant that changes nothing in how a
  // claim is made (a board with credentials in its URI, say).
  int races = 1000;
  friend std::ostream& operator<<(std::ostream& out, const BoardFactory& f) {
    return out << f.name;
  }
};

struct BoardName {
  std::string operator()(const ::testing::TestParamInfo<BoardFactory>& p) const {
    return p.param.name;
  }
};

class JobBoardConformance : public ::testing::TestWithParam<BoardFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam().make(); }
  void TearDown() override { fixture_.reset(); }
  JobBoard& board(BoardOptions options = {}) { return fixture_->board(options); }
  std::unique_ptr<JobBoard> another(BoardOptions options = {}) {
    return fixture_->another(options);
  }
  void corrupt(const std::string& job_uuid) { fixture_->corrupt(job_uuid); }

 private:
  std::unique_ptr<BoardFixture> fixture_;
};

}  // namespace caboose::jobs::testing
