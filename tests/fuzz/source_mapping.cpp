// Source mapping profiles: the input as a dropped CSV file (map_csv_file) and as a
// source-shaped JSON order (map_json_order), through the shipped profiles of
// configs/sources/. Checks: a mapped order is a valid canonical order of that source
// whose request hash is the hash of its encoding, orders are unique and name their
// rows in ascending order, rejects are sorted and name a field, a file-level reject
// stands alone, and mapping the same input twice gives the same result.
#include <set>

#include "fuzz_support.hpp"
#include "waybill/runtime/source_profile.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

constexpr size_t kMaxRows = 200;
const IntakeLimits kLimits{};

std::vector<SourceProfile>* profiles;

void check_order(const SourceProfile& p, const fb::OrderT& o) {
  FUZZ_CHECK(o.source_system == p.source, o.source_system);
  FUZZ_CHECK(validate_id(o.order_id, "order_id").ok(), o.order_id);
  FUZZ_CHECK(o.ship_to && o.ship_to->country.size() == 2, "ship_to");
  FUZZ_CHECK(!o.lines.empty(), "lines");
  for (auto& pkg : o.packages) FUZZ_CHECK(pkg->weight_g >= 1 && pkg->weight_g <= 50000000, "weight");
  FUZZ_CHECK(o.request_hash == fuzz::rehash(o), "request hash is not the hash of the order");
  FUZZ_CHECK(fuzz::storage_round_trip(o), "order does not survive encode/decode");
}

std::string summary(const CsvMapping& m) {
  std::string s = std::to_string(m.rows) + "|";
  for (auto& o : m.orders) {
    s += std::to_string(o.command.order.request_hash) + ":";
    for (auto l : o.lines) s += std::to_string(l) + ",";
  }
  s += "|";
  for (auto& r : m.rejects) s += std::to_string(r.line) + r.order_id + "\x1f" + r.field + "\x1f" + r.reason + "\n";
  return s;
}

void csv_file(const SourceProfile& p, std::string_view text) {
  auto m = map_csv_file(p, text, kLimits, kMaxRows);
  FUZZ_CHECK(m.rows <= kMaxRows + 1, "rows " + std::to_string(m.rows));
  std::set<std::string> ids;
  for (auto& o : m.orders) {
    check_order(p, o.command.order);
    FUZZ_CHECK(ids.insert(o.command.order.order_id).second, "order mapped twice: " + o.command.order.order_id);
    FUZZ_CHECK(!o.lines.empty(), "order without rows");
    for (size_t i = 1; i < o.lines.size(); ++i) FUZZ_CHECK(o.lines[i - 1] < o.lines[i], "rows not ascending");
  }
  for (size_t i = 0; i < m.rejects.size(); ++i) {
    auto& r = m.rejects[i];
    FUZZ_CHECK(!r.field.empty() && !r.reason.empty(), "reject without field or reason");
    if (i > 0) FUZZ_CHECK(m.rejects[i - 1].line <= r.line, "rejects not sorted");
    if (r.line == 0) FUZZ_CHECK(m.rejects.size() == 1 && m.orders.empty(), "file reject next to other results");
    FUZZ_CHECK(ids.count(r.order_id) == 0 || r.order_id.empty(), "order both mapped and rejected: " + r.order_id);
  }
  FUZZ_CHECK(summary(map_csv_file(p, text, kLimits, kMaxRows)) == summary(m), "mapping is not deterministic");
}

void json_order(const SourceProfile& p, std::string_view body) {
  if (!p.has_json) return;
  auto r = map_json_order(p, body, kLimits);
  if (!r) {
    FUZZ_CHECK(!r.status().field().empty() && !r.status().message().empty(), "error names no field");
    return;
  }
  check_order(p, r->order);
  auto again = map_json_order(p, body, kLimits);
  FUZZ_CHECK(again.ok() && again->order.request_hash == r->order.request_hash, "mapping is not deterministic");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  profiles = new std::vector<SourceProfile>;
  for (const char* file : {"configs/sources/sap-like.yaml", "configs/sources/netsuite-like.yaml"}) {
    auto p = parse_source_profile(waybill::fuzz::read_tree_file(file));
    FUZZ_CHECK(p.ok(), std::string(file) + ": " + p.status().message());
    profiles->push_back(std::move(*p));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;
  std::string_view text = waybill::fuzz::as_text(data, size);
  for (auto& p : *profiles) {
    csv_file(p, text);
    json_order(p, text);
  }
  return 0;
}
