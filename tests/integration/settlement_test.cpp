// Freight settlement against real waybilld + carrier-sim: orders booked at the sim (so
// every shipment carries the quote the carrier sold), a failed delivery attempt in one
// shipment's history, then carrier invoices as JSON and as a CSV drop file with every
// outcome - matched, overbilled, underbilled, a justified and an unjustified
// accessorial, a shipment billed on two invoices, an unknown tracking number. Checked:
// outcomes and amounts per line, the freight.* events, the dispute queue and its
// decisions, the figures (API and Prometheus), the order's trace, idempotent resends,
// and all of it after a SIGKILL.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// No faults and no tracking pushes: the test writes the history itself.
YAML::Node calm_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 2}");
    c["rejection_share"] = 0.0;
    c["tracking"]["enabled"] = false;
  }
  return cfg;
}

struct Booked {
  std::string order_id, shipment_id, tracking_number;
  int64_t quote_minor = 0;
};

std::string line_json(const std::string& key, const std::string& value, int64_t base,
                      const std::vector<std::pair<std::string, int64_t>>& accessorials = {}) {
  std::string s = "{\"" + key + "\":\"" + value + "\",\"billed_weight_g\":1500,\"base_minor\":" + std::to_string(base);
  if (!accessorials.empty()) {
    s += ",\"accessorials\":[";
    for (size_t i = 0; i < accessorials.size(); ++i)
      s += (i ? "," : "") + std::string("{\"code\":\"") + accessorials[i].first +
           "\",\"amount_minor\":" + std::to_string(accessorials[i].second) + "}";
    s += "]";
  }
  return s + "}";
}

std::string invoice_json(const std::string& number, const std::vector<std::string>& lines) {
  std::string s = R"({"carrier":"parcelco","invoice_number":")" + number +
                  R"(","invoice_date":")" + date_in_days(3) + R"(","currency":"USD","lines":[)";
  for (size_t i = 0; i < lines.size(); ++i) s += (i ? "," : "") + lines[i];
  return s + "]}";
}

std::map<std::string, int> event_counts(HttpClient& c) {
  std::map<std::string, int> n;
  for (const char* type : {"freight.matched", "freight.disputed", "freight.dispute_accepted",
                           "freight.dispute_rejected", "freight.dispute_resolved"}) {
    auto r = c.get(std::string("/v1/events?limit=1000&type=") + type);
    EXPECT_EQ(r.status, 200) << r.describe();
    n[type] = static_cast<int>(Json::parse(r.body).size("/events"));
  }
  return n;
}

class Settlement : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<CarrierStack>(CarrierStack::Options{
        calm_sim_config(),
        {load_source_yaml("configs/carriers/parcelco.yaml")},
        "settlement:\n  invoice_dir: " + invoices_.path() + "\n  poll_interval_ms: 50\n  settle_ms: 0\n"});
    ASSERT_TRUE(stack_->start());
  }
  ServerProcess& w() { return stack_->waybill(); }

  // Books `n` orders at carrier-sim and reads back their tracking numbers and quotes.
  std::vector<Booked> book(int n) {
    HttpClient c(w().host(), w().port());
    std::vector<std::string> ids;
    for (int i = 1; i <= n; ++i) {
      OrderSpec spec;
      spec.order_id = "SE-" + std::to_string(i);
      EXPECT_TRUE(create_release_pack(c, spec));
      ids.push_back(spec.order_id + "-1");
    }
    auto views = wait_for_bookings(w().host(), w().port(), ids, 30s);
    std::vector<Booked> out;
    for (auto& id : ids) {
      EXPECT_EQ(views[id].state, "booked") << views[id].describe();
      auto s = Json::parse(views[id].body);
      Booked b{s.str_or_empty("/order_id"), id, s.str_or_empty("/tracking_numbers/0"),
               s.int64("/rate/total/amount_minor").value_or(0)};
      EXPECT_FALSE(b.tracking_number.empty()) << views[id].body;
      EXPECT_GT(b.quote_minor, 600) << "quotes this small make the tolerance cases meaningless: " << views[id].body;
      out.push_back(b);
    }
    return out;
  }

  TempDir invoices_{"waybill-invoices"};
  std::unique_ptr<CarrierStack> stack_;
};

TEST_F(Settlement, EveryOutcomeWithAmountsEventsDisputesAndFiguresSurvivingSigkill) {
  auto b = book(6);
  ASSERT_EQ(b.size(), 6u);
  HttpClient c(w().host(), w().port());
  // Shipment 4 had a failed delivery attempt: that justifies a redelivery charge.
  auto attempt = c.post("/v1/tracking", R"({"carrier":"parcelco","tracking_number":")" + b[3].tracking_number +
                                            R"(","status":"attempt_failed","raw_code":"X3","event_time":")" +
                                            date_in_days(0) + R"(T00:00:01Z"})");
  ASSERT_EQ(attempt.status, 200) << attempt.describe();

  const std::string body_a = invoice_json(
      "INV-A", {line_json("tracking_number", b[0].tracking_number, b[0].quote_minor - 40),            // matched
                line_json("tracking_number", b[1].tracking_number, b[1].quote_minor + 500),           // overbilled
                line_json("tracking_number", b[2].tracking_number, b[2].quote_minor - 500),           // underbilled
                line_json("tracking_number", b[3].tracking_number, b[3].quote_minor, {{"redelivery", 800}}),  // justified
                line_json("tracking_number", b[4].tracking_number, b[4].quote_minor, {{"address_correction", 1500}}),
                line_json("reference", b[5].order_id, b[5].quote_minor),                              // matched by reference
                line_json("tracking_number", "1ZDOESNOTEXIST", 999)});                                // unmatched
  auto r = c.post("/v1/invoices", body_a);
  ASSERT_EQ(r.status, 201) << r.describe();
  auto inv = Json::parse(r.body);
  EXPECT_EQ(inv.str_or_empty("/invoice_id"), "parcelco:INV-A");
  auto outcome = [&](int i) { return inv.str_or_empty("/lines/" + std::to_string(i) + "/outcome"); };
  EXPECT_EQ(outcome(0), "matched") << r.body;
  EXPECT_EQ(outcome(1), "overbilled");
  EXPECT_EQ(outcome(2), "underbilled");
  EXPECT_EQ(outcome(3), "matched") << "redelivery after a failed attempt is justified: " << r.body;
  EXPECT_EQ(outcome(4), "unjustified_accessorial");
  EXPECT_EQ(outcome(5), "matched");
  EXPECT_EQ(outcome(6), "unmatched");
  EXPECT_EQ(inv.str_or_empty("/lines/5/matched_by"), "reference");
  EXPECT_EQ(inv.str_or_empty("/lines/5/shipment_id"), b[5].shipment_id);
  EXPECT_EQ(inv.int64("/lines/1/disputed_minor").value_or(-1), -1) << "disputed amount lives under dispute";
  EXPECT_EQ(inv.int64("/lines/1/dispute/disputed_minor"), 500);
  EXPECT_EQ(inv.int64("/lines/2/dispute/disputed_minor"), 500);
  EXPECT_EQ(inv.int64("/lines/3/expected_minor"), b[3].quote_minor + 800);
  EXPECT_EQ(inv.int64("/lines/4/dispute/disputed_minor"), 1500);
  EXPECT_EQ(inv.int64("/lines/6/dispute/disputed_minor"), 999);
  EXPECT_EQ(inv.int64("/summary/matched"), 3);
  EXPECT_EQ(inv.int64("/summary/matched_minor"), b[0].quote_minor - 40 + b[3].quote_minor + 800 + b[5].quote_minor);

  // The same invoice again is answered from storage; other content under its number is refused.
  auto again = c.post("/v1/invoices", body_a);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(Json::parse(again.body).boolean("/replayed"), true);
  auto changed = c.post("/v1/invoices", invoice_json("INV-A", {line_json("tracking_number", b[0].tracking_number, 1)}));
  EXPECT_EQ(changed.status, 409) << changed.describe();
  auto counts = event_counts(c);
  EXPECT_EQ(counts["freight.matched"], 3);
  EXPECT_EQ(counts["freight.disputed"], 4);

  // Invoice B arrives as a CSV file: shipment 6 billed again (a duplicate across invoices),
  // plus an invoice with a malformed amount, refused whole and reported.
  {
    std::ofstream f(invoices_.path() + "/.inv-b.csv.tmp");
    f << "carrier,invoice_number,invoice_date,currency,tracking_number,reference,billed_weight_kg,base,fuel\n"
      << "parcelco,INV-B," << date_in_days(5) << ",USD," << b[5].tracking_number << ",,1.5," << b[5].quote_minor / 100 << "."
      << (b[5].quote_minor % 100 < 10 ? "0" : "") << b[5].quote_minor % 100 << ",\n"
      << "parcelco,INV-BAD," << date_in_days(5) << ",USD," << b[0].tracking_number << ",,1.5,12.345,\n";
  }
  fs::rename(invoices_.path() + "/.inv-b.csv.tmp", invoices_.path() + "/inv-b.csv");
  for (int i = 0; i < 200 && !fs::exists(invoices_.path() + "/processed/inv-b.csv"); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(fs::exists(invoices_.path() + "/processed/inv-b.csv")) << w().log();
  auto b_inv = Json::parse(c.get("/v1/invoices/parcelco:INV-B").body);
  EXPECT_EQ(b_inv.str_or_empty("/lines/0/outcome"), "duplicate") << b_inv.dump();
  EXPECT_EQ(b_inv.str_or_empty("/lines/0/duplicate_of"), "parcelco:INV-A#6");
  EXPECT_EQ(b_inv.str_or_empty("/source"), "file:inv-b.csv");
  EXPECT_EQ(c.get("/v1/invoices/parcelco:INV-BAD").status, 404) << "a refused invoice persists nothing";
  std::ifstream rejects(invoices_.path() + "/processed/inv-b.csv.rejects.csv");
  std::string report((std::istreambuf_iterator<char>(rejects)), {});
  EXPECT_NE(report.find("INV-BAD"), std::string::npos) << report;
  EXPECT_NE(report.find("more decimals than USD"), std::string::npos) << report;

  // The dispute queue holds the five non-matched lines; decisions post or refuse.
  auto open = Json::parse(c.get("/v1/disputes").body);
  ASSERT_EQ(open.size("/disputes"), 5u) << open.dump();
  auto dup = Json::parse(c.get("/v1/disputes?outcome=duplicate").body);
  ASSERT_EQ(dup.size("/disputes"), 1u);
  EXPECT_EQ(dup.str_or_empty("/disputes/0/dispute_id"), "parcelco:INV-B:1");
  auto accept = c.post("/v1/disputes/parcelco:INV-A:2/accept", R"({"note":"fuel surcharge update"})", {{"X-Actor", "fin-ops"}});
  ASSERT_EQ(accept.status, 200) << accept.describe();
  EXPECT_EQ(Json::parse(accept.body).str_or_empty("/lines/1/dispute/state"), "accepted");
  EXPECT_NE(Json::parse(accept.body).str_or_empty("/lines/1/dispute/resolved_by").find("/fin-ops"), std::string::npos)
      << accept.body;
  ASSERT_EQ(c.post("/v1/disputes/parcelco:INV-A:2/accept", "").status, 200) << "the same decision again is answered";
  EXPECT_EQ(c.post("/v1/disputes/parcelco:INV-A:2/reject", "").status, 409);
  ASSERT_EQ(c.post("/v1/disputes/parcelco:INV-B:1/reject", R"({"note":"billed twice"})").status, 200);
  auto resolve = c.post("/v1/disputes/parcelco:INV-A:3/resolve", R"({"amount_minor":)" + std::to_string(b[2].quote_minor) + "}");
  ASSERT_EQ(resolve.status, 200) << resolve.describe();
  EXPECT_EQ(Json::parse(resolve.body).int64("/lines/2/dispute/resolved_minor"), b[2].quote_minor);
  EXPECT_EQ(c.post("/v1/disputes/parcelco:INV-A:5/resolve", "{}").status, 400) << "resolve needs an amount";
  EXPECT_EQ(c.post("/v1/disputes/parcelco:INV-A:1/accept", "").status, 404) << "a matched line is no dispute";
  EXPECT_EQ(c.post("/v1/disputes/parcelco:INV-A:2/pay", "").status, 404);
  EXPECT_EQ(Json::parse(c.get("/v1/disputes").body).size("/disputes"), 2u);

  counts = event_counts(c);
  EXPECT_EQ(counts["freight.matched"], 5) << "accepted and resolved disputes post too";
  EXPECT_EQ(counts["freight.disputed"], 5);
  EXPECT_EQ(counts["freight.dispute_accepted"], 1);
  EXPECT_EQ(counts["freight.dispute_rejected"], 1);
  EXPECT_EQ(counts["freight.dispute_resolved"], 1);
  auto posting = Json::parse(c.get("/v1/events?limit=1000&type=freight.matched").body);
  EXPECT_EQ(posting.str_or_empty("/events/0/subject"), "invoices/parcelco:INV-A");
  EXPECT_EQ(posting.int64("/events/0/data/freight/amount_minor"), b[0].quote_minor - 40);
  EXPECT_EQ(posting.str_or_empty("/events/0/data/order_id"), b[0].order_id);

  // Figures: 8 lines, 3 matched on arrival; open disputes are the unjustified and the
  // unmatched line.
  auto expect_figures = [&](HttpClient& client) {
    auto sum = Json::parse(client.get("/v1/settlement/summary?carrier=parcelco").body);
    EXPECT_EQ(sum.int64("/carriers/0/lines"), 8) << sum.dump();
    EXPECT_EQ(sum.int64("/carriers/0/lines_by_outcome/matched"), 3);
    EXPECT_EQ(sum.int64("/carriers/0/lines_by_outcome/duplicate"), 1);
    EXPECT_NEAR(sum.number("/carriers/0/match_rate").value_or(0), 3.0 / 8.0, 1e-9);
    EXPECT_EQ(sum.int64("/carriers/0/disputes_open"), 2);
    EXPECT_EQ(sum.int64("/carriers/0/disputed_open_minor"), 1500 + 999);
    EXPECT_EQ(sum.int64("/carriers/0/shipments"), 5);
    EXPECT_EQ(sum.str_or_empty("/lanes/0/lane"), "US-US");
    auto metrics = client.get("/metrics").body;
    EXPECT_EQ(metric_value(metrics, "waybill_invoice_lines_total{carrier=\"parcelco\",outcome=\"matched\"}"), 3) << metrics;
    EXPECT_EQ(metric_value(metrics, "waybill_freight_disputed_open_minor{carrier=\"parcelco\",currency=\"USD\"}"), 2499);
    EXPECT_NEAR(metric_value(metrics, "waybill_invoice_match_ratio{carrier=\"parcelco\"}").value_or(0), 0.375, 1e-9);
  };
  expect_figures(c);

  // The order's trace reaches down to the invoice lines that billed it.
  auto trace = Json::parse(c.get("/v1/trace/" + b[1].order_id).body);
  ASSERT_EQ(trace.size("/invoice_lines"), 1u) << trace.dump();
  EXPECT_EQ(trace.str_or_empty("/invoice_lines/0/freight/invoice_line/dispute/state"), "accepted");

  // Bad input: named field, nothing stored.
  auto bad = c.post("/v1/invoices", R"({"carrier":"parcelco","invoice_number":"INV-X","invoice_date":"2030-01-15","currency":"usd","lines":[]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json::parse(bad.body).str_or_empty("/field"), "currency");
  bad = c.post("/v1/invoices", invoice_json("INV-X", {line_json("tracking_number", "1Z", -5)}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json::parse(bad.body).str_or_empty("/field"), "lines[0].base_minor");
  EXPECT_EQ(c.get("/v1/invoices/parcelco:INV-X").status, 404);

  // After SIGKILL everything acknowledged is there and a resend is still a replay.
  w().kill();
  ASSERT_TRUE(w().restart());
  HttpClient after(w().host(), w().port());
  expect_figures(after);
  auto resend = after.post("/v1/invoices", body_a);
  EXPECT_EQ(resend.status, 200) << resend.describe();
  EXPECT_EQ(Json::parse(after.get("/v1/invoices/parcelco:INV-A").body).str_or_empty("/lines/1/dispute/state"), "accepted");
  counts = event_counts(after);
  EXPECT_EQ(counts["freight.matched"], 5);
  expect_figures(after);
}

}  // namespace
}  // namespace waybill::itest
