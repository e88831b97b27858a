// The sqlite:// jobboard against the jobboard conformance suite (two connections to one file
// for another()), and its URIs.
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"

#include "core/uri.h"
#include "jobs/jobboard_conformance.h"
#include "persistence/temp_dir.h"

namespace caboose::jobs::testing {
namespace {

using persistence::testing::TempDir;

class SqliteBoardFixture : public BoardFixture {
 public:
  SqliteBoardFixture() : file_((dir_ / "board.db").string()) {}
  JobBoard& board(const BoardOptions& options) override {
    if (!board_) {
      board_ = fetch_jobboard("sqlite:///" + file_, options);
    }
    return *board_;
  }
  std::unique_ptr<JobBoard> another(const BoardOptions& options) override {
    return fetch_jobboard("sqlite:///" + file_, options);
  }
  void corrupt(const std::string& job_uuid) override {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file_.c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE caboose_jobs SET details = x'00ff13' WHERE uuid = '" + job_uuid + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

 private:
  TempDir dir_;
  std::string file_;
  std::unique_ptr<JobBoard> board_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, JobBoardConformance,
                         ::testing::Values(BoardFactory{
                             "sqlite", [] { return std::make_unique<SqliteBoardFixture>(); }}),
                         BoardName());

TEST(JobboardUri, RedactionHidesAWholePasswordHoldingAtOrColon) {
  using caboose::detail::redact_uri;
  EXPECT_EQ(redact_uri("redis://user:secret@host:6380/3"), "redis://user:***@host:6380/3");
  // The Redis parser takes the last '@' before the query: so does the redaction (it once
  // showed "ss@host" of this password).
  EXPECT_EQ(redact_uri("redis://:p@ss@host"), "redis://:***@host");
  EXPECT_EQ(redact_uri("redis://u:a:b@c@host/0?namespace=x@y"),
            "redis://u:***@host/0?namespace=x@y");
  EXPECT_EQ(redact_uri("redis://host/0?namespace=a:b@c"), "redis://host/0?namespace=a:b@c");
  EXPECT_EQ(redact_uri("zookeeper://h1:2181,h2:2181/jobs"), "zookeeper://h1:2181,h2:2181/jobs");
}

TEST(JobboardUri, ServerUrisSplitAsEveryParserReadsThem) {
  using caboose::detail::query_items;
  using caboose::detail::split_server_uri;
  EXPECT_FALSE(split_server_uri("redis://h", "etcd://"));
  const auto full = split_server_uri("etcd://u:p@ss:w@h1:1,h2/a/b/?timeout_ms=5&x", "etcd://");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->user, "u");
  EXPECT_EQ(full->password, "p@ss:w");
  EXPECT_EQ(full->authority, "h1:1,h2");
  EXPECT_EQ(full->path, "/a/b/");
  EXPECT_EQ(full->query, "timeout_ms=5&x");
  const auto items = query_items(full->query);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "timeout_ms");
  EXPECT_EQ(items[0].value, "5");
  EXPECT_TRUE(items[0].has_value);
  EXPECT_EQ(items[1].key, "x");
  EXPECT_FALSE(items[1].has_value);
  EXPECT_EQ(items[1].text, "x");
  const auto bare = split_server_uri("zookeeper://h?a=@", "zookeeper://");
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->user);  // an '@' in the query is no userinfo
  EXPECT_EQ(bare->authority, "h");
  EXPECT_TRUE(bare->path.empty());
  const auto user_only = split_server_uri("redis://u@h", "redis://");
  ASSERT_TRUE(user_only);
  EXPECT_EQ(user_only->user, "u");
  EXPECT_FALSE(user_only->password);
  EXPECT_TRUE(query_items("").empty());
}

TEST(SqliteJobBoardUri, OptionsAndErrors) {
  TempDir dir;
  const std::string file = (dir / "b.db").string();
  auto board = fetch_jobboard("sqlite:///" + file + "?lease_ms=1500&max_attempts=3");
  EXPECT_EQ(board->options().lease, std::chrono::milliseconds(1500));
  EXPECT_EQ(board->options().max_attempts, 3);
  EXPECT_EQ(board->post("j").max_attempts, 3);
  auto memory = fetch_jobboard("sqlite://");
  memory->post("in-memory");
  EXPECT_EQ(memory->job_count(), 1u);
  for (const std::string& bad :
       {std::string("consul://127.0.0.1:1/jobs"), std::string("board.db"),
        "sqlite:///" + file + "?lease_ms=0", "sqlite:///" + file + "?lease_ms=soon",
        "sqlite:///" + file + "?colour=blue", std::string("sqlite://relative.db")}) {
    EXPECT_THROW((void)fetch_jobboard(bad), InvalidArgument) << bad;
  }
  EXPECT_THROW((void)fetch_jobboard("sqlite:////nonexistent-dir/for/sure/b.db"), StorageFailure);
  EXPECT_THROW((void)fetch_jobboard("redis://127.0.0.1:1/0?timeout_ms=300"), StorageFailure);
}

}  // namespace
}  // namespace caboose::jobs::testing
