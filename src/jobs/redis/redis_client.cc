#include "jobs/redis/redis_client.h"

#include <charconv>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "caboose/core/errors.h"

#include "core/uri.h"

namespace caboose::jobs::detail {
namespace {

int number(std::string_view uri, std::string_view what, std::string_view text, int low, int high) {
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < low || n > high) {
    throw InvalidArgument(fmt::format("Redis URI '{}': bad {} '{}'", uri, what, text));
  }
  return n;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(convert(r->element[i]));
      }
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

}  // namespace

RedisAddress RedisAddress::parse(std::string_view uri) {
  // Messages show the URI with its password as ***.
  const std::string redacted = caboose::detail::redact_uri(uri);
  RedisAddress a;
  const std::optional<caboose::detail::ServerUri> parts =
      caboose::detail::split_server_uri(uri, "redis://");
  if (!parts) {
    throw InvalidArgument(fmt::format("Redis URI '{}' does not start with redis://", redacted));
  }
  std::string shown_auth;
  if (parts->user) {
    a.username = std::string(*parts->user);
    a.password = std::string(parts->password.value_or(""));
    shown_auth = a.username + (a.password.empty() ? "" : ":***") + "@";
  }
  if (parts->path.size() > 1) {
    a.db = number(redacted, "database number", parts->path.substr(1), 0, 1 << 20);
  }
  std::string_view hostport = parts->authority;
  if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    a.port = number(redacted, "port", hostport.substr(colon + 1), 1, 65535);
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) {
    a.host = std::string(hostport);
  }
  for (const caboose::detail::QueryItem& item : caboose::detail::query_items(parts->query)) {
    if (item.key == "namespace") {
      a.key_namespace = std::string(item.value);
    } else if (item.key == "timeout_ms") {
      a.timeout = std::chrono::milliseconds(number(redacted, "timeout_ms", item.value, 1, 3600000));
    } else {
      throw InvalidArgument(
          fmt::format("Redis URI '{}': unknown option '{}' (known: namespace, timeout_ms)",
                      redacted, item.key));
    }
  }
  a.shown = fmt::format("redis://{}{}:{}/{}", shown_auth, a.host, a.port, a.db);
  return a;
}

RedisClient::RedisClient(RedisAddress address) : address_(std::move(address)) {
  connect();
}

RedisClient::~RedisClient() {
  if (context_ != nullptr) {
    redisFree(context_);
  }
}

void RedisClient::connect() {
  if (context_ != nullptr) {
    redisFree(context_);
    context_ = nullptr;
  }
  const auto ms = address_.timeout.count();
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), address_.port, tv);
  if (c == nullptr || c->err != 0) {
    const std::string why = c != nullptr ? c->errstr : "out of memory";
    if (c != nullptr) {
      redisFree(c);
    }
    throw StorageFailure(fmt::format("cannot connect to Redis {}: {}", address_.shown, why));
  }
  redisSetTimeout(c, tv);
  context_ = c;
  try {
    if (!address_.password.empty()) {
      if (address_.username.empty()) {
        send({"AUTH", address_.password}, nullptr);
      } else {
        send({"AUTH", address_.username, address_.password}, nullptr);
      }
    }
    if (address_.db != 0) {
      send({"SELECT", std::to_string(address_.db)}, nullptr);
    }
  } catch (...) {
    redisFree(context_);
    context_ = nullptr;
    throw;
  }
}

Reply RedisClient::send(const std::vector<std::string>& argv, bool* noscript) {
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (raw == nullptr) {
    const std::string why = context_->errstr;
    redisFree(context_);  // reopened by the next command
    context_ = nullptr;
    throw StorageFailure(fmt::format("Redis {}: {} failed: {}", address_.shown,
                                     argv.empty() ? std::string() : argv[0], why));
  }
  std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(raw, &freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    const std::string message(reply->str, reply->len);
    if (noscript != nullptr && message.rfind("NOSCRIPT", 0) == 0) {
      *noscript = true;
      return Reply{};
    }
    throw StorageFailure(fmt::format("Redis {}: {} refused: {}", address_.shown,
                                     argv.empty() ? std::string() : argv[0], message));
  }
  return convert(reply.get());
}

void RedisClient::fail(const std::string& what) {
  const std::string why = context_->errstr;
  redisFree(context_);  // reopened by the next command
  context_ = nullptr;
  throw StorageFailure(fmt::format("Redis {}: {} failed: {}", address_.shown, what, why));
}

std::vector<Reply> RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands,
                                         OnError on_error) {
  if (context_ == nullptr) {
    connect();
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  for (const auto& argv : commands) {
    args.clear();
    lengths.clear();
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), args.data(),
                               lengths.data()) != REDIS_OK) {
      fail("a pipelined command");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  std::string error;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      fail(commands[i].empty() ? std::string() : commands[i][0]);
    }
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(static_cast<redisReply*>(raw),
                                                                  &freeReplyObject);
    if (reply->type == REDIS_REPLY_ERROR) {
      if (error.empty()) {
        error = fmt::format("Redis {}: {} refused: {}", address_.shown, commands[i][0],
                            std::string(reply->str, reply->len));
      }
      Reply failed;
      failed.type = Reply::Type::kError;
      failed.text.assign(reply->str, reply->len);
      replies.push_back(std::move(failed));
      continue;
    }
    replies.push_back(convert(reply.get()));
  }
  if (!error.empty() && on_error == OnError::kThrow) {
    throw StorageFailure(error);
  }
  return replies;
}

Reply RedisClient::command(const std::vector<std::string>& argv) {
  if (context_ == nullptr) {
    connect();
  }
  return send(argv, nullptr);
}

Reply RedisClient::eval(Script& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args) {
  if (context_ == nullptr) {
    connect();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (script.sha.empty()) {
      script.sha = send({"SCRIPT", "LOAD", script.source}, nullptr).text;
    }
    std::vector<std::string> argv = {"EVALSHA", script.sha, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    bool noscript = false;
    Reply reply = send(argv, &noscript);
    if (!noscript) {
      return reply;
    }
    script.sha.clear();  // the server forgot it (restart, SCRIPT FLUSH): load it again
  }
  throw StorageFailure(fmt::format("Redis {}: a script would not load", address_.shown));
}

std::vector<Reply> RedisClient::eval_many(
    Script& script,
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>& calls) {
  if (calls.empty()) {
    return {};
  }
  if (context_ == nullptr) {
    connect();
  }
  if (script.sha.empty()) {
    script.sha = send({"SCRIPT", "LOAD", script.source}, nullptr).text;
  }
  std::vector<std::vector<std::string>> commands;
  commands.reserve(calls.size());
  for (const auto& [keys, args] : calls) {
    std::vector<std::string> argv = {"EVALSHA", script.sha, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    commands.push_back(std::move(argv));
  }
  std::vector<Reply> replies = pipeline(commands, OnError::kReturn);
  // A call refused NOSCRIPT did not run (the server forgot the script: a restart, SCRIPT
  // FLUSH): load the script again and run those calls again. Other errors throw.
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].type != Reply::Type::kError) {
      continue;
    }
    if (replies[i].text.rfind("NOSCRIPT", 0) != 0) {
      throw StorageFailure(
          fmt::format("Redis {}: EVALSHA refused: {}", address_.shown, replies[i].text));
    }
    script.sha.clear();
    replies[i] = eval(script, calls[i].first, calls[i].second);
  }
  return replies;
}

}  // namespace caboose::jobs::detail
