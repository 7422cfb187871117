// Settlement ids, keys, JSON rendering and the reads served from storage.
#include <charconv>

#include "waybill/actors/settlement.hpp"

namespace waybill::actors {

using storage::Column;

namespace keys {
std::string invoice(const std::string& carrier, const std::string& invoice_number) {
  return carrier + '\0' + invoice_number;
}
std::string dispute(const std::string& carrier, const std::string& invoice_number, uint32_t line_no) {
  return invoice(carrier, invoice_number) + '\0' + storage::be32(line_no);
}
std::string totals_by_carrier(const std::string& carrier, const std::string& currency) {
  return "c" + carrier + '\0' + currency;
}
std::string totals_by_lane(const std::string& carrier, const std::string& lane, const std::string& currency) {
  return "l" + carrier + '\0' + lane + '\0' + currency;
}
}  // namespace keys

std::string invoice_id(const std::string& carrier, const std::string& invoice_number) {
  return carrier + ":" + invoice_number;
}
std::string dispute_id(const std::string& carrier, const std::string& invoice_number, uint32_t line_no) {
  return invoice_id(carrier, invoice_number) + ":" + std::to_string(line_no);
}

Status parse_invoice_id(std::string_view id, std::string* carrier, std::string* invoice_number) {
  // Carrier names hold no ':'; invoice numbers may.
  auto colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size())
    return {Code::invalid_argument, "must be <carrier>:<invoice_number>", "invoice_id"};
  carrier->assign(id.substr(0, colon));
  invoice_number->assign(id.substr(colon + 1));
  return {};
}

Status parse_dispute_id(std::string_view id, std::string* carrier, std::string* invoice_number, uint32_t* line_no) {
  auto last = id.rfind(':');
  if (last == std::string_view::npos) return {Code::invalid_argument, "must be <carrier>:<invoice_number>:<line>", "dispute_id"};
  auto line = id.substr(last + 1);
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (ec != std::errc() || end != line.data() + line.size() || n == 0)
    return {Code::invalid_argument, "must end in :<line number>", "dispute_id"};
  if (auto st = parse_invoice_id(id.substr(0, last), carrier, invoice_number); !st.ok())
    return {Code::invalid_argument, "must be <carrier>:<invoice_number>:<line>", "dispute_id"};
  *line_no = n;
  return {};
}

namespace {

void str(JsonWriter& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void str_opt(JsonWriter& w, const char* key, const std::string& v) {
  if (!v.empty()) str(w, key, v);
}
void amount(JsonWriter& w, const char* key, int64_t minor) {
  w.Key(key);
  w.Int64(minor);
}

}  // namespace

void invoice_line(JsonWriter& w, const fb::InvoiceLineT& l, const std::string& currency) {
  w.StartObject();
  w.Key("line");
  w.Uint(l.line_no);
  str(w, "outcome", name(l.outcome));
  str_opt(w, "reason", l.reason);
  str_opt(w, "tracking_number", l.tracking_number);
  str_opt(w, "reference", l.reference);
  str_opt(w, "shipment_id", l.shipment_id);
  str_opt(w, "order_id", l.order_id);
  str_opt(w, "matched_by", l.matched_by);
  str_opt(w, "lane", l.lane);
  str_opt(w, "duplicate_of", l.duplicate_of);
  if (l.billed_weight_g) {
    w.Key("billed_weight_g");
    w.Int64(l.billed_weight_g);
  }
  str(w, "currency", currency);
  amount(w, "billed_minor", l.billed_minor);
  amount(w, "expected_minor", l.expected_minor);
  w.Key("charges");
  w.StartArray();
  for (auto& c : l.charges) {
    if (!c) continue;
    w.StartObject();
    str(w, "code", c->code);
    amount(w, "billed_minor", c->billed_minor);
    amount(w, "expected_minor", c->expected_minor);
    str(w, "verdict", c->verdict);
    str_opt(w, "evidence", c->evidence);
    w.EndObject();
  }
  w.EndArray();
  if (l.dispute != fb::DisputeState::none) {
    w.Key("dispute");
    w.StartObject();
    str(w, "state", name(l.dispute));
    amount(w, "disputed_minor", l.disputed_minor);
    if (l.dispute != fb::DisputeState::open) {
      amount(w, "resolved_minor", l.resolved_minor);
      str_opt(w, "note", l.resolution_note);
      str_opt(w, "resolved_by", l.resolved_by);
      str(w, "resolved_at", format_rfc3339(l.resolved_us));
    }
    w.EndObject();
  }
  w.EndObject();
}

void freight_posting(JsonWriter& w, const fb::FreightPostingT& p) {
  w.Key("freight");
  w.StartObject();
  str(w, "invoice_id", p.invoice_id);
  str(w, "carrier", p.carrier);
  str(w, "invoice_number", p.invoice_number);
  str(w, "currency", p.currency);
  amount(w, "amount_minor", p.amount_minor);
  if (p.line) {
    w.Key("invoice_line");
    invoice_line(w, *p.line, p.currency);
    if (p.line->dispute != fb::DisputeState::none)
      str(w, "dispute_id", dispute_id(p.carrier, p.invoice_number, p.line->line_no));
  }
  w.EndObject();
}

std::string render_invoice(const fb::InvoiceT& inv, bool replayed) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  size_t counts[kLineOutcomes] = {};
  int64_t billed = 0, matched = 0, disputed = 0;
  for (auto& l : inv.lines) {
    if (!l) continue;
    counts[static_cast<size_t>(l->outcome)]++;
    billed += l->billed_minor;
    if (l->outcome == fb::LineOutcome::matched) matched += l->billed_minor;
    if (l->dispute == fb::DisputeState::open) disputed += l->disputed_minor;
  }
  w.StartObject();
  str(w, "invoice_id", invoice_id(inv.carrier, inv.invoice_number));
  str(w, "carrier", inv.carrier);
  str(w, "invoice_number", inv.invoice_number);
  str(w, "invoice_date", format_rfc3339(inv.invoice_date_us).substr(0, 10));
  str(w, "currency", inv.currency);
  str(w, "source", inv.source);
  str(w, "received_at", format_rfc3339(inv.received_us));
  w.Key("replayed");
  w.Bool(replayed);
  w.Key("summary");
  w.StartObject();
  w.Key("lines");
  w.Uint64(inv.lines.size());
  for (size_t i = 0; i < kLineOutcomes; ++i) {
    w.Key(name(static_cast<fb::LineOutcome>(i)));
    w.Uint64(counts[i]);
  }
  amount(w, "billed_minor", billed);
  amount(w, "matched_minor", matched);
  amount(w, "disputed_open_minor", disputed);
  w.EndObject();
  w.Key("lines");
  w.StartArray();
  for (auto& l : inv.lines)
    if (l) invoice_line(w, *l, inv.currency);
  w.EndArray();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

Result<std::string> read_invoice_json(const storage::Store& store, const std::string& carrier,
                                      const std::string& invoice_number) {
  std::string v;
  auto st = store.get(Column::invoices, keys::invoice(carrier, invoice_number), &v);
  if (st.code() == Code::not_found)
    return Status{Code::not_found, "no invoice " + invoice_id(carrier, invoice_number), "invoice_id"};
  if (!st.ok()) return st;
  auto inv = decode<fb::InvoiceT>(v);
  if (!inv) return Status{Code::internal, "stored invoice is corrupt"};
  return render_invoice(*inv, false);
}

Result<std::string> list_disputes_json(const storage::Store& store, const DisputeQuery& q) {
  std::string start = q.carrier.empty() ? std::string() : q.carrier + '\0';
  if (!q.after.empty()) {
    std::string c, n;
    uint32_t line = 0;
    if (auto st = parse_dispute_id(q.after, &c, &n, &line); !st.ok()) return Status{Code::invalid_argument, st.message(), "after"};
    // Continue just past the last dispute of the previous page.
    start = keys::dispute(c, n, line) + '\0';
  }
  const std::string prefix = q.carrier.empty() ? std::string() : q.carrier + '\0';
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("disputes");
  w.StartArray();
  size_t returned = 0, scanned = 0;
  std::string last_id;
  bool more = false;
  auto st = store.scan_from(Column::disputes, start, q.max_scanned, [&](std::string_view key, std::string_view value) {
    if (!prefix.empty() && key.substr(0, prefix.size()) != prefix) return false;
    ++scanned;
    auto p = decode<fb::FreightPostingT>(value);
    if (!p || !p->line) return true;
    if (q.state && p->line->dispute != *q.state) return true;
    if (q.outcome && p->line->outcome != *q.outcome) return true;
    if (returned == q.limit) {
      more = true;
      return false;
    }
    w.StartObject();
    str(w, "dispute_id", dispute_id(p->carrier, p->invoice_number, p->line->line_no));
    str(w, "state", name(p->line->dispute));
    str(w, "outcome", name(p->line->outcome));
    str(w, "currency", p->currency);
    amount(w, "disputed_minor", p->line->disputed_minor);
    freight_posting(w, *p);
    w.EndObject();
    last_id = dispute_id(p->carrier, p->invoice_number, p->line->line_no);
    ++returned;
    return true;
  });
  if (!st.ok()) return st;
  w.EndArray();
  // A page cut short by the scan bound also continues from where it stopped.
  if ((more || scanned >= q.max_scanned) && !last_id.empty()) str(w, "next_after", last_id);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::vector<TotalsRow> read_settlement_totals(const storage::Store& store, size_t max_rows) {
  std::vector<TotalsRow> rows;
  (void)store.scan_prefix(Column::settlement_totals, "", max_rows, [&](std::string_view key, std::string_view value) {
    auto t = decode<fb::SettlementTotalsT>(value);
    if (!t || key.empty()) return true;
    TotalsRow row;
    std::vector<std::string> parts;
    std::string_view rest = key.substr(1);
    for (size_t pos; (pos = rest.find('\0')) != std::string_view::npos; rest.remove_prefix(pos + 1))
      parts.emplace_back(rest.substr(0, pos));
    parts.emplace_back(rest);
    if (key[0] == 'c' && parts.size() == 2) row.carrier = parts[0], row.currency = parts[1];
    else if (key[0] == 'l' && parts.size() == 3) row.carrier = parts[0], row.lane = parts[1], row.currency = parts[2];
    else return true;
    row.totals = std::move(*t);
    row.totals.lines_by_outcome.resize(kLineOutcomes, 0);
    rows.push_back(std::move(row));
    return true;
  });
  return rows;
}

std::string render_settlement_summary(const std::vector<TotalsRow>& rows, const std::string& carrier_filter) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  auto figures = [&](const TotalsRow& r) {
    const auto& t = r.totals;
    int64_t lines = 0;
    for (auto n : t.lines_by_outcome) lines += n;
    str(w, "currency", r.currency);
    w.Key("lines");
    w.Int64(lines);
    w.Key("lines_by_outcome");
    w.StartObject();
    for (size_t i = 0; i < kLineOutcomes; ++i) {
      w.Key(name(static_cast<fb::LineOutcome>(i)));
      w.Int64(t.lines_by_outcome[i]);
    }
    w.EndObject();
    // A ratio for humans; the exact counts are beside it.
    w.Key("match_rate");
    w.Double(lines ? static_cast<double>(t.lines_by_outcome[0]) / static_cast<double>(lines) : 0.0);
    amount(w, "billed_minor", t.billed_minor);
    amount(w, "posted_minor", t.matched_minor);
    amount(w, "disputed_open_minor", t.disputed_open_minor);
    w.Key("disputes_open");
    w.Int64(t.disputes_open);
    w.Key("shipments");
    w.Int64(t.shipments);
    // Integer division: cost per shipment in whole minor units, rounded down.
    amount(w, "cost_per_shipment_minor", t.shipments ? t.matched_minor / t.shipments : 0);
  };
  w.StartObject();
  for (const char* section : {"carriers", "lanes"}) {
    const bool lanes = section[0] == 'l';
    w.Key(section);
    w.StartArray();
    for (auto& r : rows) {
      if (r.lane.empty() == lanes) continue;
      if (!carrier_filter.empty() && r.carrier != carrier_filter) continue;
      w.StartObject();
      str(w, "carrier", r.carrier);
      if (lanes) str(w, "lane", r.lane);
      figures(r);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace waybill::actors
