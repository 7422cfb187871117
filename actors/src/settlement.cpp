// The settlement ledger actor (see settlement.hpp for why it is one serial actor).
#include "waybill/actors/settlement.hpp"

#include <deque>
#include <map>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "waybill/actors/render.hpp"
#include "waybill/actors/settlement_facts.hpp"

namespace waybill::actors {

namespace {

using storage::Column;

struct LedgerState {
  SettlementContext ctx;
  // Requests waiting while one is being committed; bounded by max_queued_requests.
  std::deque<std::shared_ptr<SettlementRequest>> waiting;
  bool busy = false;
  static inline const char* name = "settlement_ledger";
};
using Ledger = caf::stateful_actor<LedgerState>;

int64_t ledger_now(const SettlementContext& ctx) { return ctx.clock ? ctx.clock() : now_us(); }

// Totals touched by one request, read once from storage and written back together.
class TotalsBatch {
 public:
  explicit TotalsBatch(const storage::Store& store) : store_(store) {}
  fb::SettlementTotalsT& at(const std::string& key) {
    auto it = rows_.find(key);
    if (it != rows_.end()) return it->second;
    fb::SettlementTotalsT t;
    std::string value;
    if (store_.get(Column::settlement_totals, key, &value).ok())
      if (auto d = decode<fb::SettlementTotalsT>(value)) t = std::move(*d);
    t.lines_by_outcome.resize(kLineOutcomes, 0);
    return rows_.emplace(key, std::move(t)).first->second;
  }
  void write_to(storage::WriteRequest& req) {
    for (auto& [key, t] : rows_) req.ops.push_back({Column::settlement_totals, key, encode(t)});
  }

 private:
  const storage::Store& store_;
  std::map<std::string, fb::SettlementTotalsT> rows_;
};

// Applies a line's effect on the totals of its carrier and lane. `sign` +1 when the line
// arrives, and a dispute decision moves amounts from "open" to "posted".
void count_new_line(TotalsBatch& totals, const std::string& carrier, const std::string& currency,
                    const fb::InvoiceLineT& line) {
  for (const std::string& key : {keys::totals_by_carrier(carrier, currency),
                                 keys::totals_by_lane(carrier, line.lane.empty() ? "XX-XX" : line.lane, currency)}) {
    auto& t = totals.at(key);
    t.lines_by_outcome[static_cast<size_t>(line.outcome)] += 1;
    t.billed_minor += line.billed_minor;
    if (line.outcome == fb::LineOutcome::matched) {
      t.matched_minor += line.billed_minor;
      t.shipments += 1;
    } else {
      t.disputed_open_minor += line.disputed_minor;
      t.disputes_open += 1;
    }
  }
}

std::string freight_event(const std::string& type, const fb::InvoiceT& inv, const fb::InvoiceLineT& line,
                          int64_t amount_minor, int64_t now) {
  fb::EventT ev;
  ev.type = type;
  ev.kind = fb::EntityKind::invoice;
  ev.entity_id = invoice_id(inv.carrier, inv.invoice_number);
  ev.entity_seq = inv.version;
  ev.order_id = line.order_id;
  ev.time_us = now;
  ev.reason = line.reason;
  ev.freight = std::make_unique<fb::FreightPostingT>();
  ev.freight->invoice_id = ev.entity_id;
  ev.freight->carrier = inv.carrier;
  ev.freight->invoice_number = inv.invoice_number;
  ev.freight->currency = inv.currency;
  ev.freight->line = std::make_unique<fb::InvoiceLineT>(line);
  ev.freight->amount_minor = amount_minor;
  return encode(ev);
}

void add_event(storage::WriteRequest& req, fb::InvoiceT& inv, const std::string& type, const fb::InvoiceLineT& line,
               int64_t amount_minor, int64_t now) {
  ++inv.version;
  req.events.push_back(freight_event(type, inv, line, amount_minor, now));
  req.event_index_keys.push_back(line.order_id);  // the order's trace shows its freight lines
}

fb::FreightPostingT dispute_entry(const fb::InvoiceT& inv, const fb::InvoiceLineT& line) {
  fb::FreightPostingT p;
  p.invoice_id = invoice_id(inv.carrier, inv.invoice_number);
  p.carrier = inv.carrier;
  p.invoice_number = inv.invoice_number;
  p.currency = inv.currency;
  p.line = std::make_unique<fb::InvoiceLineT>(line);
  p.amount_minor = line.disputed_minor;
  return p;
}

void finish(Ledger* self);

// Submits `req`; the reply runs in the actor once the batch committed, then the next
// waiting request starts.
void commit_and_reply(Ledger* self, std::unique_ptr<storage::WriteRequest> req, ReplyFn reply, Reply success) {
  auto& st = self->state;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto answer = std::make_shared<Reply>(std::move(success));
  auto reply_fn = std::make_shared<ReplyFn>(std::move(reply));
  SettlementStats* stats = st.ctx.stats;
  req->on_commit = [me, answer, reply_fn, stats](const Status& s, uint64_t) {
    caf::anon_send(me, std::make_shared<std::function<void()>>([=] {
      if (!s.ok()) {
        if (stats) stats->write_failures++;
        (*reply_fn)(problem_reply({Code::unavailable, "settlement not stored: " + s.message()}));
      } else {
        (*reply_fn)(*answer);
      }
    }));
  };
  auto submitted = st.ctx.writer->submit(std::move(req));
  if (!submitted.ok()) {
    (*reply_fn)(problem_reply({Code::unavailable, "storage writer: " + submitted.message()}));
    return finish(self);
  }
  st.busy = true;
}

void submit_invoice(Ledger* self, SubmitInvoice& cmd, ReplyFn reply) {
  auto& ctx = self->state.ctx;
  auto& in = cmd.invoice;
  auto& in_facts = cmd.facts;
  if (in_facts && in_facts->size() != in.lines.size())
    return reply(problem_reply({Code::internal, "invoice facts do not cover every line"}));
  const std::string key = keys::invoice(in.carrier, in.invoice_number);
  const uint64_t hash = invoice_hash(in);
  std::string stored;
  auto got = ctx.store->get(Column::invoices, key, &stored);
  if (got.ok()) {
    auto inv = decode<fb::InvoiceT>(stored);
    if (!inv) return reply(problem_reply({Code::internal, "stored invoice is corrupt"}));
    if (inv->request_hash != hash)
      return reply(problem_reply({Code::conflict,
                                  "invoice " + in.invoice_number + " of " + in.carrier +
                                      " was received before with other content",
                                  "invoice_number"}));
    if (ctx.stats) ctx.stats->invoices_replayed++;
    return reply(Reply{200, render_invoice(*inv, true), false});
  }
  if (got.code() != Code::not_found) return reply(problem_reply(got));

  const int64_t now = ledger_now(ctx);
  fb::InvoiceT inv;
  inv.carrier = in.carrier;
  inv.invoice_number = in.invoice_number;
  inv.invoice_date_us = in.invoice_date_us;
  inv.currency = in.currency;
  inv.received_us = now;
  inv.request_hash = hash;
  inv.source = in.source;
  auto req = std::make_unique<storage::WriteRequest>();
  TotalsBatch totals(*ctx.store);
  std::map<std::string, std::string> billed_here;  // shipment -> line of this invoice
  const std::string id = invoice_id(in.carrier, in.invoice_number);
  for (size_t i = 0; i < in.lines.size(); ++i) {
    const auto& line_in = in.lines[i];
    const auto line_no = static_cast<uint32_t>(i + 1);
    std::string duplicate_of;
    LineFacts found;
    if (in_facts) {
      found = std::move((*in_facts)[i]);
    } else {
      auto local = find_line_facts(*ctx.store, in.carrier, in.invoice_date_us, line_in, ctx.tracking,
                                   ctx.options->max_evidence_milestones);
      if (!local) return reply(problem_reply(local.status()));
      found = std::move(*local);
    }
    auto& shipment = found.shipment;
    auto& milestones = found.milestones;
    const std::string matched_by = found.matched_by();
    const std::string& unmatched_reason = found.unmatched_reason;
    if (shipment) {
      const std::string& sid = shipment->shipment_id;
      if (auto it = billed_here.find(sid); it != billed_here.end()) {
        duplicate_of = it->second;
      } else {
        std::string first;
        auto billed = ctx.store->get(Column::billings, sid, &first);
        if (billed.ok()) duplicate_of = first;
        else if (billed.code() != Code::not_found) return reply(problem_reply(billed));
      }
    }
    ShipmentFacts facts{shipment ? &*shipment : nullptr, &milestones};
    auto line = evaluate_line(line_in, line_no, in.carrier, in.currency, shipment ? &facts : nullptr,
                              unmatched_reason, duplicate_of, *ctx.options);
    line.matched_by = shipment ? matched_by : "";
    if (shipment && duplicate_of.empty()) {
      std::string at = id + "#" + std::to_string(line_no);
      billed_here.emplace(shipment->shipment_id, at);
      req->ops.push_back({Column::billings, shipment->shipment_id, at});
    }
    count_new_line(totals, in.carrier, in.currency, line);
    if (line.outcome == fb::LineOutcome::matched) {
      add_event(*req, inv, "freight.matched", line, line.billed_minor, now);
    } else {
      add_event(*req, inv, "freight.disputed", line, line.disputed_minor, now);
      req->ops.push_back({Column::disputes, keys::dispute(in.carrier, in.invoice_number, line_no),
                          encode(dispute_entry(inv, line))});
    }
    inv.lines.push_back(std::make_unique<fb::InvoiceLineT>(std::move(line)));
  }
  totals.write_to(*req);
  req->ops.push_back({Column::invoices, key, encode(inv)});
  if (ctx.stats) {
    ctx.stats->invoices_processed++;
    ctx.stats->lines_processed += in.lines.size();
  }
  commit_and_reply(self, std::move(req), std::move(reply), Reply{201, render_invoice(inv, false), false});
}

void decide_dispute(Ledger* self, DisputeAction& cmd, ReplyFn reply) {
  auto& ctx = self->state.ctx;
  const std::string key = keys::invoice(cmd.carrier, cmd.invoice_number);
  const std::string did = dispute_id(cmd.carrier, cmd.invoice_number, cmd.line_no);
  std::string stored;
  auto got = ctx.store->get(Column::invoices, key, &stored);
  if (got.code() == Code::not_found) return reply(problem_reply({Code::not_found, "no dispute " + did}));
  if (!got.ok()) return reply(problem_reply(got));
  auto inv = decode<fb::InvoiceT>(stored);
  if (!inv) return reply(problem_reply({Code::internal, "stored invoice is corrupt"}));
  if (cmd.line_no == 0 || cmd.line_no > inv->lines.size() || !inv->lines[cmd.line_no - 1] ||
      inv->lines[cmd.line_no - 1]->dispute == fb::DisputeState::none)
    return reply(problem_reply({Code::not_found, "no dispute " + did}));
  auto& line = *inv->lines[cmd.line_no - 1];
  const fb::DisputeState target = cmd.action == "accept"   ? fb::DisputeState::accepted
                                  : cmd.action == "reject" ? fb::DisputeState::rejected
                                                           : fb::DisputeState::resolved;
  const int64_t pay = cmd.action == "accept" ? line.billed_minor : cmd.action == "reject" ? 0 : cmd.amount_minor;
  if (line.dispute != fb::DisputeState::open) {
    // The same decision again (a retried request) is answered as it was; another one is
    // a conflict: a decision, once posted to the ERP, is not silently changed.
    if (line.dispute == target && line.resolved_minor == pay) {
      return reply(Reply{200, render_invoice(*inv, true), false});
    }
    return reply(problem_reply({Code::conflict, "dispute " + did + " was already " + name(line.dispute), "action"}));
  }
  const int64_t now = ledger_now(ctx);
  line.dispute = target;
  line.resolved_minor = pay;
  line.resolution_note = cmd.note;
  line.resolved_us = now;
  line.resolved_by = cmd.actor;
  auto req = std::make_unique<storage::WriteRequest>();
  TotalsBatch totals(*ctx.store);
  for (const std::string& k : {keys::totals_by_carrier(inv->carrier, inv->currency),
                               keys::totals_by_lane(inv->carrier, line.lane.empty() ? "XX-XX" : line.lane, inv->currency)}) {
    auto& t = totals.at(k);
    t.disputed_open_minor -= line.disputed_minor;
    t.disputes_open -= 1;
    if (target != fb::DisputeState::rejected) {
      t.matched_minor += pay;
      // A shipment counts once in cost per shipment: a duplicate adds cost, not shipments.
      if (!line.shipment_id.empty() && line.outcome != fb::LineOutcome::duplicate) t.shipments += 1;
    }
  }
  totals.write_to(*req);
  add_event(*req, *inv, std::string("freight.dispute_") + name(target), line, pay, now);
  if (target != fb::DisputeState::rejected) add_event(*req, *inv, "freight.matched", line, pay, now);
  req->ops.push_back({Column::disputes, keys::dispute(cmd.carrier, cmd.invoice_number, cmd.line_no),
                      encode(dispute_entry(*inv, line))});
  req->ops.push_back({Column::invoices, key, encode(*inv)});
  if (ctx.stats) ctx.stats->dispute_actions++;
  commit_and_reply(self, std::move(req), std::move(reply), Reply{200, render_invoice(*inv, false), false});
}

void start(Ledger* self, std::shared_ptr<SettlementRequest> r) {
  auto& st = self->state;
  if (st.ctx.stats) st.ctx.stats->queued = static_cast<int64_t>(st.waiting.size());
  if (auto* inv = std::get_if<SubmitInvoice>(&r->command)) submit_invoice(self, *inv, std::move(r->reply));
  else decide_dispute(self, std::get<DisputeAction>(r->command), std::move(r->reply));
}

// Called when the request in progress is answered (or never reached the writer).
void finish(Ledger* self) {
  auto& st = self->state;
  st.busy = false;
  // Bounded by waiting.size(): a request that fails before submitting recurses here.
  while (!st.busy && !st.waiting.empty()) {
    auto next = std::move(st.waiting.front());
    st.waiting.pop_front();
    start(self, std::move(next));
  }
  if (st.ctx.stats) st.ctx.stats->queued = static_cast<int64_t>(st.waiting.size());
}

caf::behavior ledger(Ledger* self, SettlementContext ctx) {
  self->state.ctx = ctx;
  return {
      [=](std::shared_ptr<SettlementRequest>& r) {
        auto& st = self->state;
        if (!st.busy) return start(self, std::move(r));
        if (st.waiting.size() >= st.ctx.options->max_queued_requests)
          return r->reply(problem_reply({Code::unavailable, "settlement ledger is busy; retry later"}));
        st.waiting.push_back(std::move(r));
        if (st.ctx.stats) st.ctx.stats->queued = static_cast<int64_t>(st.waiting.size());
      },
      [=](std::shared_ptr<std::function<void()>>& committed) {
        (*committed)();
        finish(self);
      },
  };
}

}  // namespace

caf::actor spawn_settlement_ledger(caf::actor_system& system, const SettlementContext& ctx) {
  // Detached: reconciling a large invoice reads storage for every line (synchronous
  // RocksDB reads, up to 10000 lines), which must not hold a scheduler worker that the
  // order and shipment actors share.
  return system.spawn<caf::detached>(ledger, ctx);
}

}  // namespace waybill::actors
