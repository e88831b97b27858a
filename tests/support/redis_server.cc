#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
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

}  // namespace

RedisServer& RedisServer::shared() {
  static RedisServer server;
  return server;
}

RedisServer::RedisServer(const std::string& password)
    : RedisServer(RedisServerOptions{.password = password}) {}

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  if (!fs::exists("/usr/bin/redis-server")) {
    throw std::runtime_error("redis-server not found (apt-get install redis-server)");
  }
  std::string pattern = (fs::temp_directory_path() / "caboose-redis-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = pattern;
  // A port taken between our probe and the server's bind makes it exit: pick another.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (start()) {
      return;
    }
  }
  const std::string why = with_output("redis-server would not start", dir_ + "/redis.log");
  stop();
  throw std::runtime_error(why);
}

bool RedisServer::start() {
  std::vector<std::string> argv = {"/usr/bin/redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.append_only ? "yes" : "no",
                                   "--appendfsync",
                                   "always",
                                   "--logfile",
                                   dir_ + "/redis.log",
                                   "--daemonize",
                                   "no"};
  if (!options_.password.empty()) {
    argv.insert(argv.end(), {"--requirepass", options_.password});
  }
  const pid_t pid = spawn_server(
      {.argv = std::move(argv), .output = dir_ + "/redis.out", .death_signal = SIGTERM});
  switch (await_server(
      pid, [this] { return accepting(port_); }, std::chrono::seconds(20),
      std::chrono::milliseconds(20))) {
    case ServerStart::kReady:
      pid_ = pid;
      return true;
    case ServerStart::kExited:
    case ServerStart::kTimedOut:
      break;
  }
  return false;
}

void RedisServer::restart() {
  stop_server(pid_);
  if (!start()) {
    throw std::runtime_error(with_output("redis-server would not restart", dir_ + "/redis.log"));
  }
}

RedisServer::~RedisServer() {
  stop();
}

void RedisServer::stop() noexcept {
  stop_server(pid_, SIGTERM);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string RedisServer::uri(int db) const {
  return "redis://" + (options_.password.empty() ? std::string() : ":" + options_.password + "@") +
         "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

}  // namespace caboose::testing
