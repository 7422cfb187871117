#include "waybill/runtime/invoice_folder.hpp"

#include <algorithm>
#include <future>

#include <caf/send.hpp>

#include "file_io.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/csv.hpp"
#include "waybill/runtime/invoice_intake.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::runtime {

namespace fs = std::filesystem;

namespace {

constexpr log::Logger kLog("settlement");

// Entries looked at per scan: a flooded folder is worked through over several scans.
constexpr size_t kMaxListed = 10000;

bool ignored_name(const std::string& n) {
  auto ends = [&](std::string_view s) { return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
  return n.empty() || n[0] == '.' || ends(".tmp") || ends(".part") || ends(".rejects.csv");
}

// The detail and field of a problem+json answer, for the rejects report.
std::string problem_field(const std::string& body, const char* key) {
  std::string pattern = std::string("\"") + key + "\":\"";
  auto at = body.find(pattern);
  if (at == std::string::npos) return {};
  at += pattern.size();
  return body.substr(at, body.find('"', at) - at);
}

}  // namespace

InvoiceFolder::InvoiceFolder(Engine& engine, InvoiceFolderOptions options)
    : engine_(engine), options_(std::move(options)) {
  if (options_.dir.empty()) options_.dir = (fs::path(engine.store().options().data_dir) / "invoices").string();
}

InvoiceFolder::~InvoiceFolder() { stop(); }

Status InvoiceFolder::start() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.dir) / "processed", ec);
  if (ec) return {Code::internal, "cannot create " + options_.dir + ": " + ec.message(), "settlement.invoice_dir"};
  if (!options_.watch) return {};
  kLog.info("watching the invoice folder", {{"dir", options_.dir}, {"poll_interval_ms", options_.poll_interval_ms}});
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      poll_once();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms), [this] { return stopping_; });
    }
  });
  return {};
}

void InvoiceFolder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t InvoiceFolder::poll_once() {
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  auto settled_before = fs::file_time_type::clock::now() - std::chrono::milliseconds(options_.settle_ms);
  std::error_code ec;
  size_t listed = 0;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end && listed < kMaxListed; it.increment(ec), ++listed) {
    if (!it->is_regular_file(ec) || ignored_name(it->path().filename().string())) continue;
    auto mtime = it->last_write_time(ec);
    if (ec || mtime > settled_before) continue;
    files.emplace_back(mtime, it->path());
  }
  std::sort(files.begin(), files.end());
  size_t handled = 0;
  for (size_t i = 0; i < files.size() && i < options_.max_files_per_tick; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    if (process(files[i].second) == Outcome::processed) ++handled;
  }
  return handled;
}

InvoiceFolder::Outcome InvoiceFolder::process(const fs::path& file) {
  const std::string name = file.filename().string();
  const std::string correlation_id = log::new_correlation_id();
  const auto flog = kLog.with(correlation_id);
  const fs::path processed = file.parent_path() / "processed";
  std::string rejects;
  append_csv_row(&rejects, {"line", "carrier", "invoice_number", "field", "reason"});
  size_t refused = 0, reconciled = 0;

  auto text = fileio::read_file(file.string(), options_.max_file_bytes);
  Result<std::vector<CsvInvoice>> parsed =
      text ? parse_invoice_csv(*text, engine_.settlement_options(), options_.max_rows) : Result<std::vector<CsvInvoice>>(text.status());
  if (!parsed) {
    append_csv_row(&rejects, {"", "", "", parsed.status().field(), parsed.status().message()});
    stats_.files_refused++;
  } else {
    for (auto& inv : *parsed) {
      auto refuse = [&](const std::string& field, const std::string& reason) {
        append_csv_row(&rejects, {std::to_string(inv.first_line), inv.invoice.carrier, inv.invoice.invoice_number, field, reason});
        ++refused;
      };
      if (!inv.status.ok()) {
        refuse(inv.status.field(), inv.status.message());
        continue;
      }
      auto done = std::make_shared<std::promise<actors::Reply>>();
      auto answer = done->get_future();
      auto request = std::make_shared<actors::SettlementRequest>();
      inv.invoice.source = "file:" + name;
      request->command = actors::SubmitInvoice{std::move(inv.invoice)};
      request->reply = [done](actors::Reply r) { done->set_value(std::move(r)); };
      auto ledger = engine_.settlement();
      if (!ledger) return Outcome::retry;  // shutting down: the file stays for the next start
      caf::anon_send(ledger, std::move(request));
      if (answer.wait_for(std::chrono::milliseconds(options_.answer_timeout_ms)) != std::future_status::ready) {
        flog.warn("no answer from the settlement ledger; the file stays for the next scan", {{"file", name}});
        return Outcome::retry;
      }
      auto reply = answer.get();
      if (reply.status == 503 || reply.status >= 500) {
        flog.warn("settlement ledger unavailable; the file stays for the next scan", {{"file", name}, {"status", reply.status}});
        return Outcome::retry;
      }
      if (reply.status >= 400) refuse(problem_field(reply.body, "field"), problem_field(reply.body, "detail"));
      else ++reconciled;
    }
  }
  std::error_code ec;
  fs::create_directories(processed, ec);
  std::string target = fileio::free_name(processed.string(), name);
  if (refused > 0 || !parsed) {
    if (auto st = fileio::write_atomically((processed / (target + ".rejects.csv")).string(), rejects); !st.ok()) {
      flog.error("cannot write the rejects report", {{"file", name}, {"error", st.message()}});
      return Outcome::retry;
    }
  }
  if (auto st = fileio::move_durably(file.string(), (processed / target).string()); !st.ok()) {
    flog.error("cannot move the file to processed/", {{"file", name}, {"error", st.message()}});
    return Outcome::retry;
  }
  stats_.files_processed++;
  stats_.invoices_reconciled += reconciled;
  stats_.invoices_refused += refused;
  flog.info("invoice file processed",
            {{"file", name}, {"reconciled", reconciled}, {"refused", refused}, {"moved_to", "processed/" + target}});
  return Outcome::processed;
}

}  // namespace waybill::runtime
