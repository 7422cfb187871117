#include "tracking_history.hpp"

#include <algorithm>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/actors/model.hpp"

namespace waybill::sim {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A stateless uniform draw in [0, 1) from the seed and the coordinates of a decision.
double draw(uint64_t seed, std::string_view subject, uint64_t a, uint64_t b) {
  uint64_t x = fnv1a64(subject, seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL);
  x ^= a * 0xBF58476D1CE4E5B9ULL;
  x ^= b * 0x94D049BB133111EBULL;
  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53);
}

struct Place {
  const char *city, *state, *zip;
};
// Where the scans happen: origin hub, two cross-docks, destination terminal.
constexpr Place kRoute[] = {{"Memphis", "TN", "38118"},
                            {"Louisville", "KY", "40209"},
                            {"Indianapolis", "IN", "46241"},
                            {"Springfield", "IL", "62701"}};
constexpr size_t kRouteLength = sizeof kRoute / sizeof kRoute[0];

struct Event {
  std::string tracking_number;
  std::string status;  // canonical, for the description
  std::string code;
  int64_t time_us = 0;
  uint64_t sequence = 0;
  std::string id;
  const Place* place = nullptr;
};

void write_event(Writer& w, bool alpha, const Event& e) {
  auto kv = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  kv(alpha ? "TrackingNumber" : "tracking_id", e.tracking_number);
  kv(alpha ? "Code" : "code", e.code);
  kv(alpha ? "EventTime" : "ts", format_rfc3339(e.time_us));
  w.Key(alpha ? "Sequence" : "seq");
  w.Uint64(e.sequence);
  kv(alpha ? "EventId" : "id", e.id);
  kv(alpha ? "Description" : "description", e.status);
  w.Key(alpha ? "Location" : "location");
  w.StartObject();
  kv(alpha ? "City" : "city", e.place->city);
  kv(alpha ? "State" : "state", e.place->state);
  kv(alpha ? "PostalCode" : "zip", e.place->zip);
  kv(alpha ? "CountryCode" : "country", "US");
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string tracking_answer(const SimCarrier& c, const std::string& shipment_id, const std::vector<TrackedPiece>& pieces,
                            int64_t now_us, uint64_t seed, uint64_t poll_number) {
  auto& t = c.tracking;
  const int64_t interval_us = int64_t{t.interval_ms} * 1000;
  std::vector<Event> visible;
  for (auto& piece : pieces) {
    if (piece.voided) continue;
    for (size_t i = 0; i < t.events.size(); ++i) {
      Event e;
      e.time_us = piece.sold_us + static_cast<int64_t>(i + 1) * interval_us;
      // A late event is known to the carrier's API only some time after it happened.
      bool late = draw(seed, piece.tracking_number, i, 1) < t.late_share;
      if (now_us < e.time_us + (late ? 3 * interval_us : 0)) continue;
      e.tracking_number = piece.tracking_number;
      e.status = t.events[i];
      auto code = t.codes.find(e.status);
      e.code = code == t.codes.end() ? e.status : code->second;
      e.sequence = i + 1;
      e.id = piece.tracking_number + "-" + std::to_string(i + 1);
      e.place = &kRoute[std::min(i * kRouteLength / std::max<size_t>(t.events.size(), 1), kRouteLength - 1)];
      visible.push_back(std::move(e));
    }
  }
  // Carriers list a history by event time; this poll's disorder starts from there:
  // neighbours swapped, some events listed twice.
  std::stable_sort(visible.begin(), visible.end(), [](const Event& a, const Event& b) { return a.time_us < b.time_us; });
  for (size_t i = 0; i + 1 < visible.size(); ++i)
    if (draw(seed, shipment_id, poll_number, 2 * i) < t.reorder_share) std::swap(visible[i], visible[i + 1]);
  std::vector<const Event*> listed;
  for (size_t i = 0; i < visible.size(); ++i) {
    listed.push_back(&visible[i]);
    if (draw(seed, shipment_id, poll_number, 2 * i + 1) < t.dup_share) listed.push_back(&visible[i]);
  }
  bool alpha = c.dialect == "alpha";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key(alpha ? "ShipmentId" : "pro_number");
  w.String(shipment_id.c_str());
  w.Key(alpha ? "Events" : "events");
  w.StartArray();
  for (auto* e : listed) write_event(w, alpha, *e);
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string render_poll_counts(const std::map<std::string, uint64_t>& counts) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  uint64_t total = 0;
  w.StartObject();
  w.Key("polls");
  w.StartArray();
  for (auto& [key, n] : counts) {
    auto nul = key.find('\0');
    std::string carrier = key.substr(0, nul), id = nul == std::string::npos ? "" : key.substr(nul + 1);
    w.StartObject();
    w.Key("carrier");
    w.String(carrier.c_str());
    w.Key("carrier_shipment_id");
    w.String(id.c_str());
    w.Key("count");
    w.Uint64(n);
    w.EndObject();
    total += n;
  }
  w.EndArray();
  w.Key("total");
  w.Uint64(total);
  w.EndObject();
  return sb.GetString();
}

}  // namespace waybill::sim
