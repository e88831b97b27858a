// An etcd v3 client over etcd's JSON gateway (HTTP POST of JSON to /v3/...), with libcurl
// (loaded on first use, jobs/etcd/libcurl.h). One connection, kept alive between calls and
// guarded by a mutex; the endpoints are tried in turn when one cannot be reached. The gateway's
// JSON (base64 keys and values, int64 as strings, zero and false fields left out) and its errors
// are translated once, here. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/value.h"

namespace caboose::jobs::detail {

struct EtcdKv {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct EtcdRangeResult {
  std::vector<EtcdKv> kvs;
  std::int64_t count = 0;  // keys in the range (more than kvs.size() with a limit)
  bool more = false;
  std::int64_t revision = 0;  // the store's revision the range was read at
};

// The end of the range holding every key that starts with `prefix` (etcd's "prefix" range_end).
std::string prefix_end(std::string_view prefix);

struct EtcdTxn;

// One read, write or nested transaction inside a transaction.
struct EtcdOp {
  enum class Kind { kRange, kPut, kDelete, kTxn };
  Kind kind = Kind::kRange;
  std::string key;
  std::string range_end;   // kRange, kDelete: empty for the key alone
  std::string value;       // kPut
  std::int64_t lease = 0;  // kPut: 0 for none
  std::int64_t limit = 0;  // kRange: 0 for no limit
  bool keys_only = false;
  bool count_only = false;
  bool sort_by_key = false;  // kRange: ascending by key
  std::vector<EtcdTxn> txn;  // kTxn: exactly one

  static EtcdOp get(std::string key);
  static EtcdOp get_prefix(std::string prefix);
  static EtcdOp put(std::string key, std::string value, std::int64_t lease = 0);
  static EtcdOp remove(std::string key);
  static EtcdOp remove_prefix(std::string prefix);
  static EtcdOp nested(EtcdTxn txn);
};

// A condition of a transaction: the key's version, create or mod revision, or value, compared
// with the given one. An absent key has version and revisions 0.
struct EtcdCompare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kModRevision;
  Result result = Result::kEqual;
  std::int64_t number = 0;  // kVersion, kCreateRevision, kModRevision
  std::string value;        // kValue

  static EtcdCompare mod_revision(std::string key, std::int64_t revision);
  static EtcdCompare create_revision(std::string key, std::int64_t revision);
  static EtcdCompare version(std::string key, std::int64_t version);
  static EtcdCompare value_is(std::string key, std::string value);
};

struct EtcdTxn {
  std::vector<EtcdCompare> compare;
  std::vector<EtcdOp> success;
  std::vector<EtcdOp> failure;
};

struct EtcdTxnResult;

// What one operation of a transaction returned.
struct EtcdOpResult {
  EtcdOp::Kind kind = EtcdOp::Kind::kRange;
  EtcdRangeResult range;           // kRange
  std::int64_t deleted = 0;        // kDelete
  std::vector<EtcdTxnResult> txn;  // kTxn: exactly one
};

struct EtcdTxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;  // the store's revision after the transaction (its writes' revision)
  std::vector<EtcdOpResult> responses;  // of the branch that ran, in order
};

struct EtcdLease {
  std::int64_t id = 0;
  std::chrono::seconds ttl{0};  // as granted (etcd raises a TTL below its minimum)
};

// A user of etcd's authentication (etcd://user:password@host/path).
struct EtcdCredentials {
  std::string user;
  std::string password;
};

struct EtcdEndpoints {
  std::vector<std::string> hosts;  // "host:port"
  std::chrono::milliseconds timeout{5000};
  // With credentials, the client authenticates (/v3/auth/authenticate) and sends the token it
  // gets with every request.
  std::optional<EtcdCredentials> credentials = std::nullopt;

  // "host:port,host:port", for messages.
  std::string names() const;
};

class EtcdClient {
 public:
  // Connects lazily: the first call opens the connection (and authenticates, with credentials).
  // Throws StorageFailure when libcurl cannot be loaded.
  explicit EtcdClient(EtcdEndpoints endpoints);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  EtcdRangeResult range(const EtcdOp& request);
  // Returns the revision of the write.
  std::int64_t put(const std::string& key, std::string_view value, std::int64_t lease = 0);
  // Returns how many keys were deleted.
  std::int64_t remove(const std::string& key, const std::string& range_end = {});
  EtcdTxnResult txn(const EtcdTxn& txn);

  EtcdLease lease_grant(std::chrono::seconds ttl);
  // Refreshes the lease; its new TTL, or nullopt when the lease is gone (expired or revoked).
  std::optional<std::chrono::seconds> lease_keepalive(std::int64_t id);
  // Revokes the lease, deleting the keys attached to it. NotFound when it is gone.
  void lease_revoke(std::int64_t id);

  // The current revision of the store, read with a range on `key` (any key the user may read).
  std::int64_t revision(const std::string& key = std::string(1, '\0'));
  const EtcdEndpoints& endpoints() const { return endpoints_; }

  // The token to send as the Authorization header ("" without credentials), authenticating when
  // there is none yet or when `refused` is the current one (etcd said it is invalid: expired,
  // or dropped because the user's password changed). For the watch, which keeps its own
  // connection.
  std::string token(const std::string& refused = {});

  // POSTs `body` to `path` (/v3/...) and returns the JSON reply. With credentials, a request
  // refused for an invalid token (expired, or dropped by a password change) is sent once more after
  // authenticating again; etcd checks the token before it applies anything. Throws
  // StorageFailure naming the endpoint when no endpoint answers or the reply is lost, or when
  // authentication fails or a permission is missing (never with the password), and etcd's other
  // errors mapped to caboose's (NotFound, InvalidArgument for a request etcd refuses, ...).
  Value call(std::string_view path, const Value& body);

 private:
  struct Handle;
  struct Reply {
    std::string host;
    long status = 0;
    Value body;
  };

  // One POST to the first endpoint that answers, with `token` (if any). Throws StorageFailure
  // when none answers or the reply is lost or not JSON. Called with mu_ held.
  Reply post(std::string_view path, const std::string& payload, const std::string& token);
  // Authenticates with the credentials; the new token in token_. Called with mu_ held.
  void authenticate();

  const EtcdEndpoints endpoints_;
  std::mutex mu_;
  std::unique_ptr<Handle> handle_;  // Guarded by mu_.
  std::size_t current_ = 0;         // Guarded by mu_: the endpoint that answered last.
  std::string token_;               // Guarded by mu_: "" until authenticated.
};

// Parsing of the gateway's JSON, shared with the watch.
std::int64_t etcd_int(const Value& object, std::string_view field);
EtcdKv etcd_kv(const Value& kv);

}  // namespace caboose::jobs::detail
