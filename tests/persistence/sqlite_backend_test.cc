// The sqlite:// backend: the conformance suite on a file (with a second connection for
// reopen()), then what is SQLite's own: TaskFlow's schema byte for byte, its row formats, URIs,
// schema versions, corrupt rows, and writers in several processes.
#include "caboose/persistence/sqlite_backend.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/fetch.h"

#include "persistence/backend_conformance.h"
#include "persistence/temp_dir.h"

namespace caboose::persistence::testing {
namespace {

namespace fs = std::filesystem;

class SqliteFixture : public BackendFixture {
 public:
  SqliteFixture() : file_((dir_ / "flows.db").string()) {}
  Backend& backend() override {
    if (!first_) {
      first_ = make_sqlite_backend(file_);
    }
    return *first_;
  }
  Backend& reopen() override {
    backend();
    second_ = make_sqlite_backend(file_);
    return *second_;
  }
  std::function<std::unique_ptr<Backend>()> opener() override {
    return [file = file_] { return make_sqlite_backend(file); };
  }

 private:
  TempDir dir_;
  std::string file_;
  std::unique_ptr<Backend> first_;
  std::unique_ptr<Backend> second_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, BackendConformance,
                         ::testing::Values(BackendFactory{
                             "sqlite", [] { return std::make_unique<SqliteFixture>(); }}),
                         BackendName());

// Reads one column of one row with the plain SQLite API, as another program would.
class RawDb {
 public:
  explicit RawDb(const std::string& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + file);
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  // The rows of `sql`, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        row.emplace_back(text == nullptr ? "NULL" : text);
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteBackend, TablesAreTaskFlowsByteForByte) {
  TempDir dir;
  const std::string file = (dir / "t.db").string();
  make_sqlite_backend(file)->validate();
  RawDb raw(file);
  const auto tables =
      raw.rows("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid");
  ASSERT_GE(tables.size(), 3u);
  EXPECT_EQ(tables[0][0], "logbooks");
  EXPECT_EQ(tables[0][1],
            "CREATE TABLE logbooks (\n\tcreated_at DATETIME, \n\tupdated_at DATETIME, \n\tmeta "
            "TEXT, \n\tname VARCHAR(255), \n\tuuid VARCHAR(64) NOT NULL, \n\tPRIMARY KEY "
            "(uuid), \n\tUNIQUE (uuid)\n)");
  EXPECT_EQ(tables[1][0], "flowdetails");
  EXPECT_NE(tables[1][1].find("\tFOREIGN KEY(parent_uuid) REFERENCES logbooks (uuid) ON DELETE "
                              "CASCADE, \n"),
            std::string::npos);
  EXPECT_EQ(tables[2][0], "atomdetails");
  EXPECT_NE(tables[2][1].find("\tatom_type VARCHAR(12), \n\tintention VARCHAR(7), \n"),
            std::string::npos);
  // What TaskFlow declares of the atom details' columns, in its order.
  std::vector<std::string> columns;
  for (const auto& row : raw.rows("SELECT name FROM pragma_table_info('atomdetails')")) {
    columns.push_back(row[0]);
  }
  EXPECT_EQ(columns, (std::vector<std::string>{"created_at", "updated_at", "meta", "parent_uuid",
                                               "name", "version", "state", "uuid", "failure",
                                               "results", "revert_results", "revert_failure",
                                               "atom_type", "intention"}));
  EXPECT_EQ(raw.rows("PRAGMA journal_mode")[0][0], "wal");
}

TEST(SqliteBackend, RowsHoldTaskFlowsTextAndNulls) {
  TempDir dir;
  const std::string file = (dir / "t.db").string();
  auto backend = make_sqlite_backend(file);
  LogBook book = make_logbook("sample-book");
  book.meta = {{"owner", "sample"}};
  FlowDetail flow = make_flow_detail("sample-flow");
  AtomDetail ok;
  ok.name = "t-ok";
  ok.uuid = "11111111-2222-4333-8444-555555555555";
  ok.state = AtomState::kSuccess;
  ok.results = {{"total", 42}, {"tags", {"a", "b"}}, {"ratio", 0.5}, {"nothing", nullptr}};
  ok.meta = {{"progress", 1.0}};
  ok.version = "1.0";
  flow.atoms.push_back(ok);
  book.flows.push_back(flow);
  backend->save_logbook(book);

  RawDb raw(file);
  const auto row = raw.rows(
      "SELECT results, meta, failure, revert_results, atom_type, intention, state, version, "
      "typeof(failure) FROM atomdetails");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], R"({"nothing": null, "ratio": 0.5, "tags": ["a", "b"], "total": 42})");
  EXPECT_EQ(row[0][1], R"({"progress": 1.0})");
  EXPECT_EQ(row[0][2], "NULL");
  EXPECT_EQ(row[0][3], "NULL");
  EXPECT_EQ(row[0][4], "TASK_DETAIL");
  EXPECT_EQ(row[0][5], "EXECUTE");
  EXPECT_EQ(row[0][6], "SUCCESS");
  EXPECT_EQ(row[0][7], "1.0");
  EXPECT_EQ(row[0][8], "null");
  const auto times = raw.rows("SELECT created_at, updated_at FROM flowdetails");
  ASSERT_EQ(times.size(), 1u);
  EXPECT_EQ(times[0][0].size(), std::string("2026-11-23 07:21:56.466730").size()) << times[0][0];
  EXPECT_EQ(times[0][0][10], ' ');
  const auto book_row = raw.rows("SELECT meta, created_at FROM logbooks");
  EXPECT_EQ(book_row[0][0], R"({"owner": "sample"})");
  EXPECT_EQ(book_row[0][1][10], ' ');
}

TEST(SqliteBackend, ReadsRowsAsPythonTaskFlowWroteThem) {
  // The sample rows of shared/formats/sql-schema.txt, inserted as TaskFlow inserts them.
  TempDir dir;
  const std::string file = (dir / "t.db").string();
  (void)make_sqlite_backend(file);
  {
    RawDb raw(file);
    raw.exec(R"SQL(
      INSERT INTO logbooks VALUES ('2026-11-23 07:21:56.273003', '2026-11-23 07:21:56.273164',
        '{"owner": "sample"}', 'sample-book', '22803fc6-79c7-424c-8bfb-b640a5888565');
      INSERT INTO flowdetails VALUES ('2026-11-23 07:21:56.466730', '2026-11-23 07:21:56.473698',
        '22803fc6-79c7-424c-8bfb-b640a5888565',
        '{"factory": {"name": "tfpeer_flows.sample_ok_flow", "args": [], "kwargs": {}}}',
        'sample-flow', 'FAILURE', '0f1e2d3c-4b5a-4697-8877-665544332211');
      INSERT INTO atomdetails VALUES ('2026-11-23 07:21:56.467865', '2026-11-23 07:21:56.474639',
        '{"progress": 1.0}', '0f1e2d3c-4b5a-4697-8877-665544332211', 't-fail', '1.0', 'FAILURE',
        '66666666-7777-4888-9999-aaaaaaaaaaaa',
        '{"exception_str": "boom at total=42", "traceback_str": "tb", "exc_type_names": ["ValueError", "Exception"], "version": 1, "exc_args": ["boom at total=42"], "causes": []}',
        NULL, NULL, NULL, 'TASK_DETAIL', 'EXECUTE');
    )SQL");
  }
  auto backend = make_sqlite_backend(file);
  const LogBook book = backend->get_logbook("22803fc6-79c7-424c-8bfb-b640a5888565");
  EXPECT_EQ(book.name, "sample-book");
  EXPECT_EQ(book.meta, (Value{{"owner", "sample"}}));
  ASSERT_TRUE(book.created_at.has_value());
  ASSERT_EQ(book.flows.size(), 1u);
  EXPECT_EQ(book.flows[0].state, FlowState::kFailure);
  EXPECT_EQ(book.flows[0].meta["factory"]["name"], "tfpeer_flows.sample_ok_flow");
  ASSERT_EQ(book.flows[0].atoms.size(), 1u);
  const AtomDetail& atom = book.flows[0].atoms[0];
  EXPECT_EQ(atom.state, AtomState::kFailure);
  ASSERT_TRUE(atom.failure.has_value());
  EXPECT_EQ(atom.failure->exception_str(), "boom at total=42");
  EXPECT_TRUE(atom.results.is_null());
  EXPECT_EQ(atom.meta["progress"], 1.0);
}

TEST(SqliteBackend, CorruptRowsAreErrorsNamingTheRecord) {
  TempDir dir;
  const std::string file = (dir / "t.db").string();
  auto backend = make_sqlite_backend(file);
  LogBook book = make_logbook("b");
  FlowDetail flow = make_flow_detail("f");
  AtomDetail atom;
  atom.name = "a";
  atom.uuid = "atom-1";
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  backend->save_logbook(book);
  RawDb(file).exec(
      "UPDATE atomdetails SET results = '{\"truncated\": [1, 2' WHERE uuid = "
      "'atom-1'");
  try {
    (void)backend->get_atom_details("atom-1");
    FAIL() << "a corrupt row was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find("atom-1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("results"), std::string::npos) << e.what();
  }
  RawDb(file).exec("UPDATE atomdetails SET results = NULL, state = 'HAPPY' WHERE uuid = 'atom-1'");
  EXPECT_THROW((void)backend->get_flow_details(flow.uuid), InvalidFormat);
}

TEST(SqliteBackend, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string file = (dir / "t.db").string();
  (void)make_sqlite_backend(file);
  RawDb(file).exec("UPDATE caboose_schema SET version = 99");
  try {
    (void)make_sqlite_backend(file);
    FAIL() << "a newer schema was opened";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST(SqliteBackend, UnopenablePathIsAnErrorNamingIt) {
  try {
    (void)make_sqlite_backend("/nonexistent-dir/for/sure/flows.db");
    FAIL() << "opened a file in a missing directory";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/for/sure/flows.db"), std::string::npos)
        << e.what();
  }
}

TEST(SqliteBackend, UrisNameTheFileAndOptions) {
  TempDir dir;
  const std::string file = (dir / "u.db").string();
  auto backend = fetch("sqlite:///" + file + "?synchronous=FULL&busy_timeout=2000");
  LogBook book = make_logbook("b");
  backend->save_logbook(book);
  EXPECT_EQ(make_sqlite_backend(file)->get_logbook(book.uuid).name, "b");
  auto memory = fetch("sqlite://");
  memory->save_logbook(book);
  EXPECT_EQ(memory->get_logbooks().size(), 1u);
  const std::vector<std::string> bad_uris = {"sqlite:///" + file + "?synchronous=SOMETIMES",
                                             "sqlite:///" + file + "?busy_timeout=soon",
                                             "sqlite:///" + file + "?colour=blue",
                                             "sqlite:///",
                                             "sqlite://relative.db",
                                             "sqlite:///" + file + "?novalue"};
  for (const std::string& bad : bad_uris) {
    EXPECT_THROW((void)fetch(bad), InvalidArgument) << bad;
  }
}

TEST(SqliteBackend, ClosedBackendSaysSo) {
  auto backend = make_sqlite_backend(":memory:");
  backend->close();
  EXPECT_THROW((void)backend->get_logbooks(), StorageFailure);
}

}  // namespace
}  // namespace caboose::persistence::testing
