// From a draft (source values with their origin) to the canonical command, and the
// mapping of source-shaped JSON orders.
#include <cmath>
#include <cstdlib>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "source_draft.hpp"
#include "waybill/actors/model.hpp"

namespace waybill::runtime::detail {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

SourceFailure failure(const Value& v, std::string reason) {
  std::string shown = v.text.size() <= 64 ? " (got '" + v.text + "')" : "";
  return {{Code::invalid_argument, std::move(reason) + shown, v.label}, v.line};
}

// A decimal number with the profile's decimal separator; no thousands separators.
std::optional<double> decimal(std::string text, char separator) {
  if (separator == ',') {
    if (text.find('.') != std::string::npos) return std::nullopt;
    for (auto& c : text)
      if (c == ',') c = '.';
  }
  if (text.empty() || text.find_first_not_of("+-0123456789.eE") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Source unit -> grams or millimetres.
double factor(const std::string& unit) {
  if (unit == "kg" || unit == "m") return 1000.0;
  if (unit == "lb") return 453.59237;
  if (unit == "oz") return 28.349523125;
  if (unit == "cm") return 10.0;
  if (unit == "in") return 25.4;
  return 1.0;  // g, mm
}

// Integer `v` divided by 10^digits as an exact decimal literal (grams -> "1.250").
std::string scaled(int64_t v, int digits) {
  int64_t div = digits == 3 ? 1000 : 10;
  std::string out = v < 0 ? "-" : "";
  uint64_t a = v < 0 ? -static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string frac = std::to_string(a % div);
  frac.insert(0, static_cast<size_t>(digits) - frac.size(), '0');
  return out + std::to_string(a / div) + "." + frac;
}

struct Renderer {
  const SourceProfile& profile;
  Writer& w;
  char separator;  // decimal separator: the profile's for CSV, '.' for JSON numbers
  std::optional<SourceFailure> error;

  const Value* get(const Slot& s, const std::string& target) {
    auto it = s.values.find(target);
    return it == s.values.end() ? nullptr : &it->second;
  }
  void string(const Slot& s, const std::string& target, const char* key) {
    if (auto* v = get(s, target)) {
      w.Key(key);
      w.String(v->text.data(), static_cast<rapidjson::SizeType>(v->text.size()));
    }
  }
  void party(const Slot& s, const char* prefix) {
    bool any = false;
    for (auto& [t, _] : s.values) any = any || t.rfind(std::string(prefix) + ".", 0) == 0;
    if (!any) return;
    w.Key(prefix);
    w.StartObject();
    for (const char* f : {"name", "company", "street", "street2", "city", "state", "postal_code", "country", "phone", "email"})
      string(s, std::string(prefix) + "." + f, f);
    w.EndObject();
  }
  void quantity(const Slot& s) {
    auto* v = get(s, "lines.qty");
    if (!v) return;
    auto d = decimal(v->text, separator);
    if (!d || *d != std::floor(*d) || std::fabs(*d) > 1e15) {
      error = failure(*v, "must be a whole number");
      return;
    }
    w.Key("qty");
    w.Int64(static_cast<int64_t>(*d));
  }
  void measure(const Slot& s, const std::string& target, const char* key, int digits) {
    auto* v = get(s, target);
    if (!v) return;
    auto d = decimal(v->text, separator);
    if (!d || std::fabs(*d) > 1e12) {
      error = failure(*v, "must be a number");
      return;
    }
    int64_t units = std::llround(*d * factor(profile.field(target)->unit));
    auto text = scaled(units, digits);
    w.Key(key);
    w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
  }
  void hazmat(const Slot& s) {
    auto* v = get(s, "packages.hazmat");
    if (!v) return;
    std::string t = v->text;
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool yes = t == "true" || t == "yes" || t == "y" || t == "1";
    bool no = t == "false" || t == "no" || t == "n" || t == "0";
    if (!yes && !no) {
      error = failure(*v, "must be true/false, yes/no, y/n or 1/0");
      return;
    }
    w.Key("hazmat");
    w.Bool(yes);
  }
  void package(const Slot& s) {
    w.StartObject();
    measure(s, "packages.weight", "weight_kg", 3);
    measure(s, "packages.length", "length_cm", 1);
    measure(s, "packages.width", "width_cm", 1);
    measure(s, "packages.height", "height_cm", 1);
    hazmat(s);
    w.EndObject();
  }
};

std::string render(const SourceProfile& p, const Draft& d, std::optional<SourceFailure>* error) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  Renderer r{p, w, d.from_json ? '.' : p.csv.decimal, std::nullopt};
  w.StartObject();
  r.string(d.order, "order_id", "order_id");
  w.Key("source_system");
  w.String(p.source.c_str());
  r.string(d.order, "service_level", "service_level");
  r.party(d.order, "ship_to");
  r.party(d.order, "ship_from");
  if (!d.lines.empty()) {
    w.Key("lines");
    w.StartArray();
    for (auto& l : d.lines) {
      w.StartObject();
      r.string(l, "lines.sku", "sku");
      r.quantity(l);
      r.string(l, "lines.description", "description");
      w.EndObject();
    }
    w.EndArray();
  }
  bool order_package = scope_of(p, "packages.weight", d.from_json) == Scope::order;
  if (order_package || !d.packages.empty()) {
    bool any = false;
    for (auto& [t, _] : d.order.values) any = any || t.rfind("packages.", 0) == 0;
    if (!order_package || any) {
      w.Key("packages");
      w.StartArray();
      if (order_package) r.package(d.order);
      for (auto& s : d.packages) r.package(s);
      w.EndArray();
    }
  }
  bool refs = false;
  for (auto& [t, v] : d.order.values) {
    if (t.rfind("references.", 0) != 0) continue;
    if (!refs) {
      w.Key("references");
      w.StartObject();
      refs = true;
    }
    std::string key = t.substr(11);
    w.Key(key.c_str());
    w.String(v.text.c_str());
  }
  if (refs) w.EndObject();
  w.EndObject();
  *error = r.error;
  return sb.GetString();
}

// "lines[2].qty" -> the value (or field spec) that fed it.
SourceFailure translate(const SourceProfile& p, const Draft& d, const Status& st) {
  const std::string& path = st.field();
  std::string group = path.substr(0, path.find_first_of(".["));
  std::string key = path.find('.') == std::string::npos ? "" : path.substr(path.find('.') + 1);
  const Slot* slot = &d.order;
  if ((group == "lines" || group == "packages") && path.size() > group.size() && path[group.size()] == '[') {
    size_t i = std::strtoul(path.c_str() + group.size() + 1, nullptr, 10);
    auto& list = group == "lines" ? d.lines : d.packages;
    bool per_order = group == "packages" && scope_of(p, "packages.weight", d.from_json) == Scope::order;
    if (!per_order && i < list.size()) slot = &list[i];
    if (key.size() > 3 && (key.substr(key.size() - 3) == "_kg" || key.substr(key.size() - 3) == "_cm"))
      key.resize(key.size() - 3);
  }
  std::string target = key.empty() ? group : group + "." + key;
  if (path == "lines") target = "lines.sku";
  std::string reason = st.message();
  if (group == "packages" && p.field(target) && !p.field(target)->unit.empty())
    reason += std::string(" (in ") + (target == "packages.weight" ? "kg" : "cm") + " after conversion from " +
              p.field(target)->unit + ")";
  if (auto it = slot->values.find(target); it != slot->values.end()) return failure(it->second, reason);
  if (path == "lines" && d.from_json && !p.json.lines.empty())
    return {{st.code(), reason, p.json.lines}, d.order.line};
  if (auto* spec = p.field(target)) return {{st.code(), reason, label_of(*spec, *slot, d.from_json)}, slot->line};
  return {{st.code(), reason + " (the profile maps no source field to it)", path}, d.order.line};
}

}  // namespace

Scope scope_of(const SourceProfile& p, const std::string& target, bool from_json) {
  if (target.rfind("lines.", 0) == 0) return Scope::line;
  if (target.rfind("packages.", 0) == 0) {
    bool per_order = from_json ? p.json.packages.empty() : p.csv.packages == PackageRows::per_order;
    return per_order ? Scope::order : Scope::package;
  }
  return Scope::order;
}

std::string label_of(const FieldSpec& spec, const Slot& slot, bool from_json) {
  if (spec.value) return "profile:fields." + spec.target + ".value";
  if (from_json) return spec.json.empty() ? "profile:fields." + spec.target : slot.pointer + spec.json;
  return spec.column.empty() ? "profile:fields." + spec.target : spec.column;
}

std::optional<SourceFailure> resolve(const FieldSpec& f, std::optional<std::string> raw, const std::string& label,
                                     size_t line, std::optional<Value>* out) {
  out->reset();
  std::string text = f.value ? *f.value : trim(raw.value_or(""));
  if (text.empty() && f.default_value) text = *f.default_value;
  if (text.empty()) return std::nullopt;
  if (f.upper)
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Value v{text, label, line};
  if (!f.map.empty()) {
    auto it = f.map.find(text);
    if (it != f.map.end()) {
      v.text = it->second;
    } else if (!f.passthrough) {
      std::string known;
      for (auto& [k, _] : f.map) known += (known.empty() ? "" : ", ") + k;
      return failure(v, "is not in the profile's value table (" + known + ")");
    }
  }
  *out = std::move(v);
  return std::nullopt;
}

Result<actors::CreateOrder> finish(const SourceProfile& p, const Draft& d, const IntakeLimits& limits,
                                   size_t* failed_line) {
  std::optional<SourceFailure> error;
  std::string body = render(p, d, &error);
  if (error) {
    *failed_line = error->line;
    return error->status;
  }
  auto cmd = parse_create_order(body, limits);
  if (cmd) return cmd;
  auto f = translate(p, d, cmd.status());
  *failed_line = f.line;
  return f.status;
}

}  // namespace waybill::runtime::detail
