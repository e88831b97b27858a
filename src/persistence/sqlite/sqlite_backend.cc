#include "caboose/persistence/sqlite_backend.h"

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <sqlite3.h>

#include "caboose/core/errors.h"

#include "persistence/json_text.h"
#include "persistence/sql_rows.h"
#include "persistence/sqlite/sqlite_db.h"

namespace caboose::persistence {
namespace {

using caboose::detail::Query;
using caboose::detail::SqliteDb;

// caboose's own layout on top of TaskFlow's tables; a database with a higher one is refused.
constexpr int kSchemaVersion = 1;

// TaskFlow's tables, as its SQLAlchemy metadata creates them on SQLite (byte for byte: the
// text is what sqlite_master keeps).
constexpr const char* kCreateLogbooks =
    "CREATE TABLE logbooks (\n"
    "\tcreated_at DATETIME, \n"
    "\tupdated_at DATETIME, \n"
    "\tmeta TEXT, \n"
    "\tname VARCHAR(255), \n"
    "\tuuid VARCHAR(64) NOT NULL, \n"
    "\tPRIMARY KEY (uuid), \n"
    "\tUNIQUE (uuid)\n"
    ")";
constexpr const char* kCreateFlowdetails =
    "CREATE TABLE flowdetails (\n"
    "\tcreated_at DATETIME, \n"
    "\tupdated_at DATETIME, \n"
    "\tparent_uuid VARCHAR(64), \n"
    "\tmeta TEXT, \n"
    "\tname VARCHAR(255), \n"
    "\tstate VARCHAR(255), \n"
    "\tuuid VARCHAR(64) NOT NULL, \n"
    "\tPRIMARY KEY (uuid), \n"
    "\tFOREIGN KEY(parent_uuid) REFERENCES logbooks (uuid) ON DELETE CASCADE, \n"
    "\tUNIQUE (uuid)\n"
    ")";
constexpr const char* kCreateAtomdetails =
    "CREATE TABLE atomdetails (\n"
    "\tcreated_at DATETIME, \n"
    "\tupdated_at DATETIME, \n"
    "\tmeta TEXT, \n"
    "\tparent_uuid VARCHAR(64), \n"
    "\tname VARCHAR(255), \n"
    "\tversion VARCHAR(64), \n"
    "\tstate VARCHAR(255), \n"
    "\tuuid VARCHAR(64) NOT NULL, \n"
    "\tfailure TEXT, \n"
    "\tresults TEXT, \n"
    "\trevert_results TEXT, \n"
    "\trevert_failure TEXT, \n"
    "\tatom_type VARCHAR(12), \n"
    "\tintention VARCHAR(7), \n"
    "\tPRIMARY KEY (uuid), \n"
    "\tFOREIGN KEY(parent_uuid) REFERENCES flowdetails (uuid) ON DELETE CASCADE, \n"
    "\tUNIQUE (uuid)\n"
    ")";
// Lookups by parent (TaskFlow scans; a conductor's resume should not).
constexpr const char* kCreateIndexes =
    "CREATE INDEX IF NOT EXISTS caboose_flowdetails_parent ON flowdetails (parent_uuid);"
    "CREATE INDEX IF NOT EXISTS caboose_atomdetails_parent ON atomdetails (parent_uuid);";
constexpr const char* kCreateFences =
    "CREATE TABLE IF NOT EXISTS caboose_fences (flow_uuid VARCHAR(64) NOT NULL PRIMARY KEY, "
    "token INTEGER NOT NULL)";
constexpr const char* kCreateSchema =
    "CREATE TABLE IF NOT EXISTS caboose_schema (version INTEGER NOT NULL)";

constexpr const char* kAtomColumns =
    "name, uuid, state, intention, results, failure, revert_results, revert_failure, meta, "
    "version, atom_type";

using detail::Column;

Column json_column(const Value& v) {
  return detail::json_column(v, /*null_as_sql_null=*/true);  // as TaskFlow stores None here
}

std::string now() {
  return detail::sql_now();
}

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::string path, SqliteOptions options)
      : path_(std::move(path)),
        db_(std::make_unique<SqliteDb>(path_,
                                       options.synchronous == SqliteOptions::Synchronous::kFull,
                                       options.busy_timeout)) {
    upgrade();
  }

  ~SqliteBackend() override { close_locked(); }

  void upgrade() override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    const int version = schema_version_locked();
    if (version > kSchemaVersion) {
      throw StorageFailure(fmt::format(
          "SQLite database '{}' has caboose schema version {}, newer than this caboose knows "
          "({}): upgrade caboose",
          path_, version, kSchemaVersion));
    }
    for (const auto& [table, ddl] :
         {std::pair{"logbooks", kCreateLogbooks}, std::pair{"flowdetails", kCreateFlowdetails},
          std::pair{"atomdetails", kCreateAtomdetails}}) {
      if (!table_exists_locked(table)) {
        exec(ddl);
      }
    }
    exec(kCreateIndexes);
    exec(kCreateFences);
    exec(kCreateSchema);
    if (version < kSchemaVersion) {
      exec("DELETE FROM caboose_schema");
      Query(stmt("INSERT INTO caboose_schema (version) VALUES (?)"), where("upgrade"))
          .bind(std::int64_t{kSchemaVersion})
          .run();
    }
    tx.commit();
  }

  void validate() override {
    std::lock_guard lock(mu_);
    open_db();
    for (const char* table : {"logbooks", "flowdetails", "atomdetails", "caboose_fences"}) {
      if (!table_exists_locked(table)) {
        throw StorageFailure(fmt::format(
            "SQLite database '{}' has no table '{}': run upgrade() first", path_, table));
      }
    }
    if (schema_version_locked() > kSchemaVersion) {
      throw StorageFailure(fmt::format("SQLite database '{}' has a newer caboose schema", path_));
    }
  }

  void close() override {
    std::lock_guard lock(mu_);
    close_locked();
  }

  FenceToken fence(std::string_view flow_uuid, FenceToken token) override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    require_flow_locked(flow_uuid);
    Query(stmt("INSERT INTO caboose_fences (flow_uuid, token) VALUES (?, ?) "
               "ON CONFLICT (flow_uuid) DO UPDATE SET token = max(token, excluded.token)"),
          where("fence"))
        .bind(flow_uuid)
        .bind(token)
        .run();
    const FenceToken now_in_force = fence_locked(flow_uuid);
    tx.commit();
    return now_in_force;
  }

  FenceToken current_fence(std::string_view flow_uuid) override {
    std::lock_guard lock(mu_);
    open_db();
    require_flow_locked(flow_uuid);
    return fence_locked(flow_uuid);
  }

  LogBook get_logbook(std::string_view book_uuid, bool lazy) override {
    std::lock_guard lock(mu_);
    open_db();
    Query q(stmt("SELECT name, uuid, meta, created_at, updated_at FROM logbooks WHERE uuid = ?"),
            where("get_logbook"));
    q.bind(book_uuid);
    if (!q.step()) {
      throw NotFound(fmt::format("no logbook {}", book_uuid));
    }
    LogBook book = read_book(q);
    if (!lazy) {
      book.flows = flows_of_locked(book.uuid, /*lazy=*/false);
    }
    return book;
  }

  std::vector<LogBook> get_logbooks(bool lazy) override {
    std::lock_guard lock(mu_);
    open_db();
    std::vector<LogBook> books;
    {
      Query q(stmt("SELECT name, uuid, meta, created_at, updated_at FROM logbooks "
                   "ORDER BY rowid"),
              where("get_logbooks"));
      while (q.step()) {
        books.push_back(read_book(q));
      }
    }
    if (!lazy) {
      for (LogBook& book : books) {
        book.flows = flows_of_locked(book.uuid, /*lazy=*/false);
      }
    }
    return books;
  }

  std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) override {
    std::lock_guard lock(mu_);
    open_db();
    require_book_locked(book_uuid);
    return flows_of_locked(book_uuid, /*lazy=*/false);
  }

  FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy) override {
    std::lock_guard lock(mu_);
    open_db();
    Query q(stmt("SELECT name, uuid, state, meta FROM flowdetails WHERE uuid = ?"),
            where("get_flow_details"));
    q.bind(flow_uuid);
    if (!q.step()) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
    FlowDetail flow = read_flow(q);
    if (!lazy) {
      flow.atoms = atoms_of_locked(flow.uuid);
    }
    return flow;
  }

  AtomDetail get_atom_details(std::string_view atom_uuid) override {
    std::lock_guard lock(mu_);
    open_db();
    Query q(stmt(fmt::format("SELECT {} FROM atomdetails WHERE uuid = ?", kAtomColumns)),
            where("get_atom_details"));
    q.bind(atom_uuid);
    if (!q.step()) {
      throw NotFound(fmt::format("no atom detail {}", atom_uuid));
    }
    return read_atom(q);
  }

  std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) override {
    std::lock_guard lock(mu_);
    open_db();
    require_flow_locked(flow_uuid);
    return atoms_of_locked(flow_uuid);
  }

  void destroy_logbook(std::string_view book_uuid) override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    require_book_locked(book_uuid);
    // TaskFlow relies on ON DELETE CASCADE, which SQLite enforces only with foreign_keys on;
    // the children are deleted explicitly so both ways leave nothing behind.
    for (const char* sql :
         {"DELETE FROM atomdetails WHERE parent_uuid IN "
          "(SELECT uuid FROM flowdetails WHERE parent_uuid = ?)",
          "DELETE FROM caboose_fences WHERE flow_uuid IN "
          "(SELECT uuid FROM flowdetails WHERE parent_uuid = ?)",
          "DELETE FROM flowdetails WHERE parent_uuid = ?", "DELETE FROM logbooks WHERE uuid = ?"}) {
      Query(stmt(sql), where("destroy_logbook")).bind(book_uuid).run();
    }
    tx.commit();
  }

  void clear_all() override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    exec(
        "DELETE FROM atomdetails; DELETE FROM caboose_fences; DELETE FROM flowdetails; "
        "DELETE FROM logbooks;");
    tx.commit();
  }

 protected:
  LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    open_db();
    {
      Transaction tx(*db_);
      for (const FlowDetail& flow : book.flows) {  // checked before anything is written
        if (token && flow_parent_locked(flow.uuid)) {
          check_fence(flow.uuid, fence_locked(flow.uuid), token);
        }
      }
      std::optional<LogBook> stored;
      {
        Query q(
            stmt("SELECT name, uuid, meta, created_at, updated_at FROM logbooks WHERE uuid = ?"),
            where("save_logbook"));
        q.bind(book.uuid);
        if (q.step()) {
          stored = read_book(q);
        }
      }
      LogBook fields = book;
      fields.flows.clear();
      if (stored) {
        stored->merge(fields);
        Query(stmt("UPDATE logbooks SET created_at = ?, updated_at = ?, meta = ?, name = ? "
                   "WHERE uuid = ?"),
              where("save_logbook"))
            .bind(book_time(stored->created_at))
            .bind(book_time(stored->updated_at))
            .bind(json_column(stored->meta))
            .bind(stored->name)
            .bind(stored->uuid)
            .run();
      } else {
        Query(stmt("INSERT INTO logbooks (created_at, updated_at, meta, name, uuid) "
                   "VALUES (?, ?, ?, ?, ?)"),
              where("save_logbook"))
            .bind(book_time(fields.created_at))
            .bind(book_time(fields.updated_at))
            .bind(json_column(fields.meta))
            .bind(fields.name)
            .bind(fields.uuid)
            .run();
      }
      const std::string at = now();
      for (const FlowDetail& flow : book.flows) {
        save_flow_locked(flow, book.uuid, at);
      }
      tx.commit();
    }
    LogBook saved;
    {
      Query q(stmt("SELECT name, uuid, meta, created_at, updated_at FROM logbooks WHERE uuid = ?"),
              where("save_logbook"));
      q.bind(book.uuid);
      q.step();
      saved = read_book(q);
    }
    saved.flows = flows_of_locked(book.uuid, /*lazy=*/false);
    return saved;
  }

  void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    const std::optional<std::string> book = flow_parent_locked(flow.uuid);
    if (!book) {
      throw NotFound(
          fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
    }
    if (token) {
      check_fence(flow.uuid, fence_locked(flow.uuid), token);
    }
    save_flow_locked(flow, *book, now());
    tx.commit();
  }

  void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    open_db();
    Transaction tx(*db_);
    if (token) {
      Query q(stmt("SELECT a.parent_uuid, coalesce(f.token, 0) FROM atomdetails a "
                   "LEFT JOIN caboose_fences f ON f.flow_uuid = a.parent_uuid WHERE a.uuid = ?"),
              where("update_atom_details"));
      q.bind(atom.uuid);
      if (!q.step()) {
        throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
      }
      check_fence(q.text(0), q.integer(1), token);
    }
    if (!update_atom_locked(atom, nullptr, now())) {
      throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
    }
    tx.commit();
  }

 private:
  using Transaction = SqliteDb::Transaction;

  std::string where(std::string_view op) const {
    return fmt::format("SQLite database '{}': {}", path_, op);
  }
  void open_db() const {
    if (!db_) {
      throw StorageFailure(fmt::format("SQLite database '{}' is closed", path_));
    }
  }
  void close_locked() { db_.reset(); }
  void exec(const char* sql) { db_->exec(sql); }
  sqlite3_stmt* stmt(const std::string& sql) { return db_->stmt(sql); }
  bool table_exists_locked(const char* table) { return db_->table_exists(table); }

  int schema_version_locked() {
    if (!table_exists_locked("caboose_schema")) {
      return 0;
    }
    Query q(stmt("SELECT max(version) FROM caboose_schema"), where("schema"));
    return q.step() && !q.is_null(0) ? static_cast<int>(q.integer(0)) : 0;
  }

  void require_book_locked(std::string_view book_uuid) {
    Query q(stmt("SELECT 1 FROM logbooks WHERE uuid = ?"), where("logbook"));
    q.bind(book_uuid);
    if (!q.step()) {
      throw NotFound(fmt::format("no logbook {}", book_uuid));
    }
  }

  std::optional<std::string> flow_parent_locked(std::string_view flow_uuid) {
    Query q(stmt("SELECT coalesce(parent_uuid, '') FROM flowdetails WHERE uuid = ?"),
            where("flow detail"));
    q.bind(flow_uuid);
    if (!q.step()) {
      return std::nullopt;
    }
    return q.text(0);
  }

  void require_flow_locked(std::string_view flow_uuid) {
    if (!flow_parent_locked(flow_uuid)) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
  }

  FenceToken fence_locked(std::string_view flow_uuid) {
    Query q(stmt("SELECT token FROM caboose_fences WHERE flow_uuid = ?"), where("fence"));
    q.bind(flow_uuid);
    return q.step() ? q.integer(0) : 0;
  }

  static Column book_time(const std::optional<Timestamp>& t) { return detail::sql_time(t); }

  // Columns: name, uuid, meta, created_at, updated_at.
  static LogBook read_book(Query& q) {
    return detail::book_from_row(
        {q.text(0), q.text(1), q.optional_text(2), q.optional_text(3), q.optional_text(4)});
  }

  // Columns: name, uuid, state, meta.
  static FlowDetail read_flow(Query& q) {
    return detail::flow_from_row({q.text(0), q.text(1), q.optional_text(2), q.optional_text(3)});
  }

  // Columns: kAtomColumns.
  static AtomDetail read_atom(Query& q) {
    return detail::atom_from_row({q.text(0), q.text(1), q.optional_text(2), q.optional_text(3),
                                  q.optional_text(4), q.optional_text(5), q.optional_text(6),
                                  q.optional_text(7), q.optional_text(8), q.optional_text(9),
                                  q.optional_text(10)});
  }

  std::vector<FlowDetail> flows_of_locked(std::string_view book_uuid, bool lazy) {
    std::vector<FlowDetail> flows;
    {
      Query q(stmt("SELECT name, uuid, state, meta FROM flowdetails WHERE parent_uuid = ? "
                   "ORDER BY rowid"),
              where("flows"));
      q.bind(book_uuid);
      while (q.step()) {
        flows.push_back(read_flow(q));
      }
    }
    if (!lazy) {
      for (FlowDetail& flow : flows) {
        flow.atoms = atoms_of_locked(flow.uuid);
      }
    }
    return flows;
  }

  std::vector<AtomDetail> atoms_of_locked(std::string_view flow_uuid) {
    std::vector<AtomDetail> atoms;
    Query q(stmt(fmt::format("SELECT {} FROM atomdetails WHERE parent_uuid = ? ORDER BY rowid",
                             kAtomColumns)),
            where("atoms"));
    q.bind(flow_uuid);
    while (q.step()) {
      atoms.push_back(read_atom(q));
    }
    return atoms;
  }

  void save_flow_locked(const FlowDetail& flow, const std::string& book_uuid,
                        const std::string& at) {
    const std::optional<std::string> parent = flow_parent_locked(flow.uuid);
    const std::optional<std::string> state =
        flow.state ? std::optional<std::string>(std::string(to_string(*flow.state))) : std::nullopt;
    if (parent && *parent != book_uuid) {
      throw StorageFailure(fmt::format("flow detail {} belongs to logbook {}, not {}", flow.uuid,
                                       *parent, book_uuid));
    }
    if (parent) {
      Query(stmt("UPDATE flowdetails SET updated_at = ?, meta = ?, name = ?, state = ? "
                 "WHERE uuid = ?"),
            where("save flow detail"))
          .bind(at)
          .bind(json_column(flow.meta))
          .bind(flow.name)
          .bind(state)
          .bind(flow.uuid)
          .run();
    } else {
      Query(stmt("INSERT INTO flowdetails (created_at, parent_uuid, meta, name, state, uuid) "
                 "VALUES (?, ?, ?, ?, ?, ?)"),
            where("save flow detail"))
          .bind(at)
          .bind(book_uuid)
          .bind(json_column(flow.meta))
          .bind(flow.name)
          .bind(state)
          .bind(flow.uuid)
          .run();
    }
    for (const AtomDetail& atom : flow.atoms) {
      if (update_atom_locked(atom, &flow.uuid, at)) {
        continue;
      }
      {
        Query q(stmt("SELECT parent_uuid FROM atomdetails WHERE uuid = ?"), where("save atom"));
        q.bind(atom.uuid);
        if (q.step()) {
          throw StorageFailure(fmt::format("atom detail {} belongs to flow detail {}, not {}",
                                           atom.uuid, q.text(0), flow.uuid));
        }
      }
      Query(stmt("INSERT INTO atomdetails (created_at, meta, parent_uuid, name, version, state, "
                 "uuid, failure, results, revert_results, revert_failure, atom_type, intention) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            where("save atom"))
          .bind(at)
          .bind(json_column(atom.meta))
          .bind(flow.uuid)
          .bind(atom.name)
          .bind(atom.version)
          .bind(to_string(atom.state))
          .bind(atom.uuid)
          .bind(json_column(failure_dict(atom.failure)))
          .bind(json_column(atom.results))
          .bind(json_column(atom.revert_results))
          .bind(json_column(failure_dict(atom.revert_failure)))
          .bind(to_string(atom.kind))
          .bind(to_string(atom.intention))
          .run();
    }
  }

  // Updates a stored atom detail (of flow `flow_uuid` when given); false if there is none.
  bool update_atom_locked(const AtomDetail& atom, const std::string* flow_uuid,
                          const std::string& at) {
    Query q(stmt(flow_uuid != nullptr
                     ? "UPDATE atomdetails SET updated_at = ?, meta = ?, name = ?, version = ?, "
                       "state = ?, failure = ?, results = ?, revert_results = ?, "
                       "revert_failure = ?, intention = ? WHERE uuid = ? AND parent_uuid = ?"
                     : "UPDATE atomdetails SET updated_at = ?, meta = ?, name = ?, version = ?, "
                       "state = ?, failure = ?, results = ?, revert_results = ?, "
                       "revert_failure = ?, intention = ? WHERE uuid = ?"),
            where("save atom"));
    q.bind(at)
        .bind(json_column(atom.meta))
        .bind(atom.name)
        .bind(atom.version)
        .bind(to_string(atom.state))
        .bind(json_column(failure_dict(atom.failure)))
        .bind(json_column(atom.results))
        .bind(json_column(atom.revert_results))
        .bind(json_column(failure_dict(atom.revert_failure)))
        .bind(to_string(atom.intention))
        .bind(atom.uuid);
    if (flow_uuid != nullptr) {
      q.bind(*flow_uuid);
    }
    q.run();
    return db_->changes() > 0;
  }

  static Value failure_dict(const std::optional<Failure>& failure) {
    return detail::failure_value(failure);
  }

  std::string path_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // Guarded by mu_; null once closed.
};

}  // namespace

std::unique_ptr<Backend> make_sqlite_backend(const std::string& path, SqliteOptions options) {
  return std::make_unique<SqliteBackend>(path, options);
}

}  // namespace caboose::persistence
