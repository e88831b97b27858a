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
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  const passwd* pw = server_user();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    if (pw != nullptr &&
        (::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)) {
      _exit(126);
    }
    // Dies with the test process even when that is killed (no destructor runs then).
    ::prctl(PR_SET_PDEATHSIG, SIGINT);
    if (FILE* out = std::freopen(log.c_str(), "a", stdout)) {
      (void)out;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
    throw std::runtime_error("initdb failed (exit " + std::to_string(initdb) + "), see " + log);
  }
  // A port taken between our probe and the server's bind makes it exit at once: pick another.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (launch()) {
      return;
    }
  }
  throw std::runtime_error("PostgreSQL would not start, see " + log);
}

bool PostgresServer::launch() {
  const std::string bin = bin_dir();
  const std::string data = dir_ + "/data";
  const std::string log = dir_ + "/server.log";
  const pid_t pid = spawn({bin + "/postgres", "-D", data, "-p", std::to_string(port_), "-k", dir_,
                           "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"},
                          log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string probe =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return false;  // exited: port taken or a real failure; the log says which
    }
    if (PQping(probe.c_str()) == PQPING_OK) {
      pid_ = pid;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  throw std::runtime_error("PostgreSQL did not accept connections in 60 s, see " + log);
}

void PostgresServer::restart_immediate() {
  const std::string log = dir_ + "/server.log";
  if (pid_ > 0) {
    const int stopped = wait_exit(
        spawn({bin_dir() + "/pg_ctl", "stop", "-D", dir_ + "/data", "-m", "immediate"}, log));
    if (stopped != 0) {
      throw std::runtime_error("pg_ctl stop -m immediate failed (exit " + std::to_string(stopped) +
                               "), see " + log);
    }
    wait_exit(pid_);
    pid_ = -1;
  }
  if (!launch()) {
    throw std::runtime_error("PostgreSQL would not restart, see " + log);
  }
}

void PostgresServer::stop() noexcept {
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown
    wait_exit(pid_);
    pid_ = -1;
  }
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
