#include "waybill/cli/render.hpp"

#include <algorithm>
#include <cstdio>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace waybill::cli {

namespace {

using rapidjson::Value;

Outcome<rapidjson::Document> parse(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError())
    return Failure{ExitCode::unavailable, std::string("the server's answer is not JSON: ") +
                                              rapidjson::GetParseError_En(doc.GetParseError())};
  if (!doc.IsObject()) return Failure{ExitCode::unavailable, "the server's answer is not a JSON object"};
  return doc;
}

const Value* at(const Value& v, const char* pointer) { return rapidjson::Pointer(pointer).Get(v); }

// A scalar as text; "" when absent or not a scalar (views never guess).
std::string scalar_text(const Value* x) {
  if (!x) return {};
  if (x->IsString()) return {x->GetString(), x->GetStringLength()};
  if (x->IsBool()) return x->GetBool() ? "true" : "false";
  if (x->IsInt64()) return std::to_string(x->GetInt64());
  if (x->IsUint64()) return std::to_string(x->GetUint64());
  if (x->IsDouble()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x->GetDouble());
    return buf;
  }
  return {};
}

std::string text(const Value& v, const char* pointer) { return scalar_text(at(v, pointer)); }

// Elements of the array at `pointer`; empty when absent.
std::vector<const Value*> items(const Value& v, const char* pointer) {
  std::vector<const Value*> out;
  const Value* x = at(v, pointer);
  if (x && x->IsArray())
    for (auto& e : x->GetArray()) out.push_back(&e);
  return out;
}

// Strings of the array at `pointer`, joined.
std::string joined(const Value& v, const char* pointer, const char* separator = ", ") {
  std::string out;
  for (auto* e : items(v, pointer)) {
    if (!e->IsString()) continue;
    if (!out.empty()) out += separator;
    out.append(e->GetString(), e->GetStringLength());
  }
  return out;
}

// "Ada, 1 Main St, Springfield 62701 US" from a party object.
std::string address(const Value& v, const char* pointer) {
  const Value* p = at(v, pointer);
  if (!p || !p->IsObject()) return {};
  std::string out;
  auto add = [&](const std::string& s, const char* sep) {
    if (s.empty()) return;
    if (!out.empty()) out += sep;
    out += s;
  };
  add(text(*p, "/name"), ", ");
  add(text(*p, "/company"), ", ");
  add(text(*p, "/street"), ", ");
  add(text(*p, "/city"), ", ");
  add(text(*p, "/postal_code"), " ");
  add(text(*p, "/country"), " ");
  return out;
}

// Label/value lines, labels padded; empty values are left out.
std::string block(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (auto& [k, v] : fields)
    if (!v.empty()) width = std::max(width, k.size());
  std::string out;
  for (auto& [k, v] : fields) {
    if (v.empty()) continue;
    out += k + std::string(width - k.size() + 2, ' ') + v + '\n';
  }
  return out;
}

std::string count_line(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many) + "\n";
}

std::string one_line(std::string s) {
  std::replace_if(s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return s;
}

}  // namespace

std::string Table::format() const {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (auto& r : rows) measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < row.size() ? one_line(row[i]) : std::string();
      line += cell;
      if (i + 1 < width.size()) line += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  };
  emit(header);
  for (auto& r : rows) emit(r);
  return out;
}

Outcome<std::string> render_order(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  const Value& o = *doc;
  std::string lines;
  for (auto* l : items(o, "/lines")) {
    if (!lines.empty()) lines += ", ";
    lines += text(*l, "/sku") + " x" + text(*l, "/qty");
  }
  auto packages = items(o, "/packages").size();
  return block({{"order", text(o, "/order_id")},
                {"status", text(o, "/status")},
                {"status reason", text(o, "/status_reason")},
                {"service level", text(o, "/service_level")},
                {"ship to", address(o, "/ship_to")},
                {"ship from", address(o, "/ship_from")},
                {"lines", lines},
                {"packages", packages ? std::to_string(packages) : std::string()},
                {"shipments", joined(o, "/shipments")},
                {"created", text(o, "/created_at")},
                {"updated", text(o, "/updated_at")}});
}

Outcome<std::string> render_shipment(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  const Value& s = *doc;
  std::string rate;
  if (at(s, "/rate/total"))
    rate = text(s, "/rate/total/amount_minor") + " " + text(s, "/rate/total/currency") + " (minor units)";
  std::string out = block({{"shipment", text(s, "/shipment_id")},
                           {"order", text(s, "/order_id")},
                           {"status", text(s, "/status")},
                           {"carrier", text(s, "/carrier")},
                           {"service", text(s, "/service")},
                           {"tracking", joined(s, "/tracking_numbers")},
                           {"booking", text(s, "/booking/state")},
                           {"rate", rate},
                           {"exception", text(s, "/exception/reason")},
                           {"exception message", text(s, "/exception/message")},
                           {"estimated delivery", text(s, "/estimated_delivery")},
                           {"ship to", address(s, "/ship_to")},
                           {"updated", text(s, "/updated_at")}});
  auto milestones = items(s, "/milestones");
  if (milestones.empty()) return out;
  Table t{{"EVENT TIME", "STATUS", "RAW CODE", "APPLIED", "DESCRIPTION"}, {}};
  for (auto* m : milestones)
    t.rows.push_back({text(*m, "/event_time"), text(*m, "/status"), text(*m, "/raw_code"), text(*m, "/applied"),
                      text(*m, "/description")});
  return out + "\n" + t.format();
}

Outcome<std::string> render_trace(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  const Value& tr = *doc;
  std::string out = block({{"order", text(tr, "/order_id")}, {"status", text(tr, "/order/status")}});
  Table ships{{"SHIPMENT", "CARRIER", "SERVICE", "STATUS", "TRACKING"}, {}};
  for (auto* s : items(tr, "/shipments"))
    ships.rows.push_back({text(*s, "/shipment_id"), text(*s, "/carrier"), text(*s, "/service"), text(*s, "/status"),
                          joined(*s, "/tracking_numbers")});
  if (!ships.rows.empty()) out += "\n" + ships.format();
  Table audit{{"POSITION", "TIME", "TYPE", "SUBJECT", "STATUS", "REASON"}, {}};
  for (auto* e : items(tr, "/audit"))
    audit.rows.push_back({text(*e, "/position"), text(*e, "/time"), text(*e, "/type"), text(*e, "/subject"),
                          text(*e, "/data/status"), text(*e, "/data/reason")});
  out += "\n" + audit.format();
  if (text(tr, "/audit_truncated") == "true") out += "(audit truncated: the oldest entries are shown)\n";
  Table lines{{"INVOICE LINE", "OUTCOME", "AMOUNT (MINOR)", "CURRENCY", "DISPUTE"}, {}};
  for (auto* l : items(tr, "/invoice_lines"))
    lines.rows.push_back({text(*l, "/freight/invoice_id") + ":" + text(*l, "/freight/invoice_line/line"),
                          text(*l, "/freight/invoice_line/outcome"), text(*l, "/freight/amount_minor"),
                          text(*l, "/freight/currency"), text(*l, "/freight/invoice_line/dispute/state")});
  if (!lines.rows.empty()) out += "\n" + lines.format();
  return out;
}

Outcome<std::string> render_exceptions(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  Table t{{"SHIPMENT", "ORDER", "CARRIER", "SERVICE", "REGION", "REASON", "SINCE", "MESSAGE"}, {}};
  for (auto* e : items(*doc, "/exceptions"))
    t.rows.push_back({text(*e, "/shipment_id"), text(*e, "/order_id"), text(*e, "/carrier"), text(*e, "/service"),
                      text(*e, "/region"), text(*e, "/reason"), text(*e, "/since"), text(*e, "/message")});
  std::string out = t.format() + count_line(t.rows.size(), "exception", "exceptions");
  if (auto next = text(*doc, "/next_after"); !next.empty()) out += "more: --after " + next + "\n";
  return out;
}

Outcome<std::string> render_disputes(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  Table t{{"DISPUTE", "STATE", "OUTCOME", "DISPUTED (MINOR)", "CURRENCY", "SHIPMENT", "REASON"}, {}};
  for (auto* d : items(*doc, "/disputes"))
    t.rows.push_back({text(*d, "/dispute_id"), text(*d, "/state"), text(*d, "/outcome"), text(*d, "/disputed_minor"),
                      text(*d, "/currency"), text(*d, "/freight/invoice_line/shipment_id"),
                      text(*d, "/freight/invoice_line/reason")});
  std::string out = t.format() + count_line(t.rows.size(), "dispute", "disputes");
  if (auto next = text(*doc, "/next_after"); !next.empty()) out += "more: --after " + next + "\n";
  return out;
}

Outcome<std::string> render_subscriptions(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  Table t{{"ID", "URL", "EVENT TYPES", "DISABLED", "DELIVERED POSITION", "CREATED"}, {}};
  for (auto* s : items(*doc, "/subscriptions")) {
    std::string types = joined(*s, "/event_types");
    t.rows.push_back({text(*s, "/id"), text(*s, "/url"), types.empty() ? "*" : types, text(*s, "/disabled"),
                      text(*s, "/delivered_position"), text(*s, "/created_at")});
  }
  return t.format() + count_line(t.rows.size(), "subscription", "subscriptions");
}

Outcome<std::string> render_carriers(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  Table t{{"CARRIER", "PROFILE", "BREAKER", "QUEUE", "IN FLIGHT", "OK", "REJECTED", "IN DOUBT", "FAILED", "RETRIES",
           "SERVICES"},
          {}};
  for (auto* c : items(*doc, "/carriers"))
    t.rows.push_back({text(*c, "/name"), text(*c, "/profile_version"), text(*c, "/breaker"), text(*c, "/queue_depth"),
                      text(*c, "/in_flight"), text(*c, "/calls_ok"), text(*c, "/calls_rejected"),
                      text(*c, "/calls_in_doubt"), text(*c, "/calls_failed"), text(*c, "/retries"),
                      joined(*c, "/services")});
  return t.format() + "booking backlog: " + text(*doc, "/booking_backlog") + "\n";
}

Outcome<std::string> render_carrier_health(std::string_view json) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  Table t{{"CARRIER", "HEALTH", "BREAKER", "QUEUE", "IN FLIGHT", "FAILED SHARE"}, {}};
  for (auto* c : items(*doc, "/carriers")) {
    std::string breaker = text(*c, "/breaker");
    // The breaker is the adapter's own verdict on the carrier: open means calls are
    // refused without being sent, half-open means a trial call decides.
    std::string health = breaker == "closed" ? "ok" : breaker == "half_open" ? "recovering" : "down";
    auto num = [&](const char* p) {
      const Value* x = at(*c, p);
      return x && x->IsNumber() ? x->GetDouble() : 0.0;
    };
    double failed = num("/calls_failed") + num("/calls_in_doubt");
    double all = failed + num("/calls_ok") + num("/calls_rejected");
    char share[16] = "-";
    if (all > 0) std::snprintf(share, sizeof share, "%.1f%%", 100.0 * failed / all);
    t.rows.push_back({text(*c, "/name"), health, breaker, text(*c, "/queue_depth"), text(*c, "/in_flight"), share});
  }
  if (t.rows.empty()) return std::string("no carriers configured: booking is off\n");
  return t.format();
}

Outcome<std::string> render_action_result(std::string_view json) {
  if (json.empty()) return std::string("done\n");
  auto doc = parse(json);
  if (!doc) return doc.failure();
  if (auto n = text(*doc, "/replaying"); !n.empty()) return "replaying " + n + " dead letters\n";
  std::vector<std::pair<std::string, std::string>> fields;
  for (auto& m : doc->GetObject()) {
    if (m.value.IsObject() || m.value.IsArray()) continue;
    fields.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()), scalar_text(&m.value));
  }
  return block(fields);
}

Outcome<std::string> render_dispute_decision(std::string_view json, const std::string& dispute_id) {
  auto doc = parse(json);
  if (!doc) return doc.failure();
  // The id is carrier:invoice_number:line; the answer lists the invoice's lines.
  std::string line_no = dispute_id.substr(dispute_id.rfind(':') + 1);
  std::string currency = text(*doc, "/currency");
  for (auto* l : items(*doc, "/lines")) {
    if (text(*l, "/line") != line_no) continue;
    auto money = [&](const char* pointer) {
      std::string v = text(*l, pointer);
      return v.empty() ? v : v + " " + currency + " (minor units)";
    };
    return block({{"dispute", dispute_id},
                  {"state", text(*l, "/dispute/state")},
                  {"outcome", text(*l, "/outcome")},
                  {"disputed", money("/dispute/disputed_minor")},
                  {"paid", money("/dispute/resolved_minor")},
                  {"note", text(*l, "/dispute/note")},
                  {"by", text(*l, "/dispute/resolved_by")},
                  {"at", text(*l, "/dispute/resolved_at")}});
  }
  return Failure{ExitCode::unavailable, "the answer does not list line " + line_no + " of the invoice"};
}

std::string describe_error(int status, std::string_view body) {
  std::string out = std::to_string(status);
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject() && at(doc, "/title")) {
    out += " " + text(doc, "/title");
    if (auto detail = text(doc, "/detail"); !detail.empty()) out += ": " + detail;
    if (auto field = text(doc, "/field"); !field.empty()) out += " (field " + field + ")";
    return one_line(out);
  }
  std::string start(body.substr(0, 200));
  return one_line(start.empty() ? out : out + ": " + start);
}

}  // namespace waybill::cli
