#include "waybill/runtime/csv.hpp"

#include <csv.h>

namespace waybill::runtime {

namespace {

// Feeding libcsv in slices lets a stop request take effect without parsing the rest.
constexpr size_t kChunkBytes = 64 << 10;

struct ParseState {
  const std::function<bool(CsvRecord&)>* fn = nullptr;
  CsvRecord record;
  size_t line = 1;        // line the parser is on
  int last_terminator = 0;  // previous row terminator reported, to count CR LF once
  bool stopped = false;
};

size_t line_breaks(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') ++n;
    else if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) ++n;
  }
  return n;
}

void on_field(void* data, size_t len, void* user) {
  auto& st = *static_cast<ParseState*>(user);
  if (st.stopped) return;
  std::string_view value(data ? static_cast<const char*>(data) : "", data ? len : 0);
  if (st.record.fields.empty()) st.record.line = st.line;
  st.record.fields.emplace_back(value);
  st.line += line_breaks(value);
  st.last_terminator = 0;
}

void on_row(int terminator, void* user) {
  auto& st = *static_cast<ParseState*>(user);
  // With CSV_REPALL_NL every CR and LF outside a field is reported: CR LF is one line.
  bool crlf_tail = terminator == '\n' && st.last_terminator == '\r';
  if ((terminator == '\n' || terminator == '\r') && !crlf_tail) ++st.line;
  st.last_terminator = terminator;
  if (st.stopped || st.record.fields.empty()) return;
  if (!(*st.fn)(st.record)) st.stopped = true;
  st.record.fields.clear();
}

bool needs_quotes(std::string_view v, char delimiter) {
  if (v.empty()) return false;
  if (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t') return true;
  for (char c : v)
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') return true;
  return false;
}

}  // namespace

Status read_csv(std::string_view text, const CsvOptions& options, const std::function<bool(CsvRecord&)>& fn) {
  if (options.delimiter == options.quote || options.delimiter == '\n' || options.delimiter == '\r')
    return {Code::invalid_argument, "delimiter must differ from the quote and from line breaks", "csv.delimiter"};
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
    return {Code::internal, "cannot initialise the CSV parser"};
  csv_set_delim(&parser, static_cast<unsigned char>(options.delimiter));
  csv_set_quote(&parser, static_cast<unsigned char>(options.quote));
  ParseState st;
  st.fn = &fn;
  Status result;
  size_t offset = 0;
  while (offset < text.size() && !st.stopped) {
    size_t n = std::min(kChunkBytes, text.size() - offset);
    size_t used = csv_parse(&parser, text.data() + offset, n, on_field, on_row, &st);
    if (used != n) {
      size_t at = offset + used;
      size_t line = 1 + line_breaks(text.substr(0, at));
      result = {Code::invalid_argument,
                std::string("malformed CSV (") + csv_strerror(csv_error(&parser)) +
                    "): a quote inside an unquoted field or after a closing quote",
                "line " + std::to_string(line)};
      break;
    }
    offset += n;
  }
  if (result.ok() && !st.stopped && csv_fini(&parser, on_field, on_row, &st) != 0) {
    // With CSV_STRICT_FINI the only failure left is a quoted field still open at the end.
    if (csv_error(&parser) == CSV_EPARSE)
      result = {Code::invalid_argument, "malformed CSV: a quoted field is not closed before the end of the file",
                "line " + std::to_string(st.record.fields.empty() ? st.line : st.record.line)};
    else
      result = {Code::internal, "CSV parser failed at the end of the input"};
  }
  csv_free(&parser);
  return result;
}

void append_csv_field(std::string* out, std::string_view value, char delimiter) {
  if (!needs_quotes(value, delimiter)) {
    out->append(value);
    return;
  }
  // csv_write2 quotes the field and doubles the quotes inside it.
  size_t need = csv_write2(nullptr, 0, value.data(), value.size(), '"');
  size_t at = out->size();
  out->resize(at + need);
  csv_write2(out->data() + at, need, value.data(), value.size(), '"');
}

void append_csv_row(std::string* out, const std::vector<std::string>& fields, char delimiter) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out->push_back(delimiter);
    append_csv_field(out, fields[i], delimiter);
  }
  out->push_back('\n');
}

}  // namespace waybill::runtime
