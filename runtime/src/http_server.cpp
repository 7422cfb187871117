#include "waybill/runtime/http_server.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "waybill/actors/render.hpp"

namespace waybill::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

HttpResponse problem_response(int http_status, const Status& status) {
  return {http_status, "application/problem+json", actors::render_problem(http_status, status), {}};
}

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<ssl::context> tls;  // set: every connection speaks TLS
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_progress{0};
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;

  void accept();
};

namespace {

std::string_view sv(beast::string_view v) { return {v.data(), v.size()}; }

std::string lower_media_type(std::string_view v) {
  auto semi = v.find(';');
  if (semi != std::string_view::npos) v = v.substr(0, semi);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  std::string out(v);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Size of a request head as sent, at least: request line, "name: value" lines and the
// blank line (optional whitespace around values is not counted).
size_t head_bytes(const http::request<http::string_body>& msg) {
  size_t n = msg.method_string().size() + 1 + msg.target().size() + 1 + 8 + 2 + 2;
  for (auto& f : msg) n += f.name_string().size() + 2 + f.value().size() + 2;
  return n;
}

// One connection, over plain TCP (Stream = beast::tcp_stream) or TLS
// (beast::ssl_stream<beast::tcp_stream>): the HTTP exchange is the same, only the
// handshake and the closing differ.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server) : stream_(make_stream(std::move(socket), server)), server_(server) {}
  ~Session() { server_.connections.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        // The handshake gets the read timeout too: a client that never completes it
        // must not hold the connection.
        self->lowest().expires_after(std::chrono::milliseconds(self->server_.options.read_timeout_ms));
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->drop();
          self->read();
        });
      } else {
        self->read();
      }
    });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(server_.options.max_header_bytes);
    // The first request of a connection and each later one get the full read timeout;
    // an idle keep-alive connection is closed after the idle timeout.
    lowest().expires_after(std::chrono::milliseconds(
        first_ ? server_.options.read_timeout_ms : server_.options.idle_timeout_ms));
    first_ = false;
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == ssl::error::stream_truncated)
      return close();
    if (ec == http::error::body_limit)
      return reply_error(413, {Code::payload_too_large, "request body exceeds " +
                                   std::to_string(server_.options.max_body_bytes) + " bytes", "body"});
    if (ec == http::error::header_limit)
      return reply_error(431, {Code::invalid_argument, "request headers exceed " +
                                   std::to_string(server_.options.max_header_bytes) + " bytes", "headers"});
    if (ec) {
      if (ec == net::error::connection_reset || ec == net::error::eof) return close();
      return reply_error(400, {Code::invalid_argument, "malformed HTTP request: " + ec.message()});
    }
    // Beast enforces header_limit only while the end of the head has not arrived yet:
    // a head that comes in one read is parsed whole, however large. Measure it again.
    if (head_bytes(parser_->get()) > server_.options.max_header_bytes)
      return reply_error(431, {Code::invalid_argument, "request headers exceed " +
                                   std::to_string(server_.options.max_header_bytes) + " bytes", "headers"});
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    HttpRequest req;
    req.method = std::string(sv(msg.method_string()));
    req.target = std::string(sv(msg.target()));
    req.content_type = lower_media_type(sv(msg[http::field::content_type]));
    req.idempotency_key = std::string(sv(msg["Idempotency-Key"]));
    req.body = std::move(msg.body());
    for (auto& f : msg) {
      std::string name(sv(f.name_string()));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(sv(f.value())));
    }
    // No timer while the handler works: the answer may take a group commit or two.
    lowest().expires_never();
    server_.in_progress.fetch_add(1, std::memory_order_relaxed);
    auto self = this->shared_from_this();
    server_.handler(std::move(req), [self](HttpResponse res) {
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->write(std::move(res), false); });
    });
  }

  void reply_error(int status, const Status& st) {
    keep_alive_ = false;
    server_.in_progress.fetch_add(1, std::memory_order_relaxed);
    write(problem_response(status, st), true);
  }

  void write(HttpResponse res, bool close_after) {
    if (res.status == 0) {
      server_.in_progress.fetch_sub(1, std::memory_order_relaxed);
      beast::error_code ec;
      lowest().socket().set_option(net::socket_base::linger(true, 0), ec);  // RST, not FIN
      lowest().socket().close(ec);
      return;
    }
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(11);
    msg->result(static_cast<http::status>(res.status));
    msg->set(http::field::server, "waybill");
    msg->set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) msg->set(k, v);
    msg->body() = std::move(res.body);
    bool keep = keep_alive_ && !close_after && !server_.stopping.load();
    msg->keep_alive(keep);
    msg->prepare_payload();
    lowest().expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
    http::async_write(stream_, *msg, [self = this->shared_from_this(), msg, keep](beast::error_code ec, size_t) {
      self->server_.in_progress.fetch_sub(1, std::memory_order_relaxed);
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void close() {
    if constexpr (kTls) {
      // close_notify, bounded: a peer that never answers it is simply dropped.
      lowest().expires_after(std::chrono::milliseconds(1000));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->drop(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest().close();
    }
  }

  void drop() { lowest().close(); }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  static Stream make_stream(tcp::socket&& socket, HttpServer::Impl& server) {
    if constexpr (kTls) return Stream(std::move(socket), *server.tls);
    else return Stream(std::move(socket));
  }

  Stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool first_ = true;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping.load() || ec == net::error::operation_aborted) return;
      return accept();  // e.g. EMFILE: keep serving the connections we have
    }
    if (connections.load() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1, std::memory_order_relaxed);
      socket.set_option(tcp::no_delay(true));
      if (tls) std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), *this)->start();
      else std::make_shared<Session<beast::tcp_stream>>(std::move(socket), *this)->start();
    }
    accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { stop(0); }

namespace {

Status load_tls(HttpServer::Impl& s) {
  auto& o = s.options;
  s.tls.emplace(ssl::context::tls_server);
  beast::error_code ec;
  s.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression,
                     ec);
  if (!ec) s.tls->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) return {Code::invalid_argument, "cannot load TLS certificate '" + o.tls_cert_file + "': " + ec.message(), "http.tls.cert_file"};
  s.tls->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) return {Code::invalid_argument, "cannot load TLS key '" + o.tls_key_file + "': " + ec.message(), "http.tls.key_file"};
  return {};
}

}  // namespace

Status HttpServer::start() {
  auto& s = *impl_;
  if (!s.options.tls_cert_file.empty() || !s.options.tls_key_file.empty()) {
    if (auto st = load_tls(s); !st.ok()) return st;
  }
  beast::error_code ec;
  auto address = net::ip::make_address(s.options.host, ec);
  if (ec) return {Code::invalid_argument, "bad listen host '" + s.options.host + "'", "listen"};
  tcp::endpoint ep{address, s.options.port};
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return {Code::unavailable, "cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                                   ": " + ec.message(), "listen"};
  s.bound_port = s.acceptor.local_endpoint().port();
  s.accept();
  for (int i = 0; i < std::max(1, s.options.threads); ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  return {};
}

void HttpServer::stop(int drain_ms) {
  auto& s = *impl_;
  if (s.stopping.exchange(true)) return;
  net::post(s.ioc, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
  while (s.in_progress.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.ioc.stop();
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }
size_t HttpServer::open_connections() const { return impl_->connections.load(); }
size_t HttpServer::requests_in_progress() const { return impl_->in_progress.load(); }

}  // namespace waybill::runtime
