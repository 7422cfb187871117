// PATCH /v1/orders/{id}: a source system changes the order fields it owns.
#include <algorithm>

#include <caf/message.hpp>

#include "api_call.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/ownership.hpp"

namespace waybill::runtime {

std::vector<OwnershipViolation> ownership_violations(const OwnershipOptions& o, const std::string& source,
                                                     const std::vector<std::string>& fields) {
  std::vector<OwnershipViolation> out;
  for (auto& f : fields) {
    auto fixed = fixed_owners().find(f);
    auto owner = fixed != fixed_owners().end() ? fixed->second : o.owners.count(f) ? o.owners.at(f) : "";
    if (owner != source) out.push_back({f, owner.empty() ? "nobody" : owner});
  }
  return out;
}

void Api::update_order(const CallPtr& call, const std::string& order_id) {
  if (auto st = validate_id(order_id, "order_id"); !st.ok()) return call->fail(st);
  std::string source(call->req.header("x-source-system"));
  auto& sources = options_.ownership.sources;
  if (source.empty()) return call->fail({Code::invalid_argument, "is required on order updates", "X-Source-System"});
  if (std::find(sources.begin(), sources.end(), source) == sources.end())
    return call->fail({Code::invalid_argument, "unknown source system '" + source + "'", "X-Source-System"});
  auto cmd = parse_update_order(call->req.body, options_.limits);
  if (!cmd) return call->fail(cmd.status());
  std::string ignored;
  auto exists = engine_.store().get(storage::Column::orders, order_id, &ignored);
  if (!exists.ok()) {
    if (exists.code() == Code::not_found) return call->fail({Code::not_found, "order '" + order_id + "' not found"});
    return call->fail(exists);
  }
  auto violations = ownership_violations(options_.ownership, source, cmd->fields);
  auto req = std::make_shared<actors::OrderRequest>();
  req->correlation_id = call->correlation_id;
  if (violations.empty()) {
    // Only accepted updates are idempotent by key; every refused attempt is recorded.
    if (!begin_idempotent(call)) return;
    req->idempotency = call->claim;
    cmd->source = source;
    req->command = std::move(*cmd);
    req->reply = [call](actors::Reply r) { call->finish(r); };
  } else {
    // Refused, and the refusal is recorded (order.update_rejected) before the answer.
    actors::RecordOwnershipViolation record;
    record.source = source;
    for (auto& v : violations) record.fields.emplace_back(v.field, v.owner);
    for (auto& v : violations) metrics_.count_ownership_violation(source, v.field);
    auto& first = violations.front();
    Status refusal{Code::forbidden,
                   "'" + source + "' may not change " + first.field + ": it is owned by " + first.owner +
                       (violations.size() > 1 ? " (and " + std::to_string(violations.size() - 1) + " more field(s))" : ""),
                   first.field};
    req->command = std::move(record);
    auto reply = [call](actors::Reply r) { call->finish(r); };
    req->reply = [reply, refusal](actors::Reply r) {
      reply(r.status < 300 ? actors::problem_reply(refusal) : std::move(r));
    };
  }
  auto st = engine_.orders().send(order_id, caf::make_message(std::move(req)));
  if (!st.ok()) call->fail(st);
}

}  // namespace waybill::runtime
