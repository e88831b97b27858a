#include "http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace caboose::cli {
namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = 1024 * 1024;
constexpr int kReadTimeoutMs = 5000;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 303:
      return "See Other";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

void parse_pairs(std::string_view text, std::map<std::string, std::string>& out) {
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const std::size_t eq = pair.find('=');
    out[url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
}

// Reads until `done` says the buffer is complete, at most `limit` bytes, each read within the
// timeout. False on a timeout, a closed connection or the limit.
template <class Done>
bool read_until(int fd, std::string& buffer, std::size_t limit, Done done) {
  char chunk[8192];
  while (!done(buffer)) {
    if (buffer.size() >= limit) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kReadTimeoutMs) <= 0) {
      return false;
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      return false;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the client went away
    }
    sent += static_cast<std::size_t>(n);
  }
}

void respond(int fd, const HttpResponse& r) {
  std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
      r.status, reason(r.status), r.content_type, r.body.size());
  for (const auto& [name, value] : r.headers) {
    head += name + ": " + value + "\r\n";
  }
  send_all(fd, head + "\r\n" + r.body);
}

HttpResponse plain(int status, std::string text) {
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(text)};
}

}  // namespace

std::map<std::string, std::string> HttpRequest::params() const {
  std::map<std::string, std::string> out;
  parse_pairs(query, out);
  const auto type = headers.find("content-type");
  if (type != headers.end() && type->second.rfind("application/x-www-form-urlencoded", 0) == 0) {
    parse_pairs(body, out);
  }
  return out;
}

HttpServer::HttpServer(const std::string& address, int port, Handler handler)
    : handler_(std::move(handler)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port < 0 || port > 65535 || ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: not an IPv4 address and port", address, port));
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (listen_fd_ < 0 || ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
    }
    throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", address, port, why));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
}

HttpServer::~HttpServer() {
  thread_.request_stop();
  const char byte = 0;
  (void)::write(wake_[1], &byte, 1);
  if (thread_.joinable()) {
    thread_.join();
  }
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void HttpServer::serve(std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN) != 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    answer(fd);
    ::close(fd);
  }
}

void HttpServer::answer(int fd) {
  std::string buffer;
  if (!read_until(fd, buffer, kMaxHead,
                  [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; })) {
    if (buffer.size() >= kMaxHead) {
      respond(fd, plain(413, "request head too large\n"));
    }
    return;
  }
  const std::size_t head_end = buffer.find("\r\n\r\n");
  HttpRequest request;
  std::string_view head(buffer.data(), head_end);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1 || line.substr(sp2 + 1).rfind("HTTP/1.", 0)) {
    respond(fd, plain(400, "bad request line\n"));
    return;
  }
  request.method = std::string(line.substr(0, sp1));
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::size_t q = target.find('?');
  request.path = url_decode(target.substr(0, q));
  if (q != std::string_view::npos) {
    request.query = std::string(target.substr(q + 1));
  }
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view header = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    request.headers[lower(std::string(header.substr(0, colon)))] = std::string(value);
  }
  std::size_t length = 0;
  if (const auto it = request.headers.find("content-length"); it != request.headers.end()) {
    try {
      length = std::stoul(it->second);
    } catch (const std::exception&) {
      respond(fd, plain(400, "bad Content-Length\n"));
      return;
    }
    if (length > kMaxBody) {
      respond(fd, plain(413, "request body too large\n"));
      return;
    }
  }
  buffer.erase(0, head_end + 4);
  if (!read_until(fd, buffer, length,
                  [length](const std::string& b) { return b.size() >= length; })) {
    return;
  }
  request.body = buffer.substr(0, length);
  HttpResponse response;
  try {
    response = handler_(request);
  } catch (const std::exception& e) {
    response = {
        .status = 500,
        .body = "<!doctype html><title>error</title><pre>" + html_escape(e.what()) + "</pre>"};
  }
  respond(fd, response);
}

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() + 0 && hex(text[i + 1]) >= 0 &&
               hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    out += unreserved ? std::string(1, c) : fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace caboose::cli
