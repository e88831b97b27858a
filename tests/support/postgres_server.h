// A private PostgreSQL server for tests: Debian's binaries, a data directory in a temporary
// directory, listening on 127.0.0.1 on a port free at start, stopped by its PID. Run as the
// `postgres` user when the tests run as root (the server refuses root).
#pragma once

#include <sys/types.h>

#include <string>

namespace caboose::testing {

struct PostgresServerOptions {
  // Non-empty: the postgres superuser gets this password and connections over TCP must give it
  // (scram-sha-256 in pg_hba.conf; the Unix socket stays trust). Empty: trust everywhere.
  std::string password;
};

class PostgresServer {
 public:
  // The process's server, started on first use and stopped at exit. Throws std::runtime_error
  // saying why it could not start.
  static PostgresServer& shared();

  // A server of its own, stopped by the destructor.
  explicit PostgresServer(PostgresServerOptions options = {});

  // A new, empty database; returns its URI (postgresql://postgres[:password]@127.0.0.1:<port>/
  // <name>).
  std::string create_database();
  std::string uri(const std::string& database) const;
  int port() const { return port_; }
  // Stops the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, recovery from
  // the WAL at the next start) and starts it again on the same port and data directory.
  void restart_immediate();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

 private:
  void start();
  // Starts the server on the data directory; whether it came up on port_.
  bool launch();
  void stop() noexcept;

  const PostgresServerOptions options_;

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
};

}  // namespace caboose::testing
