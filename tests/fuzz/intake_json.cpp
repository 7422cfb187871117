// JSON intake: every request-body parser of runtime/intake.hpp on the same input.
// Checks: a rejection is invalid_argument naming a field; an accepted order or shipment
// carries the hash of its own encoding, survives the storage round trip and hashes the
// same when parsed again; what tight limits accept, the defaults accept identically;
// accepted values respect the documented bounds; event times survive formatting.
#include <unordered_set>

#include "fuzz_support.hpp"
#include "waybill/runtime/intake.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

const IntakeLimits kDefaults{};
const IntakeLimits kTight{/*max_depth=*/4, /*max_lines=*/2, /*max_packages=*/2, /*max_tracking_numbers=*/2,
                          /*max_references=*/2, /*max_string_bytes=*/16};

template <class R>
void check_rejection(const R& r, const char* parser) {
  if (r.ok()) return;
  FUZZ_CHECK(r.status().code() == Code::invalid_argument, std::string(parser) + ": " + r.status().message());
  // A top-level key "" is named by its own (empty) name.
  bool empty_key = r.status().message() == "unknown field" || r.status().message() == "duplicate key";
  FUZZ_CHECK(!r.status().field().empty() || empty_key, std::string(parser) + ": no field in '" + r.status().message() + "'");
  FUZZ_CHECK(!r.status().message().empty(), parser);
}

void check_party(const fb::PartyT& p, const IntakeLimits& lim) {
  FUZZ_CHECK(!p.name.empty() && !p.street.empty() && !p.city.empty() && !p.postal_code.empty(), "party");
  FUZZ_CHECK(p.name.size() <= lim.max_string_bytes && p.postal_code.size() <= 32, "party sizes");
  FUZZ_CHECK(p.country.size() == 2 && std::isupper(static_cast<unsigned char>(p.country[0])) &&
                 std::isupper(static_cast<unsigned char>(p.country[1])),
             "country '" + p.country + "'");
}

void check_packages(const std::vector<std::unique_ptr<fb::PackageT>>& pkgs, const IntakeLimits& lim) {
  FUZZ_CHECK(pkgs.size() <= lim.max_packages, "packages");
  for (auto& p : pkgs) {
    FUZZ_CHECK(p->weight_g >= 1 && p->weight_g <= 50000000, std::to_string(p->weight_g));
    for (int64_t mm : {p->length_mm, p->width_mm, p->height_mm}) FUZZ_CHECK(mm >= 0 && mm <= 50000, std::to_string(mm));
    if (p->customs && p->customs->value) FUZZ_CHECK(p->customs->value->amount_minor >= 0, "customs value");
  }
}

void check_order(std::string_view body, const fb::OrderT& o, const IntakeLimits& lim) {
  FUZZ_CHECK(validate_id(o.order_id, "order_id").ok(), o.order_id);
  FUZZ_CHECK(o.ship_to != nullptr, "ship_to");
  check_party(*o.ship_to, lim);
  if (o.ship_from) check_party(*o.ship_from, lim);
  FUZZ_CHECK(!o.lines.empty() && o.lines.size() <= lim.max_lines, "lines");
  for (auto& l : o.lines) FUZZ_CHECK(l->qty >= 1 && l->qty <= 1000000 && !l->sku.empty(), "line");
  check_packages(o.packages, lim);
  FUZZ_CHECK(o.references.size() <= lim.max_references, "references");
  for (size_t i = 1; i < o.references.size(); ++i)
    FUZZ_CHECK(o.references[i - 1]->key < o.references[i]->key, "references not sorted and unique");
  FUZZ_CHECK(o.status == OrderStatus::received, "status");
  FUZZ_CHECK(o.request_hash == fuzz::rehash(o), "request hash is not the hash of the order");
  FUZZ_CHECK(fuzz::storage_round_trip(o), "order does not survive encode/decode");
  auto again = parse_create_order(body, lim);
  FUZZ_CHECK(again.ok() && again->order.request_hash == o.request_hash, "request hash not stable");
}

void create_order(std::string_view body) {
  auto tight = parse_create_order(body, kTight);
  check_rejection(tight, "create_order/tight");
  auto r = parse_create_order(body, kDefaults);
  check_rejection(r, "create_order");
  if (tight.ok()) {
    check_order(body, tight->order, kTight);
    FUZZ_CHECK(r.ok(), "tight limits accept what the defaults reject: " + r.status().field());
    FUZZ_CHECK(r->order.request_hash == tight->order.request_hash, "hash depends on the limits");
  }
  if (r.ok()) check_order(body, r->order, kDefaults);
}

void update_order(std::string_view body) {
  auto r = parse_update_order(body, kDefaults);
  check_rejection(r, "update_order");
  if (!r.ok()) return;
  FUZZ_CHECK(!r->fields.empty(), "update names no field");
  std::unordered_set<std::string> seen(r->fields.begin(), r->fields.end());
  FUZZ_CHECK(seen.size() == r->fields.size(), "field named twice");
  if (r->ship_to) check_party(*r->ship_to, kDefaults);
  if (r->ship_from) check_party(*r->ship_from, kDefaults);
  if (r->lines) FUZZ_CHECK(!r->lines->empty() && r->lines->size() <= kDefaults.max_lines, "lines");
  FUZZ_CHECK(r->ship_to.has_value() == (seen.count("ship_to") > 0), "ship_to present but not named");
  FUZZ_CHECK(r->lines.has_value() == (seen.count("lines") > 0), "lines present but not named");
  FUZZ_CHECK(r->packages.has_value() == (seen.count("packages") > 0), "packages present but not named");
}

void register_shipment(std::string_view body) {
  auto r = parse_register_shipment(body, kDefaults);
  check_rejection(r, "register_shipment");
  if (!r.ok()) return;
  auto& s = r->shipment;
  FUZZ_CHECK(validate_id(s.shipment_id, "shipment_id").ok() && validate_id(s.order_id, "order_id").ok() &&
                 validate_id(s.carrier, "carrier").ok(),
             "ids");
  std::unordered_set<std::string> tns;
  for (auto& t : s.tracking_numbers) {
    FUZZ_CHECK(validate_id(t, "tn").ok(), t);
    FUZZ_CHECK(tns.insert(t).second, "tracking number twice: " + t);
  }
  FUZZ_CHECK(s.tracking_numbers.size() <= kDefaults.max_tracking_numbers, "tracking numbers");
  check_packages(s.packages, kDefaults);
  if (s.ship_date_us != 0) FUZZ_CHECK(s.ship_date_us % (86400LL * 1000000) == 0, "ship date is not a day");
  FUZZ_CHECK(s.request_hash == fuzz::rehash(s), "request hash is not the hash of the shipment");
  FUZZ_CHECK(fuzz::storage_round_trip(s), "shipment does not survive encode/decode");
  auto again = parse_register_shipment(body, kDefaults);
  FUZZ_CHECK(again.ok() && again->shipment.request_hash == s.request_hash, "request hash not stable");
}

void milestone(std::string_view body) {
  auto r = parse_milestone(body, kDefaults);
  check_rejection(r, "milestone");
  if (!r.ok()) return;
  auto& m = r->command.milestone;
  FUZZ_CHECK(validate_id(r->carrier, "carrier").ok() && validate_id(r->tracking_number, "tn").ok(), "ids");
  FUZZ_CHECK(r->command.tracking_number == r->tracking_number, "tracking number");
  FUZZ_CHECK(m.sequence >= 0, "sequence");
  FUZZ_CHECK(!m.proof_of_delivery || m.status == TrackingStatus::delivered, "proof of delivery on " +
                                                                               std::string(name(m.status)));
  if (m.location) FUZZ_CHECK(m.location->country.size() <= 2, "location.country");
  // What is stored is shown as RFC 3339 and must read back as the same instant.
  for (int64_t us : {m.event_time_us, m.estimated_delivery_us}) {
    if (us == 0) continue;
    auto text = format_rfc3339(us);
    auto back = parse_rfc3339_us(text);
    FUZZ_CHECK(back && *back == us, std::to_string(us) + " -> " + text);
  }
  FUZZ_CHECK(fuzz::storage_round_trip(m), "milestone does not survive encode/decode");
}

void small_parsers(std::string_view body) {
  auto pack = parse_pack_order(body, kDefaults);
  check_rejection(pack, "pack_order");
  if (pack.ok()) FUZZ_CHECK(pack->packages.size() <= kDefaults.max_packages, "pack packages");
  check_rejection(parse_cancel_order(body, kDefaults), "cancel_order");

  auto resolve = parse_resolve_exception(body, kDefaults);
  check_rejection(resolve, "resolve_exception");
  if (resolve.ok()) {
    FUZZ_CHECK(resolve->action == "retry" || resolve->action == "cancel", resolve->action);
    FUZZ_CHECK(resolve->service.empty() || !resolve->carrier.empty(), "service without carrier");
    if (resolve->ship_to) check_party(*resolve->ship_to, kDefaults);
  }

  auto sub = parse_subscription(body, kDefaults);
  check_rejection(sub, "subscription");
  if (sub.ok()) {
    FUZZ_CHECK(!sub->url.empty() && sub->url.size() <= 2048, "url");
    FUZZ_CHECK(sub->secrets.size() <= 64 && sub->event_types.size() <= 64, "lists");
    for (auto& s : sub->secrets) FUZZ_CHECK(s.size() >= 16, "short secret");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;  // far beyond any body limit: nothing new to find
  std::string_view body = waybill::fuzz::as_text(data, size);
  create_order(body);
  update_order(body);
  register_shipment(body);
  milestone(body);
  small_parsers(body);
  return 0;
}
