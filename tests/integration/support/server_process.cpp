#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "http_client.hpp"
#include "tls_client.hpp"

#ifndef WAYBILLD_PATH
#define WAYBILLD_PATH "waybilld"
#endif

namespace waybill::itest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string waybilld_path() {
  if (const char* env = std::getenv("WAYBILLD"); env && *env) return env;
  return WAYBILLD_PATH;
}

std::string ExitStatus::describe() const {
  if (timed_out) return "still running (wait timed out)";
  if (exited) return "exited with code " + std::to_string(code);
  if (signal) return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "unknown";
}

namespace {

ExitStatus from_wait_status(int status) {
  ExitStatus e;
  if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

std::string read_file_from(const std::string& path, size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in.tellg());
  if (offset >= size) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::string out(size - offset, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

size_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<size_t>(n);
}

}  // namespace

ServerProcess::ServerProcess() : ServerProcess(Options{}) {}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  char tmpl[] = "/tmp/waybill-it-XXXXXX";
  if (!mkdtemp(tmpl)) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  dir_ = tmpl;
  data_dir_ = dir_ + "/data";
  log_path_ = dir_ + "/waybilld.log";
  if (options_.split_stderr) stderr_path_ = dir_ + "/waybilld.stderr";
  if (!options_.config_yaml.empty()) {
    config_path_ = dir_ + "/waybilld.yaml";
    std::ofstream(config_path_) << options_.config_yaml;
  }
  if (!options_.keys_yaml.empty()) {
    keys_path_ = dir_ + "/keys.yaml";
    std::ofstream(keys_path_) << options_.keys_yaml;
  }
}

ServerProcess::~ServerProcess() {
  if (running()) kill();
  // Inside a test: that test's result; in a suite's set-up or tear-down: the suite's.
  auto* unit = ::testing::UnitTest::GetInstance();
  bool failed = ::testing::Test::HasFailure();
  if (!unit->current_test_info() && unit->current_test_suite()) failed = failed || unit->current_test_suite()->Failed();
  if (failed) {
    std::cout << "---- waybilld log (" << log_path_ << ") ----\n";
    print_log(std::cout);
    std::cout << "---- end of waybilld log; data kept in " << dir_ << " ----" << std::endl;
  } else if (!dir_.empty() && !std::getenv("WAYBILL_KEEP_TEST_DATA")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string ServerProcess::base_url() const { return "http://" + host_ + ":" + std::to_string(port_); }

std::string ServerProcess::log() const { return read_file_from(log_path_, 0); }
std::string ServerProcess::current_log() const { return read_file_from(log_path_, log_offset_); }
std::string ServerProcess::stderr_text() const {
  return stderr_path_.empty() ? std::string() : read_file_from(stderr_path_, 0);
}

void ServerProcess::print_log(std::ostream& out) const {
  std::string text = log();
  // Keep failure output readable: the beginning and the end matter most.
  constexpr size_t kMax = 64 << 10;
  if (text.size() > kMax) text = text.substr(0, kMax / 4) + "\n[... " + std::to_string(text.size() - kMax) +
                                 " bytes cut ...]\n" + text.substr(text.size() - kMax * 3 / 4);
  out << text;
  if (!text.empty() && text.back() != '\n') out << '\n';
  if (!stderr_path_.empty()) out << "---- stderr ----\n" << stderr_text() << '\n';
}

::testing::AssertionResult ServerProcess::spawn() {
  if (running()) return ::testing::AssertionFailure() << "waybilld is already running (pid " << pid_ << ")";
  if (dir_.empty()) return ::testing::AssertionFailure() << "no test directory";

  std::vector<std::string> args = {options_.binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir_};
  if (!config_path_.empty()) {
    args.push_back("--config");
    args.push_back(config_path_);
  }
  if (!keys_path_.empty()) {
    args.push_back("--keys-file");
    args.push_back(keys_path_);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  {
    std::ofstream marker(log_path_, std::ios::app);
    marker << "==== incarnation " << (incarnations_ + 1) << ":";
    for (auto& a : args) marker << ' ' << a;
    marker << " ====\n";
  }
  log_offset_ = file_size_or_zero(log_path_);
  if (!stderr_path_.empty()) stderr_offset_ = file_size_or_zero(stderr_path_);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd < 0) return ::testing::AssertionFailure() << "open " << log_path_ << ": " << std::strerror(errno);
  int err_fd = log_fd;
  if (!stderr_path_.empty()) {
    err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      ::close(log_fd);
      return ::testing::AssertionFailure() << "open " << stderr_path_ << ": " << std::strerror(errno);
    }
  }
  pid_t pid = spawn_child(args, log_fd, err_fd);
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    if (err_fd != log_fd) ::close(err_fd);
    return ::testing::AssertionFailure() << "fork: " << std::strerror(err);
  }
  ::close(log_fd);
  if (err_fd != log_fd) ::close(err_fd);
  pid_ = pid;
  ++incarnations_;
  host_.clear();
  port_ = 0;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ServerProcess::start() {
  if (auto r = spawn(); !r) return r;
  const auto deadline = Clock::now() + options_.ready_timeout;
  static const std::regex ready_re(R"(ready on https?://([0-9.]+):([0-9]+))");
  while (Clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "waybilld " << from_wait_status(status).describe()
                                           << " before it was ready; its output:\n"
                                           << current_log();
    }
    if (port_ == 0) {
      std::smatch m;
      // With split_stderr the log lines (and the ready line) are in the stderr file.
      std::string text = current_log();
      if (!stderr_path_.empty()) text += read_file_from(stderr_path_, stderr_offset_);
      if (std::regex_search(text, m, ready_re)) {
        host_ = m[1];
        port_ = static_cast<uint16_t>(std::stoi(m[2]));
      }
    }
    if (port_ != 0) {
      int status = 0;
      if (options_.tls_ca_file.empty()) status = HttpClient(host_, port_, 1000ms).get("/readyz").status;
      else status = tls_request(host_, port_, options_.tls_ca_file, "GET", "/readyz", {}, {}, 1000ms).status;
      if (status == 200) return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(10ms);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.ready_timeout).count();
  kill();
  return ::testing::AssertionFailure() << "waybilld was not ready within " << ms << " ms; its output:\n"
                                       << current_log();
}

::testing::AssertionResult ServerProcess::restart() {
  if (running())
    return ::testing::AssertionFailure() << "restart() while waybilld is still running (pid " << pid_ << ")";
  return start();
}

ExitStatus ServerProcess::run_to_exit(std::chrono::milliseconds timeout) {
  if (auto r = spawn(); !r) {
    ADD_FAILURE() << r.message();
    return {};
  }
  auto e = wait_for_exit(timeout);
  if (e.timed_out) kill();
  return e;
}

ExitStatus ServerProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return from_wait_status(status);
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return {};
    }
    if (Clock::now() >= deadline) {
      ExitStatus e;
      e.timed_out = true;
      return e;
    }
    std::this_thread::sleep_for(5ms);
  }
}

void ServerProcess::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

ExitStatus ServerProcess::terminate(std::chrono::milliseconds timeout) {
  if (!running()) return {};
  ::kill(pid_, SIGTERM);
  auto e = wait_for_exit(timeout);
  if (e.timed_out) kill();
  return e;
}

ExitStatus wait_for_exit_without_reaping(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
      ExitStatus e;
      if (info.si_code == CLD_EXITED) {
        e.exited = true;
        e.code = info.si_status;
      } else {
        e.signal = info.si_status;
      }
      return e;
    }
    std::this_thread::sleep_for(10ms);
  }
  ExitStatus e;
  e.timed_out = true;
  return e;
}


}  // namespace waybill::itest
