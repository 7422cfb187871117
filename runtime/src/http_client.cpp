#include "waybill/runtime/http_client.hpp"

#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace waybill::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
// Idle connections older than this are not reused: the server may be closing them,
// and a request lost on a half-closed connection would be wrongly "maybe sent".
constexpr auto kMaxIdleReuse = std::chrono::milliseconds(2000);
}  // namespace

struct Pending {
  ClientRequest request;
  std::function<void(ClientResult)> done;
};

struct Connection {
  explicit Connection(net::io_context& ioc) : stream(net::make_strand(ioc)) {}
  beast::tcp_stream stream;
  Clock::time_point idle_since;
};

struct Endpoint {
  std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;
  size_t open = 0;
  std::deque<Pending> waiting;
};

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  HttpClientOptions options;
  // Queued handlers own their Exchange, which owns a reference to this Impl: stop()
  // destroys the context (and so the handlers) to break that cycle. `stopped` and the
  // context are guarded by `stop_mutex` (shared by submit, exclusive in stop()).
  std::shared_mutex stop_mutex;
  bool stopped = false;
  std::unique_ptr<net::io_context> ioc = std::make_unique<net::io_context>();
  net::executor_work_guard<net::io_context::executor_type> guard{ioc->get_executor()};
  std::vector<std::thread> threads;
  std::mutex endpoints_mutex;
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints;

  std::shared_ptr<Endpoint> endpoint(const ClientRequest& r) {
    std::lock_guard<std::mutex> lock(endpoints_mutex);
    auto& e = endpoints[r.host + ":" + std::to_string(r.port)];
    if (!e) e = std::make_shared<Endpoint>();
    return e;
  }

  void submit(Pending p);
  void run(std::shared_ptr<Endpoint> ep, std::unique_ptr<Connection> conn, bool fresh, Pending p);
  void release(const std::shared_ptr<Endpoint>& ep, std::unique_ptr<Connection> conn);
};

namespace {

struct Exchange {
  std::shared_ptr<HttpClient::Impl> client;
  std::shared_ptr<Endpoint> ep;
  std::unique_ptr<Connection> conn;
  Pending pending;
  http::request<http::string_body> req;
  http::response_parser<http::string_body> parser;
  beast::flat_buffer buffer;
  tcp::resolver resolver;
  bool wrote = false;

  Exchange(std::shared_ptr<HttpClient::Impl> c, std::shared_ptr<Endpoint> e, std::unique_ptr<Connection> cn,
           Pending p)
      : client(std::move(c)), ep(std::move(e)), conn(std::move(cn)), pending(std::move(p)),
        resolver(conn->stream.get_executor()) {}

  void fail(beast::error_code ec, const char* stage) {
    ClientResult r;
    r.failure = wrote ? TransportFailure::maybe_sent : TransportFailure::not_sent;
    r.status = Status{Code::unavailable, std::string(stage) + ": " + ec.message()};
    beast::error_code ignored;
    conn->stream.socket().close(ignored);
    client->release(ep, nullptr);  // connection is gone
    pending.done(std::move(r));
  }
};

void start_write(const std::shared_ptr<Exchange>& x);

void start_connect(const std::shared_ptr<Exchange>& x) {
  auto& r = x->pending.request;
  x->conn->stream.expires_after(std::chrono::milliseconds(r.timeout_ms));
  x->resolver.async_resolve(r.host, std::to_string(r.port),
                            [x](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return x->fail(ec, "resolve");
                              x->conn->stream.async_connect(results, [x](beast::error_code ec2, auto) {
                                if (ec2) return x->fail(ec2, "connect");
                                x->conn->stream.socket().set_option(tcp::no_delay(true));
                                start_write(x);
                              });
                            });
}

void start_write(const std::shared_ptr<Exchange>& x) {
  auto& r = x->pending.request;
  x->conn->stream.expires_after(std::chrono::milliseconds(r.timeout_ms));
  x->wrote = true;  // from here on the server may have seen the request
  http::async_write(x->conn->stream, x->req, [x](beast::error_code ec, size_t) {
    if (ec) return x->fail(ec, "write");
    x->parser.body_limit(x->client->options.max_response_bytes);
    http::async_read(x->conn->stream, x->buffer, x->parser, [x](beast::error_code ec2, size_t) {
      if (ec2) return x->fail(ec2, ec2 == beast::error::timeout ? "timeout" : "read");
      auto msg = x->parser.release();
      ClientResult result;
      result.response.status = static_cast<int>(msg.result_int());
      for (auto& f : msg) {
        std::string name(f.name_string().data(), f.name_string().size());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        result.response.headers[name] = std::string(f.value().data(), f.value().size());
      }
      result.response.body = std::move(msg.body());
      bool keep = msg.keep_alive();
      x->conn->stream.expires_never();
      auto client = x->client;
      auto ep = x->ep;
      auto done = std::move(x->pending.done);
      if (keep) {
        client->release(ep, std::move(x->conn));
      } else {
        beast::error_code ignored;
        x->conn->stream.socket().close(ignored);
        client->release(ep, nullptr);
      }
      done(std::move(result));
    });
  });
}

}  // namespace

void HttpClient::Impl::run(std::shared_ptr<Endpoint> ep, std::unique_ptr<Connection> conn, bool fresh, Pending p) {
  auto x = std::make_shared<Exchange>(shared_from_this(), std::move(ep), std::move(conn), std::move(p));
  auto& r = x->pending.request;
  x->req.version(11);
  x->req.method_string(r.method);
  x->req.target(r.target);
  x->req.set(http::field::host, r.host + ":" + std::to_string(r.port));
  x->req.set(http::field::user_agent, "waybill");
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT") x->req.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) x->req.set(k, v);
  x->req.body() = r.body;
  x->req.keep_alive(true);
  x->req.prepare_payload();
  net::dispatch(x->conn->stream.get_executor(), [x, fresh] {
    if (fresh) start_connect(x);
    else start_write(x);
  });
}

void HttpClient::Impl::submit(Pending p) {
  std::shared_lock<std::shared_mutex> running(stop_mutex);
  if (stopped) return;  // dropped unanswered, like a request under way at stop()
  auto ep = endpoint(p.request);
  std::unique_lock<std::mutex> lock(ep->mutex);
  while (!ep->idle.empty()) {
    auto conn = std::move(ep->idle.back());
    ep->idle.pop_back();
    if (Clock::now() - conn->idle_since < kMaxIdleReuse) {
      lock.unlock();
      return run(ep, std::move(conn), false, std::move(p));
    }
    beast::error_code ignored;
    conn->stream.socket().close(ignored);
    --ep->open;
  }
  if (ep->open < options.max_connections_per_endpoint) {
    ++ep->open;
    lock.unlock();
    return run(ep, std::make_unique<Connection>(*ioc), true, std::move(p));
  }
  if (ep->waiting.size() < options.max_waiting_per_endpoint) {
    ep->waiting.push_back(std::move(p));
    return;
  }
  lock.unlock();
  ClientResult r;
  r.failure = TransportFailure::not_sent;
  r.status = Status{Code::unavailable, "client connection pool is full"};
  p.done(std::move(r));
}

// Hands a finished connection (or, with nullptr, its slot) to the next waiting request.
void HttpClient::Impl::release(const std::shared_ptr<Endpoint>& ep, std::unique_ptr<Connection> conn) {
  std::unique_lock<std::mutex> lock(ep->mutex);
  if (!ep->waiting.empty()) {
    Pending next = std::move(ep->waiting.front());
    ep->waiting.pop_front();
    lock.unlock();
    if (conn) return run(ep, std::move(conn), false, std::move(next));
    return run(ep, std::make_unique<Connection>(*ioc), true, std::move(next));
  }
  if (conn) {
    conn->idle_since = Clock::now();
    ep->idle.push_back(std::move(conn));
  } else {
    --ep->open;
  }
}

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->options = options;
  for (int i = 0; i < std::max(1, options.threads); ++i) impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc->run(); });
}

HttpClient::~HttpClient() { stop(); }

void HttpClient::stop() {
  {
    // From here on submit() drops requests; a callback on a client thread may still
    // submit one, so the threads are joined without the lock.
    std::unique_lock<std::shared_mutex> stopping(impl_->stop_mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->guard.reset();
  impl_->ioc->stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints;
  {
    std::lock_guard<std::mutex> lock(impl_->endpoints_mutex);
    endpoints.swap(impl_->endpoints);
  }
  for (auto& [name, ep] : endpoints) {
    ep->idle.clear();
    ep->waiting.clear();
  }
  // Destroys the handlers still queued: their exchanges (and the callbacks they hold,
  // never to run now) are released here, while their owners are still alive.
  impl_->ioc.reset();
}

void HttpClient::send(ClientRequest request, std::function<void(ClientResult)> done) {
  impl_->submit(Pending{std::move(request), std::move(done)});
}

ClientResult HttpClient::send_sync(ClientRequest request) {
  auto promise = std::make_shared<std::promise<ClientResult>>();
  auto future = promise->get_future();
  send(std::move(request), [promise](ClientResult r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace waybill::runtime
