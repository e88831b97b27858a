#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace caboose::testing {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kReadSize = 64 * 1024;
// Reading from one side stops while this much waits to be written to the other.
constexpr std::size_t kMaxQueued = 1024 * 1024;

// Closes with a RST instead of a FIN (SO_LINGER 0), dropping what was not sent.
void reset_fd(int fd) {
  if (fd < 0) {
    return;
  }
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct Chunk {
  std::string data;
  Steady::time_point due;
};

// One direction of a connection: what was read from `from` and waits to be written to `to`.
struct Stream {
  std::deque<Chunk> queue;
  std::size_t queued = 0;  // bytes in queue
  bool eof = false;        // `from` ended its side
  bool shut = false;       // the end was passed on to `to`
};

struct Conn {
  int client = -1;
  int server = -1;
  bool connecting = true;  // the connect to the server is under way
  Stream up;               // client to server
  Stream down;             // server to client
  bool dropping = false;   // drop_next_reply: its request went; swallow the reply, reset
  std::string tail;        // the last bytes the client sent, to find a marker split over reads
  bool dead = false;
};

}  // namespace

// The proxy's thread: its connections and the mode in force, touched by nobody else.
class FaultProxy::Loop {
 public:
  Loop(FaultProxy& p) : p_(p) {}
  ~Loop() {
    for (auto& c : conns_) {
      kill(*c);
    }
  }

  void run(std::stop_token stop) {
    std::vector<pollfd> fds;
    while (!stop.stop_requested()) {
      apply_control();
      fds.clear();
      fds.push_back({p_.wake_fd_, POLLIN, 0});
      fds.push_back({p_.listen_fd_, POLLIN, 0});
      const Steady::time_point now = Steady::now();
      std::optional<Steady::time_point> next_due;
      for (const auto& c : conns_) {
        if (c->connecting) {
          fds.push_back({c->client, 0, 0});
          fds.push_back({c->server, POLLOUT, 0});
          continue;
        }
        fds.push_back({c->client, events(c->up, c->down, now, next_due), 0});
        fds.push_back({c->server, events(c->down, c->up, now, next_due), 0});
      }
      int timeout = -1;
      if (next_due) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next_due - now);
        timeout = static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
        return;
      }
      if (fds[0].revents != 0) {
        std::uint64_t n = 0;
        [[maybe_unused]] const ssize_t r = ::read(p_.wake_fd_, &n, sizeof n);
      }
      // Connections accepted now are polled from the next round on.
      const std::size_t polled = conns_.size();
      if (fds[1].revents & POLLIN) {
        accept_all();
      }
      for (std::size_t i = 0; i < polled; ++i) {
        Conn& c = *conns_[i];
        if (c.dead) {
          continue;
        }
        const pollfd& cf = fds[2 + 2 * i];
        const pollfd& sf = fds[3 + 2 * i];
        if (c.connecting) {
          if (sf.revents != 0 || (cf.revents & (POLLERR | POLLHUP))) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0 || (cf.revents & (POLLERR | POLLHUP))) {
              kill(c);
              continue;
            }
            c.connecting = false;
          }
          continue;
        }
        handle(c, cf, /*from_client=*/true);
        if (!c.dead) {
          handle(c, sf, /*from_client=*/false);
        }
      }
      for (auto& c : conns_) {
        if (!c->dead && !c->connecting) {
          flush(*c, c->up, c->server, /*up=*/true);
          flush(*c, c->down, c->client, /*up=*/false);
          if (c->up.shut && c->down.shut) {
            close_gracefully(*c);
          }
        }
      }
      std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });
    }
  }

 private:
  // What to poll a socket for: reading `in` (what it sends), writing `out` (what it receives).
  short events(const Stream& in, const Stream& out, Steady::time_point now,
               std::optional<Steady::time_point>& next_due) const {
    if (mode_.mode == Mode::kBlackhole) {
      return 0;  // errors and hang-ups are reported all the same
    }
    short ev = 0;
    if (!in.eof && in.queued < kMaxQueued) {
      ev |= POLLIN;
    }
    if (!out.queue.empty()) {
      const Steady::time_point due = out.queue.front().due;
      if (mode_.mode != Mode::kDelay || due <= now) {
        ev |= POLLOUT;
      } else if (!next_due || due < *next_due) {
        next_due = due;
      }
    }
    return ev;
  }

  void apply_control() {
    std::lock_guard lock(p_.mu_);
    const Control& want = p_.control_;
    if (want.epoch == p_.applied_) {
      return;
    }
    if (want.resets != resets_seen_) {
      resets_seen_ = want.resets;
      for (auto& c : conns_) {
        kill(*c);
      }
    }
    if (want.epoch_of_mode != mode_epoch_) {
      mode_epoch_ = want.epoch_of_mode;
      mode_ = want;
    }
    p_.applied_ = want.epoch;
    p_.applied_cv_.notify_all();
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(p_.listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        return;  // EAGAIN, or an aborted connection
      }
      p_.accepted_.fetch_add(1);
      if (mode_.mode == Mode::kRefuse) {
        reset_fd(fd);
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->client = fd;
      no_delay(fd);
      p_.open_.fetch_add(1);
      c->server = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->server < 0 || (::connect(c->server, reinterpret_cast<const sockaddr*>(&p_.target_),
                                      sizeof p_.target_) < 0 &&
                            errno != EINPROGRESS)) {
        kill(*c);
        continue;
      }
      no_delay(c->server);
      conns_.push_back(std::move(c));
    }
  }

  void handle(Conn& c, const pollfd& pf, bool from_client) {
    Stream& in = from_client ? c.up : c.down;
    if (pf.revents & (POLLERR | POLLNVAL)) {
      kill(c);
      return;
    }
    if ((pf.revents & POLLHUP) && !(pf.events & POLLIN)) {
      kill(c);
      return;
    }
    if (!(pf.revents & (POLLIN | POLLHUP))) {
      return;
    }
    char buf[kReadSize];
    const ssize_t n = ::read(pf.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        kill(c);
      }
      return;
    }
    if (n == 0) {
      in.eof = true;
      return;
    }
    received(c, std::string(buf, static_cast<std::size_t>(n)), from_client);
  }

  void received(Conn& c, std::string data, bool from_client) {
    Stream& in = from_client ? c.up : c.down;
    if (!from_client && c.dropping) {
      p_.dropped_.fetch_add(1);  // the server answered: nobody hears it
      kill(c);
      return;
    }
    if (from_client && mode_.mode == Mode::kDropReply) {
      const std::string& marker = mode_.marker;
      const std::string seen = c.tail + data;
      if (marker.empty() || seen.find(marker) != std::string::npos) {
        c.dropping = true;
        mode_.mode = Mode::kPass;
      } else if (!marker.empty()) {
        c.tail = seen.substr(seen.size() - std::min(seen.size(), marker.size() - 1));
      }
    }
    bool cut = false;
    if (mode_.mode == Mode::kCut) {
      if (data.size() >= mode_.budget) {
        data.resize(mode_.budget);
        cut = true;
      } else {
        mode_.budget -= data.size();
      }
    }
    const Steady::time_point due =
        mode_.mode == Mode::kDelay ? Steady::now() + mode_.delay : Steady::now();
    if (!data.empty()) {
      in.queued += data.size();
      in.queue.push_back({std::move(data), due});
    }
    if (cut) {
      // What fits in the budget goes out, then every connection is reset.
      flush(c, c.up, c.server, /*up=*/true);
      flush(c, c.down, c.client, /*up=*/false);
      p_.cut_.fetch_add(1);  // counted before anyone sees the reset
      for (auto& other : conns_) {
        kill(*other);
      }
      mode_.mode = Mode::kPass;
    }
  }

  // Writes what is due of `s` to `to`; passes its end on once everything went.
  void flush(Conn& c, Stream& s, int to, bool up) {
    if (c.dead || c.connecting || mode_.mode == Mode::kBlackhole) {
      return;
    }
    const Steady::time_point now = Steady::now();
    while (!s.queue.empty()) {
      Chunk& chunk = s.queue.front();
      if (mode_.mode == Mode::kDelay && chunk.due > now) {
        return;
      }
      const ssize_t n = ::send(to, chunk.data.data(), chunk.data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          kill(c);
        }
        return;
      }
      (up ? p_.up_ : p_.down_).fetch_add(static_cast<std::uint64_t>(n));
      s.queued -= static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < chunk.data.size()) {
        chunk.data.erase(0, static_cast<std::size_t>(n));
        return;
      }
      s.queue.pop_front();
    }
    if (s.eof && !s.shut) {
      ::shutdown(to, SHUT_WR);
      s.shut = true;
    }
  }

  void kill(Conn& c) {
    if (c.dead) {
      return;
    }
    c.dead = true;
    p_.open_.fetch_sub(1);  // counted before anyone sees the reset
    reset_fd(c.client);
    reset_fd(c.server);
    c.client = c.server = -1;
  }

  void close_gracefully(Conn& c) {
    c.dead = true;
    p_.open_.fetch_sub(1);
    ::close(c.client);
    ::close(c.server);
    c.client = c.server = -1;
  }

  FaultProxy& p_;
  Control mode_;
  std::uint64_t mode_epoch_ = 0;
  std::uint64_t resets_seen_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

FaultProxy::FaultProxy(std::string target_host, int target_port)
    : host_(std::move(target_host)), target_port_(target_port) {
  target_.sin_family = AF_INET;
  target_.sin_port = htons(static_cast<std::uint16_t>(target_port_));
  if (::inet_pton(AF_INET, host_.c_str(), &target_.sin_addr) != 1) {
    throw std::runtime_error("fault proxy: target host must be an IPv4 address: " + host_);
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
    }
    throw std::runtime_error("fault proxy: cannot listen on 127.0.0.1: " + why);
  }
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ::close(listen_fd_);
    throw std::runtime_error("fault proxy: eventfd failed");
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

FaultProxy::~FaultProxy() {
  thread_.request_stop();
  wake();
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

std::string FaultProxy::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void FaultProxy::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

template <class Change>
void FaultProxy::control(Change change) {
  std::unique_lock lock(mu_);
  change(control_);
  const std::uint64_t epoch = ++control_.epoch;
  wake();
  applied_cv_.wait(lock, [&] { return applied_ >= epoch || !running_; });
}

void FaultProxy::set_mode(Mode mode, std::chrono::milliseconds d, std::size_t budget,
                          std::string marker) {
  control([&](Control& c) {
    c.mode = mode;
    c.delay = d;
    c.budget = budget;
    c.marker = std::move(marker);
    c.epoch_of_mode = c.epoch + 1;
  });
}

void FaultProxy::pass() {
  set_mode(Mode::kPass, {}, 0, {});
}
void FaultProxy::delay(std::chrono::milliseconds d) {
  set_mode(Mode::kDelay, d, 0, {});
}
void FaultProxy::blackhole() {
  set_mode(Mode::kBlackhole, {}, 0, {});
}
void FaultProxy::cut_after(std::size_t bytes) {
  set_mode(Mode::kCut, {}, bytes, {});
}
void FaultProxy::drop_next_reply(std::string request_marker) {
  set_mode(Mode::kDropReply, {}, 0, std::move(request_marker));
}
void FaultProxy::refuse() {
  set_mode(Mode::kRefuse, {}, 0, {});
}
void FaultProxy::reset_all() {
  control([](Control& c) { ++c.resets; });
}

void FaultProxy::run(std::stop_token stop) {
  {
    Loop loop(*this);
    loop.run(stop);
  }
  std::lock_guard lock(mu_);
  running_ = false;
  applied_cv_.notify_all();
}

}  // namespace caboose::testing
