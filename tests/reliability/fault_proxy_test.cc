// The fault proxy itself, in front of a tiny echo server: every mode, the counters, and that
// drop_next_reply() lets the server act before the reply is lost.
#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.h"

namespace caboose::testing {
namespace {

using namespace std::chrono_literals;

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to the proxy");
  }
  return fd;
}

// A client socket, closed by its destructor.
class Client {
 public:
  explicit Client(int port) : fd_(connect_to(port)) {}
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(const std::string& data) {
    ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }
  // Reads until `n` bytes came, the connection ended (then what came before) or `timeout`
  // passed (then what came so far). `ended` tells whether the connection ended, `reset` whether
  // by a RST.
  struct Read {
    std::string data;
    bool ended = false;
    bool reset = false;
  };
  Read read(std::size_t n, std::chrono::milliseconds timeout) {
    Read r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (r.data.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
      char buf[4096];
      const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) {
        r.ended = true;
        r.reset = got < 0 && errno == ECONNRESET;
        break;
      }
      r.data.append(buf, static_cast<std::size_t>(got));
    }
    return r;
  }

 private:
  int fd_;
};

// Echoes every byte back on each connection; records what it received.
class EchoServer {
 public:
  EchoServer() {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("echo server cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    ::pipe2(stop_pipe_, O_CLOEXEC);
    thread_ = std::jthread([this] { loop(); });
  }
  ~EchoServer() {
    ::close(stop_pipe_[1]);  // wakes the loop
    thread_.join();
    for (int fd : conns_) {
      ::close(fd);
    }
    ::close(stop_pipe_[0]);
    ::close(listen_);
  }

  int port() const { return port_; }
  std::string received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::size_t accepted() const { return accepted_.load(); }

 private:
  void loop() {
    for (;;) {
      std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_, POLLIN, 0}};
      for (int fd : conns_) {
        fds.push_back({fd, POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), -1);
      if (fds[0].revents != 0) {
        return;
      }
      if (fds[1].revents & POLLIN) {
        const int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          conns_.push_back(fd);
          accepted_.fetch_add(1);
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        char buf[4096];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(fds[i].fd);
          std::erase(conns_, fds[i].fd);
          continue;
        }
        {
          std::lock_guard lock(mu_);
          received_.append(buf, static_cast<std::size_t>(n));
        }
        ::send(fds[i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      }
    }
  }

  int listen_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::vector<int> conns_;  // the loop's own
  std::atomic<std::size_t> accepted_{0};
  mutable std::mutex mu_;
  std::string received_;  // Guarded by mu_.
  std::jthread thread_;   // last: joins first
};

class FaultProxyTest : public ::testing::Test {
 protected:
  EchoServer echo_;
  FaultProxy proxy_{"127.0.0.1", echo_.port()};
};

TEST_F(FaultProxyTest, PassForwardsBothWaysAndCounts) {
  Client client(proxy_.port());
  client.send("ping");
  EXPECT_EQ(client.read(4, 5s).data, "ping");
  EXPECT_EQ(echo_.received(), "ping");
  EXPECT_EQ(proxy_.connections(), 1u);
  EXPECT_EQ(proxy_.open_connections(), 1u);
  EXPECT_EQ(proxy_.bytes_up(), 4u);  // counted once written: the echo came after
  // The reply may reach the client a moment before the proxy counts it.
  EXPECT_TRUE(wait_until([&] { return proxy_.bytes_down() == 4u; }, 5s)) << proxy_.bytes_down();
  EXPECT_EQ(proxy_.address(), "127.0.0.1:" + std::to_string(proxy_.port()));
}

TEST_F(FaultProxyTest, ClosingTheClientClosesTheServerSide) {
  {
    Client client(proxy_.port());
    client.send("x");
    EXPECT_EQ(client.read(1, 5s).data, "x");
  }
  EXPECT_TRUE(wait_until([&] { return proxy_.open_connections() == 0; }, 5s));
}

TEST_F(FaultProxyTest, DelayHoldsEachChunkEachWay) {
  proxy_.delay(150ms);
  Client client(proxy_.port());
  const auto start = std::chrono::steady_clock::now();
  client.send("slow");
  EXPECT_TRUE(client.read(4, 100ms).data.empty());  // still held on the way up
  EXPECT_EQ(client.read(4, 5s).data, "slow");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);  // held once each way
  proxy_.pass();
  client.send("fast");
  EXPECT_EQ(client.read(4, 5s).data, "fast");
}

TEST_F(FaultProxyTest, BlackholeForwardsNothingAndKeepsConnectionsOpenUntilPass) {
  Client before(proxy_.port());
  before.send("a");
  ASSERT_EQ(before.read(1, 5s).data, "a");
  proxy_.blackhole();
  before.send("b");
  Client during(proxy_.port());  // accepted, and held too
  during.send("c");
  const Client::Read r = before.read(1, 300ms);
  EXPECT_TRUE(r.data.empty());
  EXPECT_FALSE(r.ended);
  EXPECT_FALSE(during.read(1, 50ms).ended);
  EXPECT_EQ(echo_.received(), "a");
  EXPECT_EQ(proxy_.open_connections(), 2u);
  proxy_.pass();  // what was held flows, as after a healed partition
  EXPECT_EQ(before.read(1, 5s).data, "b");
  EXPECT_EQ(during.read(1, 5s).data, "c");
}

TEST_F(FaultProxyTest, CutAfterForwardsThatManyBytesThenResetsEveryConnection) {
  Client idle(proxy_.port());
  idle.send("0");
  ASSERT_EQ(idle.read(1, 5s).data, "0");
  Client client(proxy_.port());
  proxy_.cut_after(3);
  client.send("abcdef");
  const Client::Read r = client.read(6, 5s);
  EXPECT_TRUE(r.ended);
  EXPECT_LT(r.data.size(), 6u);
  EXPECT_TRUE(idle.read(1, 5s).ended);  // every connection went
  EXPECT_TRUE(wait_until([&] { return echo_.received() == "0abc"; }, 5s)) << echo_.received();
  EXPECT_EQ(proxy_.cuts(), 1u);
  EXPECT_EQ(proxy_.open_connections(), 0u);
  Client after(proxy_.port());  // then it passes
  after.send("next");
  EXPECT_EQ(after.read(4, 5s).data, "next");
}

TEST_F(FaultProxyTest, DropNextReplyLetsTheServerActAndLosesItsReply) {
  Client client(proxy_.port());
  proxy_.drop_next_reply("CLAIM");
  client.send("read");  // no marker: passes
  EXPECT_EQ(client.read(4, 5s).data, "read");
  client.send("CLAIM job-1");
  const Client::Read r = client.read(11, 5s);
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(r.reset);
  EXPECT_TRUE(r.data.empty());                     // the reply never came
  EXPECT_EQ(echo_.received(), "readCLAIM job-1");  // but the server got the request
  EXPECT_EQ(proxy_.replies_dropped(), 1u);
  Client again(proxy_.port());  // once only
  again.send("CLAIM job-2");
  EXPECT_EQ(again.read(11, 5s).data, "CLAIM job-2");
}

TEST_F(FaultProxyTest, DropNextReplyWithoutAMarkerTakesTheNextRequest) {
  Client client(proxy_.port());
  proxy_.drop_next_reply();
  client.send("anything");
  EXPECT_TRUE(client.read(8, 5s).ended);
  EXPECT_EQ(echo_.received(), "anything");
}

TEST_F(FaultProxyTest, ResetAllResetsOpenConnectionsAndKeepsTheMode) {
  Client a(proxy_.port());
  Client b(proxy_.port());
  a.send("1");
  b.send("2");
  ASSERT_EQ(a.read(1, 5s).data, "1");
  ASSERT_EQ(b.read(1, 5s).data, "2");
  proxy_.reset_all();
  const Client::Read ra = a.read(1, 5s);
  EXPECT_TRUE(ra.ended);
  EXPECT_TRUE(ra.reset);
  EXPECT_TRUE(b.read(1, 5s).reset);
  EXPECT_EQ(proxy_.open_connections(), 0u);
  Client c(proxy_.port());
  c.send("3");
  EXPECT_EQ(c.read(1, 5s).data, "3");
}

TEST_F(FaultProxyTest, RefuseResetsNewConnectionsAndLeavesOpenOnes) {
  Client open(proxy_.port());
  open.send("1");
  ASSERT_EQ(open.read(1, 5s).data, "1");
  proxy_.refuse();
  Client refused(proxy_.port());
  EXPECT_TRUE(refused.read(1, 5s).ended);
  EXPECT_EQ(echo_.accepted(), 1u);  // never reached the server
  EXPECT_EQ(proxy_.connections(), 2u);
  open.send("2");
  EXPECT_EQ(open.read(1, 5s).data, "2");
  proxy_.pass();
  Client later(proxy_.port());
  later.send("3");
  EXPECT_EQ(later.read(1, 5s).data, "3");
}

TEST(FaultProxyTargetTest, AnUnreachableTargetResetsTheClient) {
  int port = 0;
  {
    EchoServer gone;
    port = gone.port();
  }
  FaultProxy proxy("127.0.0.1", port);
  Client client(proxy.port());
  EXPECT_TRUE(client.read(1, 5s).ended);
}

// Many clients echo while another thread switches modes: every byte comes back, in order.
TEST_F(FaultProxyTest, ModesChangeSafelyWhileTrafficFlows) {
  std::atomic<bool> done{false};
  std::jthread switcher([&] {
    for (int i = 0; !done.load(); ++i) {
      if (i % 2 == 0) {
        proxy_.delay(1ms);
      } else {
        proxy_.pass();
      }
      (void)proxy_.bytes_up();
    }
  });
  std::vector<std::jthread> clients;
  std::atomic<int> echoed{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      Client client(proxy_.port());
      for (int i = 0; i < 50; ++i) {
        const std::string message = "t" + std::to_string(t) + "-" + std::to_string(i) + ";";
        client.send(message);
        if (client.read(message.size(), 5s).data == message) {
          echoed.fetch_add(1);
        }
      }
    });
  }
  clients.clear();  // joins
  done.store(true);
  switcher.join();
  EXPECT_EQ(echoed.load(), 200);
}

}  // namespace
}  // namespace caboose::testing
