// A small synchronous HTTP/1.1 client on Boost.Beast for integration tests.
//
// One client holds one keep-alive connection, opened on the first request and reopened
// after the server closed it. A request never retries by itself: a transport failure
// (refused, reset, timeout) is reported in `error` with status 0, because a test that
// kills the server must treat such a request as "unknown", not as failed or done.
//
// Every request carries "Authorization: Bearer <kAdminKey>" (test_keys.hpp) unless the
// request names Authorization or X-Api-Key itself or set_api_key() changed the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace waybill::itest {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;       // 0 when no answer was received
  HttpHeaders headers;  // as received
  std::string body;
  std::string error;    // transport failure, empty when an answer was received

  bool answered() const { return error.empty() && status != 0; }
  bool is_2xx() const { return answered() && status >= 200 && status < 300; }
  /// Value of a header (case-insensitive name), empty when absent.
  std::string header(std::string_view name) const;
  /// Media type of Content-Type without parameters, lower case.
  std::string media_type() const;
  /// "<status> <body>" or the transport error, for assertion messages.
  std::string describe() const;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult request(std::string_view method, std::string_view target, std::string_view body = {},
                     const HttpHeaders& headers = {});
  HttpResult get(std::string_view target) { return request("GET", target); }
  /// POST with Content-Type application/json (unless `headers` names another).
  HttpResult post(std::string_view target, std::string_view body, const HttpHeaders& headers = {});
  /// POST with Content-Type application/x-ndjson.
  HttpResult post_ndjson(std::string_view target, std::string_view body, const HttpHeaders& headers = {});

  /// The key sent as "Authorization: Bearer <key>"; empty sends none.
  void set_api_key(std::string key);

  /// Closes the connection; the next request opens a new one.
  void close();
  bool connected() const;
  /// Connections opened so far (keep-alive reuse keeps this at 1).
  size_t connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::itest
