// Counters of the flat-file side (drop-folder intake and nightly exports), bumped by
// the intake and export threads and read by the metrics module at scrape time.
#pragma once

#include <atomic>
#include <cstdint>

namespace waybill::runtime {

struct FileStats {
  std::atomic<uint64_t> files_processed{0};  // files read, mapped and moved to processed/
  std::atomic<uint64_t> files_skipped{0};    // same content as a file processed before
  std::atomic<uint64_t> files_retried{0};    // left in place after a transient failure
  std::atomic<uint64_t> rows_accepted{0};    // rows of orders created by a file
  std::atomic<uint64_t> rows_duplicate{0};   // rows of orders that existed with the same body
  std::atomic<uint64_t> rows_rejected{0};    // rows listed in a reject report
  std::atomic<uint64_t> exports_written{0};  // export days written (two files each)
  std::atomic<uint64_t> export_failures{0};
};

}  // namespace waybill::runtime
