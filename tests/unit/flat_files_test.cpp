// Drop-folder intake and daily exports in one process: a real engine on a temporary
// store, files in a temporary drop folder, scans and exports driven step by step.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "test_support.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/runtime/daily_export.hpp"
#include "waybill/runtime/drop_folder.hpp"

namespace waybill::runtime {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

const char* kProfile = R"(
source: erp
csv: { delimiter: ";" }
fields:
  order_id: Auftrag
  service_level: { column: Art, map: { STD: ground, EXP: express } }
  ship_to.name: Name
  ship_to.street: Strasse
  ship_to.city: Ort
  ship_to.postal_code: PLZ
  ship_to.country: Land
  lines.sku: Material
  lines.qty: Menge
  packages.weight: { column: Gewicht, unit: kg }
)";
const char* kHeader = "Auftrag;Art;Name;Strasse;Ort;PLZ;Land;Material;Menge;Gewicht\n";

std::string row(const std::string& id, const std::string& qty = "1", const std::string& level = "STD") {
  return id + ";" + level + ";Ada;Weg 1;Berlin;10115;DE;SKU-" + id + ";" + qty + ";1\n";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

class FlatFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o;
    o.store.data_dir = (dir_.path() / "data").string();
    o.store.block_cache_mb = 8;
    o.store.write_buffer_mb = 4;
    o.store.background_jobs = 1;
    o.writer.sync = false;
    o.booking.carriers_dir.clear();
    o.scheduler_threads = 2;
    o.orders = actors::RegistryOptions{1000, 60000, 4};
    o.shipments = actors::RegistryOptions{1000, 60000, 4};
    auto e = Engine::start(o, nullptr);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(*e);
    auto p = parse_source_profile(kProfile);
    ASSERT_TRUE(p.ok()) << p.status().field() << ": " << p.status().message();
    profiles_.push_back(std::move(*p));
    IntakeOptions io;
    io.watch = false;  // scans are driven by the test
    io.settle_ms = 0;
    io.drop_dir = (dir_.path() / "drop").string();
    io.max_in_flight = 2;  // exercise the window
    drop_ = std::make_unique<DropFolder>(*engine_, profiles_, io, IntakeLimits{}, stats_);
    ASSERT_TRUE(drop_->start().ok());
  }
  void TearDown() override {
    drop_.reset();
    if (engine_) engine_->stop();
  }

  fs::path in(const std::string& name) const { return dir_.path() / "drop" / "erp" / name; }
  fs::path processed(const std::string& name) const { return dir_.path() / "drop" / "erp" / "processed" / name; }
  bool order_exists(const std::string& id) { return actors::load_order(engine_->store(), id).ok(); }

  TempDir dir_{"flat_files"};
  std::unique_ptr<Engine> engine_;
  std::vector<SourceProfile> profiles_;
  FileStats stats_;
  std::unique_ptr<DropFolder> drop_;
};

TEST_F(FlatFiles, GoodRowsBecomeOrdersBadRowsGoToTheReport) {
  spit(in("orders.csv"), std::string(kHeader) + row("A") + row("B", "x") + row("C") + row("D", "1", "SLOW") + row("E"));
  EXPECT_EQ(drop_->poll_once(), 1u);
  EXPECT_FALSE(fs::exists(in("orders.csv")));
  EXPECT_TRUE(fs::exists(processed("orders.csv")));
  for (auto id : {"A", "C", "E"}) EXPECT_TRUE(order_exists(id)) << id;
  for (auto id : {"B", "D"}) EXPECT_FALSE(order_exists(id)) << id;
  auto order = actors::load_order(engine_->store(), "C");
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->source_system, "erp");
  EXPECT_EQ(order->packages.at(0)->weight_g, 1000);
  EXPECT_EQ(slurp(processed("orders.csv.rejects.csv")),
            "line,order_id,field,reason\n"
            "3,B,Menge,must be a whole number (got 'x')\n"
            "5,D,Art,\"is not in the profile's value table (EXP, STD) (got 'SLOW')\"\n");
  EXPECT_EQ(stats_.files_processed.load(), 1u);
  EXPECT_EQ(stats_.rows_accepted.load(), 3u);
  EXPECT_EQ(stats_.rows_rejected.load(), 2u);
}

TEST_F(FlatFiles, SameContentIsSkippedUnderAnyName) {
  std::string text = std::string(kHeader) + row("A") + row("B");
  spit(in("first.csv"), text);
  EXPECT_EQ(drop_->poll_once(), 1u);
  spit(in("first.csv"), text);  // the same file again
  spit(in("copy.csv"), text);   // and a copy under another name
  EXPECT_EQ(drop_->poll_once(), 2u);
  EXPECT_EQ(stats_.files_processed.load(), 1u);
  EXPECT_EQ(stats_.files_skipped.load(), 2u);
  EXPECT_EQ(stats_.rows_accepted.load(), 2u);
  EXPECT_EQ(stats_.rows_duplicate.load(), 0u);  // skipped files do not reach the orders
  EXPECT_TRUE(fs::exists(processed("first.1.csv")));
  EXPECT_TRUE(fs::exists(processed("copy.csv")));
  EXPECT_NE(slurp(processed("copy.csv.skipped.txt")).find("file=first.csv"), std::string::npos);
  EXPECT_FALSE(fs::exists(processed("first.1.csv.rejects.csv")));
}

TEST_F(FlatFiles, RowsDeduplicateOnOrderIdAndConflictsAreRejected) {
  spit(in("one.csv"), std::string(kHeader) + row("A") + row("B"));
  ASSERT_EQ(drop_->poll_once(), 1u);
  // A different file (a re-export after a crash, say) with A unchanged, B changed, C new.
  spit(in("two.csv"), std::string(kHeader) + row("A") + row("B", "5") + row("C"));
  ASSERT_EQ(drop_->poll_once(), 1u);
  EXPECT_EQ(stats_.rows_accepted.load(), 3u);
  EXPECT_EQ(stats_.rows_duplicate.load(), 1u);
  EXPECT_EQ(stats_.rows_rejected.load(), 1u);
  auto report = slurp(processed("two.csv.rejects.csv"));
  EXPECT_NE(report.find("3,B,Auftrag,order already exists with a different body"), std::string::npos) << report;
  auto b = actors::load_order(engine_->store(), "B");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->lines.at(0)->qty, 1);  // the file did not change the order
}

TEST_F(FlatFiles, MultiRowOrderBadRowRejectsAllItsRows) {
  spit(in("multi.csv"), std::string(kHeader) + row("M") + "M;STD;Ada;Weg 1;Berlin;10115;DE;SKU-2;0;\n" + row("N"));
  ASSERT_EQ(drop_->poll_once(), 1u);
  EXPECT_FALSE(order_exists("M"));
  EXPECT_TRUE(order_exists("N"));
  EXPECT_EQ(slurp(processed("multi.csv.rejects.csv")),
            "line,order_id,field,reason\n"
            "2,M,order_id,order rejected because of line 3\n"
            "3,M,Menge,must be between 1 and 1000000 (got '0')\n");
}

TEST_F(FlatFiles, IncompleteAndHiddenFilesAreLeftAlone) {
  for (auto name : {".hidden.csv", "partial.csv.part", "upload.tmp"}) spit(in(name), std::string(kHeader) + row("Z"));
  EXPECT_EQ(drop_->poll_once(), 0u);
  for (auto name : {".hidden.csv", "partial.csv.part", "upload.tmp"}) EXPECT_TRUE(fs::exists(in(name))) << name;
  EXPECT_FALSE(order_exists("Z"));
  // A file still being written (modified within settle_ms) waits for a later scan.
  IntakeOptions io;
  io.watch = false;
  io.settle_ms = 60000;
  io.drop_dir = (dir_.path() / "drop").string();
  DropFolder patient(*engine_, profiles_, io, IntakeLimits{}, stats_);
  spit(in("fresh.csv"), std::string(kHeader) + row("Y"));
  EXPECT_EQ(patient.poll_once(), 0u);
  EXPECT_TRUE(fs::exists(in("fresh.csv")));
}

TEST_F(FlatFiles, MalformedFileIsRejectedWhole) {
  spit(in("broken.csv"), std::string(kHeader) + row("A") + "B;\"STD\"x;Ada;;;;;;;\n" + row("C"));
  ASSERT_EQ(drop_->poll_once(), 1u);
  EXPECT_FALSE(order_exists("A"));
  EXPECT_FALSE(order_exists("C"));
  auto report = slurp(processed("broken.csv.rejects.csv"));
  EXPECT_NE(report.find("3,,file,malformed CSV"), std::string::npos) << report;
}

// ---- exports ----------------------------------------------------------------------

TEST(DailyExportSchedule, DueDays) {
  auto day = [](const char* d) { return *parse_day(d); };
  const int64_t hour = 3600LL * 1000000;
  // 01:00 on the 10th with the export at 02:00: the 8th is the latest due day.
  EXPECT_EQ(due_export_days(day("2026-03-10") + hour, 120, "", 7), (std::vector<std::string>{"2026-03-08"}));
  // 03:00: the 9th is due.
  EXPECT_EQ(due_export_days(day("2026-03-10") + 3 * hour, 120, "", 7), (std::vector<std::string>{"2026-03-09"}));
  EXPECT_TRUE(due_export_days(day("2026-03-10") + 3 * hour, 120, "2026-03-09", 7).empty());
  // Down for three nights: catch up every missed day, oldest first, at most max_days.
  EXPECT_EQ(due_export_days(day("2026-03-10") + 3 * hour, 120, "2026-03-06", 7),
            (std::vector<std::string>{"2026-03-07", "2026-03-08", "2026-03-09"}));
  EXPECT_EQ(due_export_days(day("2026-03-10") + 3 * hour, 120, "2026-02-01", 2),
            (std::vector<std::string>{"2026-03-08", "2026-03-09"}));
  // Across a month end.
  EXPECT_EQ(due_export_days(day("2026-03-01") + 3 * hour, 120, "2026-02-27", 7),
            (std::vector<std::string>{"2026-02-28"}));
  EXPECT_EQ(parse_time_of_day("02:00"), 120);
  EXPECT_FALSE(parse_time_of_day("24:00"));
  EXPECT_FALSE(parse_time_of_day("2:00"));
  EXPECT_FALSE(parse_day("2026-02-30"));
  EXPECT_FALSE(parse_day("2026-3-01"));
}

// A booked shipment as the booking path stores it, with its manifest entry.
void put_booked(Engine& e, const std::string& id, const std::string& carrier, int64_t requested_us,
                std::vector<std::string> tns, int64_t total_minor, fb::BookingState state = fb::BookingState::booked) {
  fb::ShipmentT s;
  s.shipment_id = id;
  s.order_id = "O-" + id;
  s.carrier = carrier;
  s.service = "ground";
  s.status = TrackingStatus::label_created;
  s.booking_state = state;
  s.requested_us = requested_us;
  s.tracking_numbers = tns;
  if (total_minor > 0) {
    s.rate = std::make_unique<fb::RateSnapshotT>();
    s.rate->total = std::make_unique<fb::MoneyT>();
    s.rate->total->amount_minor = total_minor;
    s.rate->total->currency = "USD";
    s.rate->quote_id = "Q-" + id;
  }
  std::string tn_list;
  for (auto& t : tns) tn_list += (tn_list.empty() ? "" : ",") + t;
  auto req = std::make_unique<storage::WriteRequest>();
  req->ops.push_back({storage::Column::shipments, id, encode(s)});
  req->ops.push_back({storage::Column::manifests, actors::keys::manifest(carrier, requested_us, id), tn_list});
  auto done = std::make_shared<std::promise<Status>>();
  auto f = done->get_future();
  req->on_commit = [done](const Status& st, uint64_t) { done->set_value(st); };
  ASSERT_TRUE(e.writer().submit(std::move(req)).ok());
  ASSERT_TRUE(f.get().ok());
}

TEST_F(FlatFiles, ExportWritesTheDaysShipmentsAndAccruals) {
  const int64_t day = *parse_day("2026-03-09"), hour = 3600LL * 1000000;
  put_booked(*engine_, "S-2", "parcelco", day + 5 * hour, {"P1", "P2"}, 1234);
  put_booked(*engine_, "S-1", "freightly", day + hour, {"F1"}, 0);
  put_booked(*engine_, "S-3", "parcelco", day + 25 * hour, {"P3"}, 99);                    // the next day
  put_booked(*engine_, "S-4", "parcelco", day + hour, {"P4"}, 50, fb::BookingState::voided);  // voided since
  auto dir = (dir_.path() / "exports").string();
  fs::create_directories(dir);
  auto r = write_daily_export(engine_->store(), dir, "2026-03-09");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->shipments, 2u);
  EXPECT_EQ(r->accruals, 1u);
  EXPECT_EQ(slurp(dir + "/shipments-2026-03-09.csv"),
            "shipment_id,order_id,carrier,service,status,tracking_numbers,booked_at\n"
            "S-1,O-S-1,freightly,ground,label_created,F1,2026-03-09T01:00:00.000000Z\n"
            "S-2,O-S-2,parcelco,ground,label_created,P1|P2,2026-03-09T05:00:00.000000Z\n");
  EXPECT_EQ(slurp(dir + "/freight-accruals-2026-03-09.csv"),
            "shipment_id,order_id,carrier,service,quoted_total_minor,currency,quote_id,settlement,invoiced_minor,"
            "posted_minor,invoice_line\n"
            "S-2,O-S-2,parcelco,ground,1234,USD,Q-S-2,accrued,,,\n");
  for (auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().filename().string()[0], '.') << "temporary file left";
}

TEST_F(FlatFiles, ScheduledExportRunsOncePerDayAndCatchesUp) {
  const int64_t hour = 3600LL * 1000000;
  ExportOptions eo;
  eo.nightly = false;  // run_due is driven by the test
  eo.dir = (dir_.path() / "exports").string();
  auto exporter = std::make_unique<DailyExporter>(engine_->store(), engine_->writer(), eo, stats_);
  ASSERT_TRUE(exporter->start().ok());
  ASSERT_TRUE(exporter->run_due(*parse_day("2026-03-10") + 3 * hour).ok());
  EXPECT_TRUE(fs::exists(eo.dir + "/shipments-2026-03-09.csv"));
  EXPECT_EQ(stats_.exports_written.load(), 1u);
  ASSERT_TRUE(exporter->run_due(*parse_day("2026-03-10") + 9 * hour).ok());
  EXPECT_EQ(stats_.exports_written.load(), 1u);  // once per day
  // A new exporter (a restart) three days later catches up the missed days.
  exporter = std::make_unique<DailyExporter>(engine_->store(), engine_->writer(), eo, stats_);
  ASSERT_TRUE(exporter->start().ok());
  ASSERT_TRUE(exporter->run_due(*parse_day("2026-03-13") + 3 * hour).ok());
  EXPECT_EQ(stats_.exports_written.load(), 4u);
  for (auto d : {"2026-03-10", "2026-03-11", "2026-03-12"})
    EXPECT_TRUE(fs::exists(eo.dir + "/freight-accruals-" + std::string(d) + ".csv")) << d;
  // On demand, through the exporter thread.
  auto done = std::make_shared<std::promise<Result<ExportResult>>>();
  auto f = done->get_future();
  exporter->run_async("2026-01-01", [done](Result<ExportResult> r) { done->set_value(std::move(r)); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->shipments, 0u);
  EXPECT_EQ(slurp(r->shipments_path), "shipment_id,order_id,carrier,service,status,tracking_numbers,booked_at\n");
}

}  // namespace
}  // namespace waybill::runtime
