// Tracking by polling: the `tracking_poll:` profile section (errors name the key), the
// mapping of a poll answer onto milestones (bad events named by field), which shipments
// the poll index holds, and a poll call through the carrier adapter.
#include <gtest/gtest.h>

#include <future>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <yaml-cpp/yaml.h>

#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/tracking_poll.hpp"

#ifndef WAYBILL_SOURCE_DIR
#define WAYBILL_SOURCE_DIR "."
#endif

namespace waybill::actors {
namespace {

const char* kProfile = R"(
name: polly
version: 1
base_url: http://127.0.0.1:9/polly
services: [{ code: STD, service_level: freight }]
endpoints:
  book: { path: /shipments }
  lookup: { method: GET, path: "/shipments?reference={reference}" }
responses:
  book: { carrier_shipment_id: /id, tracking_numbers: /pieces/*/tn }
  lookup: { shipments: /shipments }
tracking_codes: { LBL: label_created, PU: picked_up, IT: in_transit, OFD: out_for_delivery, DL: delivered }
tracking_poll:
  interval_s: 0.5
  max_concurrency: 3
  batch_size: 50
  tick_ms: 200
  max_retries: 2
  max_events: 4
  request: { path: "/shipments/{carrier_shipment_id}/tracking" }
  response:
    events: /events
    code: /code
    event_time: /ts
    sequence: /seq
    event_id: /id
    description: /text
    location: { city: /at/city, state: /at/state, postal_code: /at/zip, country: /at/country }
)";

// The profile above with `edit` applied to its YAML tree.
Result<CarrierProfile> parse_with(const std::function<void(YAML::Node&)>& edit) {
  YAML::Node root = YAML::Load(kProfile);
  edit(root);
  YAML::Emitter out;
  out << root;
  return parse_carrier_profile(out.c_str(), "polly.yaml");
}

void expect_error(const Result<CarrierProfile>& r, const std::string& field, const std::string& reason_part = "") {
  ASSERT_FALSE(r.ok()) << "expected an error naming " << field;
  EXPECT_EQ(r.status().code(), Code::invalid_argument);
  EXPECT_EQ(r.status().field(), field) << r.status().message();
  if (!reason_part.empty()) {
    EXPECT_NE(r.status().message().find(reason_part), std::string::npos) << r.status().message();
  }
}

TEST(TrackingPollProfile, SectionIsParsed) {
  auto r = parse_with([](YAML::Node&) {});
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto& t = r->tracking_poll;
  EXPECT_TRUE(t.enabled);
  EXPECT_DOUBLE_EQ(t.interval_s, 0.5);
  EXPECT_EQ(t.max_concurrency, 3u);
  EXPECT_EQ(t.batch_size, 50u);
  EXPECT_EQ(t.tick_ms, 200);
  EXPECT_EQ(t.max_retries, 2);
  EXPECT_EQ(t.max_events, 4u);
  EXPECT_EQ(t.request.method, "GET");
  EXPECT_EQ(t.request.path, "/shipments/{carrier_shipment_id}/tracking");
  EXPECT_EQ(t.response.events, "/events");
  EXPECT_EQ(t.response.code, "/code");
  EXPECT_EQ(t.response.event_time, "/ts");
  EXPECT_EQ(t.response.sequence, "/seq");
  EXPECT_EQ(t.response.event_id, "/id");
  EXPECT_EQ(t.response.description, "/text");
  EXPECT_EQ(t.response.city, "/at/city");
  EXPECT_EQ(t.response.postal_code, "/at/zip");
}

TEST(TrackingPollProfile, AbsentSectionMeansNotPolled) {
  auto r = parse_with([](YAML::Node& p) { p.remove("tracking_poll"); });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->tracking_poll.enabled);
  r = parse_with([](YAML::Node& p) { p["tracking_poll"] = YAML::Load("{enabled: false}"); });
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  EXPECT_FALSE(r->tracking_poll.enabled);
}

TEST(TrackingPollProfile, UnknownKeysAreNamed) {
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["interval"] = 5; }), "tracking_poll.interval",
               "unknown key");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["request"]["body"] = "{}"; }),
               "tracking_poll.request.body", "unknown key");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["response"]["status"] = "/s"; }),
               "tracking_poll.response.status", "unknown key");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["response"]["location"]["zip"] = "/z"; }),
               "tracking_poll.response.location.zip", "unknown key");
}

TEST(TrackingPollProfile, BadValuesAreNamed) {
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["interval_s"] = 0; }), "tracking_poll.interval_s");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["interval_s"] = "often"; }), "tracking_poll.interval_s",
               "wrong type");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["max_concurrency"] = 0; }),
               "tracking_poll.max_concurrency");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["batch_size"] = -1; }), "tracking_poll.batch_size");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["tick_ms"] = 1; }), "tracking_poll.tick_ms");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["max_events"] = 5000; }), "tracking_poll.max_events");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["request"]["method"] = "DELETE"; }),
               "tracking_poll.request.method");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["request"]["path"] = "/tracking"; }),
               "tracking_poll.request.path", "{tracking_number}");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["request"]["path"] = "track/{tracking_number}"; }),
               "tracking_poll.request.path", "start with /");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["request"].remove("path"); }),
               "tracking_poll.request.path", "required");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"].remove("request"); }), "tracking_poll.request",
               "required");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"].remove("response"); }), "tracking_poll.response",
               "required");
  for (const char* key : {"events", "code", "event_time"})
    expect_error(parse_with([key](YAML::Node& p) { p["tracking_poll"]["response"].remove(key); }),
                 std::string("tracking_poll.response.") + key, "required");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["response"]["event_id"] = "id"; }),
               "tracking_poll.response.event_id", "JSON pointer");
  expect_error(parse_with([](YAML::Node& p) { p["tracking_poll"]["response"]["location"]["country"] = "cc"; }),
               "tracking_poll.response.location.country", "JSON pointer");
  expect_error(parse_with([](YAML::Node& p) { p.remove("tracking_codes"); }), "tracking_codes");
}

TEST(TrackingPollProfile, ShippedFreightlyProfileIsPolled) {
  auto all = load_carrier_profiles(std::string(WAYBILL_SOURCE_DIR) + "/configs/carriers");
  ASSERT_TRUE(all.ok()) << all.status().field() << ": " << all.status().message();
  const CarrierProfile* freightly = nullptr;
  for (auto& p : *all)
    if (p.name == "freightly") freightly = &p;
  ASSERT_NE(freightly, nullptr);
  EXPECT_TRUE(freightly->tracking_poll.enabled);
  EXPECT_TRUE(freightly->webhook.secret.empty()) << "a polled carrier pushes no webhooks";
  for (auto& s : {"label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"}) {
    bool mapped = false;
    for (auto& [raw, st] : freightly->codes) mapped = mapped || name(st) == std::string(s);
    EXPECT_TRUE(mapped) << s << " has no raw code";
  }
}

// ---- answers ---------------------------------------------------------------------

CarrierProfile polly() {
  auto r = parse_with([](YAML::Node&) {});
  EXPECT_TRUE(r.ok());
  return *r;
}

TEST(TrackingPollAnswer, EventsAreMappedInAnswerOrderWithDuplicatesKept) {
  auto p = polly();
  // Out of order and with a duplicate, as carriers answer: the mapping keeps both
  // (ordering and dedupe are the shipment's business).
  auto body = R"({"events":[
    {"code":"IT","ts":"2026-11-28T12:00:00Z","seq":3,"id":"e3","text":"in transit",
     "at":{"city":"Louisville","state":"KY","zip":"40209","country":"US"}},
    {"code":"PU","ts":"2026-11-28T10:00:00+00:00","seq":2,"id":"e2"},
    {"code":"IT","ts":"2026-11-28T12:00:00Z","seq":3,"id":"e3"}]})";
  auto r = map_tracking_answer(p.tracking_poll, p.codes, body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total, 3u);
  EXPECT_TRUE(r->skipped.empty());
  ASSERT_EQ(r->milestones.size(), 3u);
  auto& m = r->milestones[0];
  EXPECT_EQ(m.status, TrackingStatus::in_transit);
  EXPECT_EQ(m.raw_code, "IT");
  EXPECT_EQ(m.event_time_us, *parse_rfc3339_us("2026-11-28T12:00:00Z"));
  EXPECT_EQ(m.sequence, 3);
  EXPECT_EQ(m.event_id, "e3");
  EXPECT_EQ(m.description, "in transit");
  ASSERT_TRUE(m.location);
  EXPECT_EQ(m.location->city, "Louisville");
  EXPECT_EQ(m.location->state, "KY");
  EXPECT_EQ(m.location->postal_code, "40209");
  EXPECT_EQ(m.location->country, "US");
  EXPECT_EQ(r->milestones[1].status, TrackingStatus::picked_up);
  EXPECT_FALSE(r->milestones[1].location) << "no location fields: no location";
  EXPECT_EQ(r->milestones[2].event_id, "e3");
}

TEST(TrackingPollAnswer, BadEventsAreSkippedNamingTheField) {
  auto p = polly();
  p.tracking_poll.max_events = 20;  // room for every report
  auto body = R"({"events":[
    {"code":"PU","ts":"2026-11-28T10:00:00Z"},
    {"code":"ZZ","ts":"2026-11-28T10:00:00Z"},
    {"ts":"2026-11-28T10:00:00Z"},
    {"code":"IT","ts":"yesterday"},
    {"code":"IT"},
    {"code":"IT","ts":"2026-11-28T11:00:00Z","seq":-4},
    {"code":"IT","ts":"2026-11-28T11:00:00Z","at":{"country":"USA"}},
    {"code":"DL","ts":"2026-11-28T15:00:00Z","seq":"7"}]})";
  auto r = map_tracking_answer(p.tracking_poll, p.codes, body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->milestones.size(), 2u);
  EXPECT_EQ(r->milestones[0].status, TrackingStatus::picked_up);
  EXPECT_EQ(r->milestones[1].status, TrackingStatus::delivered);
  EXPECT_EQ(r->milestones[1].sequence, 7);
  std::vector<std::string> fields;
  for (auto& s : r->skipped) fields.push_back(s.field());
  EXPECT_EQ(fields, (std::vector<std::string>{"events[1].code", "events[2].code", "events[3].event_time",
                                              "events[4].event_time", "events[5].sequence",
                                              "events[6].location.country"}));
  EXPECT_NE(r->skipped[0].message().find("'ZZ' is not in the profile's code table"), std::string::npos);
}

TEST(TrackingPollAnswer, EventsPerAnswerAreBounded) {
  auto p = polly();  // max_events: 4
  std::string body = R"({"events":[)";
  for (int i = 0; i < 10; ++i)
    body += std::string(i ? "," : "") + R"({"code":"IT","ts":"2026-11-28T10:00:0)" + std::to_string(i) + R"(Z"})";
  body += "]}";
  auto r = map_tracking_answer(p.tracking_poll, p.codes, body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total, 10u);
  EXPECT_EQ(r->milestones.size(), 4u);
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].code(), Code::payload_too_large);
  EXPECT_EQ(r->skipped[0].field(), "events[4]");
  // Reports of bad events are bounded the same way.
  body = R"({"events":[)";
  for (int i = 0; i < 10; ++i) body += std::string(i ? "," : "") + R"({"code":"??","ts":"2026-11-28T10:00:00Z"})";
  body += "]}";
  r = map_tracking_answer(p.tracking_poll, p.codes, body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->milestones.empty());
  EXPECT_EQ(r->skipped.size(), 4u);
  // Bad events first, then more good ones than the bound: still at most 4 reports.
  body = R"({"events":[)";
  for (int i = 0; i < 10; ++i)
    body += std::string(i ? "," : "") + (i < 4 ? R"({"code":"??","ts":"2026-11-28T10:00:00Z"})"
                                               : R"({"code":"IT","ts":"2026-11-28T10:00:00Z"})");
  body += "]}";
  r = map_tracking_answer(p.tracking_poll, p.codes, body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->milestones.size(), 4u);
  EXPECT_EQ(r->skipped.size(), 4u);
}

TEST(TrackingPollAnswer, AnswerWithoutEventsArrayIsAnError) {
  auto p = polly();
  auto r = map_tracking_answer(p.tracking_poll, p.codes, R"({"Events":[]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "events");
  r = map_tracking_answer(p.tracking_poll, p.codes, R"({"events":{"code":"PU"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "events");
  EXPECT_FALSE(map_tracking_answer(p.tracking_poll, p.codes, "{not json").ok());
  auto empty = map_tracking_answer(p.tracking_poll, p.codes, R"({"events":[]})");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->milestones.empty());
}

// ---- the poll index --------------------------------------------------------------

fb::ShipmentT shipment(const std::string& carrier, std::vector<std::string> tns, TrackingStatus status,
                       fb::BookingState booking = fb::BookingState::booked) {
  fb::ShipmentT h;
  h.shipment_id = "S-1";
  h.carrier = carrier;
  h.tracking_numbers = std::move(tns);
  h.status = status;
  h.booking_state = booking;
  h.carrier_shipment_id = "PRO-1";
  return h;
}

std::vector<std::string> describe(const std::vector<storage::WriteOp>& ops) {
  std::vector<std::string> out;
  for (auto& op : ops) {
    EXPECT_EQ(op.column, storage::Column::tracking_poll);
    out.push_back((op.erase ? "-" : "+") + op.key.substr(0, op.key.find('\0')) + "/" + op.key.substr(op.key.find('\0') + 1));
  }
  return out;
}

TEST(TrackingPollIndex, FollowsTheShipmentsOfPolledCarriers) {
  CarrierDirectory dir;
  dir.profiles.push_back(polly());
  auto parcel = polly();
  parcel.name = "parcel";
  parcel.tracking_poll.enabled = false;
  dir.profiles.push_back(parcel);
  using T = TrackingStatus;
  auto ops_for = [&](const fb::ShipmentT* before, const fb::ShipmentT& after) {
    std::vector<storage::WriteOp> ops;
    tracking_poll_index_ops(&dir, before, after, &ops);
    return describe(ops);
  };
  using V = std::vector<std::string>;
  auto selecting = shipment("", {}, T::pending, fb::BookingState::selecting);
  auto booked = shipment("polly", {"PL1", "PL2"}, T::label_created);
  auto moving = shipment("polly", {"PL1", "PL2"}, T::in_transit);
  auto delivered = shipment("polly", {"PL1", "PL2"}, T::delivered);
  auto returned = shipment("polly", {"PL1"}, T::return_to_sender);
  auto voided = shipment("polly", {"PL1"}, T::cancelled, fb::BookingState::voided);
  auto without_numbers = shipment("polly", {}, T::pending, fb::BookingState::none);

  EXPECT_EQ(ops_for(&selecting, booked), (V{"+polly/S-1"}));
  EXPECT_EQ(ops_for(nullptr, booked), (V{"+polly/S-1"})) << "registered with tracking numbers";
  EXPECT_EQ(ops_for(&booked, moving), V{}) << "still active: no write";
  EXPECT_EQ(ops_for(&moving, delivered), (V{"-polly/S-1"}));
  EXPECT_EQ(ops_for(&moving, returned), (V{"-polly/S-1"}));
  EXPECT_EQ(ops_for(&booked, voided), (V{"-polly/S-1"}));
  EXPECT_EQ(ops_for(&delivered, returned), V{}) << "not polled after delivery";
  EXPECT_EQ(ops_for(nullptr, without_numbers), V{});
  auto without_pro = booked;
  without_pro.carrier_shipment_id.clear();
  EXPECT_EQ(ops_for(nullptr, without_pro), V{}) << "the poll path needs the carrier's shipment id";
  EXPECT_EQ(ops_for(nullptr, shipment("parcel", {"1Z1"}, T::label_created)), V{}) << "webhook carrier";
  EXPECT_EQ(ops_for(nullptr, shipment("unknown", {"X1"}, T::label_created)), V{});
  auto moved = booked;
  moved.carrier = "parcel";
  EXPECT_EQ(ops_for(&booked, moved), (V{"-polly/S-1"}));
  std::vector<storage::WriteOp> none;
  tracking_poll_index_ops(nullptr, nullptr, booked, &none);
  EXPECT_TRUE(none.empty()) << "no carriers on this node: no polling";
}

// ---- a poll through the carrier adapter ------------------------------------------

TEST(TrackingPollAdapter, PollIsOneAttemptAtTheProfilePathAndMapsTheAnswer) {
  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  std::mutex mu;
  std::vector<std::string> targets;
  std::atomic<int> answer_status{200};
  CarrierTransport transport = [&](CarrierHttpRequest req, std::function<void(CarrierHttpResult)> done) {
    {
      std::lock_guard lock(mu);
      targets.push_back(req.method + " " + req.target);
    }
    CarrierHttpResult r;
    r.answered = true;
    r.status = answer_status;
    r.body = r.status == 200 ? R"({"events":[{"code":"PU","ts":"2026-11-28T10:00:00Z","id":"a"},{"code":"??","ts":"x"}]})"
                             : R"({"error":"busy"})";
    done(std::move(r));
  };
  auto stats = std::make_shared<AdapterStats>();
  auto adapter = spawn_carrier_adapter(sys, polly(), transport, stats, 1);
  auto poll = [&] {
    auto promise = std::make_shared<std::promise<CallResult>>();
    auto call = std::make_shared<CarrierCall>();
    call->kind = CallKind::track;
    call->input.carrier_shipment_id = "PRO 7";
    call->max_attempts = 1;
    call->done = [promise](CallResult r) { promise->set_value(std::move(r)); };
    caf::anon_send(adapter, call);
    auto f = promise->get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    return f.get();
  };
  auto ok = poll();
  ASSERT_EQ(ok.outcome, CallOutcome::ok) << ok.message;
  ASSERT_EQ(ok.tracking.milestones.size(), 1u);
  EXPECT_EQ(ok.tracking.milestones[0].status, TrackingStatus::picked_up);
  EXPECT_EQ(ok.tracking.skipped.size(), 1u);
  answer_status = 503;
  auto failed = poll();
  EXPECT_EQ(failed.outcome, CallOutcome::failed);
  EXPECT_EQ(failed.attempts, 1) << "the poller retries at its next tick, not the adapter";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(targets, (std::vector<std::string>{"GET /polly/shipments/PRO%207/tracking",
                                                 "GET /polly/shipments/PRO%207/tracking"}));
  }
  caf::anon_send_exit(adapter, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace waybill::actors
