// A small HTTP/1.1 server for the command line's metrics endpoint and web view: one thread,
// one request per connection (Connection: close), bounded request sizes and read times. It is
// meant for an operator's network (bind it to loopback or an admin interface), not the open
// internet: no TLS, no keep-alive, no chunked bodies.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace caboose::cli {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // decoded, without the query
  std::string query;                           // raw, after '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The query's parameters, then (for an application/x-www-form-urlencoded body) the form's.
  std::map<std::string, std::string> params() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra ones (Location, ...)
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on `address`:`port` (0: a free port; port() says which) and serves from a thread of
  // its own until destroyed. A handler that throws answers 500 with the error's text. Throws
  // std::runtime_error when it cannot listen.
  HttpServer(const std::string& address, int port, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  void serve(std::stop_token stop);
  void answer(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: the destructor's write ends the poll
  int port_ = 0;
  std::jthread thread_;
};

// %XX and '+' decoded (application/x-www-form-urlencoded).
std::string url_decode(std::string_view text);
// %XX-encoded except unreserved characters.
std::string url_encode(std::string_view text);
// & < > " ' escaped.
std::string html_escape(std::string_view text);

}  // namespace caboose::cli
