#include "threads.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server.hpp"

namespace waybill::bench {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s, '\0');
  return s;
}

}  // namespace

ThreadSampler::ThreadSampler(pid_t pid, int interval_ms) : pid_(pid), interval_ms_(interval_ms) {
  t0_ = now_seconds();
  sample(true, false);
  thread_ = std::thread([this] { loop(); });
}

ThreadSampler::~ThreadSampler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ThreadSampler::loop() {
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    sample(false, false);
  }
}

void ThreadSampler::sample(bool first, bool last) {
  const std::string base = "/proc/" + std::to_string(pid_) + "/task";
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const pid_t self = static_cast<pid_t>(::gettid());
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(base, ec)) {
    pid_t tid = static_cast<pid_t>(std::atoi(e.path().filename().c_str()));
    if (tid == self) continue;  // the sampler itself, when profiling this process
    std::string stat = slurp(e.path().string() + "/stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size()) continue;
    auto& c = counts_[tid];
    if (c.comm.empty()) c.comm = stat.substr(open + 1, close - open - 1);
    std::istringstream f(stat.substr(close + 2));
    std::string state, x;
    f >> state;
    for (int i = 0; i < 10; ++i) f >> x;  // ppid .. cmajflt
    double utime = 0, stime = 0;
    f >> utime >> stime;
    double cpu = (utime + stime) / ticks;
    if (first || c.cpu0 < 0) c.cpu0 = cpu;
    c.cpu1 = cpu;
    if (first || last) continue;
    ++c.samples;
    if (state == "R") {
      ++c.running;
      continue;
    }
    std::string sc = slurp(e.path().string() + "/syscall");
    long nr = sc.empty() || sc[0] == 'r' ? -1 : std::atol(sc.c_str());
    if (nr == 74 || nr == 75) ++c.fsync;              // fsync, fdatasync
    else if (nr == 1 || nr == 18 || nr == 20 || nr == 296) ++c.write;  // write, pwrite64, writev, pwritev
    else ++c.other;
  }
}

ProcessProfile ThreadSampler::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  sample(false, true);
  ProcessProfile p;
  p.seconds = now_seconds() - t0_;
  pid_t writer = 0;
  uint64_t most_fsync = 0;
  for (auto& [tid, c] : counts_) {
    if (c.comm.rfind("rocksdb", 0) == 0) continue;
    if (c.fsync > most_fsync) {
      most_fsync = c.fsync;
      writer = tid;
    }
  }
  for (auto& [tid, c] : counts_) {
    ThreadProfile t;
    t.tid = tid;
    t.comm = c.comm;
    t.role = tid == writer                       ? "writer"
             : c.comm.rfind("rocksdb", 0) == 0   ? "rocksdb"
             : c.comm.rfind("caf", 0) == 0       ? "caf"
                                                 : "other";
    t.cpu_cores = p.seconds > 0 ? (c.cpu1 - c.cpu0) / p.seconds : 0;
    if (c.samples) {
      double n = static_cast<double>(c.samples);
      t.running = static_cast<double>(c.running) / n;
      t.in_fsync = static_cast<double>(c.fsync) / n;
      t.in_write = static_cast<double>(c.write) / n;
      t.blocked_other = static_cast<double>(c.other) / n;
    }
    p.cores_by_role[t.role] += t.cpu_cores;
    p.threads.push_back(t);
  }
  return p;
}

const ThreadProfile* ProcessProfile::writer() const {
  for (auto& t : threads)
    if (t.role == "writer") return &t;
  return nullptr;
}

std::string ProcessProfile::summary() const {
  char buf[256];
  std::string s;
  if (auto* w = writer()) {
    std::snprintf(buf, sizeof buf, "writer %.2f cores, in fsync %.0f%% / write %.0f%% / runnable %.0f%% / waiting %.0f%%",
                  w->cpu_cores, 100 * w->in_fsync, 100 * w->in_write, 100 * w->running, 100 * w->blocked_other);
    s += buf;
  }
  for (const char* role : {"caf", "other", "rocksdb"}) {
    auto it = cores_by_role.find(role);
    if (it == cores_by_role.end()) continue;
    // Only threads that did something count toward "n threads".
    int busy = 0;
    for (auto& t : threads) busy += t.role == role && t.cpu_cores >= 0.02;
    std::snprintf(buf, sizeof buf, "%s%s %.2f cores (%d busy)", s.empty() ? "" : " | ",
                  std::string(role) == "other" ? "other threads" : role, it->second, busy);
    s += buf;
  }
  return s;
}

}  // namespace waybill::bench
