// Where a process's time goes, without perf: a sampler reads every thread's state and
// current system call from /proc every few milliseconds, and CPU time at both ends.
// The group-commit writer is recognised as the thread most often inside fsync or
// fdatasync (RocksDB's own threads are named rocksdb:*).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace waybill::bench {

struct ThreadProfile {
  pid_t tid = 0;
  std::string comm;
  std::string role;          // "writer", "rocksdb", "caf", "other"
  double cpu_cores = 0;      // CPU seconds / wall seconds
  double running = 0;        // share of samples in state R
  double in_fsync = 0;       // share of samples inside fsync/fdatasync
  double in_write = 0;       // share of samples inside write/pwrite/writev
  double blocked_other = 0;  // share of samples waiting on anything else (futex, epoll, ...)
};

struct ProcessProfile {
  double seconds = 0;
  std::vector<ThreadProfile> threads;  // by tid
  /// Sum of cpu_cores per role.
  std::map<std::string, double> cores_by_role;
  const ThreadProfile* writer() const;
  /// One line: "writer 0.45 cores (fsync 40%, write 5%, running 30%) | caf 0.6 | ...".
  std::string summary() const;
};

class ThreadSampler {
 public:
  explicit ThreadSampler(pid_t pid, int interval_ms = 10);
  ~ThreadSampler();
  ProcessProfile stop();

 private:
  struct Counts {
    std::string comm;
    double cpu0 = -1, cpu1 = 0;
    uint64_t samples = 0, running = 0, fsync = 0, write = 0, other = 0;
  };
  void loop();
  void sample(bool first, bool last);

  pid_t pid_;
  int interval_ms_;
  double t0_ = 0;
  std::atomic<bool> stop_{false};
  std::map<pid_t, Counts> counts_;
  std::thread thread_;
};

}  // namespace waybill::bench
