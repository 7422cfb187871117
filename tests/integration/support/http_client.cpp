#include "http_client.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "test_keys.hpp"

namespace waybill::itest {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string HttpResult::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::string HttpResult::media_type() const {
  std::string v = header("Content-Type");
  auto semi = v.find(';');
  if (semi != std::string::npos) v.resize(semi);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

std::string HttpResult::describe() const {
  if (!error.empty()) return "transport error: " + error;
  std::string b = body.size() > 2000 ? body.substr(0, 2000) + "..." : body;
  return std::to_string(status) + " " + b;
}

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  size_t opened = 0;
  std::string api_key = kAdminKey;

  void close() {
    if (!stream) return;
    beast::error_code ec;
    stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream->socket().close(ec);
    stream.reset();
    buffer.clear();
  }

  // Runs one asynchronous operation to completion. Beast's stream timeouts apply only
  // to asynchronous operations, so the synchronous API is built on them.
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  beast::error_code connect() {
    beast::error_code ec;
    auto address = net::ip::make_address(host, ec);
    if (ec) return ec;
    stream.emplace(ioc);
    stream->expires_after(timeout);
    ec = run([&](auto handler) { stream->async_connect(tcp::endpoint(address, port), std::move(handler)); });
    if (ec) {
      stream.reset();
      return ec;
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    ec = {};
    ++opened;
    buffer.clear();
    return ec;
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() { impl_->close(); }
void HttpClient::set_api_key(std::string key) { impl_->api_key = std::move(key); }
bool HttpClient::connected() const { return impl_->stream.has_value(); }
size_t HttpClient::connections_opened() const { return impl_->opened; }

HttpResult HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                               const HttpHeaders& headers) {
  auto& s = *impl_;
  HttpResult out;
  auto fail = [&](const char* phase, const beast::error_code& ec) {
    s.close();
    out.status = 0;
    out.error = std::string(phase) + ": " + ec.message();
    return out;
  };
  if (!s.stream) {
    if (auto ec = s.connect()) return fail("connect", ec);
  }

  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, s.host + ":" + std::to_string(s.port));
  req.keep_alive(true);
  bool names_key = false;
  for (auto& [k, v] : headers) {
    req.set(k, v);
    names_key = names_key || iequals(k, "Authorization") || iequals(k, "X-Api-Key");
  }
  if (!names_key && !s.api_key.empty()) req.set(http::field::authorization, "Bearer " + s.api_key);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();

  s.stream->expires_after(s.timeout);
  auto ec = s.run([&](auto handler) { http::async_write(*s.stream, req, std::move(handler)); });
  if (ec) return fail("write", ec);

  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  parser.header_limit(1u << 20);
  s.stream->expires_after(s.timeout);
  ec = s.run([&](auto handler) { http::async_read(*s.stream, s.buffer, parser, std::move(handler)); });
  if (ec) return fail("read", ec);
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  for (auto& field : res)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  if (!res.keep_alive()) s.close();
  return out;
}

HttpResult HttpClient::post(std::string_view target, std::string_view body, const HttpHeaders& headers) {
  HttpHeaders h = headers;
  bool has_type = std::any_of(h.begin(), h.end(), [](auto& kv) { return iequals(kv.first, "Content-Type"); });
  if (!has_type) h.emplace_back("Content-Type", "application/json");
  return request("POST", target, body, h);
}

HttpResult HttpClient::post_ndjson(std::string_view target, std::string_view body, const HttpHeaders& headers) {
  HttpHeaders h = headers;
  h.emplace_back("Content-Type", "application/x-ndjson");
  return request("POST", target, body, h);
}

}  // namespace waybill::itest
