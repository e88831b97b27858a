#include "caboose/persistence/postgres_backend.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "persistence/postgres/libpq.h"
#include "persistence/sql_rows.h"

namespace caboose::persistence {
using detail::pq;

namespace {

using detail::Column;

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

constexpr int kSchemaVersion = 1;
// TaskFlow's newest alembic revision (upstream 5.0.0), which its upgrade() leaves behind.
constexpr const char* kAlembicHead = "40fc8c914bd2";

// TaskFlow's schema as its migrations leave it on PostgreSQL (shared/formats/sql-schema.txt):
// names, column order, types, enum types, defaults, indexes and constraint names.
constexpr const char* kCreateTaskFlowSchema = R"SQL(
CREATE TYPE atom_types AS ENUM ('TASK_DETAIL', 'RETRY_DETAIL');
CREATE TYPE intention_type AS ENUM ('EXECUTE', 'IGNORE', 'REVERT', 'RETRY');
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
CREATE TABLE logbooks (
    created_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    meta JSON,
    name VARCHAR(255),
    uuid VARCHAR(64) NOT NULL,
    CONSTRAINT logbooks_pkey PRIMARY KEY (uuid));
CREATE INDEX logbook_uuid_idx ON logbooks (uuid);
CREATE TABLE flowdetails (
    created_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    parent_uuid VARCHAR(64),
    meta JSON,
    state VARCHAR(255),
    name VARCHAR(255),
    uuid VARCHAR(64) NOT NULL,
    CONSTRAINT flowdetails_pkey PRIMARY KEY (uuid),
    CONSTRAINT flowdetails_ibfk_1 FOREIGN KEY (parent_uuid)
        REFERENCES logbooks (uuid) ON DELETE CASCADE);
CREATE INDEX flowdetails_uuid_idx ON flowdetails (uuid);
CREATE TABLE atomdetails (
    created_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    parent_uuid VARCHAR(64),
    meta JSON,
    name VARCHAR(255),
    results JSON,
    version VARCHAR(64),
    state VARCHAR(255),
    uuid VARCHAR(64) NOT NULL,
    failure JSON,
    atom_type atom_types,
    intention intention_type DEFAULT 'EXECUTE',
    revert_results JSON,
    revert_failure JSON,
    CONSTRAINT taskdetails_pkey PRIMARY KEY (uuid),
    CONSTRAINT taskdetails_ibfk_1 FOREIGN KEY (parent_uuid)
        REFERENCES flowdetails (uuid) ON DELETE CASCADE);
CREATE INDEX taskdetails_uuid_idx ON atomdetails (uuid);
)SQL";

constexpr const char* kCreateCabooseTables = R"SQL(
CREATE INDEX IF NOT EXISTS caboose_flowdetails_parent ON flowdetails (parent_uuid);
CREATE INDEX IF NOT EXISTS caboose_atomdetails_parent ON atomdetails (parent_uuid);
CREATE TABLE IF NOT EXISTS caboose_fences (
    flow_uuid VARCHAR(64) NOT NULL PRIMARY KEY
        REFERENCES flowdetails (uuid) ON DELETE CASCADE,
    token BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS caboose_schema (version INTEGER NOT NULL);
)SQL";

// Serialises upgrades of one database across processes (pg_advisory_xact_lock key).
constexpr const char* kUpgradeLockKey = "7420184339122716";

constexpr const char* kAtomColumns =
    "name, uuid, state, intention::text, results::text, failure::text, revert_results::text, "
    "revert_failure::text, meta::text, version, atom_type::text";
constexpr const char* kBookColumns =
    "name, uuid, meta::text, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), "
    "to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')";
constexpr const char* kFlowColumns = "name, uuid, state, meta::text";

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A statement parameter: text, or NULL.
struct Param {
  Column value;
  Param(std::string_view v) : value(std::string(v)) {}  // NOLINT: implicit by design
  Param(const std::string& v) : value(v) {}             // NOLINT
  Param(const char* v) : value(std::string(v)) {}       // NOLINT
  Param(Column v) : value(std::move(v)) {}              // NOLINT
};

// One connection and the statements prepared on it.
struct Connection {
  PGconn* conn = nullptr;
  std::map<std::string, std::string> prepared;  // sql -> statement name
  ~Connection() {
    if (conn != nullptr) {
      pq().PQfinish(conn);
    }
  }
};

class PostgresBackend;

// Rows of one query.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}
  int size() const { return pq().PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  Column column(int row, int col) const {
    if (pq().PQgetisnull(result_.get(), row, col) != 0) {
      return std::nullopt;
    }
    return std::string(pq().PQgetvalue(result_.get(), row, col),
                       static_cast<std::size_t>(pq().PQgetlength(result_.get(), row, col)));
  }
  std::string text(int row, int col) const { return column(row, col).value_or(""); }
  std::int64_t integer(int row, int col) const { return std::stoll(text(row, col)); }
  int affected() const {
    const char* n = pq().PQcmdTuples(result_.get());
    return n == nullptr || *n == '\0' ? 0 : std::stoi(n);
  }

 private:
  ResultPtr result_;
};

class PostgresBackend final : public Backend {
 public:
  PostgresBackend(PostgresConninfo conninfo, PostgresOptions options)
      : conninfo_(std::move(conninfo.libpq)),
        shown_(redact_conninfo(conninfo_)),
        timeout_(conninfo.timeout.value_or(options.timeout)),
        pool_size_(options.pool_size == 0 ? 1 : options.pool_size) {
    upgrade();
  }

  void upgrade() override {
    Session s(*this);
    s.tx([&] {
      s.exec_simple(fmt::format("SELECT pg_advisory_xact_lock({})", kUpgradeLockKey));
      const bool has_taskflow = !s.query("SELECT to_regclass('public.logbooks')::text", {})
                                     .column(0, 0)
                                     .value_or("")
                                     .empty();
      if (!has_taskflow) {
        s.exec_simple(kCreateTaskFlowSchema);
        s.query("INSERT INTO alembic_version (version_num) VALUES ($1)", {kAlembicHead});
      }
      const int version = schema_version(s);
      if (version > kSchemaVersion) {
        throw StorageFailure(fmt::format(
            "PostgreSQL database {} has caboose schema version {}, newer than this caboose "
            "knows ({}): upgrade caboose",
            shown_, version, kSchemaVersion));
      }
      s.exec_simple(kCreateCabooseTables);
      if (version < kSchemaVersion) {
        s.exec_simple("DELETE FROM caboose_schema");
        s.query("INSERT INTO caboose_schema (version) VALUES ($1)",
                {std::to_string(kSchemaVersion)});
      }
    });
  }

  void validate() override {
    Session s(*this);
    for (const char* table : {"logbooks", "flowdetails", "atomdetails", "caboose_fences"}) {
      if (s.query("SELECT to_regclass($1)::text", {table}).column(0, 0).value_or("").empty()) {
        throw StorageFailure(fmt::format(
            "PostgreSQL database {} has no table '{}': run upgrade() first", shown_, table));
      }
    }
    if (schema_version(s) > kSchemaVersion) {
      throw StorageFailure(
          fmt::format("PostgreSQL database {} has a newer caboose schema", shown_));
    }
  }

  void close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
    idle_.clear();
  }

  FenceToken fence(std::string_view flow_uuid, FenceToken token) override {
    Session s(*this);
    FenceToken now_in_force = 0;
    s.tx([&] {
      require_flow(s, flow_uuid);
      now_in_force = s.query(
                          "INSERT INTO caboose_fences (flow_uuid, token) VALUES ($1, $2) "
                          "ON CONFLICT (flow_uuid) DO UPDATE SET token = "
                          "GREATEST(caboose_fences.token, EXCLUDED.token) RETURNING token",
                          {std::string(flow_uuid), std::to_string(token)})
                         .integer(0, 0);
    });
    return now_in_force;
  }

  FenceToken current_fence(std::string_view flow_uuid) override {
    Session s(*this);
    require_flow(s, flow_uuid);
    return fence_of(s, flow_uuid, /*lock=*/false);
  }

  LogBook get_logbook(std::string_view book_uuid, bool lazy) override {
    Session s(*this);
    LogBook book = read_book(s, book_uuid);
    if (!lazy) {
      book.flows = flows_of(s, book_uuid);
    }
    return book;
  }

  std::vector<LogBook> get_logbooks(bool lazy) override {
    Session s(*this);
    const Rows rows =
        s.query(fmt::format("SELECT {} FROM logbooks ORDER BY created_at, uuid", kBookColumns), {});
    std::vector<LogBook> books;
    for (int r = 0; r < rows.size(); ++r) {
      books.push_back(book_at(rows, r));
    }
    if (!lazy) {
      for (LogBook& book : books) {
        book.flows = flows_of(s, book.uuid);
      }
    }
    return books;
  }

  std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) override {
    Session s(*this);
    read_book(s, book_uuid);
    return flows_of(s, book_uuid);
  }

  FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy) override {
    Session s(*this);
    const Rows rows = s.query(
        fmt::format("SELECT {} FROM flowdetails WHERE uuid = $1", kFlowColumns), {flow_uuid});
    if (rows.empty()) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
    FlowDetail flow = flow_at(rows, 0);
    if (!lazy) {
      flow.atoms = atoms_of(s, flow_uuid);
    }
    return flow;
  }

  AtomDetail get_atom_details(std::string_view atom_uuid) override {
    Session s(*this);
    const Rows rows = s.query(
        fmt::format("SELECT {} FROM atomdetails WHERE uuid = $1", kAtomColumns), {atom_uuid});
    if (rows.empty()) {
      throw NotFound(fmt::format("no atom detail {}", atom_uuid));
    }
    return atom_at(rows, 0);
  }

  std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) override {
    Session s(*this);
    require_flow(s, flow_uuid);
    return atoms_of(s, flow_uuid);
  }

  void destroy_logbook(std::string_view book_uuid) override {
    Session s(*this);
    s.tx([&] {
      // ON DELETE CASCADE removes the flows, their atoms and their fences.
      if (s.query("DELETE FROM logbooks WHERE uuid = $1", {book_uuid}).affected() == 0) {
        throw NotFound(fmt::format("no logbook {}", book_uuid));
      }
    });
  }

  void clear_all() override {
    Session s(*this);
    s.tx([&] {
      s.exec_simple(
          "DELETE FROM caboose_fences; DELETE FROM atomdetails; DELETE FROM flowdetails; "
          "DELETE FROM logbooks;");
    });
  }

 protected:
  LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) override {
    Session s(*this);
    s.tx([&] {
      for (const FlowDetail& flow : book.flows) {  // checked before anything is written
        if (token && flow_parent(s, flow.uuid)) {
          check_fence(flow.uuid, fence_of(s, flow.uuid, /*lock=*/true), token);
        }
      }
      LogBook fields = book;
      fields.flows.clear();
      const Rows existing =
          s.query(fmt::format("SELECT {} FROM logbooks WHERE uuid = $1 FOR UPDATE", kBookColumns),
                  {book.uuid});
      if (!existing.empty()) {
        LogBook stored = book_at(existing, 0);
        stored.merge(fields);
        fields = std::move(stored);
        s.query(
            "UPDATE logbooks SET created_at = $1, updated_at = $2, meta = $3, name = $4 "
            "WHERE uuid = $5",
            {detail::sql_time(fields.created_at), detail::sql_time(fields.updated_at),
             json(fields.meta), fields.name, fields.uuid});
      } else {
        s.query(
            "INSERT INTO logbooks (created_at, updated_at, meta, name, uuid) "
            "VALUES ($1, $2, $3, $4, $5)",
            {detail::sql_time(fields.created_at), detail::sql_time(fields.updated_at),
             json(fields.meta), fields.name, fields.uuid});
      }
      const std::string at = detail::sql_now();
      for (const FlowDetail& flow : book.flows) {
        save_flow(s, flow, book.uuid, at);
      }
    });
    LogBook saved = read_book(s, book.uuid);
    saved.flows = flows_of(s, book.uuid);
    return saved;
  }

  void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) override {
    Session s(*this);
    s.tx([&] {
      const std::optional<std::string> book = flow_parent(s, flow.uuid);
      if (!book) {
        throw NotFound(
            fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
      }
      if (token) {
        check_fence(flow.uuid, fence_of(s, flow.uuid, /*lock=*/true), token);
      }
      save_flow(s, flow, *book, detail::sql_now());
    });
  }

  void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) override {
    Session s(*this);
    s.tx([&] {
      if (token) {
        const Rows rows =
            s.query("SELECT parent_uuid FROM atomdetails WHERE uuid = $1", {atom.uuid});
        if (rows.empty()) {
          throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
        }
        const std::string flow = rows.text(0, 0);
        check_fence(flow, fence_of(s, flow, /*lock=*/true), token);
      }
      if (update_atom(s, atom, nullptr, detail::sql_now()) == 0) {
        throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
      }
    });
  }

 private:
  struct Pooled : Connection {
    bool broken = false;
  };

  // A connection borrowed from the pool for one call.
  class Session {
   public:
    explicit Session(PostgresBackend& b) : b_(b), c_(b.acquire()) {}
    ~Session() { b_.release(std::move(c_)); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    template <class Body>
    void tx(Body&& body) {
      exec_simple("BEGIN");
      try {
        body();
      } catch (...) {
        if (!c_->broken) {
          try {
            exec_simple("ROLLBACK");
          } catch (const StorageFailure&) {
            c_->broken = true;  // dropped on release: the server rolls back when it goes
          }
        }
        throw;
      }
      exec_simple("COMMIT");
    }

    void exec_simple(const std::string& sql) {
      b_.round_trip(*c_, pq().PQsendQuery(c_->conn, sql.c_str()), sql);
    }

    Rows query(const std::string& sql, const std::vector<Param>& params) {
      auto [it, added] = c_->prepared.try_emplace(sql);
      if (added) {
        it->second = fmt::format("caboose_{}", c_->prepared.size());
        try {
          b_.round_trip(*c_,
                        pq().PQsendPrepare(c_->conn, it->second.c_str(), sql.c_str(),
                                           static_cast<int>(params.size()), nullptr),
                        sql);
        } catch (...) {
          c_->prepared.erase(it);
          throw;
        }
      }
      std::vector<const char*> values;
      values.reserve(params.size());
      for (const Param& p : params) {
        values.push_back(p.value ? p.value->c_str() : nullptr);
      }
      return Rows(b_.round_trip(
          *c_,
          pq().PQsendQueryPrepared(c_->conn, it->second.c_str(), static_cast<int>(values.size()),
                                   values.data(), nullptr, nullptr, 0),
          sql));
    }

   private:
    PostgresBackend& b_;
    std::unique_ptr<Pooled> c_;
  };

  std::unique_ptr<Pooled> acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (closed_) {
        throw StorageFailure(fmt::format("PostgreSQL backend {} is closed", shown_));
      }
      if (!idle_.empty()) {
        std::unique_ptr<Pooled> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      if (open_ < pool_size_) {
        ++open_;
        lock.unlock();
        try {
          return connect();
        } catch (...) {
          lock.lock();
          --open_;
          available_.notify_one();
          throw;
        }
      }
      available_.wait(lock);
    }
  }

  void release(std::unique_ptr<Pooled> c) {
    std::lock_guard lock(mu_);
    if (c->broken || closed_ || pq().PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
      --open_;  // dropped: the next caller opens a fresh one
    } else {
      idle_.push_back(std::move(c));
    }
    available_.notify_one();
  }

  std::unique_ptr<Pooled> connect() {
    // Our defaults first, the caller's conninfo (expanded from "dbname") after them: libpq keeps
    // the last value of a key, so what the caller set wins. Keepalives and tcp_user_timeout let
    // the kernel notice a peer that vanished; connect_timeout (whole seconds, at least 2)
    // bounds the connection's start-up.
    const auto seconds = [](std::chrono::milliseconds ms) {
      return std::to_string(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
    };
    const std::string connect_timeout =
        std::to_string(std::max<std::int64_t>(2, (timeout_.count() + 999) / 1000));
    const std::string idle = seconds(timeout_ / 3);
    const std::string interval = seconds(timeout_ / 9);
    const std::string user_timeout = std::to_string(timeout_.count());
    const char* keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
    const char* values[] = {connect_timeout.c_str(), "1",    idle.c_str(),
                            interval.c_str(),        "3",    user_timeout.c_str(),
                            conninfo_.c_str(),       nullptr};
    auto c = std::make_unique<Pooled>();
    c->conn = pq().PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (c->conn == nullptr || pq().PQstatus(c->conn) != CONNECTION_OK) {
      const std::string why = c->conn != nullptr ? pq().PQerrorMessage(c->conn) : "out of memory";
      throw StorageFailure(fmt::format("cannot connect to PostgreSQL {}: {}", shown_, trim(why)));
    }
    // Non-blocking, so that no call waits past timeout_ (round_trip() polls the socket).
    if (pq().PQsetnonblocking(c->conn, 1) != 0) {
      throw StorageFailure(fmt::format("PostgreSQL {}: cannot make the connection non-blocking: {}",
                                       shown_, trim(pq().PQerrorMessage(c->conn))));
    }
    // Quiet NOTICEs (e.g. "relation already exists, skipping") instead of printing them.
    pq().PQsetNoticeProcessor(
        c->conn, [](void*, const char*) {}, nullptr);
    const std::string quiet = "SET client_min_messages = WARNING";
    round_trip(*c, pq().PQsendQuery(c->conn, quiet.c_str()), quiet);
    return c;
  }

  // Waits for every result of the statement just sent (`sent`: what PQsend* returned), at most
  // timeout_ in all, and returns the last one. libpq's own calls would wait for ever on a server
  // that stopped answering (a partition; a blackhole); past the timeout the connection is marked
  // broken (so dropped), and the statement's outcome is unknown, as after a cut connection.
  // Throws StorageFailure naming the server and the statement.
  ResultPtr round_trip(Pooled& c, int sent, const std::string& sql) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    const auto fail = [&](const std::string& why) -> StorageFailure {
      if (pq().PQstatus(c.conn) != CONNECTION_OK) {
        c.broken = true;
      }
      return StorageFailure(
          fmt::format("PostgreSQL {}: {} (in: {})", shown_, trim(why), sql.substr(0, 120)));
    };
    // Waits until the socket is ready for `events`; false once the deadline has passed.
    const auto ready = [&](short events) {
      for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
          return false;
        }
        // Rounded up: never wake (and give up) before the deadline.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        pollfd fd{pq().PQsocket(c.conn), events, 0};
        const int n = ::poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60000)));
        if (n > 0) {
          return true;
        }
        if (n < 0 && errno != EINTR) {
          return true;  // let libpq meet the error on the socket
        }
      }
    };
    const auto timed_out = [&] {
      c.broken = true;
      return StorageFailure(fmt::format("PostgreSQL {}: no reply within {} ms (in: {})", shown_,
                                        timeout_.count(), sql.substr(0, 120)));
    };
    if (sent == 0) {
      throw fail(pq().PQerrorMessage(c.conn));
    }
    for (;;) {
      const int flushed = pq().PQflush(c.conn);
      if (flushed == 0) {
        break;
      }
      if (flushed < 0) {
        throw fail(pq().PQerrorMessage(c.conn));
      }
      if (!ready(POLLIN | POLLOUT)) {
        throw timed_out();
      }
      if (pq().PQconsumeInput(c.conn) == 0) {  // the server may answer before it has read all
        throw fail(pq().PQerrorMessage(c.conn));
      }
    }
    ResultPtr last(nullptr, pq().PQclear);
    ResultPtr error(nullptr, pq().PQclear);
    for (;;) {
      while (pq().PQisBusy(c.conn) != 0) {
        if (!ready(POLLIN)) {
          throw timed_out();
        }
        if (pq().PQconsumeInput(c.conn) == 0) {
          throw fail(pq().PQerrorMessage(c.conn));
        }
      }
      ResultPtr result(pq().PQgetResult(c.conn), pq().PQclear);
      if (!result) {
        break;
      }
      const ExecStatusType status = pq().PQresultStatus(result.get());
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        if (!error) {
          error = std::move(result);
        }
      } else {
        last = std::move(result);
      }
    }
    if (error) {
      throw fail(pq().PQresultErrorMessage(error.get()));
    }
    if (!last) {
      throw fail(pq().PQerrorMessage(c.conn));
    }
    return last;
  }

  // A creation time later than every one this backend gave before, so that ORDER BY
  // created_at lists flows and atoms in the order they were added.
  std::string next_created() {
    std::lock_guard lock(mu_);
    const auto now =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    last_created_ = std::max(now, last_created_ + std::chrono::microseconds(1));
    return detail::sql_time(std::chrono::system_clock::time_point(last_created_));
  }

  static Column json(const Value& v) {
    return detail::json_column(v, /*null_as_sql_null=*/false);  // as TaskFlow stores None here
  }

  int schema_version(Session& s) {
    if (s.query("SELECT to_regclass('public.caboose_schema')::text", {})
            .column(0, 0)
            .value_or("")
            .empty()) {
      return 0;
    }
    const Rows rows = s.query("SELECT max(version) FROM caboose_schema", {});
    return rows.column(0, 0) ? static_cast<int>(rows.integer(0, 0)) : 0;
  }

  std::optional<std::string> flow_parent(Session& s, std::string_view flow_uuid) {
    const Rows rows =
        s.query("SELECT coalesce(parent_uuid, '') FROM flowdetails WHERE uuid = $1", {flow_uuid});
    if (rows.empty()) {
      return std::nullopt;
    }
    return rows.text(0, 0);
  }

  void require_flow(Session& s, std::string_view flow_uuid) {
    if (!flow_parent(s, flow_uuid)) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
  }

  // The fence in force; with `lock`, its row is held (FOR SHARE) until the transaction ends,
  // so a fence() raising it waits for this save.
  FenceToken fence_of(Session& s, std::string_view flow_uuid, bool lock) {
    const Rows rows = s.query(lock ? "SELECT token FROM caboose_fences WHERE flow_uuid = $1 "
                                     "FOR SHARE"
                                   : "SELECT token FROM caboose_fences WHERE flow_uuid = $1",
                              {flow_uuid});
    return rows.empty() ? 0 : rows.integer(0, 0);
  }

  static LogBook book_at(const Rows& rows, int r) {
    return detail::book_from_row({rows.text(r, 0), rows.text(r, 1), rows.column(r, 2),
                                  rows.column(r, 3), rows.column(r, 4)});
  }
  static FlowDetail flow_at(const Rows& rows, int r) {
    return detail::flow_from_row(
        {rows.text(r, 0), rows.text(r, 1), rows.column(r, 2), rows.column(r, 3)});
  }
  static AtomDetail atom_at(const Rows& rows, int r) {
    return detail::atom_from_row({rows.text(r, 0), rows.text(r, 1), rows.column(r, 2),
                                  rows.column(r, 3), rows.column(r, 4), rows.column(r, 5),
                                  rows.column(r, 6), rows.column(r, 7), rows.column(r, 8),
                                  rows.column(r, 9), rows.column(r, 10)});
  }

  LogBook read_book(Session& s, std::string_view uuid) {
    const Rows rows =
        s.query(fmt::format("SELECT {} FROM logbooks WHERE uuid = $1", kBookColumns), {uuid});
    if (rows.empty()) {
      throw NotFound(fmt::format("no logbook {}", uuid));
    }
    return book_at(rows, 0);
  }

  std::vector<FlowDetail> flows_of(Session& s, std::string_view book_uuid) {
    const Rows rows = s.query(
        fmt::format("SELECT {} FROM flowdetails WHERE parent_uuid = $1 ORDER BY created_at, uuid",
                    kFlowColumns),
        {book_uuid});
    std::vector<FlowDetail> flows;
    for (int r = 0; r < rows.size(); ++r) {
      flows.push_back(flow_at(rows, r));
    }
    for (FlowDetail& flow : flows) {
      flow.atoms = atoms_of(s, flow.uuid);
    }
    return flows;
  }

  std::vector<AtomDetail> atoms_of(Session& s, std::string_view flow_uuid) {
    const Rows rows = s.query(
        fmt::format("SELECT {} FROM atomdetails WHERE parent_uuid = $1 ORDER BY created_at, uuid",
                    kAtomColumns),
        {flow_uuid});
    std::vector<AtomDetail> atoms;
    atoms.reserve(static_cast<std::size_t>(rows.size()));
    for (int r = 0; r < rows.size(); ++r) {
      atoms.push_back(atom_at(rows, r));
    }
    return atoms;
  }

  void save_flow(Session& s, const FlowDetail& flow, const std::string& book_uuid,
                 const std::string& at) {
    const std::optional<std::string> parent = flow_parent(s, flow.uuid);
    if (parent && *parent != book_uuid) {
      throw StorageFailure(fmt::format("flow detail {} belongs to logbook {}, not {}", flow.uuid,
                                       *parent, book_uuid));
    }
    const Column state = flow.state ? Column(std::string(to_string(*flow.state))) : std::nullopt;
    if (parent) {
      s.query(
          "UPDATE flowdetails SET updated_at = $1, meta = $2, name = $3, state = $4 "
          "WHERE uuid = $5",
          {at, json(flow.meta), flow.name, state, flow.uuid});
    } else {
      s.query(
          "INSERT INTO flowdetails (created_at, parent_uuid, meta, name, state, uuid) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          {next_created(), book_uuid, json(flow.meta), flow.name, state, flow.uuid});
    }
    for (const AtomDetail& atom : flow.atoms) {
      if (update_atom(s, atom, &flow.uuid, at) > 0) {
        continue;
      }
      const Rows owner =
          s.query("SELECT parent_uuid FROM atomdetails WHERE uuid = $1", {atom.uuid});
      if (!owner.empty()) {
        throw StorageFailure(fmt::format("atom detail {} belongs to flow detail {}, not {}",
                                         atom.uuid, owner.text(0, 0), flow.uuid));
      }
      s.query(
          "INSERT INTO atomdetails (created_at, meta, parent_uuid, name, version, state, "
          "uuid, failure, results, revert_results, revert_failure, atom_type, intention) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
          {next_created(), json(atom.meta), flow.uuid, atom.name, atom.version,
           std::string(to_string(atom.state)), atom.uuid, json(detail::failure_value(atom.failure)),
           json(atom.results), json(atom.revert_results),
           json(detail::failure_value(atom.revert_failure)), std::string(to_string(atom.kind)),
           std::string(to_string(atom.intention))});
    }
  }

  // Updates a stored atom detail (of flow `flow_uuid` when given); returns the rows updated.
  int update_atom(Session& s, const AtomDetail& atom, const std::string* flow_uuid,
                  const std::string& at) {
    std::vector<Param> params = {at,
                                 json(atom.meta),
                                 atom.name,
                                 atom.version,
                                 std::string(to_string(atom.state)),
                                 json(detail::failure_value(atom.failure)),
                                 json(atom.results),
                                 json(atom.revert_results),
                                 json(detail::failure_value(atom.revert_failure)),
                                 std::string(to_string(atom.intention)),
                                 atom.uuid};
    std::string sql =
        "UPDATE atomdetails SET updated_at = $1, meta = $2, name = $3, version = $4, state = $5, "
        "failure = $6, results = $7, revert_results = $8, revert_failure = $9, intention = $10 "
        "WHERE uuid = $11";
    if (flow_uuid != nullptr) {
      sql += " AND parent_uuid = $12";
      params.emplace_back(*flow_uuid);
    }
    return s.query(sql, params).affected();
  }

  const std::string conninfo_;  // for libpq: without caboose's own options
  const std::string shown_;
  const std::chrono::milliseconds timeout_;
  const std::size_t pool_size_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Pooled>> idle_;  // Guarded by mu_.
  std::size_t open_ = 0;                       // Guarded by mu_: idle and lent out
  bool closed_ = false;                        // Guarded by mu_.
  std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>
      last_created_;  // Guarded by mu_.
};

}  // namespace

std::string redact_conninfo(const std::string& conninfo) {
  // URI form: scheme://user:password@host -> scheme://user:***@host; key=value form:
  // password=secret -> password=***.
  static const std::regex uri_password(R"(^([a-z]+://[^:/@]*):[^@]*@)");
  static const std::regex kv_password(R"((^|\s)password\s*=\s*('[^']*'|\S+))");
  std::string out = std::regex_replace(conninfo, uri_password, "$1:***@");
  out = std::regex_replace(out, kv_password, "$1password=***");
  static const std::regex query_password(R"(([?&])password=[^&]*)");
  return std::regex_replace(out, query_password, "$1password=***");
}

PostgresConninfo parse_postgres_conninfo(const std::string& conninfo) {
  PostgresConninfo out;
  const auto timeout = [&](std::string_view value) {
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 1 || ms > 3600000) {
      throw InvalidArgument(fmt::format(
          "PostgreSQL {}: timeout_ms must be a number of milliseconds from 1 to 3600000, not '{}'",
          redact_conninfo(conninfo), value));
    }
    out.timeout = std::chrono::milliseconds(ms);
  };
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  if (uri) {
    const std::size_t query = conninfo.find('?');
    if (query == std::string::npos) {
      out.libpq = conninfo;
      return out;
    }
    std::string kept;
    std::string_view rest = std::string_view(conninfo).substr(query + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view param = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (param.rfind("timeout_ms=", 0) == 0) {
        timeout(param.substr(std::string_view("timeout_ms=").size()));
      } else if (!param.empty()) {
        kept += (kept.empty() ? "" : "&") + std::string(param);
      }
    }
    out.libpq = conninfo.substr(0, query) + (kept.empty() ? "" : "?" + kept);
    return out;
  }
  static const std::regex kv_timeout(R"((^|\s)timeout_ms\s*=\s*(\S*))");
  out.libpq = conninfo;
  for (std::smatch m; std::regex_search(out.libpq, m, kv_timeout);) {
    timeout(m[2].str());
    out.libpq = m.prefix().str() + m[1].str() + m.suffix().str();
  }
  return out;
}

std::unique_ptr<Backend> make_postgres_backend(const std::string& conninfo,
                                               PostgresOptions options) {
  return std::make_unique<PostgresBackend>(parse_postgres_conninfo(conninfo), options);
}

}  // namespace caboose::persistence
