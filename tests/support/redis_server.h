// A private redis-server for tests: Debian's binary, on 127.0.0.1 on a port free at start, its
// working directory a temporary one, no persistence unless asked for (an append-only file synced
// at every write, so that a restart after SIGKILL loses nothing acknowledged), stopped by its PID.
#pragma once

#include <sys/types.h>

#include <string>

namespace caboose::testing {

struct RedisServerOptions {
  std::string password;      // required by the server when not empty
  bool append_only = false;  // appendonly yes, appendfsync always: survives restart()
};

class RedisServer {
 public:
  // The process's server (no password), started on first use and stopped at exit. Throws
  // std::runtime_error saying why it could not start.
  static RedisServer& shared();
  // A server of its own, requiring `password` when not empty.
  explicit RedisServer(const std::string& password = {});
  explicit RedisServer(RedisServerOptions options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>/<db>
  std::string uri(int db = 0) const;
  // Stops the server (SIGKILL: a crash) and starts it again on the same port and directory
  // (what it keeps across that is its append-only file, if it has one).
  void restart();

 private:
  // Starts the server on port_; whether it came up (false: it exited, the port was taken, say).
  bool start();
  void stop() noexcept;
  std::string dir_;
  RedisServerOptions options_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace caboose::testing
