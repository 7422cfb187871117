#include <charconv>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "driver.hpp"
#include "server.hpp"

namespace waybill::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
uint64_t count_after(std::string_view body, std::string_view key) {
  auto p = body.find(key);
  if (p == std::string_view::npos) return 0;
  p += key.size();
  uint64_t v = 0;
  std::from_chars(body.data() + p, body.data() + body.size(), v);
  return v;
}
}  // namespace

void DriveResult::note_status(int status, std::string_view body) {
  std::lock_guard<std::mutex> lock(mutex);
  ++statuses[status];
  if (first_error.empty() && (status < 200 || status >= 300))
    first_error = std::to_string(status) + " " + std::string(body.substr(0, 300));
}

uint64_t DriveResult::tally_tracking(std::string_view body) {
  uint64_t a = 0, l = 0, d = 0, r = 0;
  auto s = body.find("\"summary\":");
  if (s != std::string_view::npos) {
    auto tail = body.substr(s);
    a = count_after(tail, "\"applied\":");
    l = count_after(tail, "\"late\":");
    d = count_after(tail, "\"duplicate\":");
    r = count_after(tail, "\"rejected\":");
  } else if (body.find("\"outcome\":\"applied\"") != std::string_view::npos) {
    a = 1;
  } else if (body.find("\"outcome\":\"late\"") != std::string_view::npos) {
    l = 1;
  } else if (body.find("\"outcome\":\"duplicate\"") != std::string_view::npos) {
    d = 1;
  } else {
    r = 1;
  }
  applied += a;
  late += l;
  duplicate += d;
  rejected += r;
  if (r > 0) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first_rejection.empty()) {
      auto p = body.find("\"outcome\":\"rejected\"");
      first_rejection = std::string(body.substr(p == std::string_view::npos ? 0 : p, 300));
    }
  }
  return a + l + d;
}

void DriveResult::on_answer(const Work& work, int status, std::string_view body) {
  requests.fetch_add(1, std::memory_order_relaxed);
  if (status >= 200 && status < 300) {
    units.fetch_add(work.tracking ? tally_tracking(body) : work.units, std::memory_order_relaxed);
  } else {
    http_errors.fetch_add(1, std::memory_order_relaxed);
  }
  note_status(status, body);
}

namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  asio::io_context io;
  tcp::endpoint endpoint;
  std::string host;
  const Source* source = nullptr;
  DriveResult* result = nullptr;
  Clock::time_point deadline;
  bool timed = false;
  std::atomic<bool> dry{false};
  std::atomic<int> live{0};
  std::atomic<int64_t> last_answer_ns{0};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(Shared& sh) : sh_(sh), stream_(sh.io) {}

  void start() { connect(); }

 private:
  void connect() {
    stream_.expires_never();
    stream_.async_connect(sh_.endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->transport_error(ec, false);
      self->stream_.socket().set_option(tcp::no_delay(true));
      self->next();
    });
  }

  void next() {
    if (sh_.timed && Clock::now() >= sh_.deadline) return finish();
    if (sh_.dry.load(std::memory_order_relaxed) || !(*sh_.source)(work_)) {
      sh_.dry = true;
      return finish();
    }
    req_ = {};
    req_.version(11);
    req_.method(work_.method == "GET" ? http::verb::get : http::verb::post);
    req_.target(work_.target);
    req_.set(http::field::host, sh_.host);
    req_.set(http::field::authorization, "Bearer " + bench_api_key());
    if (work_.method != "GET")
      req_.set(http::field::content_type, work_.ndjson ? "application/x-ndjson" : "application/json");
    req_.body() = std::move(work_.body);
    req_.prepare_payload();
    send();
  }

  void send() {
    sent_ = Clock::now();
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->transport_error(ec, true);
      self->parser_.emplace();
      self->parser_->body_limit(64u << 20);
      http::async_read(self->stream_, self->buf_, *self->parser_,
                       [self](beast::error_code ec, size_t) { self->on_read(ec); });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return transport_error(ec, true);
    auto now = Clock::now();
    auto& res = parser_->get();
    auto& r = *sh_.result;
    r.latency.record(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_).count()));
    r.on_answer(work_, res.result_int(), res.body());
    stamp(now);
    if (!res.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buf_.clear();
      return connect();
    }
    next();
  }

  void transport_error(beast::error_code ec, bool had_request) {
    auto& r = *sh_.result;
    r.transport_errors.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(r.mutex);
      if (r.first_error.empty()) r.first_error = "transport: " + ec.message();
    }
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buf_.clear();
    // A refused connection stays refused; give up on this session rather than spin.
    if (!had_request || ++failures_ > 20) return finish();
    connect();
  }

  void stamp(Clock::time_point t) {
    int64_t ns = t.time_since_epoch().count();
    int64_t prev = sh_.last_answer_ns.load(std::memory_order_relaxed);
    while (ns > prev && !sh_.last_answer_ns.compare_exchange_weak(prev, ns, std::memory_order_relaxed)) {
    }
  }

  void finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    sh_.live.fetch_sub(1);
  }

  Shared& sh_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Work work_;
  Clock::time_point sent_;
  int failures_ = 0;
};

}  // namespace

void drive_http(const HttpEndpoint& ep, const DriveOptions& opt, const Source& source, DriveResult& result) {
  Shared sh;
  sh.endpoint = tcp::endpoint(asio::ip::make_address(ep.host), ep.port);
  sh.host = ep.host + ":" + std::to_string(ep.port);
  sh.source = &source;
  sh.result = &result;
  auto start = Clock::now();
  sh.timed = opt.duration_s > 0;
  sh.deadline = start + std::chrono::microseconds(static_cast<int64_t>(opt.duration_s * 1e6));
  sh.last_answer_ns = start.time_since_epoch().count();
  sh.live = opt.concurrency;
  for (int i = 0; i < opt.concurrency; ++i) std::make_shared<Session>(sh)->start();
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, opt.threads); ++i) threads.emplace_back([&] { sh.io.run(); });
  for (auto& t : threads) t.join();
  result.elapsed_s =
      std::chrono::duration<double>(Clock::duration(sh.last_answer_ns.load()) - start.time_since_epoch()).count();
  result.source_dry = sh.dry.load();
}

}  // namespace waybill::bench
