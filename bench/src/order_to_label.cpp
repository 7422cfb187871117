#include "order_to_label.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "server.hpp"
#include "waybill/actors/carrier_profile.hpp"
#include "waybill/actors/model.hpp"

namespace waybill::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------
// Test files.

namespace {

// Length of the scalar written at `pos` (plain, or quoted with ' or ").
size_t token_length(const std::string& t, size_t pos) {
  if (pos >= t.size()) return 0;
  char q = t[pos];
  if (q == '"' || q == '\'') {
    for (size_t e = pos + 1; e < t.size(); ++e) {
      if (q == '"' && t[e] == '\\') {
        ++e;
        continue;
      }
      if (t[e] == q) return e - pos + 1;
    }
    return t.size() - pos;
  }
  size_t e = pos;
  while (e < t.size() && std::string_view(",}] \t\r\n#").find(t[e]) == std::string_view::npos) ++e;
  return e - pos;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// The profile's text with base_url and the limits replaced in place: the rest of the file
// (quoting, anchors, comments) stays as written, since quoting is meaningful in request
// templates.
bool edit_profile(const std::string& text, const std::string& sim_hostport, const LimitOverrides& o, std::string* out,
                  std::string* error) {
  struct Edit {
    size_t pos, len;
    std::string with;
  };
  std::vector<Edit> edits;
  YAML::Node n = YAML::Load(text);
  YAML::Node url_node = n["base_url"];
  if (!url_node || !url_node.IsScalar()) {
    *error = "no base_url";
    return false;
  }
  std::string url = url_node.Scalar();
  auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    *error = "base_url '" + url + "' has no scheme";
    return false;
  }
  auto path = url.find('/', scheme + 3);
  std::string new_url = url.substr(0, scheme + 3) + sim_hostport + (path == std::string::npos ? "" : url.substr(path));
  size_t at = static_cast<size_t>(url_node.Mark().pos);
  edits.push_back({at, token_length(text, at), "\"" + new_url + "\""});

  std::vector<std::pair<const char*, std::string>> want;
  if (o.requests_per_second > 0) want.push_back({"requests_per_second", number_text(o.requests_per_second)});
  if (o.burst > 0) want.push_back({"burst", number_text(o.burst)});
  if (o.max_in_flight > 0) want.push_back({"max_in_flight", std::to_string(o.max_in_flight)});
  YAML::Node lim = n["limits"];
  std::string missing_flow, missing_block;
  for (auto& [key, value] : want) {
    YAML::Node v = lim ? lim[key] : YAML::Node();
    if (v && v.IsScalar()) {
      size_t p = static_cast<size_t>(v.Mark().pos);
      edits.push_back({p, token_length(text, p), value});
    } else {
      missing_flow += std::string(" ") + key + ": " + value + ",";
      missing_block += std::string(key) + ": " + value + "\n";
    }
  }
  if (!missing_flow.empty()) {
    if (!lim || !lim.IsMap() || lim.size() == 0) {
      edits.push_back({text.size(), 0, "\nlimits: {" + missing_flow.substr(1, missing_flow.size() - 2) + "}\n"});
    } else if (lim.Style() == YAML::EmitterStyle::Flow) {
      size_t p = static_cast<size_t>(lim.Mark().pos);
      if (text[p] != '{') {
        *error = "cannot find the limits mapping";
        return false;
      }
      edits.push_back({p + 1, 0, missing_flow});
    } else {
      auto first = lim.begin()->first.Mark();
      size_t line_start = static_cast<size_t>(first.pos - first.column);
      std::string indent(static_cast<size_t>(first.column), ' '), lines;
      for (size_t b = 0, e; b < missing_block.size(); b = e + 1) {
        e = missing_block.find('\n', b);
        lines += indent + missing_block.substr(b, e - b + 1);
      }
      edits.push_back({line_start, 0, lines});
    }
  }
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.pos > b.pos; });
  *out = text;
  for (auto& e : edits) {
    if (e.pos > out->size()) {
      *error = "edit outside the file";
      return false;
    }
    out->replace(e.pos, e.len, e.with);
  }
  return true;
}

}  // namespace

bool write_carrier_profiles(const std::string& from_dir, const std::string& to_dir, const std::string& sim_hostport,
                            const LimitOverrides& o, std::map<std::string, O2LCarrierLimits>* limits,
                            std::string* error) {
  std::error_code ec;
  fs::create_directories(to_dir, ec);
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(from_dir, ec))
    if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") files.push_back(e.path());
  if (ec || files.empty()) {
    *error = "no carrier profiles (*.yaml) in " + from_dir;
    return false;
  }
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::ifstream in(f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), edited, why;
    try {
      if (!edit_profile(text, sim_hostport, o, &edited, &why)) {
        *error = f.string() + ": " + why;
        return false;
      }
    } catch (const std::exception& e) {
      *error = f.string() + ": " + e.what();
      return false;
    }
    std::ofstream(fs::path(to_dir) / f.filename())
        << "# " << f.string() << " for waybill-bench: base_url points at carrier-sim, limits raised\n" << edited;
  }
  // The copies must load, and say what was meant.
  auto loaded = actors::load_carrier_profiles(to_dir);
  if (!loaded) {
    *error = "profile copies in " + to_dir + " do not load: " + loaded.status().field() + ": " +
             loaded.status().message();
    return false;
  }
  const std::string want_host = sim_hostport.substr(0, sim_hostport.rfind(':'));
  const int want_port = std::stoi(sim_hostport.substr(sim_hostport.rfind(':') + 1));
  for (auto& p : *loaded) {
    O2LCarrierLimits l;
    l.base_url = "http://" + p.host + ":" + std::to_string(p.port) + p.base_path;
    l.requests_per_second = p.limits.requests_per_second;
    l.burst = p.limits.burst;
    l.max_in_flight = static_cast<int>(p.limits.max_in_flight);
    l.queue_capacity = p.limits.queue_capacity;
    l.timeout_ms = p.limits.timeout_ms;
    if (p.host != want_host || p.port != want_port || (o.requests_per_second > 0 && l.requests_per_second != o.requests_per_second) ||
        (o.burst > 0 && l.burst != o.burst) || (o.max_in_flight > 0 && l.max_in_flight != o.max_in_flight)) {
      *error = "profile copy of " + p.name + " in " + to_dir + " does not say what was written (" + l.base_url +
               ", max_in_flight " + std::to_string(l.max_in_flight) + ")";
      return false;
    }
    (*limits)[p.name] = l;
  }
  return true;
}

bool write_sim_config(const std::string& from, const std::string& to, double latency_ms, bool tracking_feed,
                      std::string* error) {
  try {
    YAML::Node n = YAML::LoadFile(from);
    YAML::Node carriers = n["carriers"];
    if (!carriers || !carriers.IsSequence() || carriers.size() == 0) {
      *error = from + ": no carriers";
      return false;
    }
    for (size_t i = 0; i < carriers.size(); ++i) {
      YAML::Node c = carriers[i];
      YAML::Node lat(YAML::NodeType::Map);
      lat["distribution"] = "fixed";
      lat["median_ms"] = latency_ms;
      c["latency"] = lat;
      YAML::Node f = c["faults"];
      for (const char* k : {"server_error_share", "reset_share", "timeout_share", "rate_limited_share",
                            "lost_response_share"})
        f[k] = 0.0;
      c["faults"] = f;
      YAML::Node rl(YAML::NodeType::Map);
      rl["requests_per_second"] = 0;
      rl["burst"] = 0;
      c["rate_limit"] = rl;
      c["rejection_share"] = 0.0;
      YAML::Node t = c["tracking"];
      t["enabled"] = tracking_feed;
      c["tracking"] = t;
    }
    YAML::Emitter out;
    out << n;
    std::ofstream(to) << "# " << from << " for waybill-bench: fixed latency, no faults\n" << out.c_str() << "\n";
  } catch (const std::exception& e) {
    *error = from + ": " + e.what();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------
// Orders.

namespace {

struct Rng {  // SplitMix64, one stream per order
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
};

Rng order_rng(uint64_t seed, char phase, size_t i) {
  Rng r{seed ^ (static_cast<uint64_t>(phase) * 0x100000001b3ULL) ^ (i * 0xff51afd7ed558ccdULL) ^ 0x6f326cULL};
  r.next();
  return r;
}

struct City { const char* city; const char* state; const char* zip; };
const City kCities[] = {{"Louisville", "KY", "40209"}, {"Memphis", "TN", "38118"}, {"Chicago", "IL", "60666"},
                        {"Dallas", "TX", "75261"},     {"Ontario", "CA", "91761"}, {"Newark", "NJ", "07114"},
                        {"Springfield", "IL", "62701"}, {"Cincinnati", "OH", "41048"}, {"Atlanta", "GA", "30320"},
                        {"Seattle", "WA", "98108"},    {"Denver", "CO", "80249"},  {"Phoenix", "AZ", "85034"}};
const char* const kNames[] = {"Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra",
                              "Barbara Liskov", "Donald Knuth", "Frances Allen", "Ken Thompson"};
const char* const kLevels[] = {"ground", "express", "overnight"};

}  // namespace

// The first three draws of an order's stream fix its level and package count, so
// level() and packages() need not build the JSON.
int LabelOrders::level(char phase, size_t i) const {
  auto r = order_rng(seed, phase, i);
  uint64_t x = r.next() % 5;  // ground 3 : express 1 : overnight 1
  return x < 3 ? 0 : x == 3 ? 1 : 2;
}

int LabelOrders::packages(char phase, size_t i) const {
  auto r = order_rng(seed, phase, i);
  r.next();
  return static_cast<int>(r.uniform(1, 3));
}

std::string LabelOrders::order_id(char phase, size_t i) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "O2L-%c-%08zu", phase, i);
  return buf;
}

std::string LabelOrders::order_json(char phase, size_t i) const {
  int lvl = level(phase, i), pk = packages(phase, i);
  auto r = order_rng(seed, phase, i);
  r.next();
  r.next();
  const City& c = kCities[r.next() % (sizeof kCities / sizeof kCities[0])];
  std::string s;
  s.reserve(512);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                R"({"order_id":"%s","source_system":"bench-o2l","service_level":"%s","ship_to":{"name":"%s",)"
                R"("street":"%d Main St","city":"%s","state":"%s","postal_code":"%s","country":"US"},"lines":[)",
                order_id(phase, i).c_str(), kLevels[lvl], kNames[r.next() % 8], static_cast<int>(r.uniform(1, 9999)),
                c.city, c.state, c.zip);
  s += buf;
  int lines = static_cast<int>(r.uniform(1, 3));
  for (int l = 0; l < lines; ++l) {
    std::snprintf(buf, sizeof buf, R"(%s{"sku":"SKU-%05d","qty":%d})", l ? "," : "",
                  static_cast<int>(r.uniform(1, 20000)), static_cast<int>(r.uniform(1, 5)));
    s += buf;
  }
  s += R"(],"packages":[)";
  for (int p = 0; p < pk; ++p) {
    std::snprintf(buf, sizeof buf, R"(%s{"weight_kg":%.2f,"length_cm":%d,"width_cm":%d,"height_cm":%d})",
                  p ? "," : "", 0.2 + r.unit() * 19.8, static_cast<int>(r.uniform(10, 80)),
                  static_cast<int>(r.uniform(10, 60)), static_cast<int>(r.uniform(5, 50)));
    s += buf;
  }
  s += "]}";
  return s;
}

// ---------------------------------------------------------------------------------
// Async keep-alive connection: one request at a time.

namespace {

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Answer {
  int status = 0;  // 0: transport error (body says which)
  std::string body;
  int64_t sent_us = 0;  // system clock, just before the request was written
  int64_t latency_ns = 0;
  int retry_after_s = -1;
};
using AnswerFn = std::function<void(Answer&)>;

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& io, tcp::endpoint ep, std::string host) : stream_(io), ep_(ep), host_(std::move(host)) {}

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void request(http::verb verb, std::string target, std::string body, AnswerFn done) {
    req_ = {};
    req_.version(11);
    req_.method(verb);
    req_.target(target);
    req_.set(http::field::host, host_);
    req_.set(http::field::authorization, "Bearer " + bench_api_key());
    if (verb != http::verb::get) req_.set(http::field::content_type, "application/json");
    req_.body() = std::move(body);
    req_.prepare_payload();
    done_ = std::move(done);
    if (connected_) return write();
    stream_.expires_after(std::chrono::seconds(10));
    stream_.async_connect(ep_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail(ec);
      self->stream_.socket().set_option(tcp::no_delay(true));
      self->connected_ = true;
      self->write();
    });
  }

 private:
  void write() {
    sent_ = Clock::now();
    sent_us_ = wall_us();
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail(ec);
      self->parser_.emplace();
      self->parser_->body_limit(64u << 20);
      http::async_read(self->stream_, self->buf_, *self->parser_, [self](beast::error_code ec2, size_t) {
        if (ec2) return self->fail(ec2);
        self->answer();
      });
    });
  }

  void answer() {
    auto& res = parser_->get();
    Answer a;
    a.status = res.result_int();
    a.body = std::move(res.body());
    a.sent_us = sent_us_;
    a.latency_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - sent_).count();
    auto ra = res.find(http::field::retry_after);
    if (ra != res.end()) {
      int v = 0;
      auto sv = ra->value();
      if (std::from_chars(sv.data(), sv.data() + sv.size(), v).ec == std::errc()) a.retry_after_s = v;
    }
    if (!res.keep_alive()) close();
    auto d = std::move(done_);
    d(a);
  }

  void fail(beast::error_code ec) {
    close();
    Answer a;
    a.body = "transport: " + ec.message();
    a.sent_us = sent_us_;
    auto d = std::move(done_);
    d(a);
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buf_.clear();
    connected_ = false;
  }

  beast::tcp_stream stream_;
  tcp::endpoint ep_;
  std::string host_;
  bool connected_ = false;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  beast::flat_buffer buf_;
  AnswerFn done_;
  Clock::time_point sent_;
  int64_t sent_us_ = 0;
};

// One flow run's shared tallies.
struct FlowCtx {
  const LabelOrders* orders = nullptr;
  std::vector<LabelSlot>* slots = nullptr;
  FlowRun* run = nullptr;
  char phase = 'M';
  std::atomic<uint64_t> requests{0}, http_errors{0}, transport_errors{0}, retries{0}, packs{0};
  std::atomic<int64_t> first_send_us{0}, last_pack_us{0};
  std::atomic<int64_t> first_send_ns{0}, last_answer_ns{0};  // steady clock
  std::mutex mutex;
  std::map<int, uint64_t> statuses;
  std::string first_error;

  void note(const Answer& a, bool error) {
    requests.fetch_add(1, std::memory_order_relaxed);
    if (a.status) run->request_latency.record(static_cast<uint64_t>(std::max<int64_t>(0, a.latency_ns)));
    int64_t first = 0;
    first_send_us.compare_exchange_strong(first, a.sent_us);
    int64_t now = Clock::now().time_since_epoch().count(), prev = last_answer_ns.load();
    while (now > prev && !last_answer_ns.compare_exchange_weak(prev, now)) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    ++statuses[a.status];
    if (error && first_error.empty()) first_error = (a.status ? std::to_string(a.status) + " " : "") + a.body.substr(0, 300);
  }
};

// create -> release -> pack for order i on `conn`; `next` runs once the order is done
// (packed or given up). 429 and 503 (backlog) are retried after a short pause.
void run_order(const std::shared_ptr<FlowCtx>& ctx, const std::shared_ptr<Conn>& conn, size_t i, int step, int tries,
               std::function<void()> next) {
  std::string id = ctx->orders->order_id(ctx->phase, i);
  std::string target = step == 0 ? "/v1/orders" : "/v1/orders/" + id + (step == 1 ? "/release" : "/pack");
  std::string body = step == 0 ? ctx->orders->order_json(ctx->phase, i) : std::string();
  conn->request(http::verb::post, std::move(target), std::move(body),
                [ctx, conn, i, step, tries, next = std::move(next)](Answer& a) mutable {
                  bool ok = a.status >= 200 && a.status < 300;
                  bool backoff = (a.status == 429 || a.status == 503) && tries < 200;
                  ctx->note(a, !ok && !backoff);
                  if (ok) {
                    if (step < 2) return run_order(ctx, conn, i, step + 1, 0, std::move(next));
                    (*ctx->slots)[i].pack_sent_us.store(a.sent_us);
                    ctx->packs.fetch_add(1);
                    int64_t now = wall_us(), prev = ctx->last_pack_us.load();
                    while (now > prev && !ctx->last_pack_us.compare_exchange_weak(prev, now)) {
                    }
                    return next();
                  }
                  if (backoff) {
                    ctx->retries.fetch_add(1);
                    int ms = a.retry_after_s > 0 ? std::min(1000, a.retry_after_s * 1000) : 50;
                    auto t = std::make_shared<asio::steady_timer>(conn->executor(), std::chrono::milliseconds(ms));
                    t->async_wait([t, ctx, conn, i, step, tries, next = std::move(next)](beast::error_code) mutable {
                      run_order(ctx, conn, i, step, tries + 1, std::move(next));
                    });
                    return;
                  }
                  if (a.status == 0) ctx->transport_errors.fetch_add(1);
                  else ctx->http_errors.fetch_add(1);
                  next();
                });
}

void finish_run(FlowCtx& ctx, size_t started, int64_t start_ns) {
  auto& r = *ctx.run;
  r.orders_started = started;
  r.packs_accepted = ctx.packs.load();
  r.requests = ctx.requests.load();
  r.http_errors = ctx.http_errors.load();
  r.transport_errors = ctx.transport_errors.load();
  r.retries = ctx.retries.load();
  r.statuses = ctx.statuses;
  r.first_error = ctx.first_error;
  r.first_send_us = ctx.first_send_us.load();
  r.last_pack_us = ctx.last_pack_us.load();
  int64_t end = ctx.last_answer_ns.load();
  r.elapsed_s = end > start_ns ? static_cast<double>(end - start_ns) / 1e9 : 0;
}

void run_io(asio::io_context& io, int threads) {
  std::vector<std::thread> ts;
  for (int i = 0; i < std::max(1, threads); ++i) ts.emplace_back([&] { io.run(); });
  for (auto& t : ts) t.join();
}

}  // namespace

// ---------------------------------------------------------------------------------
// LabelFlow.

LabelFlow::LabelFlow(std::string host, uint16_t port, LabelOrders orders, int threads, size_t capacity)
    : host_(std::move(host)), port_(port), orders_(orders), threads_(threads), capacity_(capacity),
      max_slots_(capacity), paced_slots_(capacity) {}

LabelFlow::~LabelFlow() { stop_follower(); }

const LabelSlot& LabelFlow::slot(char phase, size_t i) const { return slots(phase)[i]; }

uint64_t LabelFlow::booked(char phase, int64_t until_us) const {
  if (until_us == INT64_MAX) return phase == 'M' ? booked_max_.load() : booked_paced_.load();
  uint64_t n = 0;
  for (auto& s : slots(phase)) {
    int64_t b = s.booked_us.load(std::memory_order_relaxed);
    n += b != 0 && b <= until_us;
  }
  return n;
}

void LabelFlow::start_follower() {
  stop_ = false;
  follower_ = std::make_unique<std::thread>([this] { follow(); });
}

void LabelFlow::stop_follower() {
  if (!follower_) return;
  stop_ = true;
  int fd = follower_fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // ends a long poll in progress
  follower_->join();
  follower_.reset();
}

void LabelFlow::follow() {
  asio::io_context io;
  tcp::endpoint ep(asio::ip::make_address(host_), port_);
  std::optional<tcp::socket> sock;
  beast::flat_buffer buf;
  uint64_t after = 0;
  rapidjson::Document doc;
  const std::string prefix = "shipments/O2L-";
  while (!stop_.load()) {
    beast::error_code ec;
    if (!sock) {
      sock.emplace(io);
      sock->connect(ep, ec);
      if (ec) {
        sock.reset();
        if (feed_error_.empty()) feed_error_ = "connect: " + ec.message();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      sock->set_option(tcp::no_delay(true));
      buf.clear();
      follower_fd_ = sock->native_handle();
    }
    http::request<http::empty_body> req{http::verb::get,
                                        "/v1/events?after=" + std::to_string(after) +
                                            "&limit=1000&wait=5&type=shipment.booked",
                                        11};
    req.set(http::field::host, host_ + ":" + std::to_string(port_));
    req.set(http::field::authorization, "Bearer " + bench_api_key());
    http::write(*sock, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    if (!ec) http::read(*sock, buf, parser, ec);
    if (ec) {
      follower_fd_ = -1;
      sock->close(ec);
      sock.reset();
      if (stop_.load()) break;
      if (feed_error_.empty()) feed_error_ = "event feed: " + ec.message();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const int64_t seen = wall_us();
    polls_.fetch_add(1);
    auto& res = parser.get();
    if (res.result_int() != 200) {
      if (feed_error_.empty()) feed_error_ = "event feed answered " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    doc.Parse(res.body().data(), res.body().size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("events") || !doc["events"].IsArray()) {
      if (feed_error_.empty()) feed_error_ = "event feed: unreadable page: " + res.body().substr(0, 200);
      continue;
    }
    for (auto& ev : doc["events"].GetArray()) {
      if (!ev.IsObject() || !ev.HasMember("subject") || !ev.HasMember("time") || !ev["subject"].IsString() ||
          !ev["time"].IsString())
        continue;
      std::string_view subject(ev["subject"].GetString(), ev["subject"].GetStringLength());
      // shipments/O2L-<phase>-<index>-1
      if (subject.size() < prefix.size() + 4 || subject.compare(0, prefix.size(), prefix) != 0) {
        foreign_.fetch_add(1);
        continue;
      }
      char phase = subject[prefix.size()];
      size_t i = 0;
      const char* p = subject.data() + prefix.size() + 2;
      auto [end, err] = std::from_chars(p, subject.data() + subject.size(), i);
      auto t = waybill::parse_rfc3339_us(std::string_view(ev["time"].GetString(), ev["time"].GetStringLength()));
      if ((phase != 'M' && phase != 'P') || err != std::errc() || i >= capacity_ || !t) {
        foreign_.fetch_add(1);
        continue;
      }
      auto& s = slots(phase)[i];
      int64_t zero = 0;
      if (s.booked_us.compare_exchange_strong(zero, *t)) {
        s.seen_us.store(seen);
        (phase == 'M' ? booked_max_ : booked_paced_).fetch_add(1);
      }
    }
    if (doc.HasMember("next_after") && doc["next_after"].IsUint64()) after = std::max(after, doc["next_after"].GetUint64());
  }
  follower_fd_ = -1;
}

namespace {

struct MaxWorker : std::enable_shared_from_this<MaxWorker> {
  std::shared_ptr<FlowCtx> ctx;
  std::shared_ptr<Conn> conn;
  std::atomic<size_t>* next = nullptr;
  size_t capacity = 0;
  Clock::time_point deadline;
  size_t max_outstanding = 0;
  const std::atomic<uint64_t>* booked = nullptr;
  std::atomic<int64_t>* wait_ns = nullptr;
  Clock::time_point waiting_since{};

  void step() {
    auto now = Clock::now();
    if (waiting_since != Clock::time_point{}) {
      wait_ns->fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(now - waiting_since).count());
      waiting_since = {};
    }
    if (now >= deadline) return;
    if (ctx->packs.load() >= booked->load() + max_outstanding) {
      waiting_since = now;
      auto t = std::make_shared<asio::steady_timer>(conn->executor(), std::chrono::milliseconds(2));
      t->async_wait([t, self = shared_from_this()](beast::error_code) { self->step(); });
      return;
    }
    size_t i = next->fetch_add(1);
    if (i >= capacity) return;
    run_order(ctx, conn, i, 0, 0, [self = shared_from_this()] { self->step(); });
  }
};

}  // namespace

void LabelFlow::run_max(FlowRun& run, char phase, int connections, size_t max_outstanding, double duration_s) {
  run.phase = phase;
  run.connections = connections;
  asio::io_context io;
  auto ctx = std::make_shared<FlowCtx>();
  ctx->orders = &orders_;
  ctx->slots = &slots(phase);
  ctx->run = &run;
  ctx->phase = phase;
  std::atomic<size_t> next{0};
  std::atomic<int64_t> wait_ns{0};
  auto start = Clock::now();
  ctx->last_answer_ns = start.time_since_epoch().count();
  tcp::endpoint ep(asio::ip::make_address(host_), port_);
  std::string host = host_ + ":" + std::to_string(port_);
  for (int c = 0; c < connections; ++c) {
    auto w = std::make_shared<MaxWorker>();
    w->ctx = ctx;
    w->conn = std::make_shared<Conn>(io, ep, host);
    w->next = &next;
    w->capacity = capacity_;
    w->deadline = start + std::chrono::microseconds(static_cast<int64_t>(duration_s * 1e6));
    w->max_outstanding = max_outstanding;
    w->booked = phase == 'M' ? &booked_max_ : &booked_paced_;
    w->wait_ns = &wait_ns;
    asio::post(io, [w] { w->step(); });
  }
  run_io(io, threads_);
  finish_run(*ctx, std::min(next.load(), capacity_), start.time_since_epoch().count());
  if (run.elapsed_s > 0 && connections > 0)
    run.cap_wait_share = static_cast<double>(wait_ns.load()) / 1e9 / (run.elapsed_s * connections);
}

namespace {

struct Paced : std::enable_shared_from_this<Paced> {
  std::shared_ptr<FlowCtx> ctx;
  asio::io_context* io = nullptr;
  tcp::endpoint ep;
  std::string host;
  Clock::time_point t0;
  double rate = 1;
  size_t total = 0, next = 0;
  int max_connections = 1;
  std::mutex mutex;
  std::vector<std::shared_ptr<Conn>> idle;
  std::deque<size_t> pending;
  int open = 0, most_open = 0;
  std::shared_ptr<asio::steady_timer> timer;

  Clock::time_point due(size_t i) const {
    return t0 + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i) / rate * 1e9));
  }

  void tick() {
    auto now = Clock::now();
    while (next < total && due(next) <= now) launch(next++);
    if (next >= total) return;
    timer->expires_at(due(next));
    timer->async_wait([self = shared_from_this()](beast::error_code) { self->tick(); });
  }

  void launch(size_t i) {
    std::shared_ptr<Conn> c;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        c = std::move(idle.back());
        idle.pop_back();
      } else if (open < max_connections) {
        ++open;
        most_open = std::max(most_open, open);
        c = std::make_shared<Conn>(*io, ep, host);
      } else {
        pending.push_back(i);
        return;
      }
    }
    start(c, i);
  }

  void start(const std::shared_ptr<Conn>& c, size_t i) {
    auto lag = Clock::now() - due(i);
    ctx->run->start_lag.record(static_cast<uint64_t>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(lag).count())));
    run_order(ctx, c, i, 0, 0, [self = shared_from_this(), c] { self->done(c); });
  }

  void done(const std::shared_ptr<Conn>& c) {
    size_t i;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (pending.empty()) {
        idle.push_back(c);
        return;
      }
      i = pending.front();
      pending.pop_front();
    }
    start(c, i);
  }
};

}  // namespace

void LabelFlow::run_paced(FlowRun& run, char phase, double rate, double duration_s, int max_connections) {
  run.phase = phase;
  asio::io_context io;
  auto ctx = std::make_shared<FlowCtx>();
  ctx->orders = &orders_;
  ctx->slots = &slots(phase);
  ctx->run = &run;
  ctx->phase = phase;
  auto p = std::make_shared<Paced>();
  p->ctx = ctx;
  p->io = &io;
  p->ep = tcp::endpoint(asio::ip::make_address(host_), port_);
  p->host = host_ + ":" + std::to_string(port_);
  p->rate = std::max(0.1, rate);
  p->total = std::min(capacity_, static_cast<size_t>(std::max(1.0, rate * duration_s)));
  p->max_connections = std::max(1, max_connections);
  p->timer = std::make_shared<asio::steady_timer>(io);
  p->t0 = Clock::now() + std::chrono::milliseconds(5);
  ctx->last_answer_ns = p->t0.time_since_epoch().count();
  asio::post(io, [p] { p->tick(); });
  run_io(io, threads_);
  finish_run(*ctx, p->total, p->t0.time_since_epoch().count());
  run.connections = p->most_open;
  p->timer.reset();
  {
    std::lock_guard<std::mutex> lock(p->mutex);
    p->idle.clear();
  }
}

double LabelFlow::drain(const FlowRun& run, double timeout_s, double stall_s) {
  auto t0 = Clock::now(), progress = t0;
  uint64_t last = booked(run.phase);
  while (true) {
    uint64_t b = booked(run.phase);
    if (b >= run.packs_accepted) break;
    auto now = Clock::now();
    if (b != last) {
      last = b;
      progress = now;
    }
    if (now - t0 > std::chrono::duration<double>(timeout_s) || now - progress > std::chrono::duration<double>(stall_s))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

namespace {

struct Checker : std::enable_shared_from_this<Checker> {
  std::shared_ptr<Conn> conn;
  const std::vector<std::string>* ids = nullptr;
  std::atomic<size_t>* next = nullptr;
  std::atomic<uint64_t>* booked = nullptr;
  std::mutex* mutex = nullptr;
  std::string* first_problem = nullptr;

  void step() {
    size_t i = next->fetch_add(1);
    if (i >= ids->size()) return;
    conn->request(http::verb::get, "/v1/shipments/" + (*ids)[i], "", [self = shared_from_this(), i](Answer& a) {
      if (a.status == 200 && a.body.find("\"state\":\"booked\"") != std::string::npos) {
        self->booked->fetch_add(1);
      } else {
        std::lock_guard<std::mutex> lock(*self->mutex);
        if (self->first_problem->empty())
          *self->first_problem = "GET /v1/shipments/" + (*self->ids)[i] + ": " + std::to_string(a.status) + " " +
                                 a.body.substr(0, 300);
      }
      self->step();
    });
  }
};

}  // namespace

std::pair<uint64_t, uint64_t> LabelFlow::verify_booked(const std::vector<const FlowRun*>& runs, int connections,
                                                       std::string* first_problem) {
  std::vector<std::string> ids;
  for (auto* r : runs)
    for (size_t i = 0; i < r->orders_started && i < capacity_; ++i)
      if (slots(r->phase)[i].pack_sent_us.load() != 0) ids.push_back(orders_.order_id(r->phase, i) + "-1");
  asio::io_context io;
  tcp::endpoint ep(asio::ip::make_address(host_), port_);
  std::string host = host_ + ":" + std::to_string(port_);
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> booked{0};
  std::mutex mutex;
  for (int c = 0; c < connections; ++c) {
    auto w = std::make_shared<Checker>();
    w->conn = std::make_shared<Conn>(io, ep, host);
    w->ids = &ids;
    w->next = &next;
    w->booked = &booked;
    w->mutex = &mutex;
    w->first_problem = first_problem;
    asio::post(io, [w] { w->step(); });
  }
  run_io(io, threads_);
  return {ids.size(), booked.load()};
}

// ---------------------------------------------------------------------------------

void label_latency(const LabelFlow& flow, const FlowRun& run, LabelLatency* out) {
  for (size_t i = 0; i < run.orders_started && i < flow.capacity(); ++i) {
    auto& s = flow.slot(run.phase, i);
    int64_t pack = s.pack_sent_us.load(), booked = s.booked_us.load(), seen = s.seen_us.load();
    if (!pack || !booked) continue;
    uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(0, booked - pack)) * 1000;
    out->by_event.record(ns);
    out->by_seen.record(static_cast<uint64_t>(std::max<int64_t>(0, seen - pack)) * 1000);
    (flow.orders().level(run.phase, i) == 1 ? out->rated : out->single).record(ns);
  }
}

bool check_labels(const std::string& host, uint16_t sim_port, O2LLedger* out,
                  std::map<std::string, uint64_t>* labels_by_reference, std::string* error) {
  auto r = http_get(host, sim_port, "/labels", 120000);
  if (r.status != 200) {
    *error = "carrier-sim GET /labels answered " + std::to_string(r.status);
    return false;
  }
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("labels") || !doc["labels"].IsArray()) {
    *error = "carrier-sim GET /labels: unreadable answer";
    return false;
  }
  std::map<std::string, std::set<std::string>> by_ref;
  std::set<std::string> shipments;
  auto str = [](const rapidjson::Value& v, const char* k) {
    return v.HasMember(k) && v[k].IsString() ? std::string(v[k].GetString(), v[k].GetStringLength()) : std::string();
  };
  for (auto& l : doc["labels"].GetArray()) {
    if (!l.IsObject()) continue;
    std::string carrier = str(l, "carrier"), ref = str(l, "reference"), csid = str(l, "carrier_shipment_id");
    ++out->labels;
    ++out->labels_by_carrier[carrier];
    if (l.HasMember("voided") && l["voided"].IsBool() && l["voided"].GetBool()) ++out->voided;
    by_ref[ref].insert(carrier + "/" + csid);
    shipments.insert(carrier + "/" + csid);
    if (labels_by_reference) ++(*labels_by_reference)[ref];
  }
  out->carrier_shipments = shipments.size();
  out->references = by_ref.size();
  for (auto& [ref, ids] : by_ref) {
    if (ids.size() <= 1) continue;
    ++out->duplicate_references;
    if (out->first_duplicate.empty()) {
      out->first_duplicate = ref + ":";
      for (auto& id : ids) out->first_duplicate += " " + id;
    }
  }
  out->ran = true;
  return true;
}

}  // namespace waybill::bench
