#include "webhook_receiver.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "json.hpp"

namespace waybill::itest {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::optional<std::string> base64_decode(const std::string& in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (len < 0) return std::nullopt;
  size_t pad = 0;
  for (auto it = in.rbegin(); it != in.rend() && *it == '=' && pad < 2; ++it) ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

// The HMAC key of a secret: base64-decoded after "whsec_", the raw bytes otherwise.
std::string secret_key(const std::string& secret) {
  if (secret.rfind("whsec_", 0) == 0) return base64_decode(secret.substr(6)).value_or(std::string());
  return secret;
}

std::string hmac_sha256_base64(const std::string& key, const std::string& content) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(content.data()),
       content.size(), mac, &len);
  return base64(mac, len);
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; in >> part;) out.push_back(part);
  return out;
}

}  // namespace

struct WebhookReceiver::Impl {
  struct Endpoint {
    std::vector<std::string> secrets;
    int fail_status = 0;
  };

  Options options;
  mutable std::mutex mutex;
  std::map<std::string, Endpoint> endpoints;
  std::vector<Delivery> deliveries;
  std::vector<Attempt> attempts;

  // Owned by start()/stop() (called from the test thread only).
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;

  void accept();
  http::response<http::string_body> handle(const http::request<http::string_body>& req);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, WebhookReceiver::Impl* owner) : stream_(std::move(socket)), owner_(owner) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(8u << 20);
    stream_.expires_after(60s);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return close();
    auto req = parser_->release();
    res_ = owner_->handle(req);
    res_.keep_alive(req.keep_alive());
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  WebhookReceiver::Impl* owner_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

void WebhookReceiver::Impl::accept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // closed by stop()
    std::make_shared<Session>(std::move(socket), this)->read();
    accept();
  });
}

http::response<http::string_body> WebhookReceiver::Impl::handle(const http::request<http::string_body>& req) {
  const auto now = Clock::now();
  std::string path(req.target());
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  std::string id(req["webhook-id"]);
  std::string ts_text(req["webhook-timestamp"]);
  std::string signature(req["webhook-signature"]);

  auto answer = [&](int status, std::string reason, std::optional<Delivery> delivery = std::nullopt) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      attempts.push_back(Attempt{path, id, status, reason, now});
      if (delivery) deliveries.push_back(std::move(*delivery));
    }
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = reason;
    return res;
  };

  Endpoint endpoint;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = endpoints.find(path);
    if (it == endpoints.end()) {
      attempts.push_back(Attempt{path, id, 404, "unknown path", now});
      http::response<http::string_body> res{http::status::not_found, req.version()};
      res.body() = "unknown path";
      return res;
    }
    endpoint = it->second;
  }
  if (req.method() != http::verb::post) return answer(405, "method not allowed");
  if (id.empty() || ts_text.empty() || signature.empty()) return answer(400, "missing webhook headers");

  int64_t ts = 0;
  try {
    size_t used = 0;
    ts = std::stoll(ts_text, &used);
    if (used != ts_text.size()) return answer(400, "bad timestamp");
  } catch (const std::exception&) {
    return answer(400, "bad timestamp");
  }
  int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  if (std::llabs(now_s - ts) > options.tolerance.count()) return answer(401, "stale timestamp");

  const std::string content = id + "." + ts_text + "." + req.body();
  auto offered = split_spaces(signature);
  int matched = -1;
  for (size_t i = 0; i < endpoint.secrets.size() && matched < 0; ++i) {
    std::string key = secret_key(endpoint.secrets[i]);
    if (key.empty()) continue;
    std::string expected = hmac_sha256_base64(key, content);
    for (auto& sig : offered) {
      if (sig.rfind("v1,", 0) != 0) continue;
      if (constant_time_equal(sig.substr(3), expected)) {
        matched = static_cast<int>(i);
        break;
      }
    }
  }
  if (matched < 0) return answer(401, "bad signature");

  auto j = Json::parse(req.body());
  if (!j.ok() || !j.is_object() || !j.str("/id") || !j.str("/type")) return answer(400, "not a CloudEvent");
  if (endpoint.fail_status != 0) return answer(endpoint.fail_status, "forced");

  Delivery d;
  d.path = path;
  d.webhook_id = id;
  d.webhook_timestamp = ts_text;
  d.webhook_signature = signature;
  d.body = req.body();
  d.signatures = offered.size();
  d.matched_secret = matched;
  d.received_at = now;
  d.id = j.str_or_empty("/id");
  d.type = j.str_or_empty("/type");
  d.source = j.str_or_empty("/source");
  d.subject = j.str_or_empty("/subject");
  d.time = j.str_or_empty("/time");
  d.orderid = j.str_or_empty("/orderid");
  d.specversion = j.str_or_empty("/specversion");
  d.position = static_cast<uint64_t>(j.int64("/position").value_or(0));
  d.entityseq = static_cast<uint64_t>(j.int64("/entityseq").value_or(0));
  d.data_status = j.str_or_empty("/data/status");
  return answer(200, "ok", std::move(d));
}

WebhookReceiver::WebhookReceiver() : WebhookReceiver(Options{}) {}

WebhookReceiver::WebhookReceiver(Options options) : impl_(std::make_shared<Impl>()) {
  impl_->options = options;
}

WebhookReceiver::~WebhookReceiver() { stop(); }

::testing::AssertionResult WebhookReceiver::start() {
  auto& s = *impl_;
  if (s.ioc) return ::testing::AssertionFailure() << "webhook receiver already running on port " << port_;
  s.ioc = std::make_unique<net::io_context>(1);
  s.acceptor = std::make_unique<tcp::acceptor>(*s.ioc);
  beast::error_code ec;
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port_);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) {
    // The port may still be held briefly by the previous incarnation's sockets.
    for (int i = 0; i < 100; ++i) {
      s.acceptor->bind(ep, ec);
      if (ec != net::error::address_in_use) break;
      std::this_thread::sleep_for(20ms);
    }
  }
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.reset();
    s.ioc.reset();
    return ::testing::AssertionFailure() << "webhook receiver cannot listen on 127.0.0.1:" << port_ << ": "
                                         << ec.message();
  }
  port_ = s.acceptor->local_endpoint().port();
  s.accept();
  s.thread = std::thread([ioc = s.ioc.get()] { ioc->run(); });
  return ::testing::AssertionSuccess();
}

void WebhookReceiver::stop() {
  auto& s = *impl_;
  if (!s.ioc) return;
  s.ioc->stop();
  if (s.thread.joinable()) s.thread.join();
  beast::error_code ec;
  s.acceptor->close(ec);
  s.acceptor.reset();
  s.ioc.reset();  // destroys the pending handlers, hence every session and its socket
}

bool WebhookReceiver::running() const { return impl_->ioc != nullptr; }

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::set_endpoint(const std::string& path, std::vector<std::string> secrets) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->endpoints[path].secrets = std::move(secrets);
}

void WebhookReceiver::fail_with(const std::string& path, int status) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->endpoints[path].fail_status = status;
}

std::vector<WebhookReceiver::Delivery> WebhookReceiver::deliveries(const std::string& path) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<Delivery> out;
  for (auto& d : impl_->deliveries)
    if (d.path == path) out.push_back(d);
  return out;
}

std::vector<WebhookReceiver::Delivery> WebhookReceiver::unique_deliveries(const std::string& path) const {
  std::set<std::string> seen;
  std::vector<Delivery> out;
  for (auto& d : deliveries(path))
    if (seen.insert(d.webhook_id).second) out.push_back(std::move(d));
  return out;
}

std::vector<WebhookReceiver::Attempt> WebhookReceiver::attempts(const std::string& path) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<Attempt> out;
  for (auto& a : impl_->attempts)
    if (path.empty() || a.path == path) out.push_back(a);
  return out;
}

size_t WebhookReceiver::count_answered(const std::string& path, int status) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<size_t>(std::count_if(impl_->attempts.begin(), impl_->attempts.end(),
                                           [&](const Attempt& a) { return a.path == path && a.status == status; }));
}

bool WebhookReceiver::eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout,
                                 std::chrono::milliseconds interval) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (probe()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string WebhookReceiver::new_secret(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  return "whsec_" + base64(buf.data(), bytes);
}

std::string WebhookReceiver::sign(const std::vector<std::string>& secrets, const std::string& id, int64_t timestamp,
                                  const std::string& body) {
  const std::string content = id + "." + std::to_string(timestamp) + "." + body;
  std::string header;
  for (auto& secret : secrets) {
    if (!header.empty()) header += ' ';
    header += "v1," + hmac_sha256_base64(secret_key(secret), content);
  }
  return header;
}

}  // namespace waybill::itest
