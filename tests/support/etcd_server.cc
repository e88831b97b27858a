#include "support/etcd_server.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/loopback.h"
#include "support/server_process.h"

namespace caboose::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEtcd = "/usr/bin/etcd";
constexpr const char* kEtcdctl = "/usr/bin/etcdctl";

// Whether the server answers GET /health with "true".
bool healthy(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string reply;
  const std::string request = "GET /health HTTP/1.0\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[512];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
      reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply.find("\"health\":\"true\"") != std::string::npos;
}

}  // namespace

EtcdServer& EtcdServer::shared() {
  static EtcdServer server;
  return server;
}

EtcdServer::EtcdServer(std::vector<std::string> options) : options_(std::move(options)) {
  if (!fs::exists(kEtcd)) {
    throw std::runtime_error("etcd not found (apt-get install etcd-server)");
  }
  std::string pattern = (fs::temp_directory_path() / "caboose-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = pattern;
  // A port taken between our probe and the server's bind makes it fail: pick others.
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    port_ = free_port();
    peer_port_ = free_port();
    if (peer_port_ == port_) {
      continue;
    }
    fs::remove_all(dir_ + "/data");
    start();
  }
  if (pid_ < 0) {
    const std::string why = with_output("etcd would not start", dir_ + "/etcd.out");
    stop(SIGKILL);
    throw std::runtime_error(why);
  }
}

void EtcdServer::start() {
  const std::string client = "http://127.0.0.1:" + std::to_string(port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  ServerCommand command{
      .argv = {kEtcd, "--name=caboose-test", "--data-dir=" + dir_ + "/data",
               "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
               "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
               "--initial-cluster=caboose-test=" + peer, "--log-level=error", "--logger=zap"},
      .output = dir_ + "/etcd.out"};
  command.argv.insert(command.argv.end(), options_.begin(), options_.end());
  const pid_t pid = spawn_server(command);
  if (await_server(
          pid, [this] { return healthy(port_); }, std::chrono::seconds(60)) ==
      ServerStart::kReady) {
    pid_ = pid;
  }
}

void EtcdServer::kill() {
  stop_server(pid_);
}

void EtcdServer::restart() {
  kill();
  start();
  if (pid_ < 0) {
    throw std::runtime_error(with_output("etcd would not restart", dir_ + "/etcd.out"));
  }
}

EtcdServer::~EtcdServer() {
  stop(SIGTERM);
}

void EtcdServer::stop(int signal) noexcept {
  // SIGTERM first; SIGKILL when it does not end within five seconds.
  stop_server(pid_, signal, std::chrono::seconds(5));
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string EtcdServer::etcdctl(const std::string& args, const std::string& input) const {
  if (!fs::exists(kEtcdctl)) {
    throw std::runtime_error("etcdctl not found (apt-get install etcd-client)");
  }
  std::string command = std::string(kEtcdctl) + " --endpoints=" + hosts();
  if (!input.empty()) {
    command = "printf '%s\\n' '" + input + "' | " + command;
  }
  if (!root_password_.empty()) {
    command += " --user=root:" + root_password_;
  }
  command += " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) {
    throw std::runtime_error("cannot run etcdctl");
  }
  std::string out;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) {
    out.append(buffer, n);
  }
  if (::pclose(pipe.release()) != 0) {
    throw std::runtime_error("etcdctl " + args + " failed: " + out);
  }
  return out;
}

void EtcdServer::enable_auth(const std::string& root_password) {
  etcdctl("user add root --interactive=false --new-user-password=" + root_password);
  etcdctl("user grant-role root root");
  etcdctl("auth enable");
  root_password_ = root_password;
}

void EtcdServer::add_user(const std::string& user, const std::string& password,
                          const std::vector<std::string>& prefixes) {
  etcdctl("user add " + user + " --interactive=false --new-user-password=" + password);
  if (prefixes.empty()) {
    return;
  }
  etcdctl("role add " + user + "-role");
  for (const std::string& prefix : prefixes) {
    etcdctl("role grant-permission " + user + "-role --prefix=true readwrite " + prefix);
  }
  etcdctl("user grant-role " + user + " " + user + "-role");
}

void EtcdServer::set_password(const std::string& user, const std::string& password) {
  etcdctl("user passwd " + user + " --interactive=false", password);
}

std::string EtcdServer::hosts() const {
  return "127.0.0.1:" + std::to_string(port_);
}

}  // namespace caboose::testing
