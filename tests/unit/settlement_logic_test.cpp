// Invoice lines against the booked quote and the shipment's history, as pure functions:
// every outcome, tolerances, evidence for accessorials, and exact money parsing.
#include <gtest/gtest.h>

#include "waybill/actors/settlement_logic.hpp"

namespace waybill::actors {
namespace {

using O = fb::LineOutcome;

fb::ShipmentT booked(int64_t quote_minor = 1250, std::string currency = "USD") {
  fb::ShipmentT s;
  s.shipment_id = "ORD-1-1";
  s.order_id = "ORD-1";
  s.carrier = "parcelco";
  s.booking_state = fb::BookingState::booked;
  s.tracking_numbers = {"1Z1"};
  s.rate = std::make_unique<fb::RateSnapshotT>();
  s.rate->carrier = "parcelco";
  s.rate->quote_id = "Q-1";
  s.rate->total = std::make_unique<fb::MoneyT>();
  s.rate->total->amount_minor = quote_minor;
  s.rate->total->currency = currency;
  s.ship_from = std::make_unique<fb::PartyT>();
  s.ship_from->country = "US";
  s.ship_to = std::make_unique<fb::PartyT>();
  s.ship_to->country = "US";
  s.ship_to->company = "Acme";
  auto p = std::make_unique<fb::PackageT>();
  p->length_mm = 300;
  p->width_mm = 200;
  p->height_mm = 100;
  s.packages.push_back(std::move(p));
  return s;
}

InvoiceLineInput line(std::vector<BilledCharge> charges) {
  InvoiceLineInput l;
  l.tracking_number = "1Z1";
  l.charges = std::move(charges);
  return l;
}

SettlementOptions options() {
  SettlementOptions o;
  o.tolerances = {{"*", "*", 10, 0}};  // 10 minor units, no percentage
  o.charges = default_charge_rules();
  return o;
}

fb::InvoiceLineT eval(const fb::ShipmentT& s, const InvoiceLineInput& in, const std::vector<fb::MilestoneT>& ms = {},
                      const std::string& duplicate_of = "", const std::string& currency = "USD",
                      const SettlementOptions& o = options()) {
  ShipmentFacts facts{&s, &ms};
  return evaluate_line(in, 1, "parcelco", currency, &facts, "", duplicate_of, o);
}

const fb::InvoiceChargeT* charge(const fb::InvoiceLineT& l, const std::string& code) {
  for (auto& c : l.charges)
    if (c->code == code) return c.get();
  return nullptr;
}

TEST(SettlementLogic, BaseAndFuelWithinToleranceOfTheQuoteMatch) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1100}, {"fuel", 155}}));
  EXPECT_EQ(l.outcome, O::matched) << l.reason;
  EXPECT_EQ(l.billed_minor, 1255);
  EXPECT_EQ(l.expected_minor, 1250);
  EXPECT_EQ(l.dispute, fb::DisputeState::none);
  ASSERT_NE(charge(l, "quote_total"), nullptr);
  EXPECT_EQ(charge(l, "quote_total")->verdict, "ok");
  EXPECT_EQ(l.lane, "US-US");
}

TEST(SettlementLogic, AboveTheQuoteBeyondToleranceIsOverbilledByTheDifference) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1200}, {"fuel", 100}}));
  EXPECT_EQ(l.outcome, O::overbilled);
  EXPECT_EQ(l.disputed_minor, 50);
  EXPECT_EQ(l.dispute, fb::DisputeState::open);
}

TEST(SettlementLogic, BelowTheQuoteBeyondToleranceIsUnderbilled) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1000}}));
  EXPECT_EQ(l.outcome, O::underbilled);
  EXPECT_EQ(l.disputed_minor, 250);
}

TEST(SettlementLogic, PercentToleranceScalesWithTheExpectedAmount) {
  SettlementOptions o = options();
  o.tolerances = {{"*", "*", 0, 200}};  // 2 %
  auto s = booked(10000);
  EXPECT_EQ(eval(s, line({{"base", 10200}}), {}, "", "USD", o).outcome, O::matched);
  EXPECT_EQ(eval(s, line({{"base", 10201}}), {}, "", "USD", o).outcome, O::overbilled);
}

TEST(SettlementLogic, MostSpecificToleranceRuleWins) {
  SettlementOptions o;
  o.tolerances = {{"*", "*", 1, 0}, {"parcelco", "*", 5, 0}, {"*", "quote_total", 7, 0}, {"parcelco", "quote_total", 9, 0}};
  EXPECT_EQ(tolerance_for(o, "parcelco", "quote_total").abs_minor, 9);
  EXPECT_EQ(tolerance_for(o, "parcelco", "fuel").abs_minor, 5);
  EXPECT_EQ(tolerance_for(o, "freightly", "quote_total").abs_minor, 7);
  EXPECT_EQ(tolerance_for(o, "freightly", "fuel").abs_minor, 1);
  EXPECT_TRUE(within_tolerance(109, 100, tolerance_for(o, "parcelco", "quote_total")));
  EXPECT_FALSE(within_tolerance(110, 100, tolerance_for(o, "parcelco", "quote_total")));
}

TEST(SettlementLogic, RedeliveryJustifiedByAFailedAttemptInTheHistory) {
  auto s = booked(1250);
  fb::MilestoneT m;
  m.status = TrackingStatus::attempt_failed;
  m.raw_code = "X3";
  m.event_time_us = 1'764'000'000'000'000;
  auto l = eval(s, line({{"base", 1250}, {"redelivery", 400}}), {m});
  EXPECT_EQ(l.outcome, O::matched) << l.reason;
  EXPECT_EQ(l.expected_minor, 1650);
  EXPECT_EQ(charge(l, "redelivery")->verdict, "justified");
  EXPECT_NE(charge(l, "redelivery")->evidence.find("attempt_failed"), std::string::npos);
}

TEST(SettlementLogic, AccessorialWithoutCauseIsUnjustified) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1250}, {"address_correction", 1700}}));
  EXPECT_EQ(l.outcome, O::unjustified_accessorial);
  EXPECT_EQ(l.disputed_minor, 1700);
  EXPECT_EQ(charge(l, "address_correction")->verdict, "unjustified");
  EXPECT_NE(l.reason.find("address_correction"), std::string::npos);
}

TEST(SettlementLogic, AddressCorrectionJustifiedByAnAddressProblemMilestone) {
  auto s = booked(1250);
  fb::MilestoneT m;
  m.status = TrackingStatus::exception;
  m.exception_category = fb::ExceptionCategory::address_problem;
  auto l = eval(s, line({{"base", 1250}, {"address_correction", 1700}}), {m});
  EXPECT_EQ(l.outcome, O::matched) << l.reason;
}

TEST(SettlementLogic, UnknownChargeCodeIsUnjustified) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1250}, {"mystery_fee", 99}}));
  EXPECT_EQ(l.outcome, O::unjustified_accessorial);
  EXPECT_EQ(charge(l, "mystery_fee")->evidence, "no rule for this charge");
}

TEST(SettlementLogic, ResidentialAndOversizeFollowTheShipmentItself) {
  auto s = booked(1250);
  EXPECT_EQ(eval(s, line({{"base", 1250}, {"residential", 500}})).outcome, O::unjustified_accessorial);
  EXPECT_EQ(eval(s, line({{"base", 1250}, {"oversize", 900}})).outcome, O::unjustified_accessorial);
  s.ship_to->company.clear();
  s.packages[0]->length_mm = 1500;
  EXPECT_EQ(eval(s, line({{"base", 1250}, {"residential", 500}, {"oversize", 900}})).outcome, O::matched);
}

TEST(SettlementLogic, ContractAmountForAJustifiedAccessorialIsCompared) {
  SettlementOptions o = options();
  for (auto& r : o.charges)
    if (r.code == "residential") r.contract_minor = 450;
  auto s = booked(1250);
  s.ship_to->company.clear();
  auto l = eval(s, line({{"base", 1250}, {"residential", 500}}), {}, "", "USD", o);
  EXPECT_EQ(l.outcome, O::overbilled);
  EXPECT_EQ(charge(l, "residential")->expected_minor, 450);
  EXPECT_EQ(l.disputed_minor, 50);
}

TEST(SettlementLogic, QuoteWithABreakdownIsComparedChargeByCharge) {
  auto s = booked(1250);
  for (auto [code, minor] : {std::pair<const char*, int64_t>{"base", 1100}, {"fuel", 150}}) {
    auto c = std::make_unique<fb::ChargeT>();
    c->code = code;
    c->amount = std::make_unique<fb::MoneyT>();
    c->amount->amount_minor = minor;
    c->amount->currency = "USD";
    s.rate->charges.push_back(std::move(c));
  }
  // Same total as quoted, but fuel is 100 over and base 100 under: not a match.
  auto l = eval(s, line({{"base", 1000}, {"fuel", 250}}));
  EXPECT_EQ(l.outcome, O::overbilled);
  EXPECT_EQ(charge(l, "fuel")->verdict, "over");
  EXPECT_EQ(charge(l, "base")->verdict, "under");
  EXPECT_EQ(charge(l, "quote_total"), nullptr);
  EXPECT_EQ(l.disputed_minor, 100);
}

TEST(SettlementLogic, ShipmentBilledBeforeIsADuplicateOfTheWholeLine) {
  auto s = booked(1250);
  auto l = eval(s, line({{"base", 1250}}), {}, "parcelco:INV-1#3");
  EXPECT_EQ(l.outcome, O::duplicate);
  EXPECT_EQ(l.duplicate_of, "parcelco:INV-1#3");
  EXPECT_EQ(l.disputed_minor, 1250);
}

TEST(SettlementLogic, NoShipmentOrNoQuoteOrOtherCurrencyIsUnmatched) {
  auto in = line({{"base", 1250}});
  auto none = evaluate_line(in, 4, "parcelco", "USD", nullptr, "no parcelco shipment for tracking number 1Z1", "", options());
  EXPECT_EQ(none.outcome, O::unmatched);
  EXPECT_EQ(none.line_no, 4u);
  EXPECT_EQ(none.disputed_minor, 1250);
  EXPECT_NE(none.reason.find("1Z1"), std::string::npos);

  auto eur = eval(booked(1250, "EUR"), in);
  EXPECT_EQ(eur.outcome, O::unmatched);
  EXPECT_NE(eur.reason.find("not converted"), std::string::npos);

  auto s = booked();
  s.rate.reset();
  EXPECT_EQ(eval(s, in).outcome, O::unmatched);
}

TEST(SettlementLogic, BillingAVoidedLabelIsOverbilledInFull) {
  auto s = booked(1250);
  s.booking_state = fb::BookingState::voided;
  auto l = eval(s, line({{"base", 1250}}));
  EXPECT_EQ(l.outcome, O::overbilled);
  EXPECT_EQ(l.expected_minor, 0);
  EXPECT_EQ(l.disputed_minor, 1250);
}

TEST(SettlementLogic, InvoiceHashChangesWithAnyAmount) {
  InvoiceInput a;
  a.carrier = "parcelco";
  a.invoice_number = "INV-1";
  a.currency = "USD";
  a.lines = {line({{"base", 1250}})};
  InvoiceInput b = a;
  EXPECT_EQ(invoice_hash(a), invoice_hash(b));
  b.lines[0].charges[0].amount_minor = 1251;
  EXPECT_NE(invoice_hash(a), invoice_hash(b));
}

TEST(SettlementLogic, DecimalAmountsParseExactlyByCurrencyExponent) {
  EXPECT_EQ(parse_decimal_minor("12.34", "USD").value(), 1234);
  EXPECT_EQ(parse_decimal_minor("12.3", "USD").value(), 1230);
  EXPECT_EQ(parse_decimal_minor("12", "USD").value(), 1200);
  EXPECT_EQ(parse_decimal_minor("0.10", "EUR").value(), 10);
  EXPECT_EQ(parse_decimal_minor("-1.5", "USD").value(), -150);
  EXPECT_EQ(parse_decimal_minor("1500", "JPY").value(), 1500);
  EXPECT_EQ(parse_decimal_minor("1.234", "KWD").value(), 1234);
  // 0.1 + 0.2 style sums stay exact: no binary floating point anywhere.
  EXPECT_EQ(parse_decimal_minor("0.1", "USD").value() + parse_decimal_minor("0.2", "USD").value(),
            parse_decimal_minor("0.3", "USD").value());
  EXPECT_FALSE(parse_decimal_minor("12.345", "USD").ok());
  EXPECT_FALSE(parse_decimal_minor("1.5", "JPY").ok());
  EXPECT_FALSE(parse_decimal_minor("1,5", "EUR").ok());
  EXPECT_FALSE(parse_decimal_minor("1.2.3", "USD").ok());
  EXPECT_FALSE(parse_decimal_minor("", "USD").ok());
  EXPECT_FALSE(parse_decimal_minor(".", "USD").ok());
  EXPECT_FALSE(parse_decimal_minor("1e3", "USD").ok());
  EXPECT_FALSE(parse_decimal_minor("999999999999999", "USD").ok());
  EXPECT_TRUE(valid_currency("USD"));
  EXPECT_FALSE(valid_currency("usd"));
  EXPECT_FALSE(valid_currency("US"));
}

TEST(SettlementLogic, OutcomeAndDisputeNamesRoundTrip) {
  for (size_t i = 0; i < kLineOutcomes; ++i) {
    auto o = static_cast<O>(i);
    EXPECT_EQ(parse_line_outcome(name(o)), o);
  }
  EXPECT_EQ(parse_dispute_state("open"), fb::DisputeState::open);
  EXPECT_FALSE(parse_line_outcome("paid").has_value());
}

}  // namespace
}  // namespace waybill::actors
