// Source mapping profiles: how one ERP/OMS system's CSV exports (and, optionally, its
// JSON orders) map onto waybill's canonical order. One YAML file per source system in
// `configs/sources/` (see the examples there for every key).
//
// Mapped orders are rendered as the canonical JSON of POST /v1/orders and validated by
// the same parser, so a file row, a source-shaped JSON order and a canonical request
// for the same order yield the same command and the same request hash. Errors name the
// source's own field: the CSV column (with the file line) or the JSON pointer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/runtime/csv.hpp"
#include "waybill/runtime/intake.hpp"

namespace waybill::runtime {

/// How one canonical field is filled. Steps, in order: the source value (CSV `column`
/// or JSON pointer `json`, or the constant `value`), trimmed; when empty, `default`;
/// then `upper`; then the value table `map`; then the unit conversion.
struct FieldSpec {
  /// Canonical target: order_id, service_level, ship_to.<party field>,
  /// ship_from.<party field>, lines.sku|qty|description,
  /// packages.weight|length|width|height|hazmat, references.<key>.
  std::string target;
  std::string column;                      // CSV column name; empty: none
  std::string json;                        // JSON pointer (RFC 6901); empty: none
  std::optional<std::string> value;        // constant; excludes column and json
  std::optional<std::string> default_value;
  std::map<std::string, std::string> map;  // source value -> canonical value
  bool passthrough = false;                // values missing from `map` pass unchanged
  bool upper = false;                      // upper-case before the table (country codes)
  std::string unit;                        // weight: g kg lb oz; length: mm cm m in
};

enum class PackageRows {
  per_row,    // every row with a package value adds a package
  per_order,  // package columns are order-level: one package per order
};

struct CsvLayout {
  CsvOptions csv;
  /// The first record names the columns; otherwise `columns` does. Default: true.
  bool header = true;
  std::vector<std::string> columns;
  /// Records skipped before the header or the data (report banners). Default: 0.
  size_t skip_records = 0;
  /// Decimal separator of numbers ('.' or ','). Default: '.'.
  char decimal = '.';
  PackageRows packages = PackageRows::per_row;
};

struct JsonLayout {
  /// Pointer of the array whose elements become lines; `lines.*` pointers are
  /// relative to an element. Empty: no line fields from JSON.
  std::string lines;
  /// Pointer of the array whose elements become packages; empty: `packages.*`
  /// pointers are absolute and give one package.
  std::string packages;
};

struct SourceProfile {
  /// Name of the source system: drop/<source>/ and /v1/sources/<source>/orders.
  std::string source;
  std::string description;
  CsvLayout csv;
  JsonLayout json;
  std::vector<FieldSpec> fields;
  /// Whether any field reads JSON (the JSON endpoint answers 404 otherwise).
  bool has_json = false;

  const FieldSpec* field(std::string_view target) const;
};

/// Parses one profile; unknown keys and bad values are errors naming the key path.
Result<SourceProfile> parse_source_profile(const std::string& yaml_text);
/// Every *.yaml of `dir`, sorted by file name; a missing directory gives none. Errors
/// name the file and the key.
Result<std::vector<SourceProfile>> load_source_profiles(const std::string& dir);

/// One rejected row of a file (or the whole file, with line 0).
struct RowReject {
  size_t line = 0;
  std::string order_id;
  std::string field;   // source column, or "file" / "line N" for the file itself
  std::string reason;
};

/// One order mapped from one or more rows of a file.
struct MappedOrder {
  actors::CreateOrder command;
  std::vector<size_t> lines;  // file lines of its rows, ascending
};

struct CsvMapping {
  std::vector<MappedOrder> orders;  // in order of first appearance
  std::vector<RowReject> rejects;   // sorted by line
  size_t rows = 0;                  // data rows read
};

/// Maps a whole CSV file. A bad row rejects its order (all rows sharing its order id)
/// and nothing else; malformed CSV, a missing column or more than `max_rows` rows
/// reject the whole file (line 0), since its row boundaries or orders are then unknown.
CsvMapping map_csv_file(const SourceProfile& profile, std::string_view text, const IntakeLimits& limits,
                        size_t max_rows);

/// Maps a source-shaped JSON order; errors name the JSON pointer of the source field.
Result<actors::CreateOrder> map_json_order(const SourceProfile& profile, std::string_view body,
                                           const IntakeLimits& limits);

}  // namespace waybill::runtime
