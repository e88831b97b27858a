// The postgresql:// backend against a real server (started for this test binary on a free
// loopback port): the conformance suite, TaskFlow's PostgreSQL schema, its None handling, the
// connection pool under concurrent callers, fencing racing a save, and clear errors.
#include "caboose/persistence/postgres_backend.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/fetch.h"

#include "persistence/backend_conformance.h"
#include "support/postgres_server.h"
#include "support/run_command.h"

namespace caboose::persistence::testing {
namespace {

using caboose::testing::PostgresServer;

class PostgresFixture : public BackendFixture {
 public:
  PostgresFixture() : uri_(PostgresServer::shared().create_database()) {}
  Backend& backend() override {
    if (!first_) {
      first_ = make_postgres_backend(uri_);
    }
    return *first_;
  }
  Backend& reopen() override {
    backend();
    second_ = make_postgres_backend(uri_);
    return *second_;
  }
  std::function<std::unique_ptr<Backend>()> opener() override {
    return [uri = uri_] { return make_postgres_backend(uri); };
  }

 private:
  std::string uri_;
  std::unique_ptr<Backend> first_;
  std::unique_ptr<Backend> second_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, BackendConformance,
                         ::testing::Values(BackendFactory{
                             "postgresql", [] { return std::make_unique<PostgresFixture>(); }}),
                         BackendName());

// The rows of `sql`, every column as text ("NULL" for SQL NULL).
std::vector<std::vector<std::string>> rows(const std::string& uri, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri.c_str()), &PQfinish);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  EXPECT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(result.get());
  std::vector<std::vector<std::string>> out;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(result.get()); ++c) {
      row.emplace_back(PQgetisnull(result.get(), r, c) != 0 ? "NULL"
                                                            : PQgetvalue(result.get(), r, c));
    }
    out.push_back(std::move(row));
  }
  return out;
}

TEST(PostgresBackend, SchemaIsTaskFlowsMigratedOne) {
  const std::string uri = PostgresServer::shared().create_database();
  make_postgres_backend(uri)->validate();
  EXPECT_EQ(rows(uri, "SELECT version_num FROM alembic_version"),
            (std::vector<std::vector<std::string>>{{"40fc8c914bd2"}}));
  const auto columns =
      rows(uri,
           "SELECT column_name, data_type, udt_name FROM information_schema.columns "
           "WHERE table_name = 'atomdetails' ORDER BY ordinal_position");
  std::vector<std::string> names;
  for (const auto& c : columns) {
    names.push_back(c[0]);
    if (c[0] == "results" || c[0] == "meta" || c[0] == "failure") {
      EXPECT_EQ(c[1], "json") << c[0];
    }
    if (c[0] == "atom_type") {
      EXPECT_EQ(c[2], "atom_types");
    }
    if (c[0] == "intention") {
      EXPECT_EQ(c[2], "intention_type");
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"created_at", "updated_at", "parent_uuid", "meta", "name",
                                      "results", "version", "state", "uuid", "failure", "atom_type",
                                      "intention", "revert_results", "revert_failure"}));
  const auto indexes = rows(uri,
                            "SELECT indexname FROM pg_indexes WHERE tablename IN "
                            "('logbooks', 'flowdetails', 'atomdetails') ORDER BY 1");
  std::vector<std::string> index_names;
  for (const auto& i : indexes) {
    index_names.push_back(i[0]);
  }
  for (const char* expected : {"logbook_uuid_idx", "flowdetails_uuid_idx", "taskdetails_uuid_idx",
                               "logbooks_pkey", "flowdetails_pkey", "taskdetails_pkey"}) {
    EXPECT_NE(std::find(index_names.begin(), index_names.end(), expected), index_names.end())
        << expected;
  }
  // upgrade() again changes nothing.
  make_postgres_backend(uri)->upgrade();
  EXPECT_EQ(rows(uri, "SELECT count(*) FROM alembic_version")[0][0], "1");
}

TEST(PostgresBackend, NoneIsStoredAsJsonNullAsTaskFlowDoes) {
  const std::string uri = PostgresServer::shared().create_database();
  auto backend = make_postgres_backend(uri);
  LogBook book = make_logbook("b");
  FlowDetail flow = make_flow_detail("f");
  AtomDetail atom;
  atom.name = "t";
  atom.uuid = "atom-json";
  atom.results = {{"total", 42}};
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  backend->save_logbook(book);
  const auto row = rows(uri,
                        "SELECT results::text, failure IS NULL, json_typeof(failure), "
                        "atom_type, intention FROM atomdetails");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], R"({"total": 42})");
  EXPECT_EQ(row[0][1], "f");  // not SQL NULL
  EXPECT_EQ(row[0][2], "null");
  EXPECT_EQ(row[0][3], "TASK_DETAIL");
  EXPECT_EQ(row[0][4], "EXECUTE");
  // Rows where another writer left SQL NULLs read the same.
  rows(uri, "UPDATE atomdetails SET failure = NULL, meta = NULL RETURNING 1");
  const AtomDetail read = backend->get_atom_details("atom-json");
  EXPECT_FALSE(read.failure.has_value());
  EXPECT_EQ(read.meta, Value::object());
}

TEST(PostgresBackend, ManyThreadsShareTheConnectionPool) {
  const std::string uri = PostgresServer::shared().create_database();
  auto backend = make_postgres_backend(uri, {.pool_size = 2});
  LogBook book = make_logbook("pool");
  FlowDetail flow = make_flow_detail("f");
  constexpr int kThreads = 6;
  for (int t = 0; t < kThreads; ++t) {
    AtomDetail a;
    a.name = "a" + std::to_string(t);
    a.uuid = a.name;
    flow.atoms.push_back(a);
  }
  book.flows.push_back(flow);
  backend->save_logbook(book);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < 20; ++i) {
          AtomDetail a = backend->get_atom_details("a" + std::to_string(t));
          a.results = i;
          a.state = AtomState::kSuccess;
          backend->update_atom_details(a);
        }
      } catch (...) {
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures, 0);
  for (const AtomDetail& a : backend->get_flow_details(flow.uuid).atoms) {
    EXPECT_EQ(a.results, 19) << a.name;
  }
}

TEST(PostgresBackend, UnreachableServerIsAClearErrorWithThePasswordHidden) {
  const std::string uri = "postgresql://app:s3cret@127.0.0.1:1/flows?connect_timeout=2";
  try {
    (void)make_postgres_backend(uri);
    FAIL() << "connected to nothing";
  } catch (const StorageFailure& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:1"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
    EXPECT_NE(what.find("app:***@"), std::string::npos) << what;
  }
  EXPECT_THROW((void)fetch(uri), StorageFailure);
}

TEST(PostgresBackend, RedactsPasswordsInEveryForm) {
  EXPECT_EQ(redact_conninfo("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redact_conninfo("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(redact_conninfo("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d");
  EXPECT_EQ(redact_conninfo("postgresql://h/db?user=u&password=pw&sslmode=disable"),
            "postgresql://h/db?user=u&password=***&sslmode=disable");
}

TEST(PostgresBackend, TimeoutIsCaboosesOwnOptionAndLeftOutOfLibpqsConninfo) {
  PostgresConninfo c = parse_postgres_conninfo("postgresql://u:pw@h:5432/db?timeout_ms=2500");
  EXPECT_EQ(c.libpq, "postgresql://u:pw@h:5432/db");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(2500));
  c = parse_postgres_conninfo("postgresql://h/db?sslmode=disable&timeout_ms=10&user=u");
  EXPECT_EQ(c.libpq, "postgresql://h/db?sslmode=disable&user=u");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(10));
  c = parse_postgres_conninfo("host=h timeout_ms=700 dbname=d");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(c.libpq.find("timeout_ms"), std::string::npos) << c.libpq;
  EXPECT_NE(c.libpq.find("dbname=d"), std::string::npos) << c.libpq;
  c = parse_postgres_conninfo("postgresql://h/db?connect_timeout=3");
  EXPECT_EQ(c.libpq, "postgresql://h/db?connect_timeout=3");
  EXPECT_FALSE(c.timeout.has_value());
  for (const char* bad :
       {"postgresql://u:pw@h/db?timeout_ms=0", "postgresql://u:pw@h/db?timeout_ms=x",
        "postgresql://u:pw@h/db?timeout_ms=", "password=pw timeout_ms=-1"}) {
    try {
      (void)parse_postgres_conninfo(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("timeout_ms"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos) << e.what();
    }
  }
  // The backend takes it (libpq would refuse an unknown URI parameter).
  const std::string uri = PostgresServer::shared().create_database();
  auto backend = make_postgres_backend(uri + "?timeout_ms=5000");
  backend->save_logbook(make_logbook("with-timeout"));
  EXPECT_EQ(fetch(uri + "?timeout_ms=5000")->get_logbooks().size(), 1u);
}

// The caboose binary does not link libpq (it is loaded when a PostgreSQL backend is opened, so
// an idle conductor on SQLite or Redis does not carry it): it still opens PostgreSQL URIs.
TEST(PostgresBackend, CabooseBinaryLoadsLibpqWhenNeeded) {
  const std::string uri = PostgresServer::shared().create_database();
  const std::string out =
      caboose::testing::run_command(std::string(CABOOSE_BIN) + " books list --persistence " + uri);
  EXPECT_NE(out.find("(no logbooks)"), std::string::npos) << out;
}

TEST(PostgresBackend, FetchTakesPostgresUris) {
  const std::string uri = PostgresServer::shared().create_database();
  auto backend = fetch(uri);
  backend->save_logbook(make_logbook("via-fetch"));
  EXPECT_EQ(make_postgres_backend(uri)->get_logbooks().size(), 1u);
  const std::string alias = "postgres" + uri.substr(std::string("postgresql").size());
  EXPECT_EQ(fetch(alias)->get_logbooks().size(), 1u);
}

TEST(PostgresBackend, NewerSchemaIsRefused) {
  const std::string uri = PostgresServer::shared().create_database();
  (void)make_postgres_backend(uri);
  rows(uri, "UPDATE caboose_schema SET version = 42 RETURNING 1");
  EXPECT_THROW((void)make_postgres_backend(uri), StorageFailure);
}

}  // namespace
}  // namespace caboose::persistence::testing
