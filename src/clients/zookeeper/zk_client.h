// A ZooKeeper client: the C client's multi-threaded API (synchronous calls, plus batches of reads
// sent at once; watches and session events arrive on its completion thread) behind one RAII
// handle, with its codes mapped to caboose's errors once, here. Thread-safe. Shared by the
// ZooKeeper jobboard and the ZooKeeper persistence backend.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zookeeper/zookeeper.h>

#include "caboose/core/errors.h"

namespace caboose::clients {

// The connection dropped (or timed out) before the server answered: whether a write took effect
// is unknown until it is read back.
class ZkConnectionLoss : public StorageFailure {
 public:
  using StorageFailure::StorageFailure;
};

// An identity of ZooKeeper's digest scheme: sent with zoo_add_auth as "user:password".
struct ZkCredentials {
  std::string user;
  std::string password;
};

// Where a zookeeper:// URI points:
// zookeeper://[user:password@]host:port[,host:port...][/path][?options].
struct ZkAddress {
  std::string hosts;
  std::string path;
  std::chrono::milliseconds session_timeout{10000};
  // With credentials the client authenticates (digest) on every session, and the nodes it
  // creates are open to that identity only.
  std::optional<ZkCredentials> credentials = std::nullopt;
};

// Parses `uri`; `default_path` when it names none. Credentials are the userinfo before the last
// '@' (before the query), the user up to its first ':'. Options: session_timeout_ms. Throws
// InvalidArgument naming what is wrong, with the password shown as ***.
ZkAddress parse_zk_uri(std::string_view uri, std::string_view default_path);

struct ZkStat {
  std::int64_t czxid = 0;  // the zxid that created the node: grows with every create
  std::int64_t mzxid = 0;
  std::int64_t ctime_ms = 0;
  std::int64_t mtime_ms = 0;
  std::int32_t version = 0;
  std::int64_t ephemeral_owner = 0;  // session id, 0 for a persistent node
  std::int32_t num_children = 0;
};

struct ZkNode {
  std::string data;
  ZkStat stat;
};

enum class ZkMode { kPersistent, kEphemeral, kPersistentSequential, kEphemeralSequential };

// One operation of a multi (ZooKeeper's transaction: all or nothing).
struct ZkOp {
  enum class Kind { kCreate, kDelete, kSet, kCheck };
  Kind kind = Kind::kCheck;
  std::string path;
  std::string data;                   // kCreate, kSet
  ZkMode mode = ZkMode::kPersistent;  // kCreate
  int version = -1;                   // kDelete, kSet, kCheck; -1: any

  static ZkOp create(std::string path, std::string data, ZkMode mode = ZkMode::kPersistent);
  static ZkOp remove(std::string path, int version = -1);
  static ZkOp set(std::string path, std::string data, int version = -1);
  static ZkOp check(std::string path, int version);
};

struct ZkMultiResult {
  bool ok = true;
  // When not ok: the first operation that failed, and ZooKeeper's code for it (ZNONODE,
  // ZNODEEXISTS, ZBADVERSION, ...); nothing was applied.
  int failed_op = -1;
  int code = ZOK;
  std::vector<std::string> created;  // when ok: the paths created, in operation order
};

class ZkClient {
 public:
  // Connects to `hosts` ("127.0.0.1:2181,..."), waiting up to `connect_timeout` for a session.
  // With `credentials`, adds them (digest scheme) to the session and waits for the server's
  // answer; the C client sends them again on every reconnection of that session, and every node
  // this client creates gets ZOO_CREATOR_ALL_ACL (all rights to that identity only) instead of
  // ZOO_OPEN_ACL_UNSAFE. Throws StorageFailure naming the hosts (never the password) when none
  // answers or the server refuses the credentials.
  ZkClient(std::string hosts, std::chrono::milliseconds session_timeout,
           std::chrono::milliseconds connect_timeout,
           std::optional<ZkCredentials> credentials = std::nullopt);
  ~ZkClient();
  ZkClient(const ZkClient&) = delete;
  ZkClient& operator=(const ZkClient&) = delete;

  // Creates a node; returns its path (with the sequence number of a sequential one). Throws
  // Duplicate when it exists, NotFound when its parent does not.
  std::string create(const std::string& path, std::string_view data,
                     ZkMode mode = ZkMode::kPersistent);
  // Creates the node and its missing parents, empty and persistent (kazoo's ensure_path).
  void ensure_path(const std::string& path);
  std::optional<ZkNode> get(const std::string& path);
  std::optional<ZkStat> exists(const std::string& path);
  // Reads every path at once (one round trip for the batch, not one per node); nullopt for an
  // absent node.
  std::vector<std::optional<ZkNode>> get_many(const std::vector<std::string>& paths);
  // Lists the children of every path at once; nullopt for an absent node.
  std::vector<std::optional<std::vector<std::string>>> children_many(
      const std::vector<std::string>& paths);
  // The node's children, by name. With `watch`, the next change to them calls the child watcher
  // (set_child_watcher) once, on the completion thread. NotFound when the node is absent.
  std::vector<std::string> children(const std::string& path, bool watch = false);
  // Throws NotFound; InvalidState when `version` is not the node's.
  void set(const std::string& path, std::string_view data, int version = -1);
  void remove(const std::string& path, int version = -1);
  // Runs the operations as one transaction. Logical failures are in the result; connection
  // problems throw StorageFailure.
  ZkMultiResult multi(const std::vector<ZkOp>& ops);

  // Called (on the completion thread, no lock held) with the path whose children changed.
  void set_child_watcher(std::function<void(const std::string& path)> watcher);
  // Called (on the completion thread, no lock held) with each new session state
  // (ZOO_CONNECTED_STATE, ZOO_CONNECTING_STATE, ZOO_EXPIRED_SESSION_STATE, ...).
  void set_session_watcher(std::function<void(int state)> watcher);
  std::int64_t session_id() const;
  // Whether the session is connected now (not connecting again, not expired).
  bool connected() const;
  // Whether the session is over: expired by the server (its ephemeral nodes are gone) or closed
  // for failed authentication. Make a new client.
  bool expired() const;
  // Waits up to `timeout` for the session to be connected; false if it is not (or expired).
  bool wait_connected(std::chrono::milliseconds timeout) const;
  const std::string& hosts() const { return hosts_; }

 private:
  static void on_event(zhandle_t* zh, int type, int state, const char* path, void* context);
  [[noreturn]] void fail(int rc, std::string_view what, const std::string& path) const;
  void authenticate(const ZkCredentials& credentials, std::chrono::milliseconds timeout);
  // The ACL of the nodes this client creates.
  ACL_vector* acl() const;

  const std::string hosts_;
  const bool authenticated_;
  const std::string shown_;  // for messages: the hosts, after "user:***@" with credentials
  mutable std::mutex mu_;
  mutable std::condition_variable state_changed_;
  int state_ = 0;  // Guarded by mu_: ZooKeeper's session state (ZOO_CONNECTED_STATE, ...).
  std::optional<int> auth_rc_;  // Guarded by mu_: the server's answer to zoo_add_auth.
  std::function<void(const std::string&)> child_watcher_;  // Guarded by mu_.
  std::function<void(int)> session_watcher_;               // Guarded by mu_.
  zhandle_t* zh_ = nullptr;
};

// ZooKeeper's name of a code ("ZNONODE", ...), for messages.
std::string zk_error_name(int rc);

}  // namespace caboose::clients
