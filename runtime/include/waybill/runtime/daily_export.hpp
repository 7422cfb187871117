// Nightly export for the ERP: the previous UTC day's booked shipments and their freight
// accruals as two CSV files,
//
//   shipments-YYYY-MM-DD.csv         shipment_id, order_id, carrier, service, status,
//                                    tracking_numbers ('|'-separated), booked_at
//   freight-accruals-YYYY-MM-DD.csv  shipment_id, order_id, carrier, service,
//                                    quoted_total_minor, currency, quote_id
//
// A day's shipments are those of that day's end-of-day manifests (booked through
// waybill, booking requested that UTC day, not voided); `booked_at` is that booking
// request time. Each file is written to a temporary name, fsynced and renamed, so a
// reader never sees half a file. The last day exported on schedule is kept in RocksDB:
// the export runs once per day, also across restarts, and a server that was down at
// the export time catches up the days it missed (at most max_catch_up_days).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "waybill/runtime/file_stats.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::runtime {

struct ExportOptions {
  /// Run the export every day on schedule (on-demand runs work either way). Default: true.
  bool nightly = true;
  /// Directory of the export files; empty means <data_dir>/exports. Default: "".
  std::string dir;
  /// UTC time of day ("HH:MM") after which the previous day is exported. Default: "02:00".
  std::string at_utc = "02:00";
  /// Most missed days exported when the server comes back; older ones are skipped
  /// (POST /v1/exports?date= still writes them). Default: 7.
  int max_catch_up_days = 7;
  /// How often the schedule is checked, in ms. Default: 30000.
  int check_interval_ms = 30000;
};

struct ExportResult {
  std::string date;
  size_t shipments = 0;
  size_t accruals = 0;
  std::string shipments_path;
  std::string accruals_path;
};

/// Minutes after midnight of "HH:MM"; nullopt when malformed.
std::optional<int> parse_time_of_day(std::string_view hh_mm);
/// Midnight UTC of a strict "YYYY-MM-DD", in microseconds; nullopt when malformed.
std::optional<int64_t> parse_day(std::string_view date);

/// Days to export at `now_us` (oldest first): every day after `last_done` ("" when none:
/// only the latest due day) up to the latest due day, at most `max_days` of them. The
/// latest due day is yesterday once `at_minute` has passed today, else the day before.
std::vector<std::string> due_export_days(int64_t now_us, int at_minute, const std::string& last_done, int max_days);

/// Writes the two files of `date` into `dir` (replacing earlier ones).
Result<ExportResult> write_daily_export(const storage::Store& store, const std::string& dir, const std::string& date);

class DailyExporter {
 public:
  using Done = std::function<void(Result<ExportResult>)>;
  /// `store`, `writer` and `stats` must outlive the exporter.
  DailyExporter(const storage::Store& store, storage::GroupCommitWriter& writer, ExportOptions options,
                FileStats& stats);
  ~DailyExporter();

  /// Validates the options, creates the directory and starts the exporter thread.
  Status start();
  void stop();
  /// Queues an on-demand export of `date`; `done` runs on the exporter thread. At most
  /// 4 wait; beyond that `done` gets `overloaded` at once. Does not move the schedule.
  void run_async(const std::string& date, Done done);
  /// Exports the days due at `now_us` and records the last one (the scheduled path).
  Status run_due(int64_t now_us);

  const std::string& dir() const { return options_.dir; }

 private:
  void loop();
  Result<ExportResult> run(const std::string& date);

  const storage::Store& store_;
  storage::GroupCommitWriter& writer_;
  ExportOptions options_;
  FileStats& stats_;
  int at_minute_ = 120;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, Done>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waybill::runtime
