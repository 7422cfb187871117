#include "waybill/runtime/intake.hpp"

#include <cmath>
#include <unordered_set>

#include <simdjson.h>

#include "json_fields.hpp"

namespace waybill::runtime {

namespace {

using namespace json;  // NOLINT: the field reader of this module

Status parse_party(Fields& parent, std::string_view key, std::unique_ptr<fb::PartyT>* out, bool required,
                   const IntakeLimits& lim) {
  if (!parent.has(key)) return required ? bad(parent.path(key), "is required") : Status{};
  auto v = parent.get(key);
  if (!v.is_object()) return bad(parent.path(key), "must be an object");
  Fields f(v.get_object().value(), parent.path(key),
           {"name", "company", "street", "street2", "city", "state", "postal_code", "country", "phone", "email"});
  WB_TRY(f.error());
  auto p = std::make_unique<fb::PartyT>();
  size_t m = lim.max_string_bytes;
  WB_TRY(f.string("name", &p->name, true, m));
  WB_TRY(f.string("company", &p->company, false, m));
  WB_TRY(f.string("street", &p->street, true, m));
  WB_TRY(f.string("street2", &p->street2, false, m));
  WB_TRY(f.string("city", &p->city, true, m));
  WB_TRY(f.string("state", &p->state, false, m));
  WB_TRY(f.string("postal_code", &p->postal_code, true, 32));
  WB_TRY(f.string("country", &p->country, true, 2));
  if (p->country.size() != 2 || !std::isupper(static_cast<unsigned char>(p->country[0])) ||
      !std::isupper(static_cast<unsigned char>(p->country[1])))
    return bad(f.path("country"), "must be an ISO 3166-1 alpha-2 code such as \"US\"");
  WB_TRY(f.string("phone", &p->phone, false, 64));
  WB_TRY(f.string("email", &p->email, false, 256));
  *out = std::move(p);
  return {};
}

// Converts a decimal quantity to integer units (kg -> g, cm -> mm), rejecting values
// outside [0, max] and, when `positive`, zero.
Status to_units(Fields& f, std::string_view key, int64_t* out, double scale, double max, bool required,
                bool positive) {
  double v = 0;
  WB_TRY(f.number(key, &v, required));
  if (!f.has(key)) return {};
  if (v < 0) return bad(f.path(key), "must not be negative");
  if (positive && v == 0) return bad(f.path(key), "must be greater than zero");
  if (v > max) return bad(f.path(key), "must be at most " + std::to_string(static_cast<int64_t>(max)));
  *out = std::llround(v * scale);
  if (positive && *out == 0) return bad(f.path(key), "is too small: it rounds to zero");
  return {};
}

Status parse_packages(Fields& parent, std::vector<std::unique_ptr<fb::PackageT>>* out, bool required,
                      const IntakeLimits& lim) {
  if (!parent.has("packages")) return required ? bad(parent.path("packages"), "is required") : Status{};
  auto v = parent.get("packages");
  if (!v.is_array()) return bad(parent.path("packages"), "must be an array");
  auto arr = v.get_array().value();
  if (arr.size() > lim.max_packages)
    return bad(parent.path("packages"), "has more than " + std::to_string(lim.max_packages) + " entries");
  size_t i = 0;
  for (auto item : arr) {
    std::string path = parent.path("packages") + "[" + std::to_string(i++) + "]";
    if (!item.is_object()) return bad(path, "must be an object");
    Fields f(item.get_object().value(), path,
             {"weight_kg", "length_cm", "width_cm", "height_cm", "hazmat", "customs"});
    WB_TRY(f.error());
    auto p = std::make_unique<fb::PackageT>();
    WB_TRY(to_units(f, "weight_kg", &p->weight_g, 1000.0, 50000.0, true, true));
    WB_TRY(to_units(f, "length_cm", &p->length_mm, 10.0, 5000.0, false, false));
    WB_TRY(to_units(f, "width_cm", &p->width_mm, 10.0, 5000.0, false, false));
    WB_TRY(to_units(f, "height_cm", &p->height_mm, 10.0, 5000.0, false, false));
    WB_TRY(f.boolean("hazmat", &p->hazmat));
    if (f.has("customs")) {
      auto c = f.get("customs");
      if (!c.is_object()) return bad(f.path("customs"), "must be an object");
      Fields cf(c.get_object().value(), f.path("customs"),
                {"description", "hs_code", "country_of_origin", "value_minor", "currency"});
      WB_TRY(cf.error());
      auto customs = std::make_unique<fb::CustomsT>();
      WB_TRY(cf.string("description", &customs->description, true, lim.max_string_bytes));
      WB_TRY(cf.string("hs_code", &customs->hs_code, false, 16));
      WB_TRY(cf.string("country_of_origin", &customs->country_of_origin, false, 2));
      auto money = std::make_unique<fb::MoneyT>();
      WB_TRY(cf.integer("value_minor", &money->amount_minor, false));
      if (money->amount_minor < 0) return bad(cf.path("value_minor"), "must not be negative");
      WB_TRY(cf.string("currency", &money->currency, cf.has("value_minor"), 3));
      customs->value = std::move(money);
      p->customs = std::move(customs);
    }
    out->push_back(std::move(p));
  }
  return {};
}

}  // namespace

Status validate_id(std::string_view v, const char* field) {
  if (v.empty()) return bad(field, "must not be empty");
  if (v.size() > 128) return bad(field, "is longer than 128 bytes");
  for (unsigned char c : v)
    if (c < 0x20 || c == 0x7f) return bad(field, "must not contain control characters");
  return {};
}

namespace {

Status parse_lines(Fields& f, std::vector<std::unique_ptr<fb::OrderLineT>>* out, const IntakeLimits& lim) {
  if (!f.has("lines")) return bad("lines", "is required");
  auto lines = f.get("lines");
  if (!lines.is_array()) return bad("lines", "must be an array");
  auto arr = lines.get_array().value();
  if (arr.size() == 0) return bad("lines", "must have at least one line");
  if (arr.size() > lim.max_lines) return bad("lines", "has more than " + std::to_string(lim.max_lines) + " entries");
  size_t i = 0;
  for (auto item : arr) {
    std::string path = "lines[" + std::to_string(i++) + "]";
    if (!item.is_object()) return bad(path, "must be an object");
    Fields lf(item.get_object().value(), path, {"sku", "qty", "description"});
    WB_TRY(lf.error());
    auto line = std::make_unique<fb::OrderLineT>();
    WB_TRY(lf.string("sku", &line->sku, true, 128));
    WB_TRY(lf.integer("qty", &line->qty, true));
    if (line->qty < 1 || line->qty > 1000000) return bad(lf.path("qty"), "must be between 1 and 1000000");
    WB_TRY(lf.string("description", &line->description, false, lim.max_string_bytes));
    out->push_back(std::move(line));
  }
  return {};
}

Status parse_references(Fields& f, std::vector<std::unique_ptr<fb::KeyValueT>>* out, const IntakeLimits& lim) {
  if (!f.has("references")) return {};
  auto refs = f.get("references");
  if (!refs.is_object()) return bad("references", "must be an object of strings");
  auto ro = refs.get_object().value();
  if (ro.size() > lim.max_references)
    return bad("references", "has more than " + std::to_string(lim.max_references) + " entries");
  std::unordered_set<std::string_view> seen;
  for (auto [key, value] : ro) {
    std::string path = "references." + std::string(key);
    if (!seen.insert(key).second) return bad(path, "duplicate key");
    if (!value.is_string()) return bad(path, "must be a string");
    if (key.empty() || key.size() > 64) return bad(path, "key must be 1..64 bytes");
    auto kv = std::make_unique<fb::KeyValueT>();
    kv->key = std::string(key);
    kv->value = std::string(value.get_string().value());
    if (kv->value.size() > lim.max_string_bytes) return bad(path, "is too long");
    out->push_back(std::move(kv));
  }
  // Canonical order so the request hash does not depend on key order.
  std::sort(out->begin(), out->end(), [](auto& a, auto& b) { return a->key < b->key; });
  return {};
}

}  // namespace

Result<actors::CreateOrder> parse_create_order(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"order_id", "source_system", "ship_from", "ship_to", "service_level", "lines",
                       "packages", "references"});
  WB_TRY(f.error());
  actors::CreateOrder cmd;
  auto& o = cmd.order;
  WB_TRY(f.string("order_id", &o.order_id, true, 128));
  WB_TRY(validate_id(o.order_id, "order_id"));
  WB_TRY(f.string("source_system", &o.source_system, false, 64));
  WB_TRY(parse_party(f, "ship_from", &o.ship_from, false, lim));
  WB_TRY(parse_party(f, "ship_to", &o.ship_to, true, lim));
  std::string level;
  WB_TRY(f.string("service_level", &level, true, 32));
  auto sl = parse_service_level(level);
  if (!sl) return bad("service_level", "must be one of ground, express, overnight, freight");
  o.service_level = *sl;

  WB_TRY(parse_lines(f, &o.lines, lim));
  WB_TRY(parse_packages(f, &o.packages, false, lim));

  WB_TRY(parse_references(f, &o.references, lim));
  o.status = OrderStatus::received;
  o.request_hash = fnv1a64(encode(o));
  return cmd;
}

Result<actors::UpdateOrder> parse_update_order(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"ship_to", "ship_from", "lines", "references", "service_level", "packages", "carrier",
                       "service", "tracking_numbers"});
  WB_TRY(f.error());
  actors::UpdateOrder cmd;
  for (const char* key : {"ship_to", "ship_from", "lines", "references", "service_level", "packages", "carrier",
                          "service", "tracking_numbers"})
    if (f.has(key)) cmd.fields.emplace_back(key);
  if (cmd.fields.empty()) return bad("body", "names no field to change");
  std::unique_ptr<fb::PartyT> party;
  WB_TRY(parse_party(f, "ship_to", &party, false, lim));
  if (party) cmd.ship_to = std::move(*party);
  party.reset();
  WB_TRY(parse_party(f, "ship_from", &party, false, lim));
  if (party) cmd.ship_from = std::move(*party);
  if (f.has("lines")) {
    std::vector<std::unique_ptr<fb::OrderLineT>> lines;
    WB_TRY(parse_lines(f, &lines, lim));
    cmd.lines.emplace();
    for (auto& l : lines) cmd.lines->push_back(std::move(*l));
  }
  if (f.has("references")) {
    std::vector<std::unique_ptr<fb::KeyValueT>> refs;
    WB_TRY(parse_references(f, &refs, lim));
    cmd.references.emplace();
    for (auto& r : refs) cmd.references->push_back(std::move(*r));
  }
  if (f.has("service_level")) {
    std::string level;
    WB_TRY(f.string("service_level", &level, true, 32));
    auto sl = parse_service_level(level);
    if (!sl) return bad("service_level", "must be one of ground, express, overnight, freight");
    cmd.service_level = *sl;
  }
  if (f.has("packages")) {
    std::vector<std::unique_ptr<fb::PackageT>> pkgs;
    WB_TRY(parse_packages(f, &pkgs, true, lim));
    cmd.packages.emplace();
    for (auto& p : pkgs) cmd.packages->push_back(std::move(*p));
  }
  // carrier, service and tracking_numbers are never applied to an order: they are
  // named only so the ownership check can refuse and record them.
  return cmd;
}

Result<actors::PackOrder> parse_pack_order(std::string_view body, const IntakeLimits& lim) {
  actors::PackOrder cmd;
  if (body.empty()) return cmd;
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"packages"});
  WB_TRY(f.error());
  std::vector<std::unique_ptr<fb::PackageT>> pkgs;
  WB_TRY(parse_packages(f, &pkgs, false, lim));
  for (auto& p : pkgs) cmd.packages.push_back(std::move(*p));
  return cmd;
}

Result<actors::CancelOrder> parse_cancel_order(std::string_view body, const IntakeLimits& lim) {
  actors::CancelOrder cmd;
  if (body.empty()) return cmd;
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"reason"});
  WB_TRY(f.error());
  WB_TRY(f.string("reason", &cmd.reason, false, lim.max_string_bytes));
  return cmd;
}

Result<actors::RegisterShipment> parse_register_shipment(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"shipment_id", "order_id", "carrier", "service", "tracking_numbers", "packages", "ship_date"});
  WB_TRY(f.error());
  actors::RegisterShipment cmd;
  auto& s = cmd.shipment;
  WB_TRY(f.string("shipment_id", &s.shipment_id, true, 128));
  WB_TRY(validate_id(s.shipment_id, "shipment_id"));
  WB_TRY(f.string("order_id", &s.order_id, true, 128));
  WB_TRY(validate_id(s.order_id, "order_id"));
  WB_TRY(f.string("carrier", &s.carrier, true, 64));
  WB_TRY(validate_id(s.carrier, "carrier"));
  WB_TRY(f.string("service", &s.service, false, 64));
  if (f.has("tracking_numbers")) {
    auto v = f.get("tracking_numbers");
    if (!v.is_array()) return bad("tracking_numbers", "must be an array of strings");
    auto arr = v.get_array().value();
    if (arr.size() > lim.max_tracking_numbers)
      return bad("tracking_numbers", "has more than " + std::to_string(lim.max_tracking_numbers) + " entries");
    size_t i = 0;
    std::unordered_set<std::string_view> seen;
    for (auto tn : arr) {
      std::string path = "tracking_numbers[" + std::to_string(i++) + "]";
      if (!tn.is_string()) return bad(path, "must be a string");
      std::string_view t = tn.get_string().value();
      WB_TRY(validate_id(t, path.c_str()));
      if (!seen.insert(t).second) return bad(path, "is listed twice");
      s.tracking_numbers.emplace_back(t);
    }
  }
  WB_TRY(parse_packages(f, &s.packages, false, lim));
  std::string ship_date;
  WB_TRY(f.string("ship_date", &ship_date, false, 10));
  if (!ship_date.empty()) {
    auto day = ship_date.size() == 10 ? parse_rfc3339_us(ship_date + "T00:00:00Z") : std::nullopt;
    if (!day) return bad("ship_date", "must be a date YYYY-MM-DD");
    s.ship_date_us = *day;
  }
  // Hashed before the API fills a missing ship date with today, so a retry matches.
  s.request_hash = fnv1a64(encode(s));
  return cmd;
}

Result<actors::ResolveException> parse_resolve_exception(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"action", "carrier", "service", "ship_to"});
  WB_TRY(f.error());
  actors::ResolveException cmd;
  WB_TRY(f.string("action", &cmd.action, true, 16));
  if (cmd.action != "retry" && cmd.action != "cancel") return bad("action", "must be retry or cancel");
  WB_TRY(f.string("carrier", &cmd.carrier, false, 64));
  WB_TRY(f.string("service", &cmd.service, !cmd.carrier.empty(), 64));
  if (cmd.carrier.empty() && !cmd.service.empty()) return bad("carrier", "is required with service");
  std::unique_ptr<fb::PartyT> party;
  WB_TRY(parse_party(f, "ship_to", &party, false, lim));
  if (party) cmd.ship_to = *party;
  return cmd;
}

Result<fb::SubscriptionT> parse_subscription(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"url", "event_types", "secrets"});
  WB_TRY(f.error());
  fb::SubscriptionT s;
  WB_TRY(f.string("url", &s.url, true, 2048));
  for (const char* key : {"event_types", "secrets"}) {
    if (!f.has(key)) continue;
    auto v = f.get(key);
    if (!v.is_array()) return bad(key, "must be an array of strings");
    auto arr = v.get_array().value();
    if (arr.size() > 64) return bad(key, "has more than 64 entries");
    for (auto item : arr) {
      if (!item.is_string()) return bad(key, "must be an array of strings");
      std::string value(item.get_string().value());
      if (std::string_view(key) == "secrets" && value.size() < 16) return bad(key, "each secret needs at least 16 characters");
      (std::string_view(key) == "secrets" ? s.secrets : s.event_types).push_back(std::move(value));
    }
  }
  return s;
}

Result<MilestoneInput> parse_milestone(std::string_view body, const IntakeLimits& lim) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"carrier", "tracking_number", "status", "raw_code", "event_time", "sequence",
                       "event_id", "location", "description", "estimated_delivery", "exception_category",
                       "proof_of_delivery"});
  WB_TRY(f.error());
  MilestoneInput in;
  auto& m = in.command.milestone;
  WB_TRY(f.string("carrier", &in.carrier, true, 64));
  WB_TRY(validate_id(in.carrier, "carrier"));
  WB_TRY(f.string("tracking_number", &in.tracking_number, true, 128));
  WB_TRY(validate_id(in.tracking_number, "tracking_number"));
  std::string status;
  WB_TRY(f.string("status", &status, true, 32));
  auto ts = parse_tracking_status(status);
  if (!ts) return bad("status", "unknown status '" + status + "'; expected a canonical tracking status");
  m.status = *ts;
  WB_TRY(f.string("raw_code", &m.raw_code, false, 64));
  std::string when;
  WB_TRY(f.string("event_time", &when, true, 64));
  auto us = parse_rfc3339_us(when);
  if (!us) return bad("event_time", "must be an RFC 3339 date-time such as 2026-11-28T10:15:30Z");
  m.event_time_us = *us;
  WB_TRY(f.integer("sequence", &m.sequence, false));
  if (m.sequence < 0) return bad("sequence", "must not be negative");
  WB_TRY(f.string("event_id", &m.event_id, false, 128));
  WB_TRY(f.string("description", &m.description, false, lim.max_string_bytes));
  if (f.has("location")) {
    auto v = f.get("location");
    if (!v.is_object()) return bad("location", "must be an object");
    Fields lf(v.get_object().value(), "location", {"city", "state", "postal_code", "country"});
    WB_TRY(lf.error());
    auto loc = std::make_unique<fb::LocationT>();
    WB_TRY(lf.string("city", &loc->city, false, 128));
    WB_TRY(lf.string("state", &loc->state, false, 64));
    WB_TRY(lf.string("postal_code", &loc->postal_code, false, 32));
    WB_TRY(lf.string("country", &loc->country, false, 2));
    m.location = std::move(loc);
  }
  std::string eta;
  WB_TRY(f.string("estimated_delivery", &eta, false, 64));
  if (!eta.empty()) {
    auto eta_us = parse_rfc3339_us(eta);
    if (!eta_us) return bad("estimated_delivery", "must be an RFC 3339 date-time such as 2026-11-30T18:00:00Z");
    m.estimated_delivery_us = *eta_us;
  }
  std::string category;
  WB_TRY(f.string("exception_category", &category, false, 32));
  if (!category.empty()) {
    auto c = actors::parse_exception_category(category);
    if (!c || *c == fb::ExceptionCategory::none)
      return bad("exception_category", "unknown category '" + category +
                                           "'; expected weather_delay, refused, address_problem, damaged, "
                                           "recipient_unavailable, customs_hold, carrier_delay, lost or other");
    m.exception_category = *c;
  }
  if (f.has("proof_of_delivery")) {
    if (m.status != fb::TrackingStatus::delivered) return bad("proof_of_delivery", "is only allowed on delivered");
    auto v = f.get("proof_of_delivery");
    if (!v.is_object()) return bad("proof_of_delivery", "must be an object");
    Fields pf(v.get_object().value(), "proof_of_delivery", {"signed_by", "document_ref"});
    WB_TRY(pf.error());
    auto pod = std::make_unique<fb::ProofOfDeliveryT>();
    WB_TRY(pf.string("signed_by", &pod->signed_by, false, 128));
    WB_TRY(pf.string("document_ref", &pod->document_ref, false, 2048));
    if (pod->signed_by.empty() && pod->document_ref.empty())
      return bad("proof_of_delivery", "needs signed_by or document_ref");
    m.proof_of_delivery = std::move(pod);
  }
  in.command.tracking_number = in.tracking_number;
  return in;
}

Result<NdjsonLines> split_ndjson(std::string_view body, size_t max_lines) {
  NdjsonLines out;
  size_t number = 0;
  for (size_t pos = 0; pos < body.size();) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (out.lines.size() == max_lines)
      return Status{Code::payload_too_large, "more than " + std::to_string(max_lines) + " lines", "body"};
    out.lines.push_back(line);
    out.numbers.push_back(number);
  }
  if (out.lines.empty()) return Status{Code::invalid_argument, "no milestones in the body", "body"};
  return out;
}

}  // namespace waybill::runtime
