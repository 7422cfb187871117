// Flat-file side of the API: source profiles, the drop-folder watcher, nightly exports,
// and their two routes (source-shaped JSON orders, on-demand exports).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api_call.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

Status Api::start_files() {
  auto profiles = load_source_profiles(options_.intake.sources_dir);
  if (!profiles)
    return {Code::invalid_argument, profiles.status().message(),
            options_.intake.sources_dir + "/" + profiles.status().field()};
  sources_ = std::move(*profiles);
  for (auto& p : sources_)
    log::Logger("intake").info("source profile loaded",
                               {{"source", p.source}, {"fields", p.fields.size()}, {"json", p.has_json}});
  drop_ = std::make_unique<DropFolder>(engine_, sources_, options_.intake, options_.limits, file_stats_);
  if (auto st = drop_->start(); !st.ok()) return st;
  exporter_ = std::make_unique<DailyExporter>(engine_.store(), engine_.writer(), options_.exports, file_stats_);
  if (auto st = exporter_->start(); !st.ok()) return st;
  metrics_.attach_files(&file_stats_);
  invoice_folder_ = std::make_unique<InvoiceFolder>(engine_, options_.invoices);
  if (auto st = invoice_folder_->start(); !st.ok()) return st;
  return {};
}

void Api::stop() {
  if (drop_) drop_->stop();
  if (exporter_) exporter_->stop();
  if (invoice_folder_) invoice_folder_->stop();
  // The webhook dispatcher and the event feed read the store on threads of their own:
  // they stop before the engine closes it (a dispatcher scan of a closed store crashed
  // waybilld while draining).
  engine_.set_commit_listener(nullptr);
  webhooks_.stop();
  webhook_client_.stop();
  feed_.stop();
}

std::optional<std::string> Api::source_order_id(const std::string& source, const std::string& body) const {
  for (auto& p : sources_) {
    if (p.source != source) continue;
    auto cmd = map_json_order(p, body, options_.limits);
    if (!cmd) return std::nullopt;
    return cmd->order.order_id;
  }
  return std::nullopt;
}

// A source-shaped JSON order, mapped by the source's profile, then exactly the path of
// POST /v1/orders (idempotency, order actor, durable before the answer).
void Api::source_order(const CallPtr& call, const std::string& source) {
  const SourceProfile* profile = nullptr;
  for (auto& p : sources_)
    if (p.source == source) profile = &p;
  if (!profile) return call->fail({Code::not_found, "no source profile named '" + source + "'"});
  auto cmd = map_json_order(*profile, call->req.body, options_.limits);
  if (!cmd) return call->fail(cmd.status());
  if (!begin_idempotent(call)) return;
  auto req = std::make_shared<actors::OrderRequest>();
  std::string id = cmd->order.order_id;
  req->command = std::move(*cmd);
  req->idempotency = call->claim;
  req->success_status = 201;
  req->reply = [call](actors::Reply r) { call->finish(r); };
  req->correlation_id = call->correlation_id;
  auto st = engine_.orders().send(id, caf::make_message(std::move(req)));
  if (!st.ok()) call->fail(st);
}

// POST /v1/exports?date=YYYY-MM-DD (default: yesterday, UTC): writes that day's files
// now, whatever the schedule; answers once they are in place.
void Api::run_export(const CallPtr& call) {
  auto date = query_param(call->req.target, "date").value_or(format_rfc3339(now_us() - 86400LL * 1000000).substr(0, 10));
  if (!parse_day(date)) return call->fail({Code::invalid_argument, "must be a date YYYY-MM-DD", "date"});
  if (!exporter_) return call->fail({Code::unavailable, "exports are not running"});
  exporter_->run_async(date, [call](Result<ExportResult> r) {
    if (!r) return call->fail(r.status());
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("date");
    w.String(r->date.c_str());
    w.Key("shipments");
    w.Uint64(r->shipments);
    w.Key("accruals");
    w.Uint64(r->accruals);
    w.Key("files");
    w.StartArray();
    w.String(r->shipments_path.c_str());
    w.String(r->accruals_path.c_str());
    w.EndArray();
    w.EndObject();
    call->finish(HttpResponse{200, "application/json", sb.GetString(), {}});
  });
}

}  // namespace waybill::runtime
