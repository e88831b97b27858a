// A minimal HTTP/1.1 client for tests of caboose's endpoints (metrics, the web view): one
// request per connection on 127.0.0.1, the whole response read until the server closes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <regex>
#include <stdexcept>
#include <string>

namespace caboose::testing {

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

inline HttpReply http_request(int port, const std::string& method, const std::string& target,
                              const std::string& body = {},
                              const std::string& content_type = "application/x-www-form-urlencoded",
                              const std::string& extra_headers = {}) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST") {
    request += "Content-Type: " + content_type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += extra_headers + "Connection: close\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("send failed");
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char chunk[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) {
      ::close(fd);
      throw std::runtime_error("no reply within 30 s");
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      break;
    }
    raw.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  HttpReply reply;
  const std::size_t split = raw.find("\r\n\r\n");
  reply.head = raw.substr(0, split);
  reply.body = split == std::string::npos ? "" : raw.substr(split + 4);
  if (raw.rfind("HTTP/1.1 ", 0) == 0) {
    reply.status = std::stoi(raw.substr(9, 3));
  }
  return reply;
}

// The value of one sample (`name` with its labels exactly as exposed, e.g.
// caboose_jobs_finished_total{outcome="consumed"}) in a Prometheus text page.
inline std::optional<double> metric_value(const std::string& page, const std::string& sample) {
  std::size_t at = 0;
  while ((at = page.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || page[at - 1] == '\n') {
      const std::size_t start = at + sample.size() + 1;
      return std::stod(page.substr(start, page.find('\n', start) - start));
    }
    at += sample.size();
  }
  return std::nullopt;
}

// The port a caboose process announced ("... on http://127.0.0.1:PORT/...") in its output.
inline std::optional<int> announced_port(const std::string& output) {
  static const std::regex announced(R"(on http://127\.0\.0\.1:(\d+)/)");
  std::smatch m;
  if (std::regex_search(output, m, announced)) {
    return std::stoi(m[1].str());
  }
  return std::nullopt;
}

}  // namespace caboose::testing
