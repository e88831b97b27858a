#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "support/loopback.h"
#include "support/server_process.h"

namespace caboose::testing {
namespace {

namespace fs = std::filesystem;

// Debian's PostgreSQL binaries (/usr/lib/postgresql/<version>/bin), newest version.
std::string bin_dir() {
  glob_t found{};
  std::string dir;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &found) == 0 && found.gl_pathc > 0) {
    dir = fs::path(found.gl_pathv[found.gl_pathc - 1]).parent_path().string();
  }
  globfree(&found);
  if (dir.empty()) {
    throw std::runtime_error("PostgreSQL server binaries not found (apt-get install postgresql)");
  }
  return dir;
}

// The user the server runs as: `postgres` when we are root, else ourselves.
const passwd* server_user() {
  if (::getuid() != 0) {
    return nullptr;
  }
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error("running as root, and there is no postgres user to run the server");
  }
  return pw;
}

// Starts `argv` as the server user, with stdout/stderr to `log`; returns its PID.
pid_t spawn(std::vector<std::string> argv, const std::string& log) {
  return spawn_server(
      {.argv = std::move(argv), .output = log, .death_signal = SIGINT, .user = server_user()});
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer(PostgresServerOptions options) : options_(std::move(options)) {
  std::string pattern = (fs::temp_directory_path() / "caboose-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = pattern;
  if (const passwd* pw = server_user()) {
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
    }
  }
  try {
    start();
  } catch (...) {
    stop();
    throw;
  }
}

PostgresServer::~PostgresServer() {
  stop();
}

void PostgresServer::start() {
  const std::string bin = bin_dir();
  const std::string data = dir_ + "/data";
  const std::string log = dir_ + "/server.log";
  std::vector<std::string> initdb_args = {
      bin + "/initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"};
  if (options_.password.empty()) {
    initdb_args.push_back("--auth=trust");
  } else {
    // The password from a file the server user can read (never on a command line).
    const std::string pwfile = dir_ + "/pwfile";
    std::ofstream(pwfile) << options_.password << "\n";
    if (const passwd* pw = server_user()) {
      if (::chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("cannot give " + pwfile + " to the postgres user");
      }
    }
    initdb_args.insert(initdb_args.end(),
                       {"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + pwfile});
  }
  const int initdb = wait_exit(spawn(initdb_args, log));
  if (initdb != 0) {
    throw std::runtime_error(
        with_output("initdb failed (exit " + std::to_string(initdb) + ")", log));
  }
  // A port taken between our probe and the server's bind makes it exit at once: pick another.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (launch()) {
      return;
    }
  }
  throw std::runtime_error(with_output("PostgreSQL would not start", log));
}

bool PostgresServer::launch() {
  const std::string bin = bin_dir();
  const std::string data = dir_ + "/data";
  const std::string log = dir_ + "/server.log";
  const pid_t pid = spawn({bin + "/postgres", "-D", data, "-p", std::to_string(port_), "-k", dir_,
                           "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"},
                          log);
  const std::string probe =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
  switch (await_server(
      pid, [&probe] { return PQping(probe.c_str()) == PQPING_OK; }, std::chrono::seconds(60))) {
    case ServerStart::kReady:
      pid_ = pid;
      return true;
    case ServerStart::kExited:
      return false;  // port taken or a real failure; the log says which
    case ServerStart::kTimedOut:
      break;
  }
  throw std::runtime_error(with_output("PostgreSQL did not accept connections in 60 s", log));
}

void PostgresServer::restart_immediate() {
  const std::string log = dir_ + "/server.log";
  if (pid_ > 0) {
    const int stopped = wait_exit(
        spawn({bin_dir() + "/pg_ctl", "stop", "-D", dir_ + "/data", "-m", "immediate"}, log));
    if (stopped != 0) {
      throw std::runtime_error(with_output(
          "pg_ctl stop -m immediate failed (exit " + std::to_string(stopped) + ")", log));
    }
    wait_exit(pid_);
    pid_ = -1;
  }
  if (!launch()) {
    throw std::runtime_error(with_output("PostgreSQL would not restart", log));
  }
}

void PostgresServer::stop() noexcept {
  stop_server(pid_, SIGINT);  // fast shutdown
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresServer::uri(const std::string& database) const {
  const std::string userinfo =
      options_.password.empty() ? "postgres" : "postgres:" + options_.password;
  return "postgresql://" + userinfo + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database() {
  const std::string name =
      "caboose_test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri("postgres").c_str()),
                                                    &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect: ") + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error(std::string("CREATE DATABASE failed: ") +
                             PQresultErrorMessage(result.get()));
  }
  return uri(name);
}

}  // namespace caboose::testing
