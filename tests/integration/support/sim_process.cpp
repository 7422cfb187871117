#include "sim_process.hpp"

#include <ctime>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "http_client.hpp"
#include "json.hpp"

#ifndef CARRIER_SIM_PATH
#define CARRIER_SIM_PATH "carrier-sim"
#endif
#ifndef WAYBILL_SOURCE_DIR
#define WAYBILL_SOURCE_DIR "."
#endif

namespace waybill::itest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string carrier_sim_path() {
  if (const char* env = std::getenv("CARRIER_SIM"); env && *env) return env;
  return CARRIER_SIM_PATH;
}

std::string source_dir() { return WAYBILL_SOURCE_DIR; }

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool current_test_failed() {
  auto* unit = ::testing::UnitTest::GetInstance();
  bool failed = ::testing::Test::HasFailure();
  if (!unit->current_test_info() && unit->current_test_suite()) failed = failed || unit->current_test_suite()->Failed();
  return failed;
}

ExitStatus exit_status_of(int status) {
  ExitStatus e;
  if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

}  // namespace

// ---- PortReservation ---------------------------------------------------------------

PortReservation::PortReservation() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    release();
    return;
  }
  port_ = ntohs(addr.sin_port);
}

PortReservation::~PortReservation() { release(); }

void PortReservation::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// ---- LabelLedger -------------------------------------------------------------------

size_t LabelLedger::voided_count() const {
  return static_cast<size_t>(std::count_if(labels.begin(), labels.end(), [](auto& l) { return l.voided; }));
}

std::vector<SimLabel> LabelLedger::live(const std::string& reference) const {
  std::vector<SimLabel> out;
  for (auto& l : labels)
    if (l.reference == reference && !l.voided) out.push_back(l);
  return out;
}

std::set<std::string> LabelLedger::bookings(const std::string& reference, bool include_voided) const {
  std::set<std::string> out;
  for (auto& l : labels)
    if (l.reference == reference && (include_voided || !l.voided)) out.insert(l.carrier + "/" + l.carrier_shipment_id);
  return out;
}

std::vector<std::string> LabelLedger::live_tracking_numbers(const std::string& reference) const {
  std::vector<std::string> out;
  for (auto& l : live(reference)) out.push_back(l.tracking_number);
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::set<std::string>> LabelLedger::duplicates() const {
  std::map<std::string, std::set<std::string>> per_reference;
  for (auto& l : labels)
    if (!l.voided) per_reference[l.reference].insert(l.carrier + "/" + l.carrier_shipment_id);
  std::map<std::string, std::set<std::string>> out;
  for (auto& [ref, ids] : per_reference)
    if (ids.size() > 1) out[ref] = ids;
  return out;
}

std::set<std::string> LabelLedger::references() const {
  std::set<std::string> out;
  for (auto& l : labels) out.insert(l.reference);
  return out;
}

// ---- SimProcess --------------------------------------------------------------------

SimProcess::SimProcess(Options options) : options_(std::move(options)) {
  char tmpl[] = "/tmp/carrier-sim-it-XXXXXX";
  if (!mkdtemp(tmpl)) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  dir_ = tmpl;
  config_path_ = dir_ + "/carrier-sim.yaml";
  log_path_ = dir_ + "/carrier-sim.log";
  std::ofstream(config_path_) << options_.config_yaml;
}

SimProcess::~SimProcess() {
  if (running()) kill();
  if (current_test_failed()) {
    std::cout << "---- carrier-sim log (" << log_path_ << ") ----\n";
    print_log(std::cout);
    std::cout << "---- end of carrier-sim log; config kept in " << config_path_ << " ----" << std::endl;
  } else if (!dir_.empty() && !std::getenv("WAYBILL_KEEP_TEST_DATA")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string SimProcess::authority() const { return host_ + ":" + std::to_string(port_); }
std::string SimProcess::base_url() const { return "http://" + authority(); }
std::string SimProcess::log() const { return read_all(log_path_); }

void SimProcess::print_log(std::ostream& out) const {
  std::string text = log();
  constexpr size_t kMax = 32 << 10;
  if (text.size() > kMax)
    text = text.substr(0, kMax / 4) + "\n[... cut ...]\n" + text.substr(text.size() - kMax * 3 / 4);
  out << text;
  if (!text.empty() && text.back() != '\n') out << '\n';
}

::testing::AssertionResult SimProcess::start() {
  if (running()) return ::testing::AssertionFailure() << "carrier-sim is already running (pid " << pid_ << ")";
  if (dir_.empty()) return ::testing::AssertionFailure() << "no test directory";
  std::vector<std::string> args = {options_.binary, "--config", config_path_, "--listen",
                                   "127.0.0.1:" + std::to_string(options_.port)};
  if (!options_.webhook_target.empty()) {
    args.push_back("--webhook-target");
    args.push_back(options_.webhook_target);
  }
  if (!options_.webhook_api_key.empty()) {
    std::string key_path = dir_ + "/waybill.key";
    std::ofstream(key_path, std::ios::trunc) << options_.webhook_api_key << "\n";
    args.push_back("--webhook-api-key-file");
    args.push_back(key_path);
  }
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd < 0) return ::testing::AssertionFailure() << "open " << log_path_ << ": " << std::strerror(errno);
  pid_t pid = spawn_child(args, log_fd, log_fd);
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    return ::testing::AssertionFailure() << "fork: " << std::strerror(err);
  }
  ::close(log_fd);
  pid_ = pid;
  host_.clear();
  port_ = 0;

  const auto deadline = Clock::now() + options_.ready_timeout;
  static const std::regex ready_re(R"(carrier-sim ready on http://([0-9.]+):([0-9]+))");
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure()
             << "carrier-sim " << exit_status_of(status).describe() << " before it was ready; its output:\n"
             << log();
    }
    if (port_ == 0) {
      std::smatch m;
      std::string text = log();
      if (std::regex_search(text, m, ready_re)) {
        host_ = m[1];
        port_ = static_cast<uint16_t>(std::stoi(m[2]));
      }
    }
    if (port_ != 0) {
      HttpClient probe(host_, port_, 1000ms);
      if (probe.get("/healthz").status == 200) return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(10ms);
  }
  kill();
  return ::testing::AssertionFailure() << "carrier-sim was not ready within " << options_.ready_timeout.count()
                                       << " ms; its output:\n"
                                       << log();
}

void SimProcess::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

ExitStatus SimProcess::terminate(std::chrono::milliseconds timeout) {
  if (!running()) return {};
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exit_status_of(status);
    }
    std::this_thread::sleep_for(5ms);
  }
  kill();
  ExitStatus e;
  e.timed_out = true;
  return e;
}

std::optional<LabelLedger> SimProcess::labels() const {
  HttpClient client(host_, port_, 10s);
  auto res = client.get("/labels");
  if (res.status != 200) {
    ADD_FAILURE() << "GET /labels at carrier-sim: " << res.describe();
    return std::nullopt;
  }
  auto doc = Json::parse(res.body);
  if (!doc.ok()) {
    ADD_FAILURE() << "GET /labels: " << doc.error();
    return std::nullopt;
  }
  LabelLedger ledger;
  for (auto& item : doc.items("/labels")) {
    SimLabel l;
    l.carrier = item.str_or_empty("/carrier");
    l.reference = item.str_or_empty("/reference");
    l.tracking_number = item.str_or_empty("/tracking_number");
    l.carrier_shipment_id = item.str_or_empty("/carrier_shipment_id");
    l.service = item.str_or_empty("/service");
    l.voided = item.boolean("/voided").value_or(false);
    l.request_id = item.str_or_empty("/request_id");
    ledger.labels.push_back(std::move(l));
  }
  if (doc.int64("/count").value_or(-1) != static_cast<int64_t>(ledger.labels.size()))
    ADD_FAILURE() << "GET /labels: count " << doc.int64("/count").value_or(-1) << " but " << ledger.labels.size()
                  << " labels listed";
  return ledger;
}

// ---- carrier configuration ---------------------------------------------------------

YAML::Node load_source_yaml(const std::string& relative_path) {
  return YAML::LoadFile(source_dir() + "/" + relative_path);
}

std::string date_in_days(int days) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

YAML::Node quiet_sim_config(int latency_ms) {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: " + std::to_string(latency_ms) + "}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rejection_share"] = 0.0;
    c["tracking"]["enabled"] = false;
  }
  return cfg;
}

YAML::Node sim_carrier(YAML::Node& sim_config, const std::string& name) {
  auto carriers = sim_config["carriers"];
  for (size_t i = 0; i < carriers.size(); ++i)
    if (carriers[i]["name"].as<std::string>() == name) return carriers[i];
  ADD_FAILURE() << "the sim config has no carrier '" << name << "'";
  return YAML::Node();
}

std::string with_authority(const std::string& url, const std::string& authority) {
  static const std::regex re(R"(^(https?://)[^/]+(.*)$)");
  std::smatch m;
  if (!std::regex_match(url, m, re)) {
    ADD_FAILURE() << "not an http URL: " << url;
    return url;
  }
  return std::string(m[1]) + authority + std::string(m[2]);
}

std::string to_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

void write_profile(const std::string& dir, const std::string& file_name, YAML::Node profile,
                   const std::string& sim_authority) {
  profile["base_url"] = with_authority(profile["base_url"].as<std::string>(), sim_authority);
  std::ofstream(dir + "/" + file_name) << to_yaml(profile);
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl_s = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> tmpl(tmpl_s.begin(), tmpl_s.end());
  tmpl.push_back('\0');
  if (!mkdtemp(tmpl.data())) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = tmpl.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (current_test_failed() || std::getenv("WAYBILL_KEEP_TEST_DATA")) {
    std::cout << "test files kept in " << path_ << std::endl;
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- CarrierStack ------------------------------------------------------------------

CarrierStack::CarrierStack(Options options) : options_(std::move(options)) {
  ServerProcess::Options w;
  w.config_yaml = waybill_config(options_.waybill_extra_yaml);
  waybill_ = std::make_unique<ServerProcess>(std::move(w));
}

CarrierStack::~CarrierStack() {
  sim_.reset();
  waybill_.reset();
}

std::string CarrierStack::waybill_config(const std::string& extra) const {
  return "log:\n  level: " + options_.log_level + "\nbooking:\n  carriers_dir: " + profiles_.path() + "\n" + extra + "\n";
}

void CarrierStack::set_waybill_extra_yaml(const std::string& extra_yaml) {
  // ServerProcess passes <dir>/waybilld.yaml to every incarnation.
  std::ofstream(waybill_->dir() + "/waybilld.yaml", std::ios::trunc) << waybill_config(extra_yaml);
}

::testing::AssertionResult CarrierStack::start() {
  if (!sim_port_.ok()) return ::testing::AssertionFailure() << "could not reserve a port for carrier-sim";
  const std::string sim_authority = "127.0.0.1:" + std::to_string(sim_port_.port());
  for (auto& p : options_.profiles)
    write_profile(profiles_.path(), p["name"].as<std::string>() + ".yaml", YAML::Clone(p), sim_authority);
  if (auto r = waybill_->start(); !r) return r;
  SimProcess::Options so;
  so.config_yaml = to_yaml(options_.sim_config);
  so.port = sim_port_.port();
  so.webhook_target = waybill_->base_url();
  sim_ = std::make_unique<SimProcess>(std::move(so));
  auto r = sim_->start();
  sim_port_.release();
  return r;
}

// ---- orders ------------------------------------------------------------------------

std::string order_body(const OrderSpec& s) {
  std::ostringstream b;
  b << R"({"order_id":)" << quote(s.order_id) << R"(,"service_level":)" << quote(s.service_level)
    << R"(,"ship_to":{"name":"Test Recipient","street":"1 Main St","city":)" << quote(s.city) << R"(,"postal_code":)"
    << quote(s.postal_code) << R"(,"country":)" << quote(s.country) << "}"
    << R"(,"lines":[{"sku":"SKU-1","qty":1}],"packages":[)";
  for (int i = 0; i < s.packages; ++i) {
    if (i) b << ',';
    b << R"({"weight_kg":)" << s.weight_kg + 0.25 * i << R"(,"length_cm":30,"width_cm":20,"height_cm":10})";
  }
  b << "]}";
  return b.str();
}

::testing::AssertionResult create_release_pack(HttpClient& client, const OrderSpec& spec) {
  auto send = [&](const std::string& target, const std::string& body, int want) -> ::testing::AssertionResult {
    HttpResult r;
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = client.post(target, body);
      if (r.status == want || (r.status == 200 && want == 201)) return ::testing::AssertionSuccess();
      if (r.status != 429 && r.status != 503) break;
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << "POST " << target << ": " << r.describe();
  };
  const std::string path = "/v1/orders/" + spec.order_id;
  if (auto r = send("/v1/orders", order_body(spec), 201); !r) return r;
  if (auto r = send(path + "/release", "", 200); !r) return r;
  return send(path + "/pack", "", 200);
}

std::vector<std::string> submit_orders(const std::string& host, uint16_t port, const std::vector<OrderSpec>& specs,
                                       int threads) {
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      HttpClient client(host, port, 10s);
      for (size_t i = next++; i < specs.size(); i = next++) {
        auto r = create_release_pack(client, specs[i]);
        if (!r) {
          std::lock_guard lock(mu);
          failures.push_back(specs[i].order_id + ": " + r.message());
        }
      }
    });
  for (auto& w : workers) w.join();
  return failures;
}

BookingView read_booking(HttpClient& client, const std::string& shipment_id) {
  BookingView v;
  auto r = client.get("/v1/shipments/" + shipment_id);
  v.http_status = r.status;
  v.body = r.body;
  if (r.status == 200) {
    auto doc = Json::parse(r.body);
    if (doc.ok()) v.state = doc.str_or_empty("/booking/state");
  }
  return v;
}

std::map<std::string, BookingView> wait_for_bookings(const std::string& host, uint16_t port,
                                                     const std::vector<std::string>& shipment_ids,
                                                     std::chrono::milliseconds timeout) {
  HttpClient client(host, port, 5s);
  std::map<std::string, BookingView> views;
  std::vector<std::string> open = shipment_ids;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::vector<std::string> still;
    for (auto& id : open) {
      auto v = read_booking(client, id);
      if (!booking_settled(v.state)) still.push_back(id);
      views[id] = std::move(v);
    }
    open = std::move(still);
    if (open.empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  return views;
}

std::optional<std::map<std::string, ExceptionEntry>> list_exceptions(HttpClient& client) {
  auto r = client.get("/v1/exceptions?limit=1000");
  if (r.status != 200) {
    ADD_FAILURE() << "GET /v1/exceptions: " << r.describe();
    return std::nullopt;
  }
  auto doc = Json::parse(r.body);
  if (!doc.ok()) {
    ADD_FAILURE() << "GET /v1/exceptions: " << doc.error();
    return std::nullopt;
  }
  std::map<std::string, ExceptionEntry> out;
  for (auto& e : doc.items("/exceptions")) {
    ExceptionEntry x;
    x.carrier = e.str_or_empty("/carrier");
    x.service = e.str_or_empty("/service");
    x.reason = e.str_or_empty("/reason");
    x.message = e.str_or_empty("/message");
    x.carrier_code = e.str_or_empty("/carrier_code");
    out[e.str_or_empty("/shipment_id")] = std::move(x);
  }
  return out;
}

int tracking_phase(const std::string& s) {
  static const std::map<std::string, int> phases = {{"pending", 0},        {"label_created", 1},
                                                    {"cancelled", 2},      {"picked_up", 3},
                                                    {"in_transit", 4},     {"out_for_delivery", 4},
                                                    {"attempt_failed", 4}, {"available_for_pickup", 4},
                                                    {"exception", 4},      {"stale", 4},
                                                    {"delivered", 5},      {"return_to_sender", 6}};
  auto it = phases.find(s);
  return it == phases.end() ? -1 : it->second;
}

std::optional<double> metric_value(const std::string& text, const std::string& sample) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample, 0) != 0 || line.size() <= sample.size() || line[sample.size()] != ' ') continue;
    try {
      return std::stod(line.substr(sample.size() + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace waybill::itest
