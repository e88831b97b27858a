// The redis:// jobboard against the jobboard conformance suite, on a private redis-server
// (a fresh key namespace per test; another() is a second connection).
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "jobs/jobboard_conformance.h"
#include "jobs/redis/redis_client.h"
#include "support/redis_server.h"

namespace caboose::jobs::testing {
namespace {

using caboose::testing::RedisServer;

class RedisBoardFixture : public BoardFixture {
 public:
  RedisBoardFixture()
      : uri_(RedisServer::shared().uri() + "?namespace=caboose-test-" + make_uuid()) {}
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
    detail::RedisClient client(detail::RedisAddress::parse(uri_));
    const std::string ns = client.address().key_namespace;
    client.command({"HSET", ns + ":listings", job_uuid, std::string("\x00\xff\x13", 3)});
  }

 private:
  std::string uri_;
  std::unique_ptr<JobBoard> board_;
};

INSTANTIATE_TEST_SUITE_P(Redis, JobBoardConformance,
                         ::testing::Values(BoardFactory{
                             "redis", [] { return std::make_unique<RedisBoardFixture>(); }}),
                         BoardName());

}  // namespace
}  // namespace caboose::jobs::testing
