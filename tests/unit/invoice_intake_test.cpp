// Carrier invoices as JSON and CSV: what is taken, and every refusal naming its field.
#include <gtest/gtest.h>

#include "waybill/runtime/invoice_intake.hpp"

namespace waybill::runtime {
namespace {

const actors::SettlementOptions kOptions;
const IntakeLimits kLimits;

std::string invoice(const std::string& lines, const std::string& currency = "USD") {
  return R"({"carrier":"parcelco","invoice_number":"INV-1","invoice_date":"2026-11-20","currency":")" + currency +
         R"(","lines":[)" + lines + "]}";
}

void expect_refused(const std::string& body, const std::string& field, const std::string& reason_part) {
  auto r = parse_invoice_json(body, kLimits, kOptions);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().field(), field) << r.status().message();
  EXPECT_NE(r.status().message().find(reason_part), std::string::npos) << r.status().message();
}

TEST(InvoiceIntake, JsonInvoiceWithBaseAndAccessorials) {
  auto r = parse_invoice_json(
      invoice(R"({"tracking_number":"1Z1","billed_weight_g":1500,"base_minor":1100,
                  "accessorials":[{"code":"fuel","amount_minor":150},{"code":"redelivery","amount_minor":400}]},
                 {"reference":"ORD-7","base_minor":900})"),
      kLimits, kOptions);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  EXPECT_EQ(r->carrier, "parcelco");
  EXPECT_EQ(r->currency, "USD");
  EXPECT_EQ(r->invoice_date_us, *parse_invoice_date("2026-11-20T00:00:00Z"));
  ASSERT_EQ(r->lines.size(), 2u);
  ASSERT_EQ(r->lines[0].charges.size(), 3u);
  EXPECT_EQ(r->lines[0].charges[0].code, "base");
  EXPECT_EQ(r->lines[0].charges[2].amount_minor, 400);
  EXPECT_EQ(r->lines[1].reference, "ORD-7");
}

TEST(InvoiceIntake, JsonRefusalsNameTheField) {
  expect_refused(invoice(R"({"tracking_number":"1Z1","base_minor":1})", "usd"), "currency", "ISO 4217");
  expect_refused(invoice(""), "lines", "empty");
  expect_refused(invoice(R"({"base_minor":1})"), "lines[0].tracking_number", "tracking_number or a reference");
  expect_refused(invoice(R"({"tracking_number":"1Z1","base_minor":-1})"), "lines[0].base_minor", ">= 0");
  expect_refused(invoice(R"({"tracking_number":"1Z1","base_minor":1.5})"), "lines[0].base_minor", "integer");
  expect_refused(invoice(R"({"tracking_number":"1Z1","base_minor":1,"accessorials":[{"code":"base","amount_minor":1}]})"),
                 "lines[0].accessorials[0].code", "reserved");
  expect_refused(invoice(R"({"tracking_number":"1Z1","base_minor":1,"colour":"red"})"), "lines[0].colour", "unknown");
  expect_refused(R"({"carrier":"a:b","invoice_number":"I","invoice_date":"2026-11-20","currency":"USD","lines":[]})",
                 "carrier", "':'");
  expect_refused(R"({"carrier":"p","invoice_number":"I","invoice_date":"20/11/2026","currency":"USD","lines":[]})",
                 "invoice_date", "YYYY-MM-DD");
  actors::SettlementOptions small;
  small.max_lines_per_invoice = 1;
  auto big = parse_invoice_json(invoice(R"({"tracking_number":"1","base_minor":1},{"tracking_number":"2","base_minor":1})"),
                                kLimits, small);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::payload_too_large);
}

TEST(InvoiceIntake, CsvGroupsRowsIntoInvoicesAndRefusesBadOnesWhole) {
  const std::string csv =
      "Carrier,Invoice_Number,Invoice_Date,Currency,Tracking_Number,Reference,Billed_Weight_Kg,Base,Fuel,Redelivery\n"
      "parcelco,INV-1,2026-11-20,USD,1Z1,,1.25,11.00,1.50,\n"
      "parcelco,INV-1,2026-11-20,USD,1Z2,,2,9.99,,4.00\n"
      "parcelco,INV-2,2026-11-21,JPY,1Z3,,1,1500,,\n"
      "parcelco,INV-3,2026-11-21,USD,1Z4,,1,1.999,,\n"
      "parcelco,INV-3,2026-11-21,USD,1Z5,,1,2.00,,\n"
      "parcelco,INV-4,2026-11-21,USD,1Z6,,1,2.00,,\n"
      "parcelco,INV-4,2026-11-22,USD,1Z7,,1,2.00,,\n";
  auto r = parse_invoice_csv(csv, kOptions, 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 4u);
  auto& a = (*r)[0];
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  ASSERT_EQ(a.invoice.lines.size(), 2u);
  EXPECT_EQ(a.invoice.lines[0].billed_weight_g, 1250);
  EXPECT_EQ(a.invoice.lines[0].charges.size(), 2u);  // base, fuel (empty redelivery: not billed)
  EXPECT_EQ(a.invoice.lines[0].charges[0].amount_minor, 1100);
  EXPECT_EQ(a.invoice.lines[0].charges[1].code, "fuel");
  EXPECT_EQ(a.invoice.lines[1].charges[1].code, "redelivery");
  EXPECT_EQ(a.invoice.lines[1].charges[1].amount_minor, 400);
  EXPECT_EQ((*r)[1].invoice.lines[0].charges[0].amount_minor, 1500) << "JPY has no minor unit";
  EXPECT_FALSE((*r)[2].status.ok());
  EXPECT_EQ((*r)[2].status.field(), "line 5: base");
  EXPECT_FALSE((*r)[3].status.ok()) << "rows of one invoice disagreeing on its date";
  EXPECT_EQ((*r)[3].first_line, 7u);
}

TEST(InvoiceIntake, CsvFileLevelProblems) {
  auto no_base = parse_invoice_csv("carrier,invoice_number,invoice_date,currency,tracking_number\n", kOptions, 10);
  ASSERT_FALSE(no_base.ok());
  EXPECT_NE(no_base.status().message().find("'base'"), std::string::npos);
  auto too_many = parse_invoice_csv(
      "carrier,invoice_number,invoice_date,currency,tracking_number,base\np,I,2026-11-20,USD,1,1\np,I,2026-11-20,USD,2,1\n",
      kOptions, 1);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), Code::payload_too_large);
  EXPECT_FALSE(parse_invoice_csv("carrier,\"bad\n", kOptions, 10).ok());
}

TEST(InvoiceIntake, DisputeDecisionBodies) {
  EXPECT_TRUE(parse_dispute_decision("", kLimits, false).ok());
  EXPECT_EQ(parse_dispute_decision("", kLimits, true).status().field(), "amount_minor");
  EXPECT_EQ(parse_dispute_decision(R"({"amount_minor":5})", kLimits, false).status().field(), "amount_minor");
  auto d = parse_dispute_decision(R"({"amount_minor":1234,"note":"agreed by phone"})", kLimits, true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->amount_minor, 1234);
  EXPECT_EQ(d->note, "agreed by phone");
}

}  // namespace
}  // namespace waybill::runtime
