// HTTP/1.1 server on Boost.Beast: keep-alive, bounded headers and bodies, read
// timeouts against slow clients, a connection cap. The handler may answer from any
// thread; the answer is written on the connection's strand. One request per connection
// is in progress at a time (pipelined requests wait their turn).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waybill/status.hpp"

namespace waybill::runtime {

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string target;        // path and query, as sent
  std::string content_type;  // media type without parameters, lower case
  std::string idempotency_key;
  std::string body;
  /// Every header, names in lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Set only on requests a cluster member sent (a forward, or a facts query of the
  /// member's own), never by the HTTP server: cluster-internal routes need it.
  bool from_peer = false;

  /// Value of header `lower_name`, or empty.
  std::string_view header(std::string_view lower_name) const {
    for (auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
};

struct HttpResponse {
  /// HTTP status; 0 closes the connection without any answer (used to simulate
  /// connection resets).
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Must be called exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest&&, Responder)>;

struct HttpServerOptions {
  /// Address to bind. Default: "127.0.0.1".
  std::string host = "127.0.0.1";
  /// TCP port; 0 picks a free one (see HttpServer::port()). Default: 8080.
  uint16_t port = 8080;
  /// I/O threads. Default: 2.
  int threads = 2;
  /// Largest request body in bytes; larger ones get 413. Default: 8 MiB.
  uint64_t max_body_bytes = 8u << 20;
  /// Largest request head (request line + headers) in bytes; larger get 431. Default: 16 KiB.
  uint32_t max_header_bytes = 16u << 10;
  /// Time allowed to receive one whole request once it started, in ms. Default: 30000.
  int read_timeout_ms = 30000;
  /// Time an idle keep-alive connection is kept open, in ms. Default: 60000.
  int idle_timeout_ms = 60000;
  /// Most open connections; beyond it new ones are closed at once. Default: 10000.
  size_t max_connections = 10000;
  /// PEM certificate chain and private key: both set, the listener speaks TLS only
  /// (TLS 1.2 or later); both empty, plain HTTP. Default: "" (plain HTTP).
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts the I/O threads.
  Status start();
  /// Stops accepting, waits up to `drain_ms` for requests in progress, then stops.
  void stop(int drain_ms = 10000);
  uint16_t port() const;
  size_t open_connections() const;
  size_t requests_in_progress() const;

  struct Impl;  // public so the connection sessions of the implementation can see it

 private:
  std::unique_ptr<Impl> impl_;
};

/// Problem+json answer for a status (used by the server itself for 4xx it detects).
/// The correlation id a request names (X-Request-Id, else X-Correlation-Id), or a
/// new one when it names none usable (1 to 128 visible ASCII characters).
std::string correlation_id_of(const HttpRequest& req);
HttpResponse problem_response(int http_status, const Status& status);

}  // namespace waybill::runtime
