// Reading source mapping profiles (YAML) strictly: every key is known, every value is
// checked here, so mapping a file never discovers a profile mistake row by row.
#include "waybill/runtime/source_profile.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "waybill/actors/model.hpp"
#include "waybill/actors/yaml_reader.hpp"

namespace waybill::runtime {

namespace {

Status bad(std::string key, std::string reason) { return {Code::invalid_argument, std::move(reason), std::move(key)}; }

const std::set<std::string> kPartyFields = {"name",  "company",     "street",  "street2", "city",
                                            "state", "postal_code", "country", "phone",   "email"};
const std::set<std::string> kWeightUnits = {"g", "kg", "lb", "oz"};
const std::set<std::string> kLengthUnits = {"mm", "cm", "m", "in"};

bool is_length(std::string_view t) { return t == "packages.length" || t == "packages.width" || t == "packages.height"; }

bool known_target(const std::string& t) {
  static const std::set<std::string> fixed = {"order_id",          "service_level",   "lines.sku",      "lines.qty",
                                              "lines.description", "packages.weight", "packages.length",
                                              "packages.width",    "packages.height", "packages.hazmat"};
  if (fixed.count(t)) return true;
  for (const char* party : {"ship_to.", "ship_from."})
    if (t.rfind(party, 0) == 0) return kPartyFields.count(t.substr(std::string_view(party).size())) > 0;
  if (t.rfind("references.", 0) == 0) {
    size_t n = t.size() - 11;
    return n >= 1 && n <= 64;
  }
  return false;
}

// An optional section: an absent key gives an empty node (not yaml-cpp's invalid one,
// which throws on use).
YAML::Node section(const YamlMap& m, const std::string& key) { return m.has(key) ? m.child(key) : YAML::Node(); }

Result<char> one_char(const YamlMap& m, const std::string& key, char fallback) {
  std::string s(1, fallback);
  WAYBILL_TRY(m.get(key, &s));
  if (s.size() != 1) return bad(m.key_path(key), "must be exactly one character");
  return s[0];
}

Status parse_csv_layout(const YAML::Node& node, CsvLayout* out) {
  YamlMap m(node, "csv", {"delimiter", "quote", "header", "columns", "skip_records", "decimal", "packages"});
  WAYBILL_TRY(m.error());
  auto delim = one_char(m, "delimiter", ',');
  if (!delim) return delim.status();
  auto quote = one_char(m, "quote", '"');
  if (!quote) return quote.status();
  auto decimal = one_char(m, "decimal", '.');
  if (!decimal) return decimal.status();
  out->csv.delimiter = *delim;
  out->csv.quote = *quote;
  out->decimal = *decimal;
  if (*delim == *quote || *delim == '\n' || *delim == '\r') return bad("csv.delimiter", "must differ from the quote and line breaks");
  if (*decimal != '.' && *decimal != ',') return bad("csv.decimal", "must be '.' or ','");
  if (*decimal == *delim) return bad("csv.decimal", "must differ from the delimiter");
  WAYBILL_TRY(m.get("header", &out->header));
  WAYBILL_TRY(m.get("columns", &out->columns));
  int64_t skip = 0;
  WAYBILL_TRY(m.get("skip_records", &skip));
  if (skip < 0 || skip > 100) return bad("csv.skip_records", "must be between 0 and 100");
  out->skip_records = static_cast<size_t>(skip);
  std::string packages = "per_row";
  WAYBILL_TRY(m.get("packages", &packages));
  if (packages == "per_row") out->packages = PackageRows::per_row;
  else if (packages == "per_order") out->packages = PackageRows::per_order;
  else return bad("csv.packages", "must be per_row or per_order");
  if (out->header && !out->columns.empty()) return bad("csv.columns", "is only allowed with header: false");
  if (!out->header && out->columns.empty()) return bad("csv.columns", "is required with header: false");
  return {};
}

Status check_pointer(const std::string& key, const std::string& p) {
  if (p.empty() || p[0] != '/') return bad(key, "must be a JSON pointer starting with '/'");
  return {};
}

Status parse_field(const std::string& target, const YAML::Node& node, FieldSpec* f) {
  const std::string path = "fields." + target;
  f->target = target;
  if (!known_target(target)) return bad(path, "unknown canonical field");
  if (node.IsScalar()) {  // shorthand: the column name
    f->column = node.as<std::string>();
  } else {
    YamlMap m(node, path, {"column", "json", "value", "default", "map", "passthrough", "upper", "unit"});
    WAYBILL_TRY(m.error());
    if (!node.IsMap()) return bad(path, "must be a column name or a mapping");
    WAYBILL_TRY(m.get("column", &f->column));
    WAYBILL_TRY(m.get("json", &f->json));
    std::string s;
    if (m.has("value")) {
      WAYBILL_TRY(m.get("value", &s));
      f->value = s;
    }
    if (m.has("default")) {
      WAYBILL_TRY(m.get("default", &s));
      f->default_value = s;
    }
    WAYBILL_TRY(m.get("map", &f->map));
    WAYBILL_TRY(m.get("passthrough", &f->passthrough));
    WAYBILL_TRY(m.get("upper", &f->upper));
    WAYBILL_TRY(m.get("unit", &f->unit));
  }
  if (f->value && (!f->column.empty() || !f->json.empty()))
    return bad(path + ".value", "a constant excludes column and json");
  if (!f->value && f->column.empty() && f->json.empty() && !f->default_value)
    return bad(path, "needs a column, a json pointer, a value or a default");
  if (!f->json.empty()) WAYBILL_TRY(check_pointer(path + ".json", f->json));
  bool weight = target == "packages.weight";
  if (weight || is_length(target)) {
    auto& units = weight ? kWeightUnits : kLengthUnits;
    if (!units.count(f->unit))
      return bad(path + ".unit", weight ? "is required: one of g, kg, lb, oz" : "is required: one of mm, cm, m, in");
  } else if (!f->unit.empty()) {
    return bad(path + ".unit", "applies only to package weight and dimensions");
  }
  if (f->passthrough && f->map.empty()) return bad(path + ".passthrough", "needs a map");
  if (target == "service_level") {
    // A table or default that names no canonical level would reject every row.
    for (auto& [from, to] : f->map)
      if (!parse_service_level(to)) return bad(path + ".map." + from, "must map to ground, express, overnight or freight");
    for (auto* v : {&f->value, &f->default_value}) {
      if (!*v) continue;
      auto it = f->map.find(**v);  // a constant or default goes through the table too
      if (!parse_service_level(it == f->map.end() ? **v : it->second))
        return bad(path, "'" + **v + "' does not give ground, express, overnight or freight");
    }
  }
  if (target == "order_id" && f->value) return bad(path + ".value", "an order id cannot be a constant");
  return {};
}

Status check_profile(SourceProfile& p) {
  auto* id = p.field("order_id");
  if (!id || (id->column.empty() && id->json.empty())) return bad("fields.order_id", "is required (column or json)");
  if (id->column.empty()) return bad("fields.order_id.column", "is required for CSV files");
  for (auto& f : p.fields) {
    if (!f.json.empty()) p.has_json = true;
    bool line = f.target.rfind("lines.", 0) == 0;
    if (line && !f.json.empty() && p.json.lines.empty())
      return bad("fields." + f.target + ".json", "needs json.lines (the array of lines)");
    if (!p.csv.header && !f.column.empty() &&
        std::find(p.csv.columns.begin(), p.csv.columns.end(), f.column) == p.csv.columns.end())
      return bad("fields." + f.target + ".column", "'" + f.column + "' is not in csv.columns");
  }
  if (!p.field("lines.sku")) return bad("fields.lines.sku", "is required");
  if (!p.field("lines.qty")) return bad("fields.lines.qty", "is required");
  return {};
}

}  // namespace

const FieldSpec* SourceProfile::field(std::string_view target) const {
  for (auto& f : fields)
    if (f.target == target) return &f;
  return nullptr;
}

Result<SourceProfile> parse_source_profile(const std::string& text) {
  SourceProfile p;
  try {
    YAML::Node root = YAML::Load(text);
    YamlMap m(root, "", {"source", "description", "csv", "json", "fields"});
    WAYBILL_TRY(m.error());
    if (!root.IsMap()) return bad("profile", "must be a mapping");
    WAYBILL_TRY(m.get("source", &p.source, true));
    if (p.source.empty() || p.source.size() > 64 ||
        p.source.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
      return bad("source", "must be 1..64 characters of a-z, 0-9, '_' and '-' (it names a directory)");
    WAYBILL_TRY(m.get("description", &p.description));
    WAYBILL_TRY(parse_csv_layout(section(m, "csv"), &p.csv));
    YamlMap j(section(m, "json"), "json", {"lines", "packages"});
    WAYBILL_TRY(j.error());
    WAYBILL_TRY(j.get("lines", &p.json.lines));
    WAYBILL_TRY(j.get("packages", &p.json.packages));
    if (!p.json.lines.empty()) WAYBILL_TRY(check_pointer("json.lines", p.json.lines));
    if (!p.json.packages.empty()) WAYBILL_TRY(check_pointer("json.packages", p.json.packages));
    auto fields = section(m, "fields");
    if (!fields.IsMap() || fields.size() == 0) return bad("fields", "is required: a mapping of canonical fields");
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      FieldSpec f;
      WAYBILL_TRY(parse_field(it->first.as<std::string>(), it->second, &f));
      p.fields.push_back(std::move(f));
    }
    WAYBILL_TRY(check_profile(p));
  } catch (const YAML::Exception& e) {
    return bad("profile", std::string("invalid YAML: ") + e.what());
  }
  return p;
}

Result<std::vector<SourceProfile>> load_source_profiles(const std::string& dir) {
  std::vector<SourceProfile> out;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  if (ec) return bad(dir, "cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  for (auto& path : files) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = parse_source_profile(ss.str());
    if (!p) return bad(path.filename().string() + ": " + p.status().field(), p.status().message());
    for (auto& other : out)
      if (other.source == p->source) return bad(path.filename().string() + ": source", "'" + p->source + "' is defined twice");
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace waybill::runtime
