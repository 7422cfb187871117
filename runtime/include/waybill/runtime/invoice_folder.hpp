// Invoice drop folder: carrier invoice CSV files (format in invoice_intake.hpp) dropped
// into <invoice_dir>/ are reconciled by the settlement ledger like POST /v1/invoices.
//
// A file is taken once complete (name not starting with '.' nor ending in .tmp/.part,
// unmodified for settle_ms). Each invoice in it is submitted on its own; an invoice is
// idempotent on carrier and invoice number, so a file read again after a crash, or
// dropped twice, is reconciled once. Invoices with a bad row are refused whole and
// listed with line, invoice, field and reason in processed/<name>.rejects.csv; the
// others are reconciled. When the ledger cannot answer (storage unavailable, timeout)
// the file stays in place for the next scan.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "waybill/runtime/engine.hpp"

namespace waybill::runtime {

struct InvoiceFolderOptions {
  /// Watch the folder. Default: true.
  bool watch = true;
  /// The folder; empty means <data_dir>/invoices. Default: "".
  std::string dir;
  /// Time between scans, in ms. Default: 1000.
  int poll_interval_ms = 1000;
  /// A file counts as complete when unmodified this long, in ms. Default: 1000.
  int settle_ms = 1000;
  /// Larger files are refused whole. Default: 67108864 (64 MiB).
  uint64_t max_file_bytes = 64ull << 20;
  /// Most data rows per file. Default: 200000.
  size_t max_rows = 200000;
  /// Most files handled per scan. Default: 8.
  size_t max_files_per_tick = 8;
  /// Longest wait for the ledger's answer to one invoice, in ms; then the file is left
  /// for the next scan. Default: 60000.
  int answer_timeout_ms = 60000;
};

/// Counters for metrics and tests.
struct InvoiceFolderStats {
  std::atomic<uint64_t> files_processed{0};
  std::atomic<uint64_t> files_refused{0};
  std::atomic<uint64_t> invoices_reconciled{0};
  std::atomic<uint64_t> invoices_refused{0};
};

class InvoiceFolder {
 public:
  /// `engine` must outlive the folder.
  InvoiceFolder(Engine& engine, InvoiceFolderOptions options);
  ~InvoiceFolder();

  /// Creates <dir>/processed/; starts the watcher when `watch` is on.
  Status start();
  /// Stops the watcher; a file being processed stays in place for the next start.
  void stop();
  /// One scan; returns how many files were processed.
  size_t poll_once();

  const std::string& dir() const { return options_.dir; }
  const InvoiceFolderStats& stats() const { return stats_; }

 private:
  enum class Outcome { processed, retry };
  Outcome process(const std::filesystem::path& file);

  Engine& engine_;
  InvoiceFolderOptions options_;
  InvoiceFolderStats stats_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waybill::runtime
