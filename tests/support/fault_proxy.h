// A TCP fault proxy for tests: listens on 127.0.0.1 on a port free at start and forwards each
// connection to a target (a test server), while a test changes what happens to the bytes:
//
//   FaultProxy proxy("127.0.0.1", RedisServer::shared().port());
//   auto board = fetch_jobboard(fmt::format("redis://{}", proxy.address()));
//   proxy.blackhole();  // the board's requests now go unanswered
//   ...
//   proxy.pass();       // and flow again
//
// Modes (each call replaces the one before; every call returns once the proxy's thread applies
// it, so nothing is forwarded under the old mode after it returns):
//   pass()            forward both ways.
//   delay(d)          hold each chunk read, either way, for `d` before forwarding it.
//   blackhole()       keep every connection open and forward nothing either way (new connections
//                     are accepted and held too). What was sent stays in the sockets' buffers and
//                     flows on pass(), as TCP delivers it once a partition heals.
//   cut_after(n)      forward n more bytes (both ways, every connection together), then reset
//                     every connection; then pass.
//   drop_next_reply(marker)
//                     forward the next request (the next chunk from a client; with a marker, the
//                     next one holding it), then swallow the server's reply to it and reset that
//                     connection: the server acted, the client never hears. Then pass.
//   refuse()          accept and reset new connections at once; open ones go on.
// reset_all() resets (RST) every open connection now and leaves the mode as it is.
//
// One thread runs the proxy on poll(2), with non-blocking sockets; it waits for sockets, the
// next delayed chunk or a control call, never spins. Thread-safe. The destructor resets every
// connection and joins the thread.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace caboose::testing {

class FaultProxy {
 public:
  // Throws std::runtime_error when it cannot listen.
  FaultProxy(std::string target_host, int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const;

  void pass();
  void delay(std::chrono::milliseconds d);
  void blackhole();
  void cut_after(std::size_t bytes);
  void drop_next_reply(std::string request_marker = {});
  void refuse();
  void reset_all();

  // Connections accepted so far (refused ones included), open now, and bytes forwarded from
  // clients to the server (up) and back (down), each counted just after it was written.
  std::uint64_t connections() const { return accepted_.load(); }
  std::uint64_t open_connections() const { return open_.load(); }
  std::uint64_t bytes_up() const { return up_.load(); }
  std::uint64_t bytes_down() const { return down_.load(); }
  // Replies swallowed by drop_next_reply() and cuts made by cut_after(), so far.
  std::uint64_t replies_dropped() const { return dropped_.load(); }
  std::uint64_t cuts() const { return cut_.load(); }

  enum class Mode { kPass, kDelay, kBlackhole, kCut, kDropReply, kRefuse };

 private:
  struct Control {
    Mode mode = Mode::kPass;
    std::chrono::milliseconds delay{0};
    std::size_t budget = 0;           // kCut: bytes left to forward
    std::string marker;               // kDropReply: what the request holds ("" = any)
    std::uint64_t resets = 0;         // reset_all() calls so far
    std::uint64_t epoch = 0;          // control calls so far
    std::uint64_t epoch_of_mode = 0;  // the call that set the mode
  };
  class Loop;

  // Applies `change` to the control state, wakes the thread and waits until it has seen it.
  template <class Change>
  void control(Change change);
  void set_mode(Mode mode, std::chrono::milliseconds d, std::size_t budget, std::string marker);
  void wake() noexcept;
  void run(std::stop_token stop);

  const std::string host_;
  const int target_port_;
  sockaddr_in target_{};
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: a control call or the destructor
  int port_ = 0;

  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> open_{0};
  std::atomic<std::uint64_t> up_{0};
  std::atomic<std::uint64_t> down_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> cut_{0};

  std::mutex mu_;
  std::condition_variable applied_cv_;
  Control control_;            // Guarded by mu_.
  std::uint64_t applied_ = 0;  // Guarded by mu_: the last epoch the thread has seen.
  bool running_ = true;        // Guarded by mu_: false once the thread has ended.

  std::jthread thread_;  // last: joins first
};

}  // namespace caboose::testing
