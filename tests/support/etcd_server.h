// A private etcd server for tests: Debian's etcd-server, a single member on 127.0.0.1 with
// client and peer ports free at start, its data directory a temporary one, stopped by its PID.
#pragma once

#include <sys/types.h>

#include <string>

namespace caboose::testing {

class EtcdServer {
 public:
  // The process's server, started on first use and stopped at exit. Throws std::runtime_error
  // saying why it could not start (naming the Debian package when etcd is missing).
  static EtcdServer& shared();

  EtcdServer();
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string hosts() const;
  // Stops the server (SIGKILL: a crash) and starts it again on the same ports and data.
  void restart();
  // Stops the server (SIGKILL) and leaves it down until restart().
  void kill();

 private:
  void start();
  void stop(int signal) noexcept;
  std::string dir_;
  int port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace caboose::testing
