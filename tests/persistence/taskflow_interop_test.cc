// One store, two programs: Python TaskFlow (Debian's python3-taskflow) writes a logbook that
// caboose reads in full, and reads back in full one caboose wrote; on a SQLite file, a dir://
// tree, a PostgreSQL database and a ZooKeeper path (TaskFlow through kazoo).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "caboose/persistence/dir_backend.h"
#include "caboose/persistence/postgres_backend.h"
#include "caboose/persistence/sqlite_backend.h"
#include "caboose/persistence/zookeeper_backend.h"

#include "support/postgres_server.h"
#include "support/run_command.h"
#include "support/zookeeper_server.h"

namespace caboose::persistence {
namespace {

namespace fs = std::filesystem;

// Runs the Python peer script; returns its output, failing the test on a non-zero exit.
std::string python(const std::string& mode, const std::string& connection) {
  return caboose::testing::run_command("/usr/bin/python3 " CABOOSE_INTEROP_DIR
                                       "/taskflow_persistence.py " +
                                       mode + " '" + connection + "'");
}

class TaskFlowInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      pg_uri_ = caboose::testing::PostgresServer::shared().create_database();
      (void)make_postgres_backend(pg_uri_);  // the schema: TaskFlow's upgrade() cannot make it here
    }
    std::string pattern = (fs::temp_directory_path() / "caboose-interop-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = (dir_ / "shared.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string connection() const {
    if (GetParam() == "postgresql") {
      return pg_uri_;
    }
    if (GetParam() == "zookeeper") {
      return "zookeeper://" + caboose::testing::ZooKeeperServer::shared().hosts() + "/" +
             dir_.filename().string();
    }
    return GetParam() == "sqlite" ? "sqlite:///" + file_ : "dir://" + (dir_ / "tree").string();
  }
  std::unique_ptr<Backend> open() const {
    if (GetParam() == "postgresql") {
      return make_postgres_backend(pg_uri_);
    }
    if (GetParam() == "zookeeper") {
      return make_zookeeper_backend(connection());
    }
    return GetParam() == "sqlite" ? make_sqlite_backend(file_)
                                  : make_dir_backend((dir_ / "tree").string());
  }

  fs::path dir_;
  std::string file_;
  std::string pg_uri_;
};

TEST_P(TaskFlowInterop, CabooseReadsWhatPythonTaskFlowWrote) {
  const std::string out = python("write", connection());
  const std::string book_uuid = out.substr(0, out.find('\n'));
  auto backend = open();
  const LogBook book = backend->get_logbook(book_uuid);
  EXPECT_EQ(book.name, "python-book");
  EXPECT_EQ(book.meta, (Value{{"written_by", "python"}}));
  ASSERT_TRUE(book.created_at && book.updated_at);
  ASSERT_EQ(book.flows.size(), 1u);
  const FlowDetail& flow = book.flows[0];
  EXPECT_EQ(flow.uuid, "aaaaaaaa-0000-4000-8000-000000000001");
  EXPECT_EQ(flow.state, FlowState::kSuccess);
  EXPECT_EQ(flow.meta, (Value{{"factory", "sample"}}));
  ASSERT_EQ(flow.atoms.size(), 3u);
  const AtomDetail* ok = flow.find_by_name("t-ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->kind, AtomDetailKind::kTask);
  EXPECT_EQ(ok->state, AtomState::kSuccess);
  EXPECT_EQ(ok->results, (Value{{"total", 42}, {"tags", {"a", "b"}}, {"text", "caf\u00e9"}}));
  EXPECT_EQ(ok->meta["progress"], 1.0);
  EXPECT_EQ(ok->version, "1.0");
  const AtomDetail* bad = flow.find_by_name("t-bad");
  ASSERT_NE(bad, nullptr);
  ASSERT_TRUE(bad->failure.has_value());
  EXPECT_EQ(bad->failure->exception_str(), "boom at 42");
  EXPECT_EQ(bad->failure->to_dict()["exc_type_names"], (Value{"ValueError", "Exception"}));
  EXPECT_EQ(bad->version, "2.1");
  const AtomDetail* retry = flow.find_by_name("r");
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->kind, AtomDetailKind::kRetry);
  EXPECT_EQ(retry->results, Value::parse("[[1, {}]]"));
  EXPECT_FALSE(retry->version.has_value());
}

TEST_P(TaskFlowInterop, PythonTaskFlowReadsWhatCabooseWrote) {
  LogBook book = make_logbook("caboose-book");
  book.meta = {{"written_by", "caboose"}};
  FlowDetail flow = make_flow_detail("caboose-flow");
  flow.state = FlowState::kReverted;
  AtomDetail ok;
  ok.name = "t-ok";
  ok.uuid = "bbbbbbbb-0000-4000-8000-000000000002";
  ok.state = AtomState::kReverted;
  ok.results = {{"total", 42}, {"text", "na\u00efve \u2603"}};
  ok.revert_results = {{"undone", true}};
  ok.meta = {{"progress", 1.0}};
  ok.version = "1.0";
  AtomDetail bad;
  bad.name = "t-bad";
  bad.uuid = "bbbbbbbb-0000-4000-8000-000000000003";
  bad.state = AtomState::kFailure;
  try {
    throw std::invalid_argument("card declined");
  } catch (...) {
    bad.failure = Failure::capture();
  }
  bad.version = "1.0";
  AtomDetail retry;
  retry.kind = AtomDetailKind::kRetry;
  retry.name = "r";
  retry.uuid = "bbbbbbbb-0000-4000-8000-000000000004";
  retry.state = AtomState::kSuccess;
  retry.results = Value::parse(R"([[1, {}], [2, {}]])");
  retry.version = "1.0";
  flow.atoms = {ok, bad, retry};
  book.flows.push_back(flow);
  open()->save_logbook(book);

  const Value read = Value::parse(python("read", connection()));
  ASSERT_EQ(read.size(), 1u) << read.dump();
  const Value& b = read[0];
  EXPECT_EQ(b["name"], "caboose-book");
  EXPECT_EQ(b["uuid"], book.uuid);
  EXPECT_EQ(b["meta"], book.meta);
  ASSERT_EQ(b["flows"].size(), 1u);
  const Value& f = b["flows"][0];
  EXPECT_EQ(f["uuid"], flow.uuid);
  EXPECT_EQ(f["state"], "REVERTED");
  ASSERT_EQ(f["atoms"].size(), 3u);
  for (const Value& a : f["atoms"]) {
    if (a["name"] == "t-ok") {
      EXPECT_EQ(a["kind"], "TaskDetail");
      EXPECT_EQ(a["state"], "REVERTED");
      EXPECT_EQ(a["results"], ok.results);
      EXPECT_EQ(a["revert_results"], ok.revert_results);
      EXPECT_EQ(a["meta"], ok.meta);
      EXPECT_EQ(a["intention"], "EXECUTE");
    } else if (a["name"] == "t-bad") {
      EXPECT_EQ(a["failure"]["exception_str"], "card declined");
      EXPECT_EQ(a["failure"]["exc_type_names"][0], "std::invalid_argument");
      EXPECT_TRUE(a["results"].is_null());
    } else {
      EXPECT_EQ(a["name"], "r");
      EXPECT_EQ(a["kind"], "RetryDetail");
      EXPECT_EQ(a["state"], "SUCCESS");
      EXPECT_EQ(a["results"].size(), 2u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskFlowInterop,
                         ::testing::Values("sqlite", "dir", "postgresql", "zookeeper"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace caboose::persistence
