// waybill-settlement-bench: invoice lines reconciled per second against a store of
// stored shipments (default one million), through the real settlement ledger actor with
// fsync on, next to a baseline measured in the same run on the same store: the reads
// the ledger makes per line (tracking index seek, shipment, milestones, billing), done
// bare. The ratio reconcile/baseline is the figure to compare across machines.
//
// Shipments are bulk-loaded straight into RocksDB (WAL off, not part of the timing) in
// the layout the shipment actor writes: header with rate snapshot, tracking index entry,
// and for every 10th shipment a failed-attempt milestone that justifies a redelivery.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include <CLI/CLI.hpp>
#include <caf/send.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/engine.hpp"

namespace {

using namespace waybill;
using Clock = std::chrono::steady_clock;

struct Options {
  size_t shipments = 1'000'000;
  size_t invoices = 100;
  size_t lines_per_invoice = 1000;
  std::string work_dir;
  std::string out = "bench-results/settlement.json";
  bool keep = false;
  uint64_t seed = 7;
};

constexpr int64_t kShipUs = 1'764'000'000'000'000;  // 2025-11-24, a fixed ship date

std::string tracking_of(size_t i) { return "1ZB" + std::to_string(10'000'000 + i); }
std::string shipment_of(size_t i) { return "BS-" + std::to_string(i) + "-1"; }
int64_t quote_of(size_t i) { return 800 + static_cast<int64_t>(i % 5000); }

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Status bulk_load(storage::Store& store, size_t n) {
  auto* db = store.db();
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // setup only: flushed below, not part of any figure
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < n; ++i) {
    fb::ShipmentT s;
    s.shipment_id = shipment_of(i);
    s.order_id = "BO-" + std::to_string(i);
    s.carrier = "parcelco";
    s.service = "GND";
    s.status = TrackingStatus::in_transit;
    s.booking_state = fb::BookingState::booked;
    s.tracking_numbers = {tracking_of(i)};
    s.ship_date_us = kShipUs;
    s.rate = std::make_unique<fb::RateSnapshotT>();
    s.rate->carrier = "parcelco";
    s.rate->quote_id = "Q-" + std::to_string(i);
    s.rate->total = std::make_unique<fb::MoneyT>();
    s.rate->total->amount_minor = quote_of(i);
    s.rate->total->currency = "USD";
    for (auto* party : {&s.ship_from, &s.ship_to}) {
      *party = std::make_unique<fb::PartyT>();
      (*party)->country = "US";
      (*party)->company = "Acme";
    }
    auto p = std::make_unique<fb::PackageT>();
    p->weight_g = 1500;
    p->length_mm = 300;
    s.packages.push_back(std::move(p));
    if (i % 10 == 0) {
      fb::MilestoneT m;
      m.status = TrackingStatus::attempt_failed;
      m.raw_code = "X3";
      m.event_time_us = kShipUs + 3600'000'000LL;
      s.milestone_count = 1;
      batch.Put(store.handle(storage::Column::milestones), actors::keys::milestone(s.shipment_id, 0), encode(m));
    }
    batch.Put(store.handle(storage::Column::tracking_index), actors::keys::tracking("parcelco", tracking_of(i), kShipUs),
              s.shipment_id);
    batch.Put(store.handle(storage::Column::shipments), s.shipment_id, encode(s));
    if (batch.Count() >= 30000) {
      if (auto st = db->Write(wo, &batch); !st.ok()) return {Code::internal, st.ToString()};
      batch.Clear();
    }
  }
  if (auto st = db->Write(wo, &batch); !st.ok()) return {Code::internal, st.ToString()};
  if (auto st = db->Flush(rocksdb::FlushOptions()); !st.ok()) return {Code::internal, st.ToString()};
  return {};
}

// The invoices of the run: mostly matched lines, with the other outcomes mixed in at
// rates a carrier audit typically finds.
std::vector<actors::InvoiceInput> make_invoices(const Options& o, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> pick(0, o.shipments - 1);
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<actors::InvoiceInput> out;
  for (size_t v = 0; v < o.invoices; ++v) {
    actors::InvoiceInput in;
    in.carrier = "parcelco";
    in.invoice_number = "BINV-" + std::to_string(v);
    in.invoice_date_us = kShipUs + 5 * 86'400'000'000LL;
    in.currency = "USD";
    for (size_t l = 0; l < o.lines_per_invoice; ++l) {
      size_t i = pick(rng);
      actors::InvoiceLineInput line;
      int roll = pct(rng);
      line.tracking_number = roll < 2 ? "1ZUNKNOWN" + std::to_string(l) : tracking_of(i);
      int64_t base = quote_of(i);
      if (roll >= 2 && roll < 7) base += 300;  // overbilled
      line.charges.push_back({"base", base});
      if (i % 10 == 0) line.charges.push_back({"redelivery", 400});         // justified
      else if (roll >= 7 && roll < 9) line.charges.push_back({"address_correction", 1500});  // unjustified
      in.lines.push_back(std::move(line));
    }
    out.push_back(std::move(in));
  }
  return out;
}

// The ledger's per-line reads, bare: what reconciliation costs at least on this store.
size_t baseline_reads(storage::Store& store, const std::vector<actors::InvoiceInput>& invoices) {
  size_t found = 0;
  for (auto& in : invoices)
    for (auto& l : in.lines) {
      auto id = actors::lookup_tracking(store, in.carrier, l.tracking_number, in.invoice_date_us);
      if (!id.ok()) continue;
      std::string v, billed;
      if (store.get(storage::Column::shipments, *id, &v).ok() && decode<fb::ShipmentT>(v)) ++found;
      (void)store.scan_prefix(storage::Column::milestones, actors::keys::milestone_prefix(*id), 1000,
                              [](std::string_view, std::string_view mv) { return decode<fb::MilestoneT>(mv).has_value(); });
      (void)store.get(storage::Column::billings, *id, &billed);
    }
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"waybill-settlement-bench: invoice lines reconciled per second against stored shipments"};
  app.add_option("--shipments", o.shipments, "Stored shipments")->capture_default_str();
  app.add_option("--invoices", o.invoices, "Invoices submitted")->capture_default_str();
  app.add_option("--lines-per-invoice", o.lines_per_invoice, "Lines per invoice")->capture_default_str();
  app.add_option("--work-dir", o.work_dir, "Directory for the data dir (default: a fresh one under /tmp)");
  app.add_option("--out", o.out, "JSON results file")->capture_default_str();
  app.add_option("--seed", o.seed, "Invoice seed")->capture_default_str();
  app.add_flag("--keep-data", o.keep, "Keep the data dir");
  CLI11_PARSE(app, argc, argv);
  if (o.shipments == 0 || o.lines_per_invoice == 0 || o.lines_per_invoice > 10000) {
    std::fprintf(stderr, "need --shipments > 0 and --lines-per-invoice 1..10000\n");
    return 2;
  }
  std::string dir = o.work_dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/waybill-settlement-bench-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    dir = tmpl;
  }
  runtime::EngineOptions eo;
  eo.store.data_dir = dir + "/data";
  eo.booking.carriers_dir = "";  // no carriers: the ledger alone
  eo.sla.deadlines.enabled = false;
  auto engine = runtime::Engine::start(eo, nullptr);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.status().message().c_str());
    return 1;
  }
  auto& e = **engine;
  auto t0 = Clock::now();
  if (auto st = bulk_load(e.store(), o.shipments); !st.ok()) {
    std::fprintf(stderr, "load: %s\n", st.message().c_str());
    return 1;
  }
  const double load_s = seconds_since(t0);
  std::fprintf(stderr, "loaded %zu shipments in %.1f s\n", o.shipments, load_s);
  std::mt19937_64 rng(o.seed);
  auto invoices = make_invoices(o, rng);
  const size_t lines = o.invoices * o.lines_per_invoice;

  // Baseline first, then reconciliation: both read the same (now warm) keys.
  t0 = Clock::now();
  size_t found = baseline_reads(e.store(), invoices);
  const double baseline_s = seconds_since(t0);

  // Invoices one after another, as a carrier's batch arrives: each answered after its
  // fsync'd commit.
  std::map<std::string, size_t> outcomes;
  t0 = Clock::now();
  for (auto& in : invoices) {
    auto done = std::make_shared<std::promise<actors::Reply>>();
    auto answer = done->get_future();
    auto r = std::make_shared<actors::SettlementRequest>();
    r->command = actors::SubmitInvoice{in};
    r->reply = [done](actors::Reply reply) { done->set_value(std::move(reply)); };
    caf::anon_send(e.settlement(), std::move(r));
    auto reply = answer.get();
    if (reply.status != 201) {
      std::fprintf(stderr, "invoice %s: HTTP %d %s\n", in.invoice_number.c_str(), reply.status, reply.body.c_str());
      return 1;
    }
  }
  const double reconcile_s = seconds_since(t0);
  for (auto& row : actors::read_settlement_totals(e.store()))
    if (row.lane.empty())
      for (size_t i = 0; i < actors::kLineOutcomes; ++i)
        outcomes[actors::name(static_cast<fb::LineOutcome>(i))] += static_cast<size_t>(row.totals.lines_by_outcome[i]);
  e.stop();

  const double reconcile_rate = lines / reconcile_s, baseline_rate = lines / baseline_s;
  std::string json = "{\"shipments\":" + std::to_string(o.shipments) + ",\"invoices\":" + std::to_string(o.invoices) +
                     ",\"lines\":" + std::to_string(lines) + ",\"load_seconds\":" + std::to_string(load_s) +
                     ",\"reconcile_seconds\":" + std::to_string(reconcile_s) +
                     ",\"lines_per_second\":" + std::to_string(reconcile_rate) +
                     ",\"baseline_reads_per_second\":" + std::to_string(baseline_rate) +
                     ",\"ratio_to_baseline\":" + std::to_string(reconcile_rate / baseline_rate) +
                     ",\"baseline_found\":" + std::to_string(found) + ",\"outcomes\":{";
  bool first = true;
  for (auto& [k, v] : outcomes) json += std::string(first ? "" : ",") + "\"" + k + "\":" + std::to_string(v), first = false;
  json += "}}";
  std::printf("%s\n", json.c_str());
  std::printf("settlement: %zu lines in %.2f s = %.0f lines/s against %zu shipments (fsync on); "
              "bare reads %.0f lines/s; ratio %.2f\n",
              lines, reconcile_s, reconcile_rate, o.shipments, baseline_rate, reconcile_rate / baseline_rate);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(o.out).parent_path(), ec);
  std::ofstream(o.out) << json << "\n";
  if (!o.keep && o.work_dir.empty()) std::filesystem::remove_all(dir, ec);
  return 0;
}
