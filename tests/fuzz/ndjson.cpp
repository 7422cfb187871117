// NDJSON tracking bodies (POST /v1/tracking, application/x-ndjson): split_ndjson
// against an independent line splitter, then every line through parse_milestone as the
// API does. Checks: same lines and line numbers as the reference, views inside the
// body, the line bound, and a milestone line parses the same alone as within the body.
#include <vector>

#include "fuzz_support.hpp"
#include "waybill/runtime/intake.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

struct Line {
  std::string text;
  size_t number;
};

// The rule, written differently: cut at every LF, drop one trailing CR, keep lines
// that have a character other than space and tab.
std::vector<Line> reference_split(std::string_view body) {
  std::vector<Line> out;
  std::string current;
  size_t number = 1;
  auto flush = [&] {
    if (!current.empty() && current.back() == '\r') current.pop_back();
    bool blank = true;
    for (char c : current) blank = blank && (c == ' ' || c == '\t');
    if (!blank) out.push_back({current, number});
    current.clear();
  };
  for (char c : body) {
    if (c == '\n') {
      flush();
      ++number;
    } else {
      current += c;
    }
  }
  flush();
  return out;
}

void check_split(std::string_view body, size_t max_lines) {
  auto expected = reference_split(body);
  auto r = split_ndjson(body, max_lines);
  if (expected.empty()) {
    FUZZ_CHECK(!r.ok() && r.status().code() == Code::invalid_argument, "blank body accepted");
    return;
  }
  if (expected.size() > max_lines) {
    FUZZ_CHECK(!r.ok() && r.status().code() == Code::payload_too_large, "line bound not enforced");
    return;
  }
  FUZZ_CHECK(r.ok(), r.status().message());
  FUZZ_CHECK(r->lines.size() == expected.size() && r->numbers.size() == expected.size(), "line count");
  for (size_t i = 0; i < expected.size(); ++i) {
    FUZZ_CHECK(r->lines[i] == expected[i].text, "line " + std::to_string(i));
    FUZZ_CHECK(r->numbers[i] == expected[i].number, "number of line " + std::to_string(i));
    FUZZ_CHECK(r->lines[i].data() >= body.data() && r->lines[i].data() + r->lines[i].size() <= body.data() + body.size(),
               "view outside the body");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;
  std::string_view body = waybill::fuzz::as_text(data, size);
  check_split(body, 10000);
  check_split(body, 3);
  auto split = split_ndjson(body, 10000);
  if (!split) return 0;
  const IntakeLimits limits{};
  for (size_t i = 0; i < split->lines.size() && i < 64; ++i) {
    auto in = parse_milestone(split->lines[i], limits);
    if (!in) {
      // Every rejection names a field, except a top-level key "" named by its own name.
      bool empty_key = in.status().message() == "unknown field" || in.status().message() == "duplicate key";
      FUZZ_CHECK(in.status().code() == Code::invalid_argument && (!in.status().field().empty() || empty_key),
                 in.status().message());
      continue;
    }
    // A line is a whole document: the same bytes copied out parse to the same milestone.
    auto alone = parse_milestone(std::string(split->lines[i]), limits);
    FUZZ_CHECK(alone.ok() && encode(alone->command.milestone) == encode(in->command.milestone), "line depends on its neighbours");
  }
  return 0;
}
