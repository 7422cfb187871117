// Finding the shipment an invoice line bills, on one store, and merging what several
// stores found (settlement_facts.hpp).
#include "waybill/actors/settlement_facts.hpp"

#include <algorithm>
#include <cassert>

#include "waybill/actors/entity.hpp"
#include "waybill/schemas/settlement_facts_generated.h"

namespace waybill::actors {

namespace {

using storage::Column;

// The reason a single store gives when nothing matches.
std::string no_shipment_reason(const std::string& carrier, const InvoiceLineInput& line) {
  std::string what = line.tracking_number.empty() ? "reference " + line.reference
                                                  : "tracking number " + line.tracking_number +
                                                        (line.reference.empty() ? "" : " or reference " + line.reference);
  return "no " + carrier + " shipment for " + what;
}

// The shipment an invoice line bills: by tracking number (the use current at the
// invoice date, so a recycled number finds the right shipment), then by reference as a
// shipment id, then as an order id with exactly one shipment at this carrier.
Result<std::string> find_shipment(const storage::Store& store, const std::string& carrier, int64_t invoice_date_us,
                                  const InvoiceLineInput& line, const TrackingLookupOptions& tracking,
                                  LineFacts* facts) {
  if (!line.tracking_number.empty()) {
    auto choice = choose_tracking_use(store, carrier, line.tracking_number, invoice_date_us, tracking);
    if (choice.ok()) {
      facts->match = LineMatch::tracking_number;
      facts->ship_day = choice->ship_day;
      facts->shipped_before = choice->shipped_before;
      return std::move(choice->shipment_id);
    }
    if (choice.status().code() != Code::not_found) return choice.status();
  }
  if (!line.reference.empty()) {
    std::string value;
    if (store.get(Column::shipments, line.reference, &value).ok()) {
      auto s = decode<fb::ShipmentT>(value);
      if (s && s->carrier == carrier) {
        facts->match = LineMatch::shipment_reference;
        return line.reference;
      }
    }
    std::vector<std::string> candidates;
    (void)store.scan_prefix(Column::order_shipments, keys::order_shipment_prefix(line.reference), 64,
                            [&](std::string_view key, std::string_view) {
                              std::string id(key.substr(line.reference.size() + 1));
                              std::string v;
                              if (store.get(Column::shipments, id, &v).ok())
                                if (auto s = decode<fb::ShipmentT>(v); s && s->carrier == carrier &&
                                                                      s->booking_state != fb::BookingState::voided)
                                  candidates.push_back(id);
                              return true;
                            });
    if (candidates.size() == 1) {
      facts->match = LineMatch::order_reference;
      return candidates.front();
    }
    if (candidates.size() > 1) {
      facts->ambiguous_reference = true;
      return Status{Code::not_found, "reference " + line.reference + " names " + std::to_string(candidates.size()) +
                                         " shipments at " + carrier + "; bill by tracking number"};
    }
  }
  return Status{Code::not_found, no_shipment_reason(carrier, line)};
}

// Whether `a` is the use a single store would pick over `b` (both tracking matches):
// the last one shipped by the invoice date, else the first one.
bool tracking_beats(const LineFacts& a, const LineFacts& b) {
  if (a.shipped_before != b.shipped_before) return a.shipped_before;
  if (a.ship_day != b.ship_day) return a.shipped_before ? a.ship_day > b.ship_day : a.ship_day < b.ship_day;
  return a.shipment->shipment_id < b.shipment->shipment_id;  // one number, one day, two nodes: stay deterministic
}

}  // namespace

const char* LineFacts::matched_by() const {
  switch (match) {
    case LineMatch::none: return "";
    case LineMatch::tracking_number: return "tracking_number";
    case LineMatch::order_reference:
    case LineMatch::shipment_reference: return "reference";
  }
  return "";
}

Result<LineFacts> find_line_facts(const storage::Store& store, const std::string& carrier, int64_t invoice_date_us,
                                  const InvoiceLineInput& line, const TrackingLookupOptions& tracking,
                                  size_t max_milestones) {
  LineFacts facts;
  auto sid = find_shipment(store, carrier, invoice_date_us, line, tracking, &facts);
  if (!sid.ok()) {
    if (sid.status().code() != Code::not_found) return sid.status();
    const bool ambiguous = facts.ambiguous_reference;
    facts = LineFacts{};
    facts.ambiguous_reference = ambiguous;
    facts.unmatched_reason = sid.status().message();
    return facts;
  }
  std::string v;
  if (auto st = store.get(Column::shipments, *sid, &v); !st.ok()) return st;
  facts.shipment = decode<fb::ShipmentT>(v);
  if (!facts.shipment) return Status{Code::internal, "stored shipment is corrupt: " + *sid};
  auto st = store.scan_prefix(Column::milestones, keys::milestone_prefix(*sid), max_milestones,
                              [&](std::string_view, std::string_view mv) {
                                if (auto m = decode<fb::MilestoneT>(mv)) facts.milestones.push_back(std::move(*m));
                                return true;
                              });
  if (!st.ok()) return st;
  return facts;
}

LineFacts merge_line_facts(std::vector<LineFacts> per_node) {
  assert(!per_node.empty());
  LineFacts* best = nullptr;
  for (auto& f : per_node) {
    if (f.match == LineMatch::none) continue;
    if (!best || f.match > best->match ||
        (f.match == best->match && f.match == LineMatch::tracking_number && tracking_beats(f, *best)))
      best = &f;
  }
  if (best) return std::move(*best);
  // Nothing anywhere: the most specific reason any node gave.
  LineFacts none = std::move(per_node.front());
  for (auto& f : per_node)
    if (f.ambiguous_reference) return std::move(f);
  return none;
}

std::string encode_facts_query(const InvoiceInput& invoice) {
  fb::InvoiceFactsQueryT q;
  q.carrier = invoice.carrier;
  q.invoice_date_us = invoice.invoice_date_us;
  for (auto& line : invoice.lines) {
    auto ref = std::make_unique<fb::FactsLineRefT>();
    ref->tracking_number = line.tracking_number;
    ref->reference = line.reference;
    q.lines.push_back(std::move(ref));
  }
  return encode(q);
}

Result<InvoiceInput> decode_facts_query(std::string_view bytes) {
  auto q = decode<fb::InvoiceFactsQueryT>(bytes);
  if (!q) return Status{Code::invalid_argument, "not an invoice facts query"};
  InvoiceInput out;
  out.carrier = std::move(q->carrier);
  out.invoice_date_us = q->invoice_date_us;
  for (auto& ref : q->lines) {
    InvoiceLineInput line;
    if (ref) line.tracking_number = std::move(ref->tracking_number), line.reference = std::move(ref->reference);
    out.lines.push_back(std::move(line));
  }
  return out;
}

std::string encode_facts_answer(const std::vector<LineFacts>& lines) {
  fb::InvoiceFactsAnswerT a;
  for (auto& f : lines) {
    auto l = std::make_unique<fb::LineFactsAnswerT>();
    l->match = static_cast<int8_t>(f.match);
    l->unmatched_reason = f.unmatched_reason;
    l->ambiguous = f.ambiguous_reference;
    l->ship_day = f.ship_day;
    l->shipped_before = f.shipped_before;
    if (f.shipment) l->shipment = std::make_unique<fb::ShipmentT>(*f.shipment);
    for (auto& m : f.milestones) l->milestones.push_back(std::make_unique<fb::MilestoneT>(m));
    a.lines.push_back(std::move(l));
  }
  return encode(a);
}

Result<std::vector<LineFacts>> decode_facts_answer(std::string_view bytes, size_t expected_lines) {
  auto a = decode<fb::InvoiceFactsAnswerT>(bytes);
  if (!a) return Status{Code::internal, "not an invoice facts answer"};
  if (a->lines.size() != expected_lines)
    return Status{Code::internal, "invoice facts answer holds " + std::to_string(a->lines.size()) + " lines, not " +
                                      std::to_string(expected_lines)};
  std::vector<LineFacts> out;
  out.reserve(a->lines.size());
  for (auto& l : a->lines) {
    LineFacts f;
    if (!l) return Status{Code::internal, "invoice facts answer has an empty line"};
    if (l->match < 0 || l->match > static_cast<int8_t>(LineMatch::tracking_number))
      return Status{Code::internal, "invoice facts answer has an unknown match kind"};
    f.match = static_cast<LineMatch>(l->match);
    f.unmatched_reason = std::move(l->unmatched_reason);
    f.ambiguous_reference = l->ambiguous;
    f.ship_day = l->ship_day;
    f.shipped_before = l->shipped_before;
    if (f.match != LineMatch::none) {
      if (!l->shipment) return Status{Code::internal, "invoice facts answer matched a line without its shipment"};
      f.shipment = std::move(*l->shipment);
    }
    for (auto& m : l->milestones)
      if (m) f.milestones.push_back(std::move(*m));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace waybill::actors
