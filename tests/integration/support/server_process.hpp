// Runs the real waybilld binary as a child process for integration tests.
//
// Each ServerProcess owns a fresh directory under /tmp (mkdtemp) holding the RocksDB
// data dir, an optional YAML config and one log file that collects stdout and stderr of
// every incarnation. The server binds port 0 itself and the port is read back from its
// "ready on http://HOST:PORT" log line, so parallel test processes never clash over
// ports. start() then waits, bounded, until GET /readyz answers 200.
//
// API keys: unless told otherwise, the server gets a keys file with the test keys
// (test_keys.hpp) through --keys-file.
//
// On destruction the child is killed; if the current test failed, the log is printed
// and the directory is kept for inspection, otherwise it is removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_keys.hpp"

namespace waybill::itest {

/// Path of the waybilld binary the tests were built against (WAYBILLD_PATH), unless
/// the environment variable WAYBILLD overrides it.
std::string waybilld_path();

/// How a child process ended.
struct ExitStatus {
  bool exited = false;     // ended through exit(); `code` is valid
  int code = -1;
  int signal = 0;          // killed by this signal
  bool timed_out = false;  // still running when the wait gave up
  std::string describe() const;
};

/// Waits, bounded, for a child to end on its own (e.g. at an injected crash point)
/// without reaping it, so that ServerProcess::kill() still reaps it.
ExitStatus wait_for_exit_without_reaping(pid_t pid, std::chrono::milliseconds timeout);

class ServerProcess {
 public:
  struct Options {
    std::string binary = waybilld_path();
    /// Written to <dir>/waybilld.yaml and passed with --config when not empty.
    std::string config_yaml;
    /// Appended to the command line after --listen/--data-dir/--config.
    std::vector<std::string> extra_args;
    /// Bound on the wait for "ready" plus GET /readyz == 200.
    std::chrono::milliseconds ready_timeout{15000};
    /// Send stderr to its own file (see stderr_text()) instead of the shared log.
    bool split_stderr = false;
    /// Written to <dir>/keys.yaml and passed with --keys-file when not empty; empty
    /// leaves the server to its configured keys (or its generated admin key).
    std::string keys_yaml = test_keys_yaml();
    /// When the server speaks TLS: the CA file that signs its certificate, for the
    /// readiness probe.
    std::string tls_ca_file;
  };

  ServerProcess();
  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Starts the server on its data dir and waits until it is ready.
  ::testing::AssertionResult start();
  /// Starts again on the same data dir (the previous incarnation must have ended).
  /// The port may differ from the previous one.
  ::testing::AssertionResult restart();
  /// Starts the process and waits for it to exit by itself (start-up failures).
  ExitStatus run_to_exit(std::chrono::milliseconds timeout = std::chrono::seconds(15));

  /// SIGKILL, then reaps the child.
  void kill();
  /// SIGTERM, then waits up to `timeout` for the exit; on timeout the child is killed.
  ExitStatus terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int incarnations() const { return incarnations_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string base_url() const;

  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  /// Everything every incarnation wrote so far.
  std::string log() const;
  /// What the current (or last) incarnation wrote.
  std::string current_log() const;
  /// What the processes wrote to stderr, with split_stderr.
  std::string stderr_text() const;
  void print_log(std::ostream& out) const;

 private:
  ::testing::AssertionResult spawn();
  ExitStatus wait_for_exit(std::chrono::milliseconds timeout);

  Options options_;
  std::string dir_, data_dir_, log_path_, stderr_path_, config_path_, keys_path_;
  pid_t pid_ = -1;
  int incarnations_ = 0;
  size_t log_offset_ = 0;  // where the current incarnation's output starts
  size_t stderr_offset_ = 0;  // the same in the stderr file (split_stderr)
  std::string host_;
  uint16_t port_ = 0;
};

}  // namespace waybill::itest
