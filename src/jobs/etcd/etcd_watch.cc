#include "jobs/etcd/etcd_watch.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "core/log.h"
#include "jobs/etcd/base64.h"

namespace caboose::jobs::detail {
namespace {

struct WriteTarget {
  std::string* pending;
  std::function<void(const std::string&)> take;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* target = static_cast<WriteTarget*>(user);
  target->pending->append(data, size * count);
  for (auto nl = target->pending->find('\n'); nl != std::string::npos;
       nl = target->pending->find('\n')) {
    const std::string line = target->pending->substr(0, nl);
    target->pending->erase(0, nl + 1);
    target->take(line);
  }
  return size * count;
}

}  // namespace

EtcdWatch::EtcdWatch(EtcdEndpoints endpoints, std::string key, std::string range_end,
                     std::int64_t start_revision, std::function<void()> on_change,
                     TokenSource token)
    : endpoints_(std::move(endpoints)),
      key_(std::move(key)),
      range_end_(std::move(range_end)),
      on_change_(std::move(on_change)),
      token_source_(std::move(token)),
      multi_(curl().multi_init()),
      next_revision_(start_revision) {
  if (multi_ == nullptr) {
    throw StorageFailure("curl_multi_init failed");
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

EtcdWatch::~EtcdWatch() {
  thread_.request_stop();
  curl().multi_wakeup(multi_);
  if (thread_.joinable()) {
    thread_.join();
  }
  curl().multi_cleanup(multi_);
}

std::uint64_t EtcdWatch::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

void EtcdWatch::run(std::stop_token stop) {
  std::stop_callback wake(stop, [this] {
    curl().multi_wakeup(multi_);
    backoff_.notify_all();
  });
  auto delay = std::chrono::milliseconds(50);
  for (std::size_t attempt = 0; !stop.stop_requested(); ++attempt) {
    const std::string& host = endpoints_.hosts[attempt % endpoints_.hosts.size()];
    try {
      if (stream_once(stop, host)) {
        delay = std::chrono::milliseconds(50);
      }
    } catch (const std::exception& e) {
      caboose::detail::log().warn("etcd watch on {} failed: {}", host, e.what());
    }
    if (stop.stop_requested()) {
      return;
    }
    std::unique_lock lock(mu_);
    backoff_.wait_for(lock, stop, delay, [] { return false; });
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

bool EtcdWatch::stream_once(const std::stop_token& stop, const std::string& host) {
  const LibCurl& c = curl();
  std::int64_t start = 0;
  {
    std::lock_guard lock(mu_);
    start = next_revision_;
  }
  Value create{{"key", base64_encode(key_)}, {"range_end", base64_encode(range_end_)}};
  if (start > 0) {
    create["start_revision"] = std::to_string(start);
  }
  const std::string payload = Value{{"create_request", create}}.dump();
  const std::string url = fmt::format("http://{}/v3/watch", host);
  // May authenticate (a round trip on the client's connection): a failure ends this attempt.
  const std::string token = token_source_ ? token_source_(refused_token_) : std::string();
  pending_.clear();
  bool established = false;
  bool canceled = false;
  bool refused = false;
  WriteTarget target{&pending_, [&](const std::string& line) {
                       const Reply reply = take_line(line);
                       // etcd answers a token it does not accept with a watch created and
                       // canceled at once.
                       refused = refused || (reply.created && reply.canceled);
                       established = established || (reply.created && !reply.canceled);
                       canceled = canceled || reply.canceled;
                     }};
  CURL* easy = c.easy_init();
  if (easy == nullptr) {
    throw StorageFailure("curl_easy_init failed");
  }
  curl_slist* headers = c.slist_append(nullptr, "Content-Type: application/json");
  headers = c.slist_append(headers, "Expect:");
  if (!token.empty()) {
    headers = c.slist_append(headers, ("Authorization: " + token).c_str());
  }
  c.easy_setopt(easy, CURLOPT_URL, url.c_str());
  c.easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  c.easy_setopt(easy, CURLOPT_POSTFIELDS, payload.c_str());
  c.easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  c.easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_data);
  c.easy_setopt(easy, CURLOPT_WRITEDATA, &target);
  c.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  c.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(endpoints_.timeout.count()));
  c.easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  c.easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 5L);
  c.easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 2L);
  c.multi_add_handle(multi_, easy);
  int running = 1;
  while (running > 0 && !canceled && !stop.stop_requested()) {
    if (c.multi_perform(multi_, &running) != CURLM_OK) {
      break;
    }
    if (running > 0) {
      c.multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
  }
  c.multi_remove_handle(multi_, easy);
  c.easy_cleanup(easy);
  c.slist_free_all(headers);
  refused_token_ = refused ? token : std::string();
  if (refused) {
    // Not set up: backs off, then asks for a new token (the user may also lack the permission).
    caboose::detail::log().warn("etcd watch on {}: refused (token expired, or no permission)",
                                host);
    return false;
  }
  if (established && !stop.stop_requested()) {
    caboose::detail::log().warn("etcd watch on {} ended; connecting again", host);
  }
  return established;
}

EtcdWatch::Reply EtcdWatch::take_line(const std::string& line) {
  const Value v = Value::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!v.is_object() || !v.contains("result")) {
    caboose::detail::log().warn("etcd watch: unexpected reply: {}", line.substr(0, 200));
    return Reply{.created = false, .canceled = true};  // start over
  }
  const Value& r = v["result"];
  const Reply reply{.created = r.value("created", false), .canceled = r.value("canceled", false)};
  if (reply.created && reply.canceled) {
    // Refused at once (a token etcd does not accept, no permission): not set up, nothing seen.
    caboose::detail::log().debug("etcd watch refused: {}",
                                 r.value("cancel_reason", std::string("?")));
    return reply;
  }
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    if (reply.created) {
      ++connections_;
      changed = connections_ > 1;  // changes may have come while reconnecting: look again
      if (next_revision_ == 0 && r.contains("header")) {
        next_revision_ = etcd_int(r["header"], "revision") + 1;
      }
    }
    if (reply.canceled) {
      // Compacted past where we resume: go on from the oldest revision kept, and look again.
      const std::int64_t compacted = etcd_int(r, "compact_revision");
      next_revision_ = std::max(next_revision_, compacted);
      changed = true;
    }
    if (r.contains("events") && r["events"].is_array()) {
      for (const Value& e : r["events"]) {
        if (e.contains("kv")) {
          next_revision_ = std::max(next_revision_, etcd_int(e["kv"], "mod_revision") + 1);
        }
      }
      changed = changed || !r["events"].empty();
    }
  }
  if (changed) {
    on_change_();
  }
  return reply;
}

}  // namespace caboose::jobs::detail
