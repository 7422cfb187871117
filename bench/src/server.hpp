// The server under test as a child process, plus the probes the bench takes from the
// outside: /readyz, /metrics, RSS and CPU time from /proc, bytes on disk.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace waybill::bench {

/// A loopback port that was free a moment ago (bind to :0, read it, close).
uint16_t free_port();

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
};
/// One blocking GET on a fresh connection; `timeout_ms` bounds the whole exchange.
HttpReply http_get(const std::string& host, uint16_t port, const std::string& target, int timeout_ms = 5000);

/// The API key of this bench run (random, scope admin): every request sends it as
/// "Authorization: Bearer <key>".
const std::string& bench_api_key();
/// Writes a waybilld keys file holding bench_api_key() to `dir`/keys.yaml and the key
/// itself to `dir`/bench.key (mode 0600, for carrier-sim's webhooks); returns the
/// keys file's path.
std::string write_bench_keys(const std::string& dir);

/// VmRSS of a process in bytes (0 if unknown).
uint64_t rss_bytes(pid_t pid);
/// User + system CPU seconds a process has used so far.
double cpu_seconds(pid_t pid);
/// Allocated bytes under a directory, like `du -s` (st_blocks * 512).
uint64_t disk_usage(const std::string& path);
/// Bytes of RocksDB write-ahead log files (*.log) directly in a data dir.
uint64_t wal_bytes(const std::string& dir);

struct ServerOptions {
  /// waybilld binary.
  std::string binary;
  /// YAML config passed with --config (empty: none).
  std::string config_path;
  /// --data-dir.
  std::string data_dir;
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t port = 0;
  /// stdout and stderr of the server go here.
  std::string log_path;
  /// When set, exec exactly these arguments (binary first) instead of waybilld's
  /// --listen/--data-dir/--config; `port` must then be the one they listen on.
  std::vector<std::string> argv;
  /// What wait_ready() polls for a 200. Default: "/readyz".
  std::string ready_path = "/readyz";
  /// --keys-file (empty: none; see write_bench_keys()).
  std::string keys_file;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options) : opt_(std::move(options)) {}
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Forks and execs the server; returns false (with `error()`) if it cannot.
  bool start();
  /// Polls /readyz every 2 ms until it answers 200; returns ms since start() or -1 on
  /// timeout or if the process died.
  double wait_ready(double timeout_s);
  /// SIGTERM, then waits up to `timeout_s` before SIGKILL. Returns the exit status.
  int stop(double timeout_s = 30);
  bool running();
  /// How the process ended, once it has ("exit 0", "signal 9"); empty while running.
  const std::string& ended() const { return ended_; }

  pid_t pid() const { return pid_; }
  uint16_t port() const { return opt_.port; }
  const std::string& host() const { return opt_.host; }
  const std::string& error() const { return error_; }
  const ServerOptions& options() const { return opt_; }

 private:
  ServerOptions opt_;
  pid_t pid_ = -1;
  double started_ = 0;
  std::string error_;
  std::string ended_;
  void note_end(int status);
};

/// A parsed Prometheus text exposition: series (name plus labels exactly as rendered,
/// e.g. `waybill_resident_actors{kind="shipment"}`) to value.
struct MetricsSnapshot {
  std::map<std::string, double> series;
  bool ok = false;

  static MetricsSnapshot parse(const std::string& text);
  double get(const std::string& series_name, double fallback = 0) const;
  /// Sum of every series whose name (before '{') is `name` and whose labels contain
  /// each `key="value"` fragment in `label_filter` (comma separated; empty: all).
  double sum(const std::string& name, const std::string& label_filter = "") const;
};

MetricsSnapshot scrape(const std::string& host, uint16_t port);

/// Group-commit behaviour between two snapshots of the same engine.
struct CommitStats {
  double batches = 0;          // committed WriteBatches
  double requests = 0;         // write requests in them
  double bytes = 0;            // WriteBatch bytes
  double commit_seconds = 0;   // time inside Write() incl. fsync
  std::map<double, double> batch_size_buckets;  // upper bound -> batches in (prev, bound]
  double mean_batch() const { return batches > 0 ? requests / batches : 0; }
  double mean_commit_ms() const { return batches > 0 ? 1000 * commit_seconds / batches : 0; }
  /// Batch size at quantile q, as the upper bound of its bucket.
  double batch_quantile(double q) const;
};
CommitStats commit_delta(const MetricsSnapshot& before, const MetricsSnapshot& after);

double now_seconds();  // steady clock

/// Machine-wide CPU time from /proc/stat, in seconds: busy (everything but idle and
/// iowait) and total, summed over all CPUs.
struct MachineCpu {
  double busy = 0, total = 0;
};
MachineCpu machine_cpu();

}  // namespace waybill::bench
