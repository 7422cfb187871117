#include "workload.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace waybill::bench {

namespace {

// SplitMix64: tiny, fast and good enough for workload choices; one stream per entity.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  bool chance(double p) { return unit() < p; }
};

uint64_t mix(uint64_t seed, uint64_t kind, uint64_t index) {
  Rng r(seed ^ (kind * 0x100000001b3ULL) ^ (index * 0xff51afd7ed558ccdULL));
  r.next();
  return r.next();
}

// waybill TrackingStatus values.
enum : uint8_t {
  kLabelCreated = 1, kPickedUp = 2, kInTransit = 3, kOutForDelivery = 4, kAttemptFailed = 5,
  kDelivered = 7, kException = 8,
};
const char* const kStatusNames[] = {"pending", "label_created", "picked_up", "in_transit", "out_for_delivery",
                                    "attempt_failed", "available_for_pickup", "delivered", "exception",
                                    "return_to_sender", "cancelled", "stale"};
const char* const kCarriers[] = {"ups", "fedex", "dhl", "usps"};
const char* const kServices[4][2] = {{"ground", "next_day_air"}, {"home_delivery", "priority_overnight"},
                                     {"express_worldwide", "parcel_connect"}, {"ground_advantage", "priority_mail"}};
// Carrier raw codes per status (index = status value).
const char* const kRawCodes[4][12] = {
    {"", "MP", "PU", "IT", "OT", "DF", "", "KB", "X", "RS", "VD", ""},
    {"", "OC", "PU", "IT", "OD", "DE", "", "DL", "SE", "RS", "CA", ""},
    {"", "PU0", "PU", "PL", "WC", "NH", "", "OK", "CD", "RT", "CA", ""},
    {"", "GX", "03", "10", "OF", "02", "", "01", "04", "09", "CA", ""}};
struct City { const char* city; const char* state; const char* zip; const char* country; };
const City kCities[] = {{"Louisville", "KY", "40209", "US"}, {"Memphis", "TN", "38118", "US"},
                        {"Chicago", "IL", "60666", "US"},    {"Dallas", "TX", "75261", "US"},
                        {"Ontario", "CA", "91761", "US"},    {"Newark", "NJ", "07114", "US"},
                        {"Leipzig", "SN", "04435", "DE"},    {"Cincinnati", "OH", "41048", "US"},
                        {"Atlanta", "GA", "30320", "US"},    {"Seattle", "WA", "98108", "US"}};
constexpr size_t kCityCount = sizeof(kCities) / sizeof(kCities[0]);
const char* const kNames[] = {"Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra",
                              "Barbara Liskov", "Donald Knuth", "Frances Allen", "Ken Thompson"};

constexpr int64_t kBaseTime = 1795996800;  // 2026-11-30T00:00:00Z
constexpr int64_t kHour = 3600;

void rfc3339(int64_t t, char* out) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  std::strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

}  // namespace

const char* const* carrier_names() { return kCarriers; }

Workload::Workload(WorkloadOptions options, size_t orders) : opt_(std::move(options)) {
  orders_.reserve(orders);
  double wsum = 0;
  for (double w : opt_.carrier_weights) wsum += w;
  for (size_t i = 0; i < orders; ++i) {
    Rng r(mix(opt_.seed, 1, i));
    OrderSpec o;
    o.packages = static_cast<uint8_t>(r.uniform(1, std::max(1, opt_.max_packages)));
    o.shipments = static_cast<uint8_t>(r.uniform(1, std::max(1, std::min<int>(o.packages, opt_.max_shipments_per_order))));
    o.first_shipment = static_cast<uint32_t>(shipments_.size());
    // Split the packages over the shipments: every shipment gets at least one.
    int left = o.packages;
    for (int s = 0; s < o.shipments; ++s) {
      ShipmentSpec sh;
      sh.order = static_cast<uint32_t>(i);
      double pick = r.unit() * wsum;
      sh.carrier = 3;
      for (int c = 0; c < 4; ++c) {
        if (pick < opt_.carrier_weights[c]) { sh.carrier = static_cast<uint8_t>(c); break; }
        pick -= opt_.carrier_weights[c];
      }
      int remaining_shipments = o.shipments - s - 1;
      int n = s + 1 == o.shipments ? left : static_cast<int>(r.uniform(1, left - remaining_shipments));
      sh.first_package = static_cast<uint8_t>(o.packages - left);
      sh.packages = static_cast<uint8_t>(n);
      left -= n;
      shipments_.push_back(sh);
    }
    orders_.push_back(o);
  }
}

std::string Workload::order_id(size_t order) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "SO-%s-%08zu", opt_.id_prefix.c_str(), order);
  return buf;
}

std::string Workload::shipment_id(size_t shipment) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "SH-%s-%08zu", opt_.id_prefix.c_str(), shipment);
  return buf;
}

std::string Workload::tracking_number(size_t shipment, int package) const {
  char buf[80];
  const char* p = opt_.id_prefix.c_str();
  switch (shipments_[shipment].carrier) {
    case 0: std::snprintf(buf, sizeof buf, "1Z%sA%09zu%02d", p, shipment, package); break;
    case 1: std::snprintf(buf, sizeof buf, "7%s%010zu%02d", p, shipment, package); break;
    case 2: std::snprintf(buf, sizeof buf, "JD01%s%08zu%02d", p, shipment, package); break;
    default: std::snprintf(buf, sizeof buf, "9400%s1%012zu%02d", p, shipment, package); break;
  }
  return buf;
}

std::string Workload::order_json(size_t order) const {
  const OrderSpec& o = orders_[order];
  Rng r(mix(opt_.seed, 2, order));
  const City& c = kCities[r.next() % kCityCount];
  static const char* const levels[] = {"ground", "ground", "ground", "express", "overnight"};
  std::string s;
  s.reserve(512);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                R"({"order_id":"%s","source_system":"bench-erp","service_level":"%s","ship_to":{"name":"%s",)"
                R"("street":"%d Main St","city":"%s","state":"%s","postal_code":"%s","country":"%s"},"lines":[)",
                order_id(order).c_str(), levels[r.next() % 5], kNames[r.next() % 8],
                static_cast<int>(r.uniform(1, 9999)), c.city, c.state, c.zip, c.country);
  s += buf;
  int lines = static_cast<int>(r.uniform(1, 4));
  for (int l = 0; l < lines; ++l) {
    std::snprintf(buf, sizeof buf, R"(%s{"sku":"SKU-%05d","qty":%d})", l ? "," : "",
                  static_cast<int>(r.uniform(1, 20000)), static_cast<int>(r.uniform(1, 5)));
    s += buf;
  }
  s += R"(],"packages":[)";
  for (int p = 0; p < o.packages; ++p) {
    std::snprintf(buf, sizeof buf, R"(%s{"weight_kg":%.2f,"length_cm":%d,"width_cm":%d,"height_cm":%d})",
                  p ? "," : "", 0.2 + r.unit() * 19.8, static_cast<int>(r.uniform(10, 80)),
                  static_cast<int>(r.uniform(10, 60)), static_cast<int>(r.uniform(5, 50)));
    s += buf;
  }
  s += "]}";
  return s;
}

std::string Workload::shipment_json(size_t shipment) const {
  const ShipmentSpec& sh = shipments_[shipment];
  std::string s = R"({"shipment_id":")" + shipment_id(shipment) + R"(","order_id":")" + order_id(sh.order) +
                  R"(","carrier":")" + kCarriers[sh.carrier] + R"(","service":")" +
                  kServices[sh.carrier][shipment % 2] + R"(","tracking_numbers":[)";
  for (int p = 0; p < sh.packages; ++p) {
    if (p) s += ',';
    s += '"';
    s += tracking_number(shipment, p);
    s += '"';
  }
  s += "]}";
  return s;
}

void Workload::append_milestone_line(const MilestoneSpec& m, std::string* out) const {
  const ShipmentSpec& sh = shipments_[m.shipment];
  const City& c = kCities[(m.shipment * 7 + m.step) % kCityCount];
  char when[32];
  rfc3339(m.event_time_s, when);
  char buf[512];
  // FedEx and DHL feeds carry event ids; UPS and USPS ones are deduplicated by content.
  char event_id[64] = "";
  if (sh.carrier == 1 || sh.carrier == 2)
    std::snprintf(event_id, sizeof event_id, R"(,"event_id":"ev-%s-%u-%u")", opt_.id_prefix.c_str(), m.shipment, m.step);
  int n = std::snprintf(buf, sizeof buf,
                        R"({"carrier":"%s","tracking_number":"%s","status":"%s","raw_code":"%s","event_time":"%s",)"
                        R"("sequence":%u%s,"location":{"city":"%s","state":"%s","postal_code":"%s","country":"%s"}})",
                        kCarriers[sh.carrier], tracking_number(m.shipment, m.package).c_str(),
                        kStatusNames[m.status], kRawCodes[sh.carrier][m.status], when, m.step + 1u, event_id,
                        c.city, c.state, c.zip, c.country);
  out->append(buf, static_cast<size_t>(n));
  out->push_back('\n');
}

std::string Workload::milestone_json(const MilestoneSpec& m) const {
  std::string s;
  append_milestone_line(m, &s);
  s.pop_back();
  return s;
}

std::vector<MilestoneSpec> Workload::milestones(size_t first, size_t last) const {
  std::vector<MilestoneSpec> out;
  last = std::min(last, shipments_.size());
  out.reserve((last - first) * 13);
  std::vector<uint8_t> steps;
  std::vector<int64_t> times;
  for (size_t s = first; s < last; ++s) {
    Rng r(mix(opt_.seed, 3, s));
    const ShipmentSpec& sh = shipments_[s];
    int n = static_cast<int>(r.uniform(opt_.min_milestones, std::max(opt_.min_milestones, opt_.max_milestones)));
    bool exception = r.chance(opt_.exception_share) && n >= 8;
    steps.clear();
    steps.push_back(kLabelCreated);
    steps.push_back(kPickedUp);
    if (exception) {
      int transit = n - 7, a = transit / 2;
      for (int i = 0; i < a; ++i) steps.push_back(kInTransit);
      steps.push_back(kException);
      for (int i = a; i < transit; ++i) steps.push_back(kInTransit);
      steps.push_back(kOutForDelivery);
      steps.push_back(kAttemptFailed);
    } else {
      for (int i = 0; i < n - 4; ++i) steps.push_back(kInTransit);
    }
    steps.push_back(kOutForDelivery);
    steps.push_back(kDelivered);
    // Labels are printed over the run's window (about 10 shipments a second of feed time).
    int64_t t = kBaseTime + static_cast<int64_t>(s) / 10 + r.uniform(0, 600);
    times.clear();
    for (size_t i = 0; i < steps.size(); ++i) {
      if (i > 0) {
        uint8_t st = steps[i], prev = steps[i - 1];
        if (st == kPickedUp) t += r.uniform(2 * kHour, 20 * kHour);
        else if (st == kDelivered || st == kAttemptFailed) t += r.uniform(kHour, 6 * kHour);
        else if (prev == kAttemptFailed) t += r.uniform(16 * kHour, 24 * kHour);
        else t += r.uniform(2 * kHour, 9 * kHour);
      }
      times.push_back(t);
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      MilestoneSpec m;
      m.shipment = static_cast<uint32_t>(s);
      m.status = steps[i];
      m.step = static_cast<uint8_t>(i);
      m.package = static_cast<uint8_t>(r.uniform(0, sh.packages - 1));
      m.event_time_s = times[i];
      m.delivery_s = times[i] + r.uniform(60, 900);  // feeds lag a few minutes
      double u = r.unit();
      if (u < opt_.late_share) {
        m.kind = 2;
        m.delivery_s = times[i] + r.uniform(24 * kHour, 72 * kHour);
      } else if (u < opt_.late_share + opt_.reorder_share && i + 1 < steps.size()) {
        m.kind = 1;
        m.delivery_s = times[i + 1] + r.uniform(60, 1800);
      }
      out.push_back(m);
      if (r.chance(opt_.dup_share)) {
        MilestoneSpec d = m;
        d.kind = 3;
        d.delivery_s = m.delivery_s + r.uniform(300, 6 * kHour);
        out.push_back(d);
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const MilestoneSpec& a, const MilestoneSpec& b) {
    return a.delivery_s < b.delivery_s;
  });
  return out;
}

Workload::StreamStats Workload::stats(const std::vector<MilestoneSpec>& stream) {
  StreamStats st;
  for (auto& m : stream) {
    ++st.total;
    if (m.kind == 1) ++st.reordered;
    if (m.kind == 2) ++st.late;
    if (m.kind == 3) ++st.duplicates;
    if (m.status == kException) ++st.exceptions;
  }
  return st;
}

}  // namespace waybill::bench
