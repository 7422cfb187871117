// Drop-folder intake: CSV files an ERP drops into <drop_dir>/<source>/ become orders
// through the same path as POST /v1/orders (canonical parser, order actor, group
// commit), mapped by the source's profile.
//
// A file is taken once it is complete: its name does not start with '.' nor end with
// .tmp or .part, and it has not changed for `settle_ms`. It is processed once per
// content: the SHA-256 of its bytes is recorded in RocksDB after every row's order is
// durable, so a copy under another name, or the same file dropped again, is skipped.
// Rows are idempotent on their order id as well (same canonical body: duplicate;
// different body: rejected as a conflict), which makes a crash mid-file safe: the file
// is still in place after a restart, is processed again and its rows deduplicate.
//
// Afterwards the file moves to <source>/processed/, and rows that could not become
// orders are listed beside it in <name>.rejects.csv (line, order_id, field, reason).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/file_stats.hpp"
#include "waybill/runtime/source_profile.hpp"

namespace waybill::runtime {

struct IntakeOptions {
  /// Directory of source mapping profiles (*.yaml); missing: no sources. Default:
  /// "configs/sources".
  std::string sources_dir = "configs/sources";
  /// Watch the drop folder (the JSON source endpoint works either way). Default: true.
  bool watch = true;
  /// Root of the drop folders; empty means <data_dir>/drop. Default: "".
  std::string drop_dir;
  /// Time between scans of the drop folders, in ms. Default: 1000.
  int poll_interval_ms = 1000;
  /// A file counts as complete when unmodified this long, in ms (writers that rename a
  /// finished .tmp/.part file into place need no wait). Default: 1000.
  int settle_ms = 1000;
  /// Larger files are rejected whole. Default: 67108864 (64 MiB).
  uint64_t max_file_bytes = 64ull << 20;
  /// Most data rows per file; more rejects the file whole. Default: 100000.
  size_t max_rows = 100000;
  /// Most files handled per scan. Default: 16.
  size_t max_files_per_tick = 16;
  /// Orders of a file submitted and not yet answered. Default: 256.
  size_t max_in_flight = 256;
  /// Without any answer for this long, in ms, the file is left for the next scan.
  /// Default: 30000.
  int answer_timeout_ms = 30000;
};

class DropFolder {
 public:
  /// `profiles`, `engine` and `stats` must outlive the folder.
  DropFolder(Engine& engine, const std::vector<SourceProfile>& profiles, IntakeOptions options,
             IntakeLimits limits, FileStats& stats);
  ~DropFolder();

  /// Creates <drop_dir>/<source>/processed/ for every profile; starts the watcher when
  /// `watch` is on.
  Status start();
  /// Stops the watcher; a file being processed stays in place for the next start.
  void stop();
  /// One scan: handles up to max_files_per_tick complete files, oldest first. Returns
  /// how many were processed or skipped.
  size_t poll_once();

  const std::string& drop_dir() const { return options_.drop_dir; }

 private:
  struct Candidate;
  struct Answers;
  enum class Outcome { processed, skipped, retry };
  std::vector<Candidate> candidates(size_t max);
  Outcome process(const SourceProfile& profile, const std::filesystem::path& file);
  Outcome skip(const std::filesystem::path& file, const std::string& record);
  bool submit_all(std::vector<MappedOrder>& orders, const std::string& correlation_id,
                  std::vector<actors::Reply>* replies);
  Status record_done(const std::string& key, const std::string& value);

  Engine& engine_;
  const std::vector<SourceProfile>& profiles_;
  IntakeOptions options_;
  IntakeLimits limits_;
  FileStats& stats_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace waybill::runtime
