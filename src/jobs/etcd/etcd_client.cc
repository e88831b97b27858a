#include "jobs/etcd/etcd_client.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "jobs/etcd/base64.h"
#include "jobs/etcd/libcurl.h"

namespace caboose::jobs::detail {
namespace {

std::string_view target_name(EtcdCompare::Target target) {
  switch (target) {
    case EtcdCompare::Target::kVersion:
      return "VERSION";
    case EtcdCompare::Target::kCreateRevision:
      return "CREATE";
    case EtcdCompare::Target::kModRevision:
      return "MOD";
    case EtcdCompare::Target::kValue:
      return "VALUE";
  }
  return "MOD";
}

std::string_view result_name(EtcdCompare::Result result) {
  switch (result) {
    case EtcdCompare::Result::kEqual:
      return "EQUAL";
    case EtcdCompare::Result::kNotEqual:
      return "NOT_EQUAL";
    case EtcdCompare::Result::kGreater:
      return "GREATER";
    case EtcdCompare::Result::kLess:
      return "LESS";
  }
  return "EQUAL";
}

Value range_request(const EtcdOp& op) {
  Value r{{"key", base64_encode(op.key)}};
  if (!op.range_end.empty()) {
    r["range_end"] = base64_encode(op.range_end);
  }
  if (op.limit > 0) {
    r["limit"] = std::to_string(op.limit);
  }
  if (op.keys_only) {
    r["keys_only"] = true;
  }
  if (op.count_only) {
    r["count_only"] = true;
  }
  if (op.sort_by_key) {
    r["sort_order"] = "ASCEND";
    r["sort_target"] = "KEY";
  }
  return r;
}

Value put_request(const EtcdOp& op) {
  Value r{{"key", base64_encode(op.key)}, {"value", base64_encode(op.value)}};
  if (op.lease != 0) {
    r["lease"] = std::to_string(op.lease);
  }
  return r;
}

Value delete_request(const EtcdOp& op) {
  Value r{{"key", base64_encode(op.key)}};
  if (!op.range_end.empty()) {
    r["range_end"] = base64_encode(op.range_end);
  }
  return r;
}

Value txn_request(const EtcdTxn& txn);

Value ops_request(const std::vector<EtcdOp>& ops) {
  Value out = Value::array();
  for (const EtcdOp& op : ops) {
    switch (op.kind) {
      case EtcdOp::Kind::kRange:
        out.push_back({{"request_range", range_request(op)}});
        break;
      case EtcdOp::Kind::kPut:
        out.push_back({{"request_put", put_request(op)}});
        break;
      case EtcdOp::Kind::kDelete:
        out.push_back({{"request_delete_range", delete_request(op)}});
        break;
      case EtcdOp::Kind::kTxn:
        out.push_back({{"request_txn", txn_request(op.txn.at(0))}});
        break;
    }
  }
  return out;
}

Value txn_request(const EtcdTxn& txn) {
  Value compare = Value::array();
  for (const EtcdCompare& c : txn.compare) {
    Value v{{"key", base64_encode(c.key)},
            {"target", target_name(c.target)},
            {"result", result_name(c.result)}};
    switch (c.target) {
      case EtcdCompare::Target::kVersion:
        v["version"] = std::to_string(c.number);
        break;
      case EtcdCompare::Target::kCreateRevision:
        v["create_revision"] = std::to_string(c.number);
        break;
      case EtcdCompare::Target::kModRevision:
        v["mod_revision"] = std::to_string(c.number);
        break;
      case EtcdCompare::Target::kValue:
        v["value"] = base64_encode(c.value);
        break;
    }
    compare.push_back(std::move(v));
  }
  return Value{{"compare", std::move(compare)},
               {"success", ops_request(txn.success)},
               {"failure", ops_request(txn.failure)}};
}

EtcdRangeResult range_result(const Value& r) {
  EtcdRangeResult out;
  if (r.contains("kvs") && r["kvs"].is_array()) {
    for (const Value& kv : r["kvs"]) {
      out.kvs.push_back(etcd_kv(kv));
    }
  }
  out.count = etcd_int(r, "count");
  out.more = r.value("more", false);
  if (r.contains("header")) {
    out.revision = etcd_int(r["header"], "revision");
  }
  return out;
}

EtcdTxnResult txn_result(const Value& r, std::int64_t revision) {
  EtcdTxnResult out;
  out.succeeded = r.value("succeeded", false);
  out.revision = revision;
  if (!r.contains("responses") || !r["responses"].is_array()) {
    return out;
  }
  for (const Value& item : r["responses"]) {
    EtcdOpResult op;
    if (item.contains("response_range")) {
      op.kind = EtcdOp::Kind::kRange;
      op.range = range_result(item["response_range"]);
      op.range.revision = revision;
    } else if (item.contains("response_put")) {
      op.kind = EtcdOp::Kind::kPut;
    } else if (item.contains("response_delete_range")) {
      op.kind = EtcdOp::Kind::kDelete;
      op.deleted = etcd_int(item["response_delete_range"], "deleted");
    } else if (item.contains("response_txn")) {
      op.kind = EtcdOp::Kind::kTxn;
      op.txn.push_back(txn_result(item["response_txn"], revision));
    }
    out.responses.push_back(std::move(op));
  }
  return out;
}

std::int64_t header_revision(const Value& reply) {
  return reply.contains("header") ? etcd_int(reply["header"], "revision") : 0;
}

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// gRPC status codes the gateway reports in "code".
constexpr std::int64_t kInvalidArgument = 3;
constexpr std::int64_t kNotFound = 5;
constexpr std::int64_t kAlreadyExists = 6;
constexpr std::int64_t kPermissionDenied = 7;
constexpr std::int64_t kFailedPrecondition = 9;
constexpr std::int64_t kUnauthenticated = 16;

}  // namespace

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "from the key on"
}

EtcdOp EtcdOp::get(std::string key) {
  EtcdOp op;
  op.key = std::move(key);
  return op;
}
EtcdOp EtcdOp::get_prefix(std::string prefix) {
  EtcdOp op;
  op.range_end = prefix_end(prefix);
  op.key = std::move(prefix);
  return op;
}
EtcdOp EtcdOp::put(std::string key, std::string value, std::int64_t lease) {
  EtcdOp op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}
EtcdOp EtcdOp::remove(std::string key) {
  EtcdOp op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  return op;
}
EtcdOp EtcdOp::remove_prefix(std::string prefix) {
  EtcdOp op = remove(std::move(prefix));
  op.range_end = prefix_end(op.key);
  return op;
}
EtcdOp EtcdOp::nested(EtcdTxn txn) {
  EtcdOp op;
  op.kind = Kind::kTxn;
  op.txn.push_back(std::move(txn));
  return op;
}

EtcdCompare EtcdCompare::mod_revision(std::string key, std::int64_t revision) {
  return EtcdCompare{std::move(key), Target::kModRevision, Result::kEqual, revision, {}};
}
EtcdCompare EtcdCompare::create_revision(std::string key, std::int64_t revision) {
  return EtcdCompare{std::move(key), Target::kCreateRevision, Result::kEqual, revision, {}};
}
EtcdCompare EtcdCompare::version(std::string key, std::int64_t version) {
  return EtcdCompare{std::move(key), Target::kVersion, Result::kEqual, version, {}};
}
EtcdCompare EtcdCompare::value_is(std::string key, std::string value) {
  return EtcdCompare{std::move(key), Target::kValue, Result::kEqual, 0, std::move(value)};
}

std::string EtcdEndpoints::names() const {
  return fmt::format("{}", fmt::join(hosts, ","));
}

std::int64_t etcd_int(const Value& object, std::string_view field) {
  const std::string key(field);
  if (!object.is_object() || !object.contains(key)) {
    return 0;  // the gateway leaves zero fields out
  }
  const Value& v = object[key];
  if (v.is_number_integer()) {
    return v.get<std::int64_t>();
  }
  if (v.is_string()) {
    const std::string& text = v.get_ref<const std::string&>();
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end == text.data() + text.size()) {
      return n;
    }
  }
  throw InvalidFormat(fmt::format("etcd reply field '{}' is not an integer: {}", field, v.dump()));
}

EtcdKv etcd_kv(const Value& kv) {
  EtcdKv out;
  out.key = base64_decode(kv.value("key", std::string()));
  out.value = base64_decode(kv.value("value", std::string()));
  out.create_revision = etcd_int(kv, "create_revision");
  out.mod_revision = etcd_int(kv, "mod_revision");
  out.version = etcd_int(kv, "version");
  out.lease = etcd_int(kv, "lease");
  return out;
}

// One easy handle: its connection is kept alive between calls.
struct EtcdClient::Handle {
  Handle() : easy(curl().easy_init()) {
    if (easy == nullptr) {
      throw StorageFailure("curl_easy_init failed");
    }
    set_token({});
  }
  ~Handle() {
    curl().slist_free_all(headers);
    curl().easy_cleanup(easy);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  // The headers for requests carrying `new_token` ("" for none).
  void set_token(const std::string& new_token) {
    if (headers != nullptr && new_token == token) {
      return;
    }
    curl().slist_free_all(headers);
    headers = curl().slist_append(nullptr, "Content-Type: application/json");
    headers = curl().slist_append(headers, "Expect:");  // no 100-continue round trip
    if (!new_token.empty()) {
      headers = curl().slist_append(headers, ("Authorization: " + new_token).c_str());
    }
    token = new_token;
  }

  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string token;  // the one in headers
};

EtcdClient::EtcdClient(EtcdEndpoints endpoints) : endpoints_(std::move(endpoints)) {
  (void)curl();  // fail early when libcurl is missing
}

EtcdClient::~EtcdClient() = default;

EtcdClient::Reply EtcdClient::post(std::string_view path, const std::string& payload,
                                   const std::string& token) {
  const LibCurl& c = curl();
  if (!handle_) {
    handle_ = std::make_unique<Handle>();
  }
  handle_->set_token(token);
  CURL* easy = handle_->easy;
  std::string failures;
  const std::size_t n = endpoints_.hosts.size();
  for (std::size_t tried = 0; tried < n; ++tried) {
    const std::size_t index = (current_ + tried) % n;
    const std::string& host = endpoints_.hosts[index];
    const std::string url = fmt::format("http://{}{}", host, path);
    std::string reply;
    const long timeout_ms = static_cast<long>(endpoints_.timeout.count());
    c.easy_setopt(easy, CURLOPT_URL, url.c_str());
    c.easy_setopt(easy, CURLOPT_HTTPHEADER, handle_->headers);
    c.easy_setopt(easy, CURLOPT_POSTFIELDS, payload.c_str());
    c.easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    c.easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append_body);
    c.easy_setopt(easy, CURLOPT_WRITEDATA, &reply);
    c.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    c.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    const CURLcode rc = c.easy_perform(easy);
    if (rc != CURLE_OK) {
      long sent = 0;
      c.easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
      const std::string why = fmt::format("{}: {}", host, c.easy_strerror(rc));
      if (sent > 0 && rc != CURLE_COULDNT_CONNECT) {
        // The request went out: it may have been applied. The caller decides (reads back).
        throw StorageFailure(fmt::format("etcd {}{}: no reply ({})", host, path, why));
      }
      failures += (failures.empty() ? "" : "; ") + why;
      continue;
    }
    current_ = index;
    long status = 0;
    c.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    Value v = Value::parse(reply, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded() || !v.is_object()) {
      throw StorageFailure(fmt::format("etcd {}{}: HTTP {} with a reply that is not JSON: {}", host,
                                       path, status, reply.substr(0, 200)));
    }
    return Reply{host, status, std::move(v)};
  }
  throw StorageFailure(fmt::format("cannot reach etcd {}: {}", endpoints_.names(), failures));
}

namespace {

bool is_error(long status, const Value& body) {
  return status != 200 || body.contains("error");
}

std::string error_text(const Value& body) {
  return body.value("message", body.value("error", std::string("?")));
}

// etcd refused the token: expired, dropped (its user's password changed), or issued before a
// change to the users and roles (the request was not applied: send it again with a new token).
bool token_refused(long status, const Value& body) {
  if (!is_error(status, body)) {
    return false;
  }
  const std::string text = error_text(body);
  return etcd_int(body, "code") == kUnauthenticated ||
         text.find("invalid auth token") != std::string::npos ||
         text.find("revision of auth store is old") != std::string::npos;
}

}  // namespace

void EtcdClient::authenticate() {
  const EtcdCredentials& who = *endpoints_.credentials;
  // The password goes only into this request's body, which nothing logs or shows.
  const std::string payload = Value{{"name", who.user}, {"password", who.password}}.dump();
  const Reply r = post("/v3/auth/authenticate", payload, {});
  if (is_error(r.status, r.body) || !r.body.contains("token") || !r.body["token"].is_string()) {
    throw StorageFailure(fmt::format("etcd {}: authentication as user '{}' failed: {} (HTTP {})",
                                     r.host, who.user, error_text(r.body), r.status));
  }
  token_ = r.body["token"].get<std::string>();
}

std::string EtcdClient::token(const std::string& refused) {
  if (!endpoints_.credentials) {
    return {};
  }
  std::lock_guard lock(mu_);
  if (token_.empty() || token_ == refused) {
    authenticate();
  }
  return token_;
}

Value EtcdClient::call(std::string_view path, const Value& body) {
  const std::string payload = body.dump();
  std::lock_guard lock(mu_);
  if (endpoints_.credentials && token_.empty()) {
    authenticate();
  }
  Reply r = post(path, payload, token_);
  if (endpoints_.credentials && token_refused(r.status, r.body)) {
    authenticate();
    r = post(path, payload, token_);
  }
  if (!is_error(r.status, r.body)) {
    return std::move(r.body);
  }
  const std::int64_t code = etcd_int(r.body, "code");
  const std::string text = error_text(r.body);
  std::string message =
      fmt::format("etcd {}{}: {} (code {}, HTTP {})", r.host, path, text, code, r.status);
  if (code == kPermissionDenied) {
    throw StorageFailure(message +
                         (endpoints_.credentials
                              ? fmt::format(": user '{}' has no role granting this on these keys",
                                            endpoints_.credentials->user)
                              : std::string()));
  }
  if (text.find("user name is empty") != std::string::npos || code == kUnauthenticated) {
    throw StorageFailure(message +
                         ": etcd requires authentication (etcd://user:password@host:port/path)");
  }
  switch (code) {
    case kInvalidArgument:
      throw InvalidArgument(message);
    case kNotFound:
      throw NotFound(message);
    case kAlreadyExists:
      throw Duplicate(message);
    case kFailedPrecondition:
      throw InvalidState(message);
    default:
      throw StorageFailure(message);
  }
}

EtcdRangeResult EtcdClient::range(const EtcdOp& request) {
  return range_result(call("/v3/kv/range", range_request(request)));
}

std::int64_t EtcdClient::put(const std::string& key, std::string_view value, std::int64_t lease) {
  return header_revision(
      call("/v3/kv/put", put_request(EtcdOp::put(key, std::string(value), lease))));
}

std::int64_t EtcdClient::remove(const std::string& key, const std::string& range_end) {
  EtcdOp op = EtcdOp::remove(key);
  op.range_end = range_end;
  return etcd_int(call("/v3/kv/deleterange", delete_request(op)), "deleted");
}

EtcdTxnResult EtcdClient::txn(const EtcdTxn& txn) {
  const Value reply = call("/v3/kv/txn", txn_request(txn));
  return txn_result(reply, header_revision(reply));
}

EtcdLease EtcdClient::lease_grant(std::chrono::seconds ttl) {
  const Value reply = call("/v3/lease/grant", Value{{"TTL", std::to_string(ttl.count())}});
  return EtcdLease{etcd_int(reply, "ID"), std::chrono::seconds(etcd_int(reply, "TTL"))};
}

std::optional<std::chrono::seconds> EtcdClient::lease_keepalive(std::int64_t id) {
  // A stream in gRPC; the gateway answers one request with one {"result": ...}.
  const Value reply = call("/v3/lease/keepalive", Value{{"ID", std::to_string(id)}});
  const std::int64_t ttl = reply.contains("result") ? etcd_int(reply["result"], "TTL") : 0;
  if (ttl <= 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(ttl);
}

void EtcdClient::lease_revoke(std::int64_t id) {
  call("/v3/lease/revoke", Value{{"ID", std::to_string(id)}});
}

std::int64_t EtcdClient::revision(const std::string& key) {
  EtcdOp op = EtcdOp::get(key);
  op.count_only = true;
  return range(op).revision;
}

}  // namespace caboose::jobs::detail
