// CSV reading and writing over libcsv (RFC 4180: quoted fields may hold the delimiter,
// doubled quotes and line breaks). Reading is strict: a quote inside an unquoted field
// or an unterminated quoted field is an error naming the line, because past such a
// mistake the row boundaries of the rest of the file are guesswork.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/status.hpp"

namespace waybill::runtime {

struct CsvOptions {
  /// Field separator. Default: ','.
  char delimiter = ',';
  /// Quote character; a quote inside a quoted field is written twice. Default: '"'.
  char quote = '"';
};

struct CsvRecord {
  /// 1-based line of the file where the record starts (a quoted line break inside a
  /// field makes the next record start further down).
  size_t line = 0;
  std::vector<std::string> fields;
};

/// Calls `fn` for every record of `text` in order; blank lines are skipped and a UTF-8
/// byte order mark at the start is ignored. Unquoted fields are trimmed of spaces and
/// tabs. `fn` returns false to stop early. Malformed input gives invalid_argument with
/// field "line N".
Status read_csv(std::string_view text, const CsvOptions& options, const std::function<bool(CsvRecord&)>& fn);

/// Appends `value` as one field, quoted only when it holds the delimiter, a quote, a
/// line break or leading/trailing blanks.
void append_csv_field(std::string* out, std::string_view value, char delimiter = ',');
/// Appends `fields` joined by `delimiter` and a terminating "\n".
void append_csv_row(std::string* out, const std::vector<std::string>& fields, char delimiter = ',');

}  // namespace waybill::runtime
