// A private etcd server for tests: Debian's etcd-server, a single member on 127.0.0.1 with
// client and peer ports free at start, its data directory a temporary one, stopped by its PID.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace caboose::testing {

class EtcdServer {
 public:
  // The process's server, started on first use and stopped at exit. Throws std::runtime_error
  // saying why it could not start (naming the Debian package when etcd is missing).
  static EtcdServer& shared();

  // `options`: more etcd flags (e.g. "--auth-token-ttl=1").
  explicit EtcdServer(std::vector<std::string> options = {});
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

  // Turns on etcd's authentication: a root user (its password `root_password`) with the root
  // role, then `auth enable`. Later etcdctl calls run as root. Throws std::runtime_error with
  // etcdctl's output when a step fails (naming etcd-client when etcdctl is missing).
  void enable_auth(const std::string& root_password);
  // A user whose own role grants readwrite on each of `prefixes` (key prefixes); none: no role.
  void add_user(const std::string& user, const std::string& password,
                const std::vector<std::string>& prefixes);
  // Sets the user's password (etcd then drops every token it gave that user).
  void set_password(const std::string& user, const std::string& password);

 private:
  // Runs etcdctl with `args`, `input` on its standard input; its output.
  std::string etcdctl(const std::string& args, const std::string& input = {}) const;
  void start();
  void stop(int signal) noexcept;
  std::vector<std::string> options_;
  std::string root_password_;  // once enable_auth() ran
  std::string dir_;
  int port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace caboose::testing
