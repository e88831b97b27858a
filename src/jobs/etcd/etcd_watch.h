// A watch on a range of etcd keys through the gateway's streaming /v3/watch: its own connection
// (libcurl multi handle) and thread, reading the newline-delimited JSON the stream sends. Every
// batch of events calls `on_change`; after a drop (the server restarted, say) it connects again,
// to the next endpoint, resuming at the revision after the last one seen, so no change is
// missed. Thread-safe; the destructor stops the thread promptly.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "jobs/etcd/etcd_client.h"
#include "jobs/etcd/libcurl.h"

namespace caboose::jobs::detail {

class EtcdWatch {
 public:
  // The token for a stream's Authorization header ("" for none), given the one etcd refused
  // last ("" at first): EtcdClient::token.
  using TokenSource = std::function<std::string(const std::string& refused)>;

  // Watches [key, range_end) from `start_revision` on (changes made at or after it are
  // reported). `on_change` runs on the watch thread with no lock held and must not throw.
  // With `token`, every stream sends one; a stream etcd cancels at once (as it does for an
  // expired token) asks for a new one.
  EtcdWatch(EtcdEndpoints endpoints, std::string key, std::string range_end,
            std::int64_t start_revision, std::function<void()> on_change,
            TokenSource token = nullptr);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Times the stream was (re)established; for tests.
  std::uint64_t connections() const;

 private:
  void run(std::stop_token stop);
  // One stream to one endpoint, until it ends or a stop is asked for. Whether it was set up.
  bool stream_once(const std::stop_token& stop, const std::string& host);
  struct Reply {
    bool created = false;   // the stream is set up
    bool canceled = false;  // the server ended the watch (compaction, a refused token): again
  };
  Reply take_line(const std::string& line);

  const EtcdEndpoints endpoints_;
  const std::string key_;
  const std::string range_end_;
  const std::function<void()> on_change_;
  const TokenSource token_source_;
  CURLM* multi_ = nullptr;  // made before the thread; the destructor wakes it
  mutable std::mutex mu_;
  std::condition_variable_any backoff_;
  std::int64_t next_revision_ = 0;  // Guarded by mu_: where a new stream resumes.
  std::uint64_t connections_ = 0;   // Guarded by mu_.
  std::string pending_;             // Only the watch thread: a line not yet complete.
  std::string refused_token_;       // Only the watch thread: the token of a refused stream.

  std::jthread thread_;  // last: stops and joins first
};

}  // namespace caboose::jobs::detail
