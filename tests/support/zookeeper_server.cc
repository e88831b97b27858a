#include "support/zookeeper_server.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.h"
#include "support/server_process.h"

namespace caboose::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kJava = "/usr/bin/java";
constexpr const char* kJar = "/usr/share/java/zookeeper.jar";

// Whether the server answers "ruok" with "imok".
bool answers(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, "ruok", 4) == 4) {
    char reply[4] = {};
    ok = ::read(fd, reply, sizeof reply) == 4 && std::string(reply, 4) == "imok";
  }
  ::close(fd);
  return ok;
}

}  // namespace

ZooKeeperServer& ZooKeeperServer::shared() {
  static ZooKeeperServer server;
  return server;
}

ZooKeeperServer::ZooKeeperServer() {
  if (!fs::exists(kJava) || !fs::exists(kJar)) {
    throw std::runtime_error(
        "java or the ZooKeeper jar not found (apt-get install zookeeper default-jre-headless)");
  }
  std::string pattern = (fs::temp_directory_path() / "caboose-zk-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = pattern;
  fs::create_directories(dir_ + "/data");
  // A port taken between our probe and the server's bind makes it fail: pick another.
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    port_ = free_port();
    std::ofstream cfg(dir_ + "/zoo.cfg");
    cfg << "tickTime=200\n"
        << "minSessionTimeout=400\n"
        << "maxSessionTimeout=20000\n"
        << "dataDir=" << dir_ << "/data\n"
        << "clientPort=" << port_ << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=ruok,srvr,stat,mntr,envi\n"
        << "maxClientCnxns=200\n"
        // Transaction logs are preallocated 64 MiB at a time by default: a test needs little.
        << "preAllocSize=1024\n";
    cfg.close();
    start();
  }
  if (pid_ < 0) {
    const std::string why = with_output("zookeeper would not start", dir_ + "/zk.out");
    stop(SIGKILL);
    throw std::runtime_error(why);
  }
}

void ZooKeeperServer::start() {
  const pid_t pid = spawn_server(
      {.argv = {kJava, "-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.log.dir=" + dir_,
                "-Dzookeeper.root.logger=WARN,CONSOLE", "-cp", kJar,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir_ + "/zoo.cfg"},
       .output = dir_ + "/zk.out"});
  if (await_server(
          pid, [this] { return answers(port_); }, std::chrono::seconds(60)) ==
      ServerStart::kReady) {
    pid_ = pid;
  }
}

void ZooKeeperServer::restart() {
  stop_server(pid_);
  start();
  if (pid_ < 0) {
    throw std::runtime_error(with_output("zookeeper would not restart", dir_ + "/zk.out"));
  }
}

ZooKeeperServer::~ZooKeeperServer() {
  stop(SIGTERM);
}

void ZooKeeperServer::stop(int signal) noexcept {
  stop_server(pid_, signal);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string ZooKeeperServer::hosts() const {
  return "127.0.0.1:" + std::to_string(port_);
}

}  // namespace caboose::testing
