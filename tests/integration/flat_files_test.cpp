// Flat files against the real waybilld: CSV files dropped into the drop folder become
// orders exactly once (a second drop and a copy are skipped), bad rows are listed in
// the reject report with their reason, source-shaped JSON orders map through the same
// profile, and the export writes the day's booked shipments and freight accruals.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// Writes the file as an exporting ERP should: under a temporary name, then renamed.
void drop(const fs::path& dir, const std::string& name, const std::string& text) {
  auto tmp = dir / (name + ".part");
  std::ofstream(tmp) << text;
  fs::rename(tmp, dir / name);
}

bool wait_for_file(const fs::path& p, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(p)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return fs::exists(p);
}

std::string flat_file_config(const std::string& extra = "") {
  return "intake:\n  sources_dir: " + source_dir() + "/configs/sources\n  poll_interval_ms: 50\n  settle_ms: 0\n" + extra;
}

// The NetSuite-like example profile: comma-separated, lb/in, one row per item line,
// one carton per order.
const char* kHeader =
    "Internal ID,Document Number,PO/Check Number,Ship Via,Ship To Addressee,Ship To Company,Ship To Address 1,"
    "Ship To Address 2,Ship To City,Ship To State,Ship To Zip,Ship To Country,Email,Item,Quantity,Description,"
    "Order Weight (lb),Carton Length (in),Carton Width (in),Carton Height (in)\n";

std::string ns_row(const std::string& so, const std::string& item, const std::string& qty,
                   const std::string& via = "UPS Ground", const std::string& zip = "62701") {
  return "9" + so + "," + so + ",PO-" + so + "," + via + ",Ada Lovelace,,1 Main St,\"Suite 5, 2nd floor\",Springfield,IL," +
         zip + ",United States,ada@example.com," + item + "," + qty + ",\"Widget, \"\"blue\"\"\",2.5,12,10,6\n";
}

std::string orders_csv() {
  return std::string(kHeader) +                   // line 1
         ns_row("FF-1", "WIDGET-1", "2") +         // line 2: FF-1, first item
         ns_row("FF-1", "GADGET-9", "1") +         // line 3: FF-1, second item
         ns_row("FF-2", "WIDGET-1", "5") +         // line 4
         ns_row("FF-3", "WIDGET-1", "two") +       // line 5: not a number
         ns_row("FF-4", "WIDGET-1", "1", "Pigeon") +  // line 6: not in the Ship Via table
         ns_row("FF-5", "WIDGET-1", "1", "UPS Ground", "") +  // line 7: no zip
         ns_row("FF-6", "WIDGET-1", "3");          // line 8
}

TEST(FlatFiles, DroppedCsvBecomesOrdersOnceWithRejectReport) {
  ServerProcess::Options options;
  options.config_yaml = flat_file_config();
  ServerProcess server(options);
  ASSERT_TRUE(server.start());
  HttpClient client(server.host(), server.port());
  const fs::path dir = fs::path(server.data_dir()) / "drop" / "netsuite";
  const fs::path processed = dir / "processed";
  ASSERT_TRUE(fs::is_directory(processed)) << "the drop folder of each source is created at start-up";

  drop(dir, "orders.csv", orders_csv());
  ASSERT_TRUE(wait_for_file(processed / "orders.csv")) << server.log();
  EXPECT_FALSE(fs::exists(dir / "orders.csv"));

  // Good rows are orders, through the canonical path (units converted, tables applied).
  auto ff1 = Json::parse(client.get("/v1/orders/FF-1").body);
  ASSERT_TRUE(ff1.ok());
  EXPECT_EQ(ff1.str_or_empty("/status"), "validated");
  EXPECT_EQ(ff1.str_or_empty("/service_level"), "ground");
  EXPECT_EQ(ff1.str_or_empty("/ship_to/country"), "US");
  EXPECT_EQ(ff1.str_or_empty("/ship_to/street2"), "Suite 5, 2nd floor");
  ASSERT_EQ(ff1.size("/lines"), 2u);
  EXPECT_EQ(ff1.str_or_empty("/lines/1/sku"), "GADGET-9");
  EXPECT_EQ(ff1.str_or_empty("/lines/0/description"), "Widget, \"blue\"");
  ASSERT_EQ(ff1.size("/packages"), 1u);
  EXPECT_NEAR(ff1.number("/packages/0/weight_kg").value_or(0), 1.134, 1e-9);   // 2.5 lb
  EXPECT_NEAR(ff1.number("/packages/0/length_cm").value_or(0), 30.5, 1e-9);    // 12 in = 304.8 mm
  EXPECT_EQ(ff1.str_or_empty("/references/po_number"), "PO-FF-1");
  for (auto id : {"FF-2", "FF-6"}) EXPECT_EQ(client.get(std::string("/v1/orders/") + id).status, 200) << id;
  for (auto id : {"FF-3", "FF-4", "FF-5"}) EXPECT_EQ(client.get(std::string("/v1/orders/") + id).status, 404) << id;

  // Each bad row in the report, with its line, source column and reason.
  auto report = lines_of(slurp(processed / "orders.csv.rejects.csv"));
  ASSERT_EQ(report.size(), 4u) << slurp(processed / "orders.csv.rejects.csv");
  EXPECT_EQ(report[0], "line,order_id,field,reason");
  EXPECT_EQ(report[1], "5,FF-3,Quantity,must be a whole number (got 'two')");
  EXPECT_EQ(report[2].rfind("6,FF-4,Ship Via,\"is not in the profile's value table", 0), 0u) << report[2];
  EXPECT_EQ(report[3], "7,FF-5,Ship To Zip,is required");

  // The same file again, and a copy under another name: skipped, nothing re-created.
  drop(dir, "orders.csv", orders_csv());
  drop(dir, "orders-copy.csv", orders_csv());
  ASSERT_TRUE(wait_for_file(processed / "orders.1.csv")) << server.log();
  ASSERT_TRUE(wait_for_file(processed / "orders-copy.csv")) << server.log();
  EXPECT_TRUE(fs::exists(processed / "orders.1.csv.skipped.txt"));
  EXPECT_TRUE(fs::exists(processed / "orders-copy.csv.skipped.txt"));
  EXPECT_FALSE(fs::exists(processed / "orders.1.csv.rejects.csv"));
  for (auto id : {"FF-1", "FF-2", "FF-6"}) {
    auto events = Json::parse(client.get(std::string("/v1/events?type=order.received&order_id=") + id).body);
    EXPECT_EQ(events.size("/events"), 1u) << id << ": " << events.dump();
  }
  // The counters move just after the file (the file is what the scan hands over).
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = client.get("/metrics").body;
    if (metric_value(metrics, "waybill_intake_files_total{outcome=\"skipped\"}") == 2) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metric_value(metrics, "waybill_intake_files_total{outcome=\"processed\"}"), 1);
  EXPECT_EQ(metric_value(metrics, "waybill_intake_files_total{outcome=\"skipped\"}"), 2);
  EXPECT_EQ(metric_value(metrics, "waybill_intake_rows_total{outcome=\"accepted\"}"), 4);
  EXPECT_EQ(metric_value(metrics, "waybill_intake_rows_total{outcome=\"rejected\"}"), 3);

  // A later export repeating FF-2 unchanged and FF-1 changed: duplicate and conflict.
  drop(dir, "later.csv", std::string(kHeader) + ns_row("FF-2", "WIDGET-1", "5") + ns_row("FF-1", "WIDGET-1", "9") +
                             ns_row("FF-7", "WIDGET-1", "1"));
  ASSERT_TRUE(wait_for_file(processed / "later.csv")) << server.log();
  auto later = lines_of(slurp(processed / "later.csv.rejects.csv"));
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[1].rfind("3,FF-1,Document Number,order already exists with a different body", 0), 0u) << later[1];
  EXPECT_EQ(client.get("/v1/orders/FF-7").status, 200);
  for (int i = 0; i < 100; ++i) {
    metrics = client.get("/metrics").body;
    if (metric_value(metrics, "waybill_intake_rows_total{outcome=\"duplicate\"}") == 1) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metric_value(metrics, "waybill_intake_rows_total{outcome=\"duplicate\"}"), 1);
  EXPECT_EQ(Json::parse(client.get("/v1/orders/FF-1").body).int64("/lines/0/qty"), 2);

  // After a restart the recorded checksums still hold.
  ASSERT_EQ(server.terminate().code, 0);
  ASSERT_TRUE(server.restart());
  HttpClient again(server.host(), server.port());
  drop(dir, "after-restart.csv", orders_csv());
  ASSERT_TRUE(wait_for_file(processed / "after-restart.csv.skipped.txt")) << server.log();
}

// SIGKILL while a file is half imported: after the restart the file is read again, the
// orders created before the kill deduplicate and every row is an order exactly once.
TEST(FlatFiles, CrashMidFileIsSafe) {
  ServerProcess::Options options;
  options.config_yaml = flat_file_config("  max_in_flight: 4\n");
  ServerProcess server(options);
  ASSERT_TRUE(server.start());
  HttpClient client(server.host(), server.port());
  const fs::path dir = fs::path(server.data_dir()) / "drop" / "netsuite";
  constexpr int kRows = 6000;
  auto id = [](int i) { return "CR-" + std::to_string(100000 + i); };
  std::string text = kHeader;
  for (int i = 0; i < kRows; ++i) text += ns_row(id(i), "WIDGET-1", "1");
  drop(dir, "big.csv", text);
  // Kill once the first orders exist, while the file is still being worked on.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (client.get("/v1/orders/" + id(0)).status != 200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  server.kill();
  ASSERT_TRUE(fs::exists(dir / "big.csv")) << "the file was done before the kill; the test needs a bigger file";
  ASSERT_TRUE(server.restart());
  ASSERT_TRUE(wait_for_file(dir / "processed" / "big.csv", 60s)) << server.log();
  HttpClient after(server.host(), server.port());
  // The row counters move right after the file does: poll them briefly.
  double accepted = -1, duplicate = -1;
  for (int i = 0; i < 250 && accepted + duplicate != kRows; ++i) {
    if (i) std::this_thread::sleep_for(20ms);
    auto metrics = after.get("/metrics").body;
    accepted = metric_value(metrics, "waybill_intake_rows_total{outcome=\"accepted\"}").value_or(-1);
    duplicate = metric_value(metrics, "waybill_intake_rows_total{outcome=\"duplicate\"}").value_or(-1);
  }
  EXPECT_GT(duplicate, 0) << "orders created before the kill count as duplicates";
  EXPECT_EQ(accepted + duplicate, kRows);
  for (int i = 0; i < kRows; i += 97) EXPECT_EQ(after.get("/v1/orders/" + id(i)).status, 200) << id(i);
  EXPECT_EQ(after.get("/v1/orders/" + id(kRows - 1)).status, 200);
  auto events = Json::parse(after.get("/v1/events?type=order.received&order_id=" + id(0)).body);
  EXPECT_EQ(events.size("/events"), 1u) << events.dump();
}

TEST(FlatFiles, SourceShapedJsonOrdersMapThroughTheProfile) {
  ServerProcess::Options options;
  options.config_yaml = flat_file_config();
  ServerProcess server(options);
  ASSERT_TRUE(server.start());
  HttpClient client(server.host(), server.port());
  const std::string body = R"({"id":"9001","tranId":"NS-1","shipMethod":"UPS 2nd Day Air","email":"ada@example.com",
    "shippingAddress":{"addressee":"Ada","addr1":"1 Main St","city":"Springfield","state":"IL","zip":"62701","country":"United States"},
    "item":{"items":[{"item":"WIDGET-1","quantity":2},{"item":"GADGET-9","quantity":"1","description":"Gadget"}]},
    "custbody_weight_lb":10,"custbody_length_in":20})";
  auto r = client.post("/v1/sources/netsuite/orders", body);
  ASSERT_EQ(r.status, 201) << r.describe();
  auto doc = Json::parse(r.body);
  EXPECT_EQ(doc.str_or_empty("/service_level"), "express");
  EXPECT_EQ(doc.size("/lines"), 2u);
  EXPECT_NEAR(doc.number("/packages/0/weight_kg").value_or(0), 4.536, 1e-9);
  EXPECT_EQ(doc.str_or_empty("/references/netsuite_id"), "9001");
  // The same order again: the original answer; changed: a conflict.
  EXPECT_EQ(client.post("/v1/sources/netsuite/orders", body).status, 200);
  auto changed = body;
  changed.replace(changed.find("\"quantity\":2"), 12, "\"quantity\":3");
  EXPECT_EQ(client.post("/v1/sources/netsuite/orders", changed).status, 409);
  // Errors name the source field.
  auto bad = body;
  bad.replace(bad.find("\"quantity\":2"), 12, "\"quantity\":0");
  bad.replace(bad.find("NS-1"), 4, "NS-2");
  r = client.post("/v1/sources/netsuite/orders", bad);
  EXPECT_EQ(r.status, 400) << r.describe();
  EXPECT_EQ(r.media_type(), "application/problem+json");
  EXPECT_EQ(Json::parse(r.body).str_or_empty("/field"), "/item/items/0/quantity") << r.body;
  r = client.post("/v1/sources/nosuch/orders", body);
  EXPECT_EQ(r.status, 404) << r.describe();
  EXPECT_EQ(client.get("/v1/orders/NS-2").status, 404);
}

TEST(FlatFiles, ExportListsTheDaysBookedShipmentsAndAccruals) {
  auto sim = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : sim["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 5}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rejection_share"] = 0.0;
    c["tracking"]["enabled"] = false;  // statuses stay put while the export is compared
  }
  TempDir exports("waybill-exports");
  CarrierStack stack({sim,
                      {load_source_yaml("configs/carriers/parcelco.yaml"), load_source_yaml("configs/carriers/freightly.yaml")},
                      flat_file_config("export:\n  nightly: false\n  dir: " + exports.path() + "\n")});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient client(w.host(), w.port());
  std::vector<std::string> shipment_ids;
  for (int i = 1; i <= 3; ++i) {
    OrderSpec s;
    s.order_id = "EX-" + std::to_string(i);
    s.packages = i;
    ASSERT_TRUE(create_release_pack(client, s));
    shipment_ids.push_back(s.order_id + "-1");
  }
  auto views = wait_for_bookings(w.host(), w.port(), shipment_ids, 20s);
  for (auto& id : shipment_ids) ASSERT_EQ(views[id].state, "booked") << views[id].describe();

  // Bookings are requested today (UTC): that is the day exported.
  auto today = Json::parse(views[shipment_ids[0]].body).str_or_empty("/created_at").substr(0, 10);
  auto r = client.post("/v1/exports?date=" + today, "");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto answer = Json::parse(r.body);
  EXPECT_EQ(answer.int64("/shipments"), 3);

  auto shipments = lines_of(slurp(fs::path(exports.path()) / ("shipments-" + today + ".csv")));
  auto accruals = lines_of(slurp(fs::path(exports.path()) / ("freight-accruals-" + today + ".csv")));
  ASSERT_EQ(shipments.size(), 4u);
  EXPECT_EQ(shipments[0], "shipment_id,order_id,carrier,service,status,tracking_numbers,booked_at");
  EXPECT_EQ(accruals[0],
            "shipment_id,order_id,carrier,service,quoted_total_minor,currency,quote_id,settlement,invoiced_minor,"
            "posted_minor,invoice_line");
  std::set<std::string> seen;
  size_t accrual_rows = 0;
  for (size_t i = 1; i < shipments.size(); ++i) {
    auto id = shipments[i].substr(0, shipments[i].find(','));
    seen.insert(id);
    auto s = Json::parse(client.get("/v1/shipments/" + id).body);
    std::string tns;
    for (auto& t : s.items("/tracking_numbers")) tns += (tns.empty() ? "" : "|") + t.str().value_or("");
    auto expected_prefix = id + "," + s.str_or_empty("/order_id") + "," + s.str_or_empty("/carrier") + "," +
                           s.str_or_empty("/service") + "," + s.str_or_empty("/status") + "," + tns + "," + today + "T";
    EXPECT_EQ(shipments[i].rfind(expected_prefix, 0), 0u) << shipments[i] << " vs " << expected_prefix;
    if (s.has("/rate/total/amount_minor")) {
      ++accrual_rows;
      auto expected = id + "," + s.str_or_empty("/order_id") + "," + s.str_or_empty("/carrier") + "," +
                      s.str_or_empty("/service") + "," + std::to_string(*s.int64("/rate/total/amount_minor")) + "," +
                      s.str_or_empty("/rate/total/currency") + ",";
      bool found = false;
      for (auto& a : accruals) found = found || a.rfind(expected, 0) == 0;
      EXPECT_TRUE(found) << expected << " not in\n" << slurp(fs::path(exports.path()) / ("freight-accruals-" + today + ".csv"));
    }
  }
  EXPECT_EQ(seen, std::set<std::string>(shipment_ids.begin(), shipment_ids.end()));
  EXPECT_GT(accrual_rows, 0u) << "rated bookings carry a quoted total";
  EXPECT_EQ(accruals.size(), accrual_rows + 1);
  // Another day has none of them; a malformed date is refused naming it.
  r = client.post("/v1/exports?date=2001-01-01", "");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(lines_of(slurp(fs::path(exports.path()) / "shipments-2001-01-01.csv")).size(), 1u);
  r = client.post("/v1/exports?date=2026-13-01", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body).str_or_empty("/field"), "date");
  EXPECT_EQ(metric_value(client.get("/metrics").body, "waybill_exports_total{outcome=\"written\"}"), 2);
}

}  // namespace
}  // namespace waybill::itest
