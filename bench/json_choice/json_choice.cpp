// json_choice: parse + field-extraction and serialization micro-benchmark for nlohmann::json,
// RapidJSON and simdjson (DOM API) on waybill-shaped payloads.
//
// Build from the repository root (Debian: nlohmann-json3-dev rapidjson-dev libsimdjson-dev) and run:
//   g++ -O2 -std=c++20 bench/json_choice/json_choice.cpp -lsimdjson -o /tmp/json_choice && /tmp/json_choice
//
// Each measurement runs every library in the same process for ~1.2 s and prints ns/op, MB/s (input
// bytes when parsing, output bytes when serializing) and the speedup over nlohmann::json ("2.00x" =
// twice as fast). Every parse op builds a fresh result struct; all libraries must produce identical
// structs. RapidJSON uses a fresh Document per op with kParseValidateEncodingFlag; the simdjson
// parser is reused and reads a pre-padded buffer (padded_string).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define RAPIDJSON_HAS_STDSTRING 1  // enables Value::Is<std::string>() / Get<std::string>()
#include <nlohmann/json.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

namespace rj = rapidjson;
using nlohmann::json;
using simdjson::dom::element;

void require(bool ok, const char* what) { if (!ok) throw std::runtime_error(what); }

struct Milestone {
  std::string carrier, tracking_number, status, raw_code, event_time, event_id, city, country;
  int64_t sequence = 0;
  bool operator==(const Milestone&) const = default;
};
struct Address {
  std::string name, street, city, postal_code, country;
  bool operator==(const Address&) const = default;
};
struct Line { std::string sku; int64_t qty = 0; bool operator==(const Line&) const = default; };
struct Package {
  double weight_kg = 0, length_cm = 0, width_cm = 0, height_cm = 0; bool hazmat = false;
  bool operator==(const Package&) const = default;
};
struct Order {
  std::string order_id, service_level;
  Address ship_from, ship_to;
  std::vector<Line> lines = {};
  std::vector<Package> packages = {};
  std::map<std::string, std::string> references = {};  // key order is not significant
  bool operator==(const Order&) const = default;
};
struct Shipment {
  std::string shipment_id, order_id, carrier, tracking_number, status, service_level, label_url, updated_at;
  int64_t version = 0; Address ship_to; std::vector<Package> packages;
};

const std::string kMilestone =
    R"({"carrier":"ups","tracking_number":"1Z999AA10123456784","status":"in_transit","raw_code":"I",)"
    R"("event_time":"2026-11-28T10:15:30.123Z","sequence":7,"event_id":"evt-000123",)"
    R"("location":{"city":"Memphis","country":"US"}})";

const std::string kOrder =
    R"({"order_id":"ord-2026-11-28-000042","ship_from":{"name":"Waybill Fulfilment Center East",)"
    R"("street":"4100 Distribution Parkway, Building C, Dock 12","city":"Memphis","postal_code":"38118",)"
    R"("country":"US"},"ship_to":{"name":"Jane Q. Customer c/o Acme Widgets Incorporated",)"
    R"("street":"1600 Amphitheatre Parkway, Suite 400, Floor 3","city":"Mountain View","postal_code":"94043",)"
    R"("country":"US"},"service_level":"ground_2day","lines":[{"sku":"SKU-WIDGET-RED-0001","qty":2},)"
    R"({"sku":"SKU-WIDGET-BLU-0002","qty":1},{"sku":"SKU-GADGET-XL-00103","qty":12},)"
    R"({"sku":"SKU-CABLE-USBC-2M-7","qty":3},{"sku":"SKU-BATTERY-AA-PK24","qty":1}],"packages":[)"
    R"({"weight_kg":2.35,"length_cm":40,"width_cm":30.5,"height_cm":20,"hazmat":false},)"
    R"({"weight_kg":11.8,"length_cm":60,"width_cm":45,"height_cm":35.25,"hazmat":true}],"references":{)"
    R"("customer_po":"PO-778812-A","invoice":"INV-2026-004417","department":"Procurement / Facilities",)"
    R"("cost_center":"CC-4410","marketplace_order":"MKT-5590-1182-7731","gift_message":"Happy holidays!"}})";

const Shipment kShipment{
    "shp-01HZX4T9Q3K7M2N8P5R6S", "ord-2026-11-28-000042", "ups", "1Z999AA10123456784", "label_created",
    "ground_2day", "https://labels.example.com/ups/1Z999AA10123456784.pdf", "2026-11-28T10:15:30.123Z", 3,
    {"Jane Q. Customer", "1600 Amphitheatre Parkway, Suite 400", "Mountain View", "94043", "US"},
    {{2.35, 40, 30.5, 20, false}, {11.8, 60, 45, 35.25, true}}};

// ---- nlohmann::json --------------------------------------------------------
template <class T = std::string> T nl_as(const json& o, const char* k) { return o.at(k).get<T>(); }
Address nl_addr(const json& v) {
  return {nl_as(v, "name"), nl_as(v, "street"), nl_as(v, "city"), nl_as(v, "postal_code"), nl_as(v, "country")};
}
Milestone nl_milestone(const std::string& s) {
  const json d = json::parse(s);
  const json& loc = d.at("location");
  return {nl_as(d, "carrier"), nl_as(d, "tracking_number"), nl_as(d, "status"), nl_as(d, "raw_code"),
          nl_as(d, "event_time"), nl_as(d, "event_id"), nl_as(loc, "city"), nl_as(loc, "country"),
          nl_as<int64_t>(d, "sequence")};
}
Order nl_order(const std::string& s) {
  const json d = json::parse(s);
  Order o{nl_as(d, "order_id"), nl_as(d, "service_level"), nl_addr(d.at("ship_from")), nl_addr(d.at("ship_to"))};
  for (const json& l : d.at("lines")) o.lines.push_back({nl_as(l, "sku"), nl_as<int64_t>(l, "qty")});
  for (const json& p : d.at("packages"))
    o.packages.push_back({nl_as<double>(p, "weight_kg"), nl_as<double>(p, "length_cm"),
                          nl_as<double>(p, "width_cm"), nl_as<double>(p, "height_cm"), nl_as<bool>(p, "hazmat")});
  for (const auto& [k, v] : d.at("references").items()) o.references.emplace(k, v.get<std::string>());
  return o;
}
std::string nl_serialize(const Shipment& s) {
  const Address& a = s.ship_to;
  json packages = json::array();
  for (const Package& p : s.packages)
    packages.push_back({{"weight_kg", p.weight_kg}, {"length_cm", p.length_cm}, {"width_cm", p.width_cm},
                        {"height_cm", p.height_cm}, {"hazmat", p.hazmat}});
  const json j = {
      {"shipment_id", s.shipment_id}, {"order_id", s.order_id}, {"carrier", s.carrier},
      {"tracking_number", s.tracking_number}, {"status", s.status}, {"service_level", s.service_level},
      {"label_url", s.label_url}, {"updated_at", s.updated_at}, {"version", s.version},
      {"ship_to", {{"name", a.name}, {"street", a.street}, {"city", a.city}, {"postal_code", a.postal_code},
                   {"country", a.country}}},
      {"packages", std::move(packages)}};
  return j.dump();
}

// ---- RapidJSON -------------------------------------------------------------
const rj::Value& rj_member(const rj::Value& o, const char* k) {
  require(o.IsObject(), "expected object");
  const auto it = o.FindMember(k);
  require(it != o.MemberEnd(), k);
  return it->value;
}
template <class T = std::string> T rj_as(const rj::Value& v) {
  // Is<double>() means IsDouble(), which rejects integral numbers such as 40; accept any number.
  require(std::is_same_v<T, double> ? v.IsNumber() : v.Is<T>(), "unexpected type");
  return v.Get<T>();
}
template <class T = std::string> T rj_as(const rj::Value& o, const char* k) { return rj_as<T>(rj_member(o, k)); }
Address rj_addr(const rj::Value& v) {
  return {rj_as(v, "name"), rj_as(v, "street"), rj_as(v, "city"), rj_as(v, "postal_code"), rj_as(v, "country")};
}
void rj_parse(rj::Document& d, const std::string& s) {
  d.Parse<rj::kParseValidateEncodingFlag>(s.data(), s.size());
  require(!d.HasParseError(), "rapidjson parse error");
}
Milestone rj_milestone(const std::string& s) {
  rj::Document d;
  rj_parse(d, s);
  const rj::Value& loc = rj_member(d, "location");
  return {rj_as(d, "carrier"), rj_as(d, "tracking_number"), rj_as(d, "status"), rj_as(d, "raw_code"),
          rj_as(d, "event_time"), rj_as(d, "event_id"), rj_as(loc, "city"), rj_as(loc, "country"),
          rj_as<int64_t>(d, "sequence")};
}
Order rj_order(const std::string& s) {
  rj::Document d;
  rj_parse(d, s);
  Order o{rj_as(d, "order_id"), rj_as(d, "service_level"), rj_addr(rj_member(d, "ship_from")),
          rj_addr(rj_member(d, "ship_to"))};
  for (const rj::Value& l : rj_as<rj::Value::ConstArray>(d, "lines"))
    o.lines.push_back({rj_as(l, "sku"), rj_as<int64_t>(l, "qty")});
  for (const rj::Value& p : rj_as<rj::Value::ConstArray>(d, "packages"))
    o.packages.push_back({rj_as<double>(p, "weight_kg"), rj_as<double>(p, "length_cm"),
                          rj_as<double>(p, "width_cm"), rj_as<double>(p, "height_cm"), rj_as<bool>(p, "hazmat")});
  for (const auto& m : rj_as<rj::Value::ConstObject>(d, "references"))
    o.references.emplace(rj_as(m.name), rj_as(m.value));
  return o;
}
std::string rj_serialize(const Shipment& s) {
  rj::StringBuffer buf;
  rj::Writer<rj::StringBuffer> w(buf);
  auto kv = [&w](const char* k, const std::string& v) { w.Key(k); w.String(v.data(), rj::SizeType(v.size())); };
  w.StartObject();
  kv("shipment_id", s.shipment_id); kv("order_id", s.order_id); kv("carrier", s.carrier);
  kv("tracking_number", s.tracking_number); kv("status", s.status); kv("service_level", s.service_level);
  kv("label_url", s.label_url); kv("updated_at", s.updated_at); w.Key("version"); w.Int64(s.version);
  w.Key("ship_to"); w.StartObject();
  kv("name", s.ship_to.name); kv("street", s.ship_to.street); kv("city", s.ship_to.city);
  kv("postal_code", s.ship_to.postal_code); kv("country", s.ship_to.country);
  w.EndObject(); w.Key("packages"); w.StartArray();
  for (const Package& p : s.packages) {
    w.StartObject();
    w.Key("weight_kg"); w.Double(p.weight_kg); w.Key("length_cm"); w.Double(p.length_cm);
    w.Key("width_cm"); w.Double(p.width_cm); w.Key("height_cm"); w.Double(p.height_cm);
    w.Key("hazmat"); w.Bool(p.hazmat); w.EndObject();
  }
  w.EndArray(); w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

// ---- simdjson DOM (throwing accessors) --------------------------------------
std::string sj_str(element v) { return std::string(std::string_view(v)); }
Address sj_addr(element v) {
  return {sj_str(v["name"]), sj_str(v["street"]), sj_str(v["city"]), sj_str(v["postal_code"]), sj_str(v["country"])};
}
Milestone sj_milestone(simdjson::dom::parser& parser, const simdjson::padded_string& s) {
  const element d = parser.parse(s);
  const element loc = d["location"];
  return {sj_str(d["carrier"]), sj_str(d["tracking_number"]), sj_str(d["status"]), sj_str(d["raw_code"]),
          sj_str(d["event_time"]), sj_str(d["event_id"]), sj_str(loc["city"]), sj_str(loc["country"]),
          int64_t(d["sequence"])};
}
Order sj_order(simdjson::dom::parser& parser, const simdjson::padded_string& s) {
  const element d = parser.parse(s);
  Order o{sj_str(d["order_id"]), sj_str(d["service_level"]), sj_addr(d["ship_from"]), sj_addr(d["ship_to"])};
  for (element l : simdjson::dom::array(d["lines"])) o.lines.push_back({sj_str(l["sku"]), int64_t(l["qty"])});
  for (element p : simdjson::dom::array(d["packages"]))
    o.packages.push_back({double(p["weight_kg"]), double(p["length_cm"]), double(p["width_cm"]),
                          double(p["height_cm"]), bool(p["hazmat"])});
  for (auto [key, val] : simdjson::dom::object(d["references"])) o.references.emplace(key, sj_str(val));
  return o;
}

// ---- harness ----------------------------------------------------------------
volatile size_t g_sink;  // keeps results observable so the work is not optimized away

size_t touch(const Milestone& m) { return size_t(m.sequence) + m.city.size(); }
size_t touch(const Order& o) { return o.lines.size() + o.references.size() + o.ship_to.city.size(); }
size_t touch(const std::string& s) { return s.size(); }

template <class F> double ns_per_op(F&& op, double seconds = 1.2) {
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  for (auto t = clock::now(); since(t) < 0.1;) g_sink = g_sink + touch(op());  // warm-up
  uint64_t ops = 0, batch = 16;
  double elapsed = 0;
  for (const auto start = clock::now(); elapsed < seconds; elapsed = since(start)) {
    if (elapsed < 0.05) batch *= 2;  // grow batches so clock reads stay negligible
    for (uint64_t i = 0; i < batch; ++i) g_sink = g_sink + touch(op());
    ops += batch;
  }
  return elapsed * 1e9 / double(ops);
}

void print_rows(const char* bench, size_t bytes, std::initializer_list<std::pair<const char*, double>> rows) {
  const double base = rows.begin()->second;  // first row is nlohmann
  for (auto [lib, ns] : rows)
    std::printf("%-20s %-10s %6zu %10.1f %9.1f %10.2fx\n", bench, lib, bytes, ns, bytes * 1e3 / ns, base / ns);
}

template <class NL, class RJ, class SJ>
void parse_bench(const char* name, const std::string& input, NL nl, RJ rjf, SJ sj) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(input);
  const auto expected = nl(input);
  require(expected == rjf(input) && expected == sj(parser, padded), "parsers disagree");
  const double nl_ns = ns_per_op([&] { return nl(input); });
  const double rj_ns = ns_per_op([&] { return rjf(input); });
  const double sj_ns = ns_per_op([&] { return sj(parser, padded); });
  print_rows(name, input.size(), {{"nlohmann", nl_ns}, {"rapidjson", rj_ns}, {"simdjson", sj_ns}});
}

int main() {
  std::printf("simdjson implementation: %s\n", simdjson::get_active_implementation()->name().c_str());
  std::printf("%-20s %-10s %6s %10s %9s %11s\n", "benchmark", "library", "bytes", "ns/op", "MB/s", "vs nlohmann");
  parse_bench("parse milestone", kMilestone, nl_milestone, rj_milestone, sj_milestone);
  parse_bench("parse order", kOrder, nl_order, rj_order, sj_order);

  const std::string nl_out = nl_serialize(kShipment), rj_out = rj_serialize(kShipment);
  require(json::parse(nl_out) == json::parse(rj_out) && nl_out.size() == rj_out.size(), "serializers disagree");
  const double nl_ns = ns_per_op([] { return nl_serialize(kShipment); });
  const double rj_ns = ns_per_op([] { return rj_serialize(kShipment); });
  print_rows("serialize shipment", rj_out.size(), {{"nlohmann", nl_ns}, {"rapidjson", rj_ns}});
}
