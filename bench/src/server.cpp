#include "server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "waybill/runtime/auth.hpp"

namespace waybill::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double v[10] = {0};
  for (double& x : v) in >> x;
  MachineCpu m;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int i = 0; i < 8; ++i) m.total += v[i];  // user nice system idle iowait irq softirq steal
  m.busy = (m.total - v[3] - v[4]) / ticks;
  m.total /= ticks;
  return m;
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  uint16_t port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

HttpReply http_get(const std::string& host, uint16_t port, const std::string& target, int timeout_ms) {
  HttpReply out;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(tcp::endpoint(asio::ip::make_address(host), port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buf, parser);
    out.status = parser.get().result_int();
    out.body = std::move(parser.get().body());
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception&) {
    out.status = 0;
  }
  return out;
}

const std::string& bench_api_key() {
  static const std::string key = runtime::generate_api_key();
  return key;
}

std::string write_bench_keys(const std::string& dir) {
  std::string keys = dir + "/keys.yaml", key = dir + "/bench.key";
  std::ofstream(keys) << "keys:\n  - {partner: bench, key_sha256: " << runtime::key_digest(bench_api_key())
                      << ", scopes: [admin]}\n";
  std::ofstream(key) << bench_api_key() << "\n";
  ::chmod(key.c_str(), 0600);
  return keys;
}

uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(all.substr(close + 2));
  std::vector<std::string> f;
  std::string x;
  while (fields >> x) f.push_back(x);
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  if (f.size() < 13) return 0;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

uint64_t disk_usage(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

uint64_t wal_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    // RocksDB WAL files are NNNNNN.log; the info log is LOG.
    if (e.path().extension() == ".log" && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
      total += std::filesystem::file_size(e.path(), ec);
  }
  return total;
}

bool ServerProcess::start() {
  if (opt_.port == 0) opt_.port = free_port();
  std::vector<std::string> args = {opt_.binary, "--listen", opt_.host + ":" + std::to_string(opt_.port),
                                   "--data-dir", opt_.data_dir};
  if (!opt_.config_path.empty()) {
    args.push_back("--config");
    args.push_back(opt_.config_path);
  }
  if (!opt_.keys_file.empty()) {
    args.push_back("--keys-file");
    args.push_back(opt_.keys_file);
  }
  if (!opt_.argv.empty()) args = opt_.argv;
  started_ = now_seconds();
  pid_ = ::fork();
  if (pid_ < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid_ == 0) {
    if (!opt_.log_path.empty()) {
      int fd = ::open(opt_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  return true;
}

void ServerProcess::note_end(int status) {
  ended_ = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                             : "signal " + std::to_string(WTERMSIG(status));
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    note_end(status);
    pid_ = -1;
    return false;
  }
  return true;
}

double ServerProcess::wait_ready(double timeout_s) {
  while (now_seconds() - started_ < timeout_s) {
    if (!running()) {
      error_ = "server exited before it was ready (see " + opt_.log_path + ")";
      return -1;
    }
    auto r = http_get(opt_.host, opt_.port, opt_.ready_path, 1000);
    if (r.status == 200) return 1000 * (now_seconds() - started_);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  error_ = "server not ready within " + std::to_string(timeout_s) + " s";
  return -1;
}

int ServerProcess::stop(double timeout_s) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  double t0 = now_seconds();
  int status = 0;
  while (now_seconds() - t0 < timeout_s) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      note_end(status);
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  note_end(status);
  pid_ = -1;
  return 137;
}

MetricsSnapshot MetricsSnapshot::parse(const std::string& text) {
  MetricsSnapshot s;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    // A sample line may carry a timestamp after the value; prometheus-cpp does not.
    try {
      s.series[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (...) {
    }
  }
  s.ok = !s.series.empty();
  return s;
}

double MetricsSnapshot::get(const std::string& name, double fallback) const {
  auto it = series.find(name);
  return it == series.end() ? fallback : it->second;
}

double MetricsSnapshot::sum(const std::string& name, const std::string& label_filter) const {
  std::vector<std::string> want;
  std::stringstream ss(label_filter);
  std::string part;
  while (std::getline(ss, part, ',')) if (!part.empty()) want.push_back(part);
  double total = 0;
  for (auto it = series.lower_bound(name); it != series.end(); ++it) {
    const std::string& k = it->first;
    if (k.compare(0, name.size(), name) != 0) break;
    if (k.size() > name.size() && k[name.size()] != '{') continue;
    bool match = true;
    for (auto& w : want) match = match && k.find(w) != std::string::npos;
    if (match) total += it->second;
  }
  return total;
}

MetricsSnapshot scrape(const std::string& host, uint16_t port) {
  auto r = http_get(host, port, "/metrics", 10000);
  if (r.status != 200) return {};
  return MetricsSnapshot::parse(r.body);
}

CommitStats commit_delta(const MetricsSnapshot& a, const MetricsSnapshot& b) {
  CommitStats c;
  const std::string base = "waybill_group_commit_batch_requests";
  c.batches = b.get(base + "_count") - a.get(base + "_count");
  c.requests = b.get(base + "_sum") - a.get(base + "_sum");
  c.bytes = b.get("waybill_group_commit_batch_bytes_sum") - a.get("waybill_group_commit_batch_bytes_sum");
  c.commit_seconds = b.get("waybill_group_commit_seconds_sum") - a.get("waybill_group_commit_seconds_sum");
  // Cumulative buckets -> per-bucket counts.
  std::map<double, double> cumulative;
  const std::string prefix = base + "_bucket{le=\"";
  for (auto it = b.series.lower_bound(prefix); it != b.series.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    std::string le = it->first.substr(prefix.size(), it->first.size() - prefix.size() - 2);
    double bound = le == "+Inf" ? 1e300 : std::stod(le);
    cumulative[bound] = it->second - a.get(it->first);
  }
  double prev = 0;
  for (auto& [bound, cum] : cumulative) {
    c.batch_size_buckets[bound] = cum - prev;
    prev = cum;
  }
  return c;
}

double CommitStats::batch_quantile(double q) const {
  if (batches <= 0) return 0;
  double rank = q * batches, seen = 0;
  for (auto& [bound, n] : batch_size_buckets) {
    seen += n;
    if (seen >= rank && n > 0) return bound;
  }
  return 0;
}

}  // namespace waybill::bench
