// Tracking-poll answers (map_tracking_answer) with the shipped freightly profile, and
// with its max_events lowered to 3 so the bound is reached.
// Checks: the answer is refused only for malformed JSON or a missing events array;
// mapped and skipped events stay within max_events and the answer's events; a mapped
// milestone has a code of the profile's table, a valid time that survives formatting,
// a non-negative sequence and bounded texts; every skip names events[i].field; the
// adapter's parse_answer gives the same milestones.
#include "fuzz_support.hpp"
#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/carrier_profile.hpp"

namespace {

using namespace waybill;
using namespace waybill::actors;

CarrierProfile* profile;

void check(const TrackingPollOptions& poll, std::string_view body) {
  auto r = map_tracking_answer(poll, profile->codes, body);
  if (!r) {
    FUZZ_CHECK(r.status().code() == Code::invalid_argument, r.status().message());
    return;
  }
  FUZZ_CHECK(r->milestones.size() <= poll.max_events, "more milestones than max_events");
  FUZZ_CHECK(r->skipped.size() <= poll.max_events, "unbounded skip reports");
  FUZZ_CHECK(r->milestones.size() <= r->total, "more milestones than events");
  FUZZ_CHECK(r->total <= 1000, "unbounded events");
  for (auto& m : r->milestones) {
    auto code = profile->codes.find(m.raw_code);
    FUZZ_CHECK(code != profile->codes.end() && code->second == m.status, "status not from the code table: " + m.raw_code);
    FUZZ_CHECK(m.sequence >= 0, "negative sequence");
    FUZZ_CHECK(m.event_id.size() <= 128 && m.description.size() <= 1024, "text bounds");
    if (m.location) FUZZ_CHECK(m.location->country.size() <= 2 && m.location->city.size() <= 128, "location bounds");
    auto back = parse_rfc3339_us(format_rfc3339(m.event_time_us));
    FUZZ_CHECK(back && *back == m.event_time_us, "event time does not survive formatting");
    FUZZ_CHECK(fuzz::storage_round_trip(m), "milestone does not survive encode/decode");
  }
  for (auto& s : r->skipped) {
    FUZZ_CHECK(!s.ok() && s.field().rfind("events[", 0) == 0, "skip names no event: " + s.field());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* file = "configs/carriers/freightly.yaml";
  auto p = parse_carrier_profile(waybill::fuzz::read_tree_file(file), file);
  FUZZ_CHECK(p.ok() && p->tracking_poll.enabled, std::string(file) + " has no tracking_poll");
  profile = new CarrierProfile(std::move(*p));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;
  std::string body(waybill::fuzz::as_text(data, size));
  check(profile->tracking_poll, body);
  auto small = profile->tracking_poll;
  small.max_events = 3;
  check(small, body);

  CallResult out;
  auto st = parse_answer(*profile, CallKind::track, body, &out);
  auto direct = map_tracking_answer(profile->tracking_poll, profile->codes, body);
  FUZZ_CHECK(st.ok() == direct.ok(), "adapter and mapping disagree");
  if (st.ok()) {
    FUZZ_CHECK(out.tracking.milestones.size() == direct->milestones.size(), "adapter and mapping disagree");
    for (size_t i = 0; i < out.tracking.milestones.size(); ++i)
      FUZZ_CHECK(encode(out.tracking.milestones[i]) == encode(direct->milestones[i]), "milestone " + std::to_string(i));
  }
  return 0;
}
