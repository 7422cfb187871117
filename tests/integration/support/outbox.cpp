#include "outbox.hpp"

#include <gtest/gtest.h>

#include "json.hpp"

namespace waybill::itest {

std::vector<FeedEvent> read_feed(HttpClient& c, const std::string& order_id) {
  std::vector<FeedEvent> out;
  uint64_t after = 0;
  for (int page = 0; page < 10000; ++page) {
    std::string target = "/v1/events?limit=1000&after=" + std::to_string(after);
    if (!order_id.empty()) target += "&order_id=" + order_id;
    auto res = c.get(target);
    if (res.status != 200) {
      ADD_FAILURE() << "GET " << target << ": " << res.describe();
      return out;
    }
    auto j = Json::parse(res.body);
    auto events = j.items("/events");
    for (auto& e : events) {
      FeedEvent f;
      f.id = e.str_or_empty("/id");
      f.position = static_cast<uint64_t>(e.int64("/position").value_or(0));
      f.entityseq = static_cast<uint64_t>(e.int64("/entityseq").value_or(0));
      f.type = e.str_or_empty("/type");
      f.subject = e.str_or_empty("/subject");
      f.orderid = e.str_or_empty("/orderid");
      f.status = e.str_or_empty("/data/status");
      out.push_back(std::move(f));
    }
    if (events.empty()) break;
    after = static_cast<uint64_t>(j.int64("/next_after").value_or(0));
  }
  return out;
}

}  // namespace waybill::itest
