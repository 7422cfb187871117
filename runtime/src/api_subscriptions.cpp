// Webhook subscription routes.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api_call.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/actors/render.hpp"

namespace waybill::runtime {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_subscription(Writer& w, const fb::SubscriptionT& s, uint64_t cursor, bool with_secrets) {
  w.StartObject();
  w.Key("id"); w.String(s.id.c_str());
  w.Key("url"); w.String(s.url.c_str());
  w.Key("event_types");
  w.StartArray();
  for (auto& t : s.event_types) w.String(t.c_str());
  w.EndArray();
  if (with_secrets) {
    w.Key("secrets");
    w.StartArray();
    for (auto& t : s.secrets) w.String(t.c_str());
    w.EndArray();
  }
  w.Key("disabled"); w.Bool(s.disabled);
  w.Key("delivered_position"); w.Uint64(cursor);
  w.Key("created_at"); w.String(format_rfc3339(s.created_us).c_str());
  w.EndObject();
}

}  // namespace

void Api::subscriptions(const CallPtr& call, const std::vector<std::string>& parts) {
  const auto& m = call->req.method;
  auto ok_json = [&](int status, std::string body) { call->finish(HttpResponse{status, "application/json", std::move(body), {}}); };
  auto not_allowed = [&] {
    call->finish(HttpResponse{405, "application/problem+json",
                              actors::render_problem(405, {Code::invalid_argument, "method " + m + " not allowed here"}), {}});
  };
  if (parts.size() == 2) {
    call->route = "/v1/subscriptions";
    if (m == "POST") {
      auto sub = parse_subscription(call->req.body, options_.limits);
      if (!sub) return call->fail(sub.status());
      auto created = webhooks_.create(std::move(*sub));
      if (!created) return call->fail(created.status());
      rapidjson::StringBuffer sb;
      Writer w(sb);
      uint64_t cursor = 0;
      for (auto& [sub, c] : webhooks_.list())
        if (sub.id == created->id) cursor = c;
      write_subscription(w, *created, cursor, true);  // secrets are shown once, at creation
      return ok_json(201, sb.GetString());
    }
    if (m != "GET") return not_allowed();
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("subscriptions");
    w.StartArray();
    for (auto& [s, cursor] : webhooks_.list()) write_subscription(w, s, cursor, false);
    w.EndArray();
    w.EndObject();
    return ok_json(200, sb.GetString());
  }
  const std::string& id = parts[2];
  if (parts.size() == 3) {
    call->route = "/v1/subscriptions/{id}";
    if (m != "DELETE") return not_allowed();
    auto st = webhooks_.remove(id);
    return st.ok() ? call->finish(HttpResponse{204, "application/json", "", {}}) : call->fail(st);
  }
  if (parts.size() == 4 && (parts[3] == "disable" || parts[3] == "enable")) {
    call->route = "/v1/subscriptions/{id}/" + parts[3];
    if (m != "POST") return not_allowed();
    auto st = webhooks_.set_disabled(id, parts[3] == "disable");
    return st.ok() ? ok_json(200, R"({"id":")" + id + R"(","disabled":)" + (parts[3] == "disable" ? "true" : "false") + "}")
                   : call->fail(st);
  }
  if (parts.size() >= 4 && parts[3] == "dead-letters") {
    if (parts.size() == 5 && parts[4] == "replay") {
      call->route = "/v1/subscriptions/{id}/dead-letters/replay";
      if (m != "POST") return not_allowed();
      auto n = webhooks_.replay_dead_letters(id);
      if (!n) return call->fail(n.status());
      return ok_json(202, R"({"replaying":)" + std::to_string(*n) + "}");
    }
    call->route = "/v1/subscriptions/{id}/dead-letters";
    if (m != "GET") return not_allowed();
    auto letters = webhooks_.dead_letters(id, 1000);
    if (!letters) return call->fail(letters.status());
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("dead_letters");
    w.StartArray();
    for (auto& dl : *letters) {
      w.StartObject();
      w.Key("position"); w.Uint64(dl.position);
      w.Key("attempts"); w.Uint(dl.attempts);
      w.Key("last_error"); w.String(dl.last_error.c_str());
      w.Key("first_failure_at"); w.String(format_rfc3339(dl.first_failure_us).c_str());
      w.Key("dead_at"); w.String(format_rfc3339(dl.dead_us).c_str());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return ok_json(200, sb.GetString());
  }
  call->route = "{unknown}";
  call->no_route("no such route: " + call->req.target.substr(0, call->req.target.find('?')));
}

}  // namespace waybill::runtime
