// Carrier response mapping with the shipped profiles of configs/carriers/: extended
// JSON pointers ("*" for every array element), every kind of answer (rate, book,
// lookup, void, pickup, track, rejection) and the request templates.
//
// Input: a carrier answer (JSON). When it starts with '/', its first line is a pointer
// of our own and the rest is the answer. The input also fills the canonical values the
// request templates render.
// Checks: extract_first is the head of extract_all; extract_all has one value per
// non-null match and matches are bounded; every raw match is JSON that minifies to
// itself; "p/*" matches the elements of the array at p; a mapped booking has its
// shipment id and tracking numbers; quotes have a service; a rendered request is valid
// JSON whenever the canonical values are valid UTF-8.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include "fuzz_support.hpp"
#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/carrier_profile.hpp"

namespace {

using namespace waybill;
using namespace waybill::actors;

std::vector<CarrierProfile>* profiles;
std::vector<std::string>* pointers;  // every response pointer of the profiles, plus generic ones

bool is_json(std::string_view text) {
  simdjson::dom::parser parser;
  return parser.parse(text.data(), text.size()).error() == simdjson::SUCCESS;
}

void check_pointer(std::string_view json, const std::string& pointer) {
  auto all = extract_all(json, pointer);
  auto raw = extract_raw(json, pointer);
  FUZZ_CHECK(all.ok() == raw.ok(), pointer);
  if (!all) {
    FUZZ_CHECK(!extract_first(json, pointer), "a value from malformed JSON");
    return;
  }
  FUZZ_CHECK(raw->size() <= 1000, "unbounded matches: " + std::to_string(raw->size()));
  size_t nulls = 0;
  for (auto& r : *raw) {
    nulls += r == "null";
    FUZZ_CHECK(is_json(r), "raw match is not JSON: " + r);
    auto again = extract_raw(r, "");
    FUZZ_CHECK(again.ok() && again->size() == 1 && again->front() == r, "minified JSON changes when minified");
  }
  FUZZ_CHECK(all->size() + nulls == raw->size(), pointer + ": values and raw matches disagree");
  auto first = extract_first(json, pointer);
  FUZZ_CHECK(first.has_value() == !all->empty(), pointer);
  if (first) FUZZ_CHECK(*first == all->front(), pointer);
  // "*" below an array is each of its elements.
  if (raw->size() == 1 && !raw->front().empty() && raw->front()[0] == '[') {
    auto items = extract_raw(json, pointer + "/*");
    auto inner = extract_raw(raw->front(), "/*");
    FUZZ_CHECK(items.ok() && inner.ok() && *items == *inner, pointer + "/*");
  }
}

void check_answers(const CarrierProfile& p, const std::string& body) {
  for (auto kind : {CallKind::rate, CallKind::book, CallKind::lookup, CallKind::void_label, CallKind::pickup,
                    CallKind::track}) {
    CallResult out;
    auto st = parse_answer(p, kind, body, &out);
    if (!st.ok()) {
      FUZZ_CHECK(st.code() == Code::invalid_argument, st.message());
      continue;
    }
    for (auto& q : out.quotes) FUZZ_CHECK(!q.service.empty(), "quote without service");
    if (kind == CallKind::book) {
      FUZZ_CHECK(!out.booking.tracking_numbers.empty(), "booking without tracking numbers");
      FUZZ_CHECK(out.booking.carrier_shipment_id == extract_first(body, p.book_response.carrier_shipment_id),
                 "booking id");
    }
    for (auto& b : out.found) FUZZ_CHECK(!b.tracking_numbers.empty(), "lookup match without tracking numbers");
  }
  CallResult rejection;
  parse_rejection(p, body, &rejection);
  FUZZ_CHECK(!rejection.reason.empty(), "rejection without reason");
}

bool valid_utf8(const std::string& s) { return simdjson::validate_utf8(s.data(), s.size()); }

void check_templates(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  BookingInput b;
  std::vector<std::string*> texts = {&b.reference, &b.service, &b.carrier_shipment_id, &b.tracking_number};
  for (auto* party : {&b.ship_to, &b.ship_from})
    for (auto* s : {&party->name, &party->company, &party->street, &party->street2, &party->city, &party->state,
                    &party->postal_code, &party->country, &party->phone, &party->email})
      texts.push_back(s);
  for (auto* s : texts) *s = in.ConsumeRandomLengthString(64);
  size_t packages = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < packages; ++i) {
    fb::PackageT pkg;
    pkg.weight_g = in.ConsumeIntegral<int64_t>();
    pkg.length_mm = in.ConsumeIntegral<int64_t>();
    pkg.hazmat = in.ConsumeBool();
    b.packages.push_back(std::move(pkg));
  }
  bool utf8 = true;
  for (auto* s : texts) utf8 = utf8 && valid_utf8(*s);
  auto source = mapping_source(b);
  for (auto& p : *profiles) {
    for (auto* e : {&p.rate, &p.book, &p.lookup, &p.void_label, &p.pickup}) {
      auto body = e->body.render(source);
      if (!body) {
        FUZZ_CHECK(!body.status().field().empty(), "render error names no path");
        continue;
      }
      if (utf8 && !e->body.empty()) FUZZ_CHECK(is_json(*body), p.name + " rendered invalid JSON: " + *body);
      auto path = expand_path(e->path, {{"reference", b.reference}, {"carrier_shipment_id", b.carrier_shipment_id}});
      for (char c : path) FUZZ_CHECK(c > 0x20 && c < 0x7f, "unencoded byte in path " + path);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  profiles = new std::vector<CarrierProfile>;
  pointers = new std::vector<std::string>{"", "/", "/*", "/*/*", "/0", "/*/0"};
  for (const char* file : {"configs/carriers/parcelco.yaml", "configs/carriers/freightly.yaml"}) {
    auto p = parse_carrier_profile(waybill::fuzz::read_tree_file(file), file);
    FUZZ_CHECK(p.ok(), std::string(file) + ": " + p.status().message());
    auto& r = p->rate_response;
    auto& b = p->book_response;
    auto& t = p->tracking_poll.response;
    for (auto* s : {&r.quotes, &r.service, &r.total_minor, &b.carrier_shipment_id, &b.tracking_numbers, &b.labels,
                    &b.total_minor, &p->lookup_shipments, &p->errors.code, &p->webhook.tracking_number,
                    &p->webhook.code, &t.events, &t.code, &t.city})
      if (!s->empty()) pointers->push_back(*s);
    profiles->push_back(std::move(*p));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;
  std::string_view input = waybill::fuzz::as_text(data, size);
  std::string body(input);
  if (!input.empty() && input[0] == '/') {
    size_t eol = input.find('\n');
    std::string pointer(input.substr(0, std::min<size_t>(eol, 256)));
    body = eol == std::string_view::npos ? "" : std::string(input.substr(eol + 1));
    check_pointer(body, pointer);
  }
  for (auto& pointer : *pointers) check_pointer(body, pointer);
  for (auto& p : *profiles) check_answers(p, body);
  check_templates(data, size);
  return 0;
}
