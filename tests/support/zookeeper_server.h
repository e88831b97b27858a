// A private ZooKeeper server for tests: Debian's zookeeper jar run standalone by java, on
// 127.0.0.1 on a port free at start, its data directory a temporary one, the AdminServer off,
// a short tick (sessions can expire in seconds), the four-letter words kazoo needs (envi), and
// stopped by its PID.
#pragma once

#include <sys/types.h>

#include <string>

namespace caboose::testing {

class ZooKeeperServer {
 public:
  // The process's server, started on first use and stopped at exit. Throws std::runtime_error
  // saying why it could not start (naming the Debian package when java or the jar is missing).
  static ZooKeeperServer& shared();

  ZooKeeperServer();
  ~ZooKeeperServer();
  ZooKeeperServer(const ZooKeeperServer&) = delete;
  ZooKeeperServer& operator=(const ZooKeeperServer&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string hosts() const;
  // Stops the server (SIGKILL: a crash) and starts it again on the same port and data.
  void restart();

 private:
  void start();
  void stop(int signal) noexcept;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace caboose::testing
