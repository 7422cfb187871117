#include "waybill/runtime/daily_export.hpp"

#include <filesystem>
#include <future>

#include "waybill/runtime/log.hpp"

#include "file_io.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/csv.hpp"

namespace waybill::runtime {

namespace {

constexpr log::Logger kLog("export");

using storage::Column;

constexpr int64_t kDayUs = 86400LL * 1000000;
// Bounds of one export: carriers in the manifests, shipments of a day.
constexpr size_t kMaxCarriers = 10000;
constexpr size_t kMaxShipmentsPerDay = 2000000;
// On-demand exports waiting for the exporter thread.
constexpr size_t kMaxJobs = 4;
const char* const kLastDayKey = "export/last_day";

std::string day_text(int64_t day_us) { return format_rfc3339(day_us).substr(0, 10); }

// Shipment ids of `date`'s manifests, carrier by carrier. Manifest keys are
// carrier \0 date \0 shipment_id: one seek finds the next carrier, one prefix scan its
// shipments of the day, so the work is bounded by the carriers and that day's entries.
Result<std::vector<std::string>> manifest_shipments(const storage::Store& store, const std::string& date) {
  std::vector<std::string> ids;
  std::string from;
  for (size_t carriers = 0; carriers < kMaxCarriers; ++carriers) {
    std::string carrier;
    bool found = false;
    auto st = store.scan_from(Column::manifests, from, 1, [&](std::string_view k, std::string_view) {
      carrier = std::string(k.substr(0, k.find('\0')));
      found = true;
      return false;
    });
    if (!st.ok()) return st;
    if (!found) return ids;
    std::string prefix = carrier + '\0' + date + '\0';
    st = store.scan_prefix(Column::manifests, prefix, kMaxShipmentsPerDay + 1, [&](std::string_view k, std::string_view) {
      ids.emplace_back(k.substr(prefix.size()));
      return true;
    });
    if (!st.ok()) return st;
    if (ids.size() > kMaxShipmentsPerDay)
      return Status{Code::payload_too_large, "more than " + std::to_string(kMaxShipmentsPerDay) + " shipments on " + date};
    from = carrier + '\x01';  // just past every key of this carrier
  }
  return Status{Code::internal, "more than " + std::to_string(kMaxCarriers) + " carriers in the manifests"};
}

// Where the shipment's freight stands: the first invoice line that billed it.
struct Settled {
  std::string state = "accrued", invoiced, posted, line;
};
Settled settlement_of(const storage::Store& store, const std::string& shipment_id) {
  Settled out;
  std::string at;
  if (!store.get(storage::Column::billings, shipment_id, &at).ok()) return out;
  out.line = at;
  auto hash = at.rfind('#'), colon = at.find(':');
  if (hash == std::string::npos || colon == std::string::npos || colon > hash) return out;
  std::string stored;
  if (!store.get(storage::Column::invoices, actors::keys::invoice(at.substr(0, colon), at.substr(colon + 1, hash - colon - 1)), &stored).ok())
    return out;
  auto inv = decode<fb::InvoiceT>(stored);
  size_t n = std::strtoul(at.c_str() + hash + 1, nullptr, 10);
  if (!inv || n == 0 || n > inv->lines.size() || !inv->lines[n - 1]) return out;
  const auto& l = *inv->lines[n - 1];
  out.invoiced = std::to_string(l.billed_minor);
  switch (l.dispute) {
    case fb::DisputeState::none: out.state = "posted", out.posted = std::to_string(l.billed_minor); break;
    case fb::DisputeState::open: out.state = "disputed"; break;
    case fb::DisputeState::rejected: out.state = "rejected"; break;
    default: out.state = "posted", out.posted = std::to_string(l.resolved_minor);
  }
  return out;
}

}  // namespace

std::optional<int> parse_time_of_day(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4})
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::optional<int64_t> parse_day(std::string_view date) {
  if (date.size() != 10) return std::nullopt;
  auto us = parse_rfc3339_us(std::string(date) + "T00:00:00Z");
  // The round trip refuses dates a lenient parser would roll over (2026-02-30).
  if (!us || day_text(*us) != date) return std::nullopt;
  return us;
}

std::vector<std::string> due_export_days(int64_t now, int at_minute, const std::string& last_done, int max_days) {
  int64_t today = now - ((now % kDayUs) + kDayUs) % kDayUs;
  int64_t latest = now >= today + at_minute * 60LL * 1000000 ? today - kDayUs : today - 2 * kDayUs;
  int64_t start = latest;
  if (auto last = parse_day(last_done)) start = *last + kDayUs;
  start = std::max(start, latest - (std::max(max_days, 1) - 1) * kDayUs);
  std::vector<std::string> out;
  for (int64_t d = start; d <= latest; d += kDayUs) out.push_back(day_text(d));
  return out;
}

Result<ExportResult> write_daily_export(const storage::Store& store, const std::string& dir, const std::string& date) {
  if (!parse_day(date)) return Status{Code::invalid_argument, "must be YYYY-MM-DD", "date"};
  auto ids = manifest_shipments(store, date);
  if (!ids) return ids.status();
  ExportResult r;
  r.date = date;
  r.shipments_path = (std::filesystem::path(dir) / ("shipments-" + date + ".csv")).string();
  r.accruals_path = (std::filesystem::path(dir) / ("freight-accruals-" + date + ".csv")).string();
  fileio::AtomicFile shipments, accruals;
  if (auto st = shipments.open(r.shipments_path); !st.ok()) return st;
  if (auto st = accruals.open(r.accruals_path); !st.ok()) return st;
  std::string row;
  append_csv_row(&row, {"shipment_id", "order_id", "carrier", "service", "status", "tracking_numbers", "booked_at"});
  (void)shipments.append(row);
  row.clear();
  // Settlement columns: once the carrier's invoice is reconciled the accrual is replaced
  // by what was posted (settlement "posted"), held while disputed, or stays "accrued".
  append_csv_row(&row, {"shipment_id", "order_id", "carrier", "service", "quoted_total_minor", "currency", "quote_id",
                        "settlement", "invoiced_minor", "posted_minor", "invoice_line"});
  (void)accruals.append(row);
  for (auto& id : *ids) {
    auto s = actors::load_shipment(store, id);
    if (!s) {
      if (s.status().code() == Code::not_found) continue;
      return s.status();
    }
    // A void after the manifest scan: not a shipment of the day any more.
    if (s->booking_state != fb::BookingState::booked) continue;
    std::string tns;
    for (auto& tn : s->tracking_numbers) tns += (tns.empty() ? "" : "|") + tn;
    row.clear();
    append_csv_row(&row, {s->shipment_id, s->order_id, s->carrier, s->service, name(s->status), tns,
                          format_rfc3339(s->requested_us)});
    if (auto st = shipments.append(row); !st.ok()) return st;
    ++r.shipments;
    if (!s->rate || !s->rate->total) continue;
    row.clear();
    auto settled = settlement_of(store, s->shipment_id);
    append_csv_row(&row, {s->shipment_id, s->order_id, s->carrier, s->service,
                          std::to_string(s->rate->total->amount_minor), s->rate->total->currency, s->rate->quote_id,
                          settled.state, settled.invoiced, settled.posted, settled.line});
    if (auto st = accruals.append(row); !st.ok()) return st;
    ++r.accruals;
  }
  if (auto st = shipments.commit(); !st.ok()) return st;
  if (auto st = accruals.commit(); !st.ok()) return st;
  return r;
}

DailyExporter::DailyExporter(const storage::Store& store, storage::GroupCommitWriter& writer, ExportOptions options,
                             FileStats& stats)
    : store_(store), writer_(writer), options_(std::move(options)), stats_(stats) {
  if (options_.dir.empty()) options_.dir = (std::filesystem::path(store.options().data_dir) / "exports").string();
}

DailyExporter::~DailyExporter() { stop(); }

Status DailyExporter::start() {
  auto at = parse_time_of_day(options_.at_utc);
  if (!at) return {Code::invalid_argument, "must be HH:MM (UTC, 00:00..23:59)", "export.at_utc"};
  at_minute_ = *at;
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return {Code::internal, "cannot create " + options_.dir + ": " + ec.message(), "export.dir"};
  thread_ = std::thread([this] { loop(); });
  return {};
}

void DailyExporter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Jobs never run answer now rather than never.
  for (auto& [date, done] : jobs_) done(Status{Code::unavailable, "shutting down"});
  jobs_.clear();
}

void DailyExporter::run_async(const std::string& date, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return done(Status{Code::unavailable, "shutting down"});
    if (jobs_.size() < kMaxJobs) {
      jobs_.emplace_back(date, std::move(done));
      cv_.notify_all();
      return;
    }
  }
  done(Status{Code::overloaded, "exports are already queued; retry later"});
}

Result<ExportResult> DailyExporter::run(const std::string& date) {
  auto r = write_daily_export(store_, options_.dir, date);
  if (r) {
    stats_.exports_written.fetch_add(1);
    kLog.info("export written", {{"date", date}, {"shipments", r->shipments}, {"accruals", r->accruals}, {"dir", options_.dir}});
  } else {
    stats_.export_failures.fetch_add(1);
    kLog.error("export failed", {{"date", date}, {"error", r.status().message()}});
  }
  return r;
}

Status DailyExporter::run_due(int64_t now) {
  std::string last;
  auto st = store_.get(Column::meta, kLastDayKey, &last);
  if (!st.ok() && st.code() != Code::not_found) return st;
  for (auto& day : due_export_days(now, at_minute_, last, options_.max_catch_up_days)) {
    auto r = run(day);
    if (!r) return r.status();
    // The day counts as done only once RocksDB says so.
    auto done = std::make_shared<std::promise<Status>>();
    auto committed = done->get_future();
    auto req = std::make_unique<storage::WriteRequest>();
    req->ops.push_back({Column::meta, kLastDayKey, day});
    req->on_commit = [done](const Status& s, uint64_t) { done->set_value(s); };
    if (auto sub = writer_.submit(std::move(req)); !sub.ok()) return sub;
    if (committed.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
      return {Code::unavailable, "the storage writer did not confirm the export in time"};
    if (auto c = committed.get(); !c.ok()) return c;
  }
  return {};
}

void DailyExporter::loop() {
  std::unique_lock lock(mutex_);
  auto next_check = std::chrono::steady_clock::now();
  while (!stopping_) {
    while (!jobs_.empty() && !stopping_) {
      auto [date, done] = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      done(run(date));
      lock.lock();
    }
    if (std::chrono::steady_clock::now() >= next_check) {
      if (options_.nightly) {
        lock.unlock();
        if (auto st = run_due(now_us()); !st.ok()) kLog.warn("nightly export failed; trying again later", {{"error", st.message()}});
        lock.lock();
      }
      next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.check_interval_ms);
    }
    cv_.wait_until(lock, next_check, [this] { return stopping_ || !jobs_.empty(); });
  }
}

}  // namespace waybill::runtime
