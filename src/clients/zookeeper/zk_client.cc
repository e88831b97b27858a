#include "clients/zookeeper/zk_client.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "core/uri.h"

namespace caboose::clients {
namespace {

int mode_flags(ZkMode mode) {
  switch (mode) {
    case ZkMode::kPersistent:
      return 0;
    case ZkMode::kEphemeral:
      return ZOO_EPHEMERAL;
    case ZkMode::kPersistentSequential:
      return ZOO_SEQUENCE;
    case ZkMode::kEphemeralSequential:
      return ZOO_EPHEMERAL | ZOO_SEQUENCE;
  }
  return 0;
}

ZkStat convert(const Stat& s) {
  return ZkStat{s.czxid, s.mzxid, s.ctime, s.mtime, s.version, s.ephemeralOwner, s.numChildren};
}

// ZooKeeper's own path limit is far above this; a created path never gets longer than the
// asked one plus a 10-digit sequence.
constexpr int kPathRoom = 64;

// The C client logs to stderr at INFO by default, and formats its lines into a static buffer
// from several threads (a data race ThreadSanitizer reports while it reconnects). Its logging
// is turned off (level 0): what goes wrong reaches the caller as an exception.
void quiet_client_log() {
  static const bool done = [] {
    zoo_set_debug_level(static_cast<ZooLogLevel>(0));
    return true;
  }();
  (void)done;
}

// A batch of asynchronous calls, waited for together. The completions run on the client's
// completion thread and take only the batch's own mutex.
template <typename Result>
class Batch {
 public:
  explicit Batch(std::size_t size) : results_(size), codes_(size, ZOK), pending_(size) {
    slots_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      slots_.push_back(Slot{this, i});
    }
  }

  struct Slot {
    Batch* batch;
    std::size_t index;
  };

  const void* slot(std::size_t i) const { return &slots_[i]; }

  // Records call i's outcome (from a completion, or at once when the call was not sent).
  static void complete(const void* slot, int rc, std::optional<Result> result) {
    const auto* s = static_cast<const Slot*>(slot);
    Batch& b = *s->batch;
    std::lock_guard lock(b.mu_);
    b.codes_[s->index] = rc;
    b.results_[s->index] = std::move(result);
    // Notified under the lock: once the waiter sees pending_ at 0 it returns and destroys the
    // batch, which must not happen while this thread still uses the condition variable.
    if (--b.pending_ == 0) {
      b.done_.notify_all();
    }
  }

  void wait() {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
  }

  std::vector<std::optional<Result>>& results() { return results_; }
  const std::vector<int>& codes() const { return codes_; }

 private:
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<std::optional<Result>> results_;  // Guarded by mu_ until wait() returns.
  std::vector<int> codes_;                      // Guarded by mu_ until wait() returns.
  std::size_t pending_;                         // Guarded by mu_.
};

}  // namespace

ZkAddress parse_zk_uri(std::string_view uri, std::string_view default_path) {
  const std::string shown = detail::redact_uri(uri);  // for messages
  const std::optional<detail::ServerUri> parts = detail::split_server_uri(uri, "zookeeper://");
  if (!parts) {
    throw InvalidArgument(fmt::format("'{}' is not a zookeeper:// URI", shown));
  }
  ZkAddress a;
  if (parts->user) {
    if (parts->user->empty() || !parts->password) {
      throw InvalidArgument(fmt::format(
          "ZooKeeper URI '{}': credentials must be user:password (digest scheme)", shown));
    }
    a.credentials = ZkCredentials{std::string(*parts->user), std::string(*parts->password)};
  }
  a.hosts = std::string(parts->authority);
  if (a.hosts.empty()) {
    throw InvalidArgument(fmt::format("ZooKeeper URI '{}' names no host", shown));
  }
  a.path = std::string(default_path);
  if (parts->path.size() > 1) {
    a.path = std::string(parts->path);
    while (a.path.size() > 1 && a.path.back() == '/') {
      a.path.pop_back();
    }
    if (a.path.find("//") != std::string::npos) {
      throw InvalidArgument(fmt::format("ZooKeeper URI '{}': path has an empty component", shown));
    }
  }
  for (const detail::QueryItem& item : detail::query_items(parts->query)) {
    if (item.key != "session_timeout_ms") {
      throw InvalidArgument(fmt::format(
          "ZooKeeper URI '{}': unknown option '{}' (known: session_timeout_ms)", shown, item.key));
    }
    std::int64_t n = 0;
    const auto [end, ec] =
        std::from_chars(item.value.data(), item.value.data() + item.value.size(), n);
    if (ec != std::errc() || end != item.value.data() + item.value.size() || n <= 0) {
      throw InvalidArgument(
          fmt::format("ZooKeeper URI '{}': session_timeout_ms must be a positive integer", shown));
    }
    a.session_timeout = std::chrono::milliseconds(n);
  }
  return a;
}

ZkOp ZkOp::create(std::string path, std::string data, ZkMode mode) {
  return ZkOp{Kind::kCreate, std::move(path), std::move(data), mode, -1};
}
ZkOp ZkOp::remove(std::string path, int version) {
  return ZkOp{Kind::kDelete, std::move(path), {}, ZkMode::kPersistent, version};
}
ZkOp ZkOp::set(std::string path, std::string data, int version) {
  return ZkOp{Kind::kSet, std::move(path), std::move(data), ZkMode::kPersistent, version};
}
ZkOp ZkOp::check(std::string path, int version) {
  return ZkOp{Kind::kCheck, std::move(path), {}, ZkMode::kPersistent, version};
}

std::string zk_error_name(int rc) {
  switch (rc) {
    case ZOK:
      return "ZOK";
    case ZCONNECTIONLOSS:
      return "ZCONNECTIONLOSS";
    case ZOPERATIONTIMEOUT:
      return "ZOPERATIONTIMEOUT";
    case ZNONODE:
      return "ZNONODE";
    case ZBADVERSION:
      return "ZBADVERSION";
    case ZNODEEXISTS:
      return "ZNODEEXISTS";
    case ZNOTEMPTY:
      return "ZNOTEMPTY";
    case ZSESSIONEXPIRED:
      return "ZSESSIONEXPIRED";
    case ZNOAUTH:
      return "ZNOAUTH";
    case ZAUTHFAILED:
      return "ZAUTHFAILED";
    case ZINVALIDACL:
      return "ZINVALIDACL";
    default:
      return fmt::format("{} ({})", zerror(rc), rc);
  }
}

ZkClient::ZkClient(std::string hosts, std::chrono::milliseconds session_timeout,
                   std::chrono::milliseconds connect_timeout,
                   std::optional<ZkCredentials> credentials)
    : hosts_(std::move(hosts)),
      authenticated_(credentials.has_value()),
      shown_(credentials ? fmt::format("{}:***@{}", credentials->user, hosts_) : hosts_) {
  quiet_client_log();
  zh_ = zookeeper_init(hosts_.c_str(), &ZkClient::on_event,
                       static_cast<int>(session_timeout.count()), nullptr, this, 0);
  if (zh_ == nullptr) {
    throw StorageFailure(
        fmt::format("cannot create a ZooKeeper client for {}: {}", shown_, std::strerror(errno)));
  }
  std::unique_lock lock(mu_);
  if (!state_changed_.wait_for(lock, connect_timeout,
                               [&] { return state_ == ZOO_CONNECTED_STATE; })) {
    lock.unlock();
    zookeeper_close(zh_);
    zh_ = nullptr;
    throw StorageFailure(fmt::format("cannot connect to ZooKeeper {} within {} ms", shown_,
                                     connect_timeout.count()));
  }
  lock.unlock();
  if (credentials) {
    authenticate(*credentials, connect_timeout);
  }
}

void ZkClient::authenticate(const ZkCredentials& credentials, std::chrono::milliseconds timeout) {
  const std::string cert = credentials.user + ":" + credentials.password;
  const void_completion_t done = [](int rc, const void* data) {
    auto* self = static_cast<ZkClient*>(const_cast<void*>(data));
    {
      std::lock_guard lock(self->mu_);
      self->auth_rc_ = rc;
    }
    self->state_changed_.notify_all();
  };
  int rc = zoo_add_auth(zh_, "digest", cert.data(), static_cast<int>(cert.size()), done, this);
  if (rc == ZOK) {
    std::unique_lock lock(mu_);
    // A refusal also ends the session (ZOO_AUTH_FAILED_STATE), reported by its completion.
    rc = state_changed_.wait_for(lock, timeout, [&] { return auth_rc_.has_value(); })
             ? *auth_rc_
             : ZOPERATIONTIMEOUT;
  }
  if (rc != ZOK) {
    zookeeper_close(zh_);  // completes a pending zoo_add_auth (ZCLOSING) while we still exist
    zh_ = nullptr;
    throw StorageFailure(fmt::format("ZooKeeper {}: digest authentication as '{}' failed: {}",
                                     shown_, credentials.user, zk_error_name(rc)));
  }
}

ACL_vector* ZkClient::acl() const {
  return authenticated_ ? &ZOO_CREATOR_ALL_ACL : &ZOO_OPEN_ACL_UNSAFE;
}

ZkClient::~ZkClient() {
  if (zh_ != nullptr) {
    zookeeper_close(zh_);  // joins the client's threads: never called from a callback
  }
}

void ZkClient::on_event(zhandle_t* /*zh*/, int type, int state, const char* path, void* context) {
  auto* self = static_cast<ZkClient*>(context);
  if (type == ZOO_SESSION_EVENT) {
    std::function<void(int)> watcher;
    {
      std::lock_guard lock(self->mu_);
      self->state_ = state;
      watcher = self->session_watcher_;
    }
    self->state_changed_.notify_all();
    if (watcher) {
      try {
        watcher(state);
      } catch (...) {
        // as for child watchers: nothing to report to on this thread
      }
    }
    return;
  }
  if (type == ZOO_CHILD_EVENT || type == ZOO_DELETED_EVENT) {
    std::function<void(const std::string&)> watcher;
    {
      std::lock_guard lock(self->mu_);
      watcher = self->child_watcher_;
    }
    if (watcher) {
      try {
        watcher(path != nullptr ? path : "");
      } catch (...) {
        // a watcher must not throw into the C client's thread; it has nothing to report to
      }
    }
  }
}

void ZkClient::fail(int rc, std::string_view what, const std::string& path) const {
  std::string message =
      fmt::format("ZooKeeper {}: {} {} failed: {}", shown_, what, path, zk_error_name(rc));
  if (rc == ZNOAUTH) {
    message += authenticated_ ? " (not allowed: a wrong password, or the node's ACL names "
                                "another identity)"
                              : " (the node's ACL requires credentials: "
                                "zookeeper://user:password@host/path)";
  }
  switch (rc) {
    case ZNONODE:
      throw NotFound(message);
    case ZNODEEXISTS:
      throw Duplicate(message);
    case ZBADVERSION:
    case ZNOTEMPTY:
      throw InvalidState(message);
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
      throw ZkConnectionLoss(message);
    default:
      throw StorageFailure(message);
  }
}

std::string ZkClient::create(const std::string& path, std::string_view data, ZkMode mode) {
  std::string created(path.size() + kPathRoom, '\0');
  const int rc = zoo_create(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), acl(),
                            mode_flags(mode), created.data(), static_cast<int>(created.size()));
  if (rc != ZOK) {
    fail(rc, "create", path);
  }
  created.resize(std::strlen(created.c_str()));
  return created;
}

void ZkClient::ensure_path(const std::string& path) {
  if (exists(path)) {
    return;
  }
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    try {
      create(prefix, "");
    } catch (const Duplicate&) {
      // made by someone else meanwhile, or already there
    }
    if (slash == std::string::npos) {
      return;
    }
  }
}

std::optional<ZkNode> ZkClient::get(const std::string& path) {
  std::string buffer(4096, '\0');
  for (;;) {
    int length = static_cast<int>(buffer.size());
    Stat stat{};
    const int rc = zoo_get(zh_, path.c_str(), 0, buffer.data(), &length, &stat);
    if (rc == ZNONODE) {
      return std::nullopt;
    }
    if (rc != ZOK) {
      fail(rc, "get", path);
    }
    if (stat.dataLength > static_cast<int>(buffer.size())) {
      buffer.resize(static_cast<std::size_t>(stat.dataLength));  // it grew: read it again
      continue;
    }
    buffer.resize(length < 0 ? 0 : static_cast<std::size_t>(length));
    return ZkNode{std::move(buffer), convert(stat)};
  }
}

std::optional<ZkStat> ZkClient::exists(const std::string& path) {
  Stat stat{};
  const int rc = zoo_exists(zh_, path.c_str(), 0, &stat);
  if (rc == ZNONODE) {
    return std::nullopt;
  }
  if (rc != ZOK) {
    fail(rc, "exists", path);
  }
  return convert(stat);
}

std::vector<std::optional<ZkNode>> ZkClient::get_many(const std::vector<std::string>& paths) {
  using NodeBatch = Batch<ZkNode>;
  NodeBatch batch(paths.size());
  const data_completion_t done = [](int rc, const char* value, int length, const Stat* stat,
                                    const void* slot) {
    std::optional<ZkNode> node;
    if (rc == ZOK && stat != nullptr) {
      node = ZkNode{value != nullptr && length > 0
                        ? std::string(value, static_cast<std::size_t>(length))
                        : std::string(),
                    convert(*stat)};
    }
    NodeBatch::complete(slot, rc, std::move(node));
  };
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const int rc = zoo_aget(zh_, paths[i].c_str(), 0, done, batch.slot(i));
    if (rc != ZOK) {
      NodeBatch::complete(batch.slot(i), rc, std::nullopt);  // not sent: no completion comes
    }
  }
  batch.wait();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (batch.codes()[i] != ZOK && batch.codes()[i] != ZNONODE) {
      fail(batch.codes()[i], "get", paths[i]);
    }
  }
  return std::move(batch.results());
}

std::vector<std::optional<std::vector<std::string>>> ZkClient::children_many(
    const std::vector<std::string>& paths) {
  using NamesBatch = Batch<std::vector<std::string>>;
  NamesBatch batch(paths.size());
  const strings_completion_t done = [](int rc, const String_vector* names, const void* slot) {
    std::optional<std::vector<std::string>> out;
    if (rc == ZOK && names != nullptr) {
      out.emplace();
      out->reserve(static_cast<std::size_t>(names->count));
      for (int i = 0; i < names->count; ++i) {
        out->emplace_back(names->data[i]);
      }
    }
    NamesBatch::complete(slot, rc, std::move(out));
  };
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const int rc = zoo_aget_children(zh_, paths[i].c_str(), 0, done, batch.slot(i));
    if (rc != ZOK) {
      NamesBatch::complete(batch.slot(i), rc, std::nullopt);
    }
  }
  batch.wait();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (batch.codes()[i] != ZOK && batch.codes()[i] != ZNONODE) {
      fail(batch.codes()[i], "list children of", paths[i]);
    }
  }
  return std::move(batch.results());
}

std::vector<std::string> ZkClient::children(const std::string& path, bool watch) {
  String_vector names{};
  const int rc = watch ? zoo_wget_children(zh_, path.c_str(), &ZkClient::on_event, this, &names)
                       : zoo_get_children(zh_, path.c_str(), 0, &names);
  if (rc != ZOK) {
    fail(rc, "list children of", path);
  }
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(names.count));
  for (int i = 0; i < names.count; ++i) {
    out.emplace_back(names.data[i]);
  }
  deallocate_String_vector(&names);
  return out;
}

void ZkClient::set(const std::string& path, std::string_view data, int version) {
  const int rc = zoo_set(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), version);
  if (rc != ZOK) {
    fail(rc, "set", path);
  }
}

void ZkClient::remove(const std::string& path, int version) {
  const int rc = zoo_delete(zh_, path.c_str(), version);
  if (rc != ZOK) {
    fail(rc, "delete", path);
  }
}

ZkMultiResult ZkClient::multi(const std::vector<ZkOp>& ops) {
  ZkMultiResult out;
  if (ops.empty()) {
    return out;
  }
  std::vector<zoo_op_t> c_ops(ops.size());
  std::vector<zoo_op_result_t> results(ops.size());
  std::vector<std::string> created(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const ZkOp& op = ops[i];
    switch (op.kind) {
      case ZkOp::Kind::kCreate:
        created[i].assign(op.path.size() + kPathRoom, '\0');
        zoo_create_op_init(&c_ops[i], op.path.c_str(), op.data.data(),
                           static_cast<int>(op.data.size()), acl(), mode_flags(op.mode),
                           created[i].data(), static_cast<int>(created[i].size()));
        break;
      case ZkOp::Kind::kDelete:
        zoo_delete_op_init(&c_ops[i], op.path.c_str(), op.version);
        break;
      case ZkOp::Kind::kSet:
        zoo_set_op_init(&c_ops[i], op.path.c_str(), op.data.data(),
                        static_cast<int>(op.data.size()), op.version, nullptr);
        break;
      case ZkOp::Kind::kCheck:
        zoo_check_op_init(&c_ops[i], op.path.c_str(), op.version);
        break;
    }
  }
  const int rc = zoo_multi(zh_, static_cast<int>(c_ops.size()), c_ops.data(), results.data());
  if (rc == ZOK) {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind == ZkOp::Kind::kCreate) {
        created[i].resize(std::strlen(created[i].c_str()));
        out.created.push_back(std::move(created[i]));
      }
    }
    return out;
  }
  // A refused transaction reports the failing operation's code; the others are
  // ZRUNTIMEINCONSISTENCY (rolled back). Anything else is the connection's problem.
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].err != ZOK && results[i].err != ZRUNTIMEINCONSISTENCY) {
      out.ok = false;
      out.failed_op = static_cast<int>(i);
      out.code = results[i].err;
      return out;
    }
  }
  fail(rc, "multi on", ops.front().path);
}

void ZkClient::set_child_watcher(std::function<void(const std::string& path)> watcher) {
  std::lock_guard lock(mu_);
  child_watcher_ = std::move(watcher);
}

void ZkClient::set_session_watcher(std::function<void(int state)> watcher) {
  std::lock_guard lock(mu_);
  session_watcher_ = std::move(watcher);
}

std::int64_t ZkClient::session_id() const {
  const clientid_t* id = zoo_client_id(zh_);
  return id != nullptr ? id->client_id : 0;
}

bool ZkClient::connected() const {
  std::lock_guard lock(mu_);
  return state_ == ZOO_CONNECTED_STATE;
}

bool ZkClient::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return state_changed_.wait_for(lock, timeout, [&] {
    return state_ == ZOO_CONNECTED_STATE || state_ == ZOO_EXPIRED_SESSION_STATE ||
           state_ == ZOO_AUTH_FAILED_STATE;
  }) && state_ == ZOO_CONNECTED_STATE;
}

bool ZkClient::expired() const {
  std::lock_guard lock(mu_);
  return state_ == ZOO_EXPIRED_SESSION_STATE || state_ == ZOO_AUTH_FAILED_STATE;
}

}  // namespace caboose::clients
