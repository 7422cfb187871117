// CSV reader (libcsv, strict RFC 4180) with the delimiters of the shipped profiles.
// Checks: records have fields and non-decreasing line numbers within the file; writing
// the records back with append_csv_row and reading them again gives the same fields;
// a callback returning false stops the reader at once.
#include <algorithm>

#include "fuzz_support.hpp"
#include "waybill/runtime/csv.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

size_t physical_lines(std::string_view s) {
  size_t n = 1;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n'))) ++n;
  return n;
}

std::vector<CsvRecord> read_all(std::string_view text, const CsvOptions& options, Status* st) {
  std::vector<CsvRecord> out;
  *st = read_csv(text, options, [&](CsvRecord& r) {
    out.push_back(r);
    return out.size() < 100000;
  });
  return out;
}

void check(std::string_view text, char delimiter) {
  CsvOptions options;
  options.delimiter = delimiter;
  Status st;
  auto records = read_all(text, options, &st);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::invalid_argument, st.message());
    FUZZ_CHECK(st.field().rfind("line ", 0) == 0, "error names no line: " + st.field());
    return;
  }
  size_t lines = physical_lines(text);
  size_t previous = 0;
  for (auto& r : records) {
    FUZZ_CHECK(!r.fields.empty(), "record without fields");
    FUZZ_CHECK(r.line >= 1 && r.line <= lines, "line " + std::to_string(r.line) + " of " + std::to_string(lines));
    FUZZ_CHECK(r.line > previous, "line numbers do not increase");
    previous = r.line;
  }

  // What the exports write, the reader reads back. A record that is one empty field
  // is written as a blank line, which the reader skips. A first field starting with a
  // byte order mark is written as one (the writer does not know it is at the start of
  // a file; exports start with a header), so such input is left out.
  if (!records.empty() && records[0].fields[0].rfind("\xEF\xBB\xBF", 0) == 0) return;
  std::string written;
  std::vector<std::vector<std::string>> expected;
  for (auto& r : records) {
    append_csv_row(&written, r.fields, delimiter);
    if (!(r.fields.size() == 1 && r.fields[0].empty())) expected.push_back(r.fields);
  }
  Status again_st;
  auto again = read_all(written, options, &again_st);
  FUZZ_CHECK(again_st.ok(), "written CSV does not read back: " + again_st.message());
  FUZZ_CHECK(again.size() == expected.size(), std::to_string(again.size()) + " records back from " +
                                                  std::to_string(expected.size()));
  for (size_t i = 0; i < again.size(); ++i)
    FUZZ_CHECK(again[i].fields == expected[i], "record " + std::to_string(i) + " changed by the round trip");

  // Stop after the first record: nothing more is delivered.
  if (!records.empty()) {
    size_t calls = 0;
    auto stop = read_csv(text, options, [&](CsvRecord&) { return ++calls < 1; });
    FUZZ_CHECK(stop.ok() && calls == 1, "stop request ignored");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (256 << 10)) return -1;
  std::string_view text = waybill::fuzz::as_text(data, size);
  check(text, ',');
  check(text, ';');
  return 0;
}
