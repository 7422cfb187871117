// Freight settlement routes: invoice intake, invoices, the dispute queue and the figures.
#include <algorithm>

#include <caf/send.hpp>

#include "api_call.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/invoice_intake.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

void send_to_ledger(Engine& engine, const Api::CallPtr& call, actors::SettlementRequest request) {
  auto r = std::make_shared<actors::SettlementRequest>(std::move(request));
  r->reply = [call](actors::Reply reply) { call->finish(reply); };
  auto ledger = engine.settlement();
  if (!ledger) return call->fail({Code::unavailable, "shutting down"});
  caf::anon_send(ledger, std::move(r));
}

Result<size_t> limit_param(const std::string& target) {
  auto l = query_param(target, "limit");
  if (!l) return size_t{100};
  size_t n = 0;
  for (char c : *l) {
    if (c < '0' || c > '9' || n > 100000) return Status{Code::invalid_argument, "must be a number 1..1000", "limit"};
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  if (n < 1 || n > 1000) return Status{Code::invalid_argument, "must be a number 1..1000", "limit"};
  return n;
}

}  // namespace

Result<actors::InvoiceInput> Api::parse_invoice_request(const HttpRequest& req) const {
  const auto& options = engine_.settlement_options();
  if (req.content_type == "text/csv") {
    auto parsed = parse_invoice_csv(req.body, options, options.max_lines_per_invoice);
    if (!parsed) return parsed.status();
    if (parsed->size() != 1)
      return Status{Code::invalid_argument,
                    "holds " + std::to_string(parsed->size()) +
                        " invoices; post one invoice per request (the invoice drop folder takes several)",
                    "invoice_number"};
    if (!parsed->front().status.ok()) return parsed->front().status;
    return std::move(parsed->front().invoice);
  }
  // Anything but CSV is read as JSON, as on every other route (curl -d sends a form
  // content type); the parser names what is wrong with the body.
  return parse_invoice_json(req.body, options_.limits, options);
}

std::optional<std::string> Api::invoice_carrier(const HttpRequest& request) const {
  auto invoice = parse_invoice_request(request);
  if (!invoice) return std::nullopt;
  return std::move(invoice->carrier);
}

void Api::submit_invoice(const CallPtr& call) {
  auto invoice = parse_invoice_request(call->req);
  if (!invoice) return call->fail(invoice.status());
  invoice->source = "api";
  if (!invoice_facts_source_) {
    return send_to_ledger(engine_, call, actors::SettlementRequest{actors::SubmitInvoice{std::move(*invoice), {}}, {}});
  }
  // In a cluster the billed shipments may live on any member. A resend of a stored
  // invoice is answered from storage by the ledger and needs no facts (nor every node up).
  std::string stored;
  auto got = engine_.store().get(storage::Column::invoices, actors::keys::invoice(invoice->carrier, invoice->invoice_number),
                                 &stored);
  if (got.ok()) {
    return send_to_ledger(engine_, call, actors::SettlementRequest{actors::SubmitInvoice{std::move(*invoice), {}}, {}});
  }
  if (got.code() != Code::not_found) return call->fail(got);
  auto shared = std::make_shared<actors::InvoiceInput>(std::move(*invoice));
  invoice_facts_source_(*shared, call->req, [this, call, shared](Result<std::vector<actors::LineFacts>> facts) {
    if (!facts) return call->fail(facts.status());
    send_to_ledger(engine_, call,
                   actors::SettlementRequest{actors::SubmitInvoice{std::move(*shared), std::move(*facts)}, {}});
  });
}

void Api::invoice_facts(const CallPtr& call) {
  auto query = actors::decode_facts_query(call->req.body);
  if (!query) return call->fail(query.status());
  const auto& options = engine_.settlement_options();
  if (query->lines.size() > options.max_lines_per_invoice)
    return call->fail({Code::invalid_argument, "more lines than an invoice may hold", "lines"});
  std::vector<actors::LineFacts> lines;
  lines.reserve(query->lines.size());
  for (auto& line : query->lines) {
    auto facts = actors::find_line_facts(engine_.store(), query->carrier, query->invoice_date_us, line, options_.tracking,
                                         options.max_evidence_milestones);
    if (!facts) return call->fail(facts.status());
    lines.push_back(std::move(*facts));
  }
  // Binary, for the settling member only: never masked, since it is never shown.
  call->finish(HttpResponse{200, "application/x-flatbuffers", actors::encode_facts_answer(lines), {}});
}

void Api::get_invoice(const CallPtr& call, const std::string& id) {
  std::string carrier, number;
  if (auto st = actors::parse_invoice_id(id, &carrier, &number); !st.ok()) return call->fail(st);
  auto json = actors::read_invoice_json(engine_.store(), carrier, number);
  if (!json) return call->fail(json.status());
  call->finish(HttpResponse{200, "application/json", std::move(*json), {}});
}

void Api::list_disputes(const CallPtr& call) {
  const auto& t = call->req.target;
  actors::DisputeQuery q;
  if (auto s = query_param(t, "state")) {
    if (*s == "any") q.state.reset();
    else if (auto parsed = actors::parse_dispute_state(*s); parsed && *parsed != fb::DisputeState::none) q.state = parsed;
    else return call->fail({Code::invalid_argument, "must be open, accepted, rejected, resolved or any", "state"});
  }
  if (auto o = query_param(t, "outcome")) {
    q.outcome = actors::parse_line_outcome(*o);
    if (!q.outcome || *q.outcome == fb::LineOutcome::matched)
      return call->fail({Code::invalid_argument,
                         "must be overbilled, underbilled, unjustified_accessorial, duplicate or unmatched", "outcome"});
  }
  q.carrier = query_param(t, "carrier").value_or("");
  q.after = query_param(t, "after").value_or("");
  auto limit = limit_param(t);
  if (!limit) return call->fail(limit.status());
  q.limit = *limit;
  auto json = actors::list_disputes_json(engine_.store(), q);
  if (!json) return call->fail(json.status());
  call->finish(HttpResponse{200, "application/json", std::move(*json), {}});
}

void Api::decide_dispute(const CallPtr& call, const std::string& id, const std::string& action) {
  actors::DisputeAction cmd;
  if (auto st = actors::parse_dispute_id(id, &cmd.carrier, &cmd.invoice_number, &cmd.line_no); !st.ok())
    return call->fail(st);
  auto body = parse_dispute_decision(call->req.body, options_.limits, action == "resolve");
  if (!body) return call->fail(body.status());
  cmd.action = action;
  cmd.amount_minor = body->amount_minor;
  cmd.note = std::move(body->note);
  // Who decided: the authenticated partner, plus the person it names (X-Actor), so the
  // audit trail never rests on a header alone.
  std::string_view who = call->req.header("x-actor");
  cmd.actor = call->partner.empty() ? "operator" : call->partner;
  if (!who.empty()) cmd.actor += "/" + std::string(who.substr(0, 128));
  send_to_ledger(engine_, call, actors::SettlementRequest{std::move(cmd), {}});
}

void Api::settlement_summary(const CallPtr& call) {
  auto carrier = query_param(call->req.target, "carrier").value_or("");
  auto rows = actors::read_settlement_totals(engine_.store());
  call->finish(HttpResponse{200, "application/json", actors::render_settlement_summary(rows, carrier), {}});
}

}  // namespace waybill::runtime
