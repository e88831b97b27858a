// A Redis connection for the Redis jobboard (hiredis, synchronous, binary-safe). A dropped
// connection is reopened by the next command (never by retrying one: a write may have landed);
// AUTH and SELECT are sent on every (re)connect. Scripts run by EVALSHA, loaded on NOSCRIPT.
// Not thread-safe: its owner serialises calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace caboose::jobs::detail {

// redis://[[user]:password@]host[:port][/db][?namespace=ns&timeout_ms=N]
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;
  std::string password;
  std::string key_namespace = "taskflow";  // TaskFlow's default
  std::chrono::milliseconds timeout{5000};
  std::string shown;  // the URI with the password hidden, for messages

  // InvalidArgument naming what is wrong.
  static RedisAddress parse(std::string_view uri);
};

struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string text;  // string, status and error replies
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
};

// A Lua script and its SHA1 (computed by the server when first loaded).
struct Script {
  std::string source;
  std::string sha;  // filled on first load
};

class RedisClient {
 public:
  explicit RedisClient(RedisAddress address);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command. StorageFailure naming the server for connection problems and error
  // replies (the next command reconnects).
  Reply command(const std::vector<std::string>& argv);
  // Runs the commands in one round trip (hiredis pipelining); their replies, in order. An error
  // reply throws StorageFailure as command() does, after every reply has been read.
  enum class OnError { kThrow, kReturn };  // kReturn: error replies come back as kError
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands,
                              OnError on_error = OnError::kThrow);
  // eval() of one script over many (keys, args), pipelined: one round trip (two when the
  // server had forgotten the script). The replies, in order.
  std::vector<Reply> eval_many(
      Script& script,
      const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>& calls);
  // EVALSHA (SCRIPT LOAD first when the server does not know the script).
  Reply eval(Script& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args);
  const RedisAddress& address() const { return address_; }

 private:
  void connect();
  Reply send(const std::vector<std::string>& argv, bool* noscript);
  [[noreturn]] void fail(const std::string& what);

  RedisAddress address_;
  redisContext* context_ = nullptr;
};

}  // namespace caboose::jobs::detail
