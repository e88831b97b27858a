// A private redis-server for tests: Debian's binary, on 127.0.0.1 on a port free at start, its
// working directory a temporary one, no persistence, stopped by its PID.
#pragma once

#include <sys/types.h>

#include <string>

namespace caboose::testing {

class RedisServer {
 public:
  // The process's server (no password), started on first use and stopped at exit. Throws
  // std::runtime_error saying why it could not start.
  static RedisServer& shared();
  // A server of its own, requiring `password` when not empty.
  explicit RedisServer(const std::string& password = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>/<db>
  std::string uri(int db = 0) const;

 private:
  void stop() noexcept;
  std::string dir_;
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace caboose::testing
