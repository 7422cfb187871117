#include "waybill/actors/carrier_mapping.hpp"

#include <charconv>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

namespace waybill::actors {

struct RequestTemplate::Node {
  enum class Kind { object, array, literal_string, literal_number, literal_bool, placeholder, interpolated, each };
  // A named member of an object. Not a std::pair: libstdc++'s pair needs a complete
  // Node, which clang enforces.
  struct Field;
  Kind kind = Kind::literal_string;
  std::string text;                                   // literal text, placeholder path, or $each collection
  std::vector<Field> fields;                          // object
  std::vector<Node> items;                            // array; $each has one item template
  std::vector<std::pair<bool, std::string>> pieces;   // interpolated: (is_path, text)
};

struct RequestTemplate::Node::Field {
  std::string key;
  Node value;
};

namespace {

using TNode = RequestTemplate::Node;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

Result<TNode> compile_node(const YAML::Node& y, const std::string& where) {
  TNode n;
  if (y.IsMap()) {
    if (y["$each"]) {
      if (!y["$item"]) return Status{Code::invalid_argument, "$each needs an $item template", where};
      n.kind = TNode::Kind::each;
      n.text = y["$each"].as<std::string>();
      auto item = compile_node(y["$item"], where + ".$item");
      if (!item) return item.status();
      n.items.push_back(std::move(*item));
      return n;
    }
    n.kind = TNode::Kind::object;
    for (auto it = y.begin(); it != y.end(); ++it) {
      auto key = it->first.as<std::string>();
      auto child = compile_node(it->second, where + "." + key);
      if (!child) return child.status();
      n.fields.push_back({key, std::move(*child)});
    }
    return n;
  }
  if (y.IsSequence()) {
    n.kind = TNode::Kind::array;
    for (size_t i = 0; i < y.size(); ++i) {
      auto child = compile_node(y[i], where + "[" + std::to_string(i) + "]");
      if (!child) return child.status();
      n.items.push_back(std::move(*child));
    }
    return n;
  }
  if (!y.IsScalar()) return Status{Code::invalid_argument, "unsupported template value", where};
  const std::string& s = y.Scalar();
  if (y.Tag() == "!" || y.Tag() == "tag:yaml.org,2002:str") {  // quoted scalars stay strings
    n.kind = TNode::Kind::literal_string;
  } else if (s == "true" || s == "false") {
    n.kind = TNode::Kind::literal_bool;
  } else if (!s.empty() && s.find_first_not_of("-0123456789.eE") == std::string::npos) {
    n.kind = TNode::Kind::literal_number;
  }
  if (s.size() > 3 && s.rfind("${", 0) == 0 && s.back() == '}' && s.find("${", 2) == std::string::npos) {
    n.kind = TNode::Kind::placeholder;
    n.text = s.substr(2, s.size() - 3);
    return n;
  }
  if (s.find("${") != std::string::npos) {
    n.kind = TNode::Kind::interpolated;
    size_t pos = 0;
    while (pos < s.size()) {
      auto open = s.find("${", pos);
      if (open == std::string::npos) {
        n.pieces.emplace_back(false, s.substr(pos));
        break;
      }
      if (open > pos) n.pieces.emplace_back(false, s.substr(pos, open - pos));
      auto close = s.find('}', open);
      if (close == std::string::npos) return Status{Code::invalid_argument, "unterminated ${", where};
      n.pieces.emplace_back(true, s.substr(open + 2, close - open - 2));
      pos = close + 1;
    }
    return n;
  }
  n.text = s;
  return n;
}

std::string text_of(const MappingValue& v) {
  struct V {
    std::string operator()(std::monostate) const { return {}; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", d);
      return buf;
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  };
  return std::visit(V{}, v);
}

Status render_node(const TNode& n, const MappingSource& src, int index, Writer& w) {
  switch (n.kind) {
    case TNode::Kind::object:
      w.StartObject();
      for (auto& [k, child] : n.fields) {
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        if (auto st = render_node(child, src, index, w); !st.ok()) return st;
      }
      w.EndObject();
      return {};
    case TNode::Kind::array:
      w.StartArray();
      for (auto& child : n.items)
        if (auto st = render_node(child, src, index, w); !st.ok()) return st;
      w.EndArray();
      return {};
    case TNode::Kind::each: {
      w.StartArray();
      size_t count = src.count(n.text);
      for (size_t i = 0; i < count; ++i)
        if (auto st = render_node(n.items[0], src, static_cast<int>(i), w); !st.ok()) return st;
      w.EndArray();
      return {};
    }
    case TNode::Kind::literal_string:
      w.String(n.text.c_str(), static_cast<rapidjson::SizeType>(n.text.size()));
      return {};
    case TNode::Kind::literal_number:
      w.RawValue(n.text.c_str(), n.text.size(), rapidjson::kNumberType);
      return {};
    case TNode::Kind::literal_bool:
      w.Bool(n.text == "true");
      return {};
    case TNode::Kind::placeholder: {
      auto v = src.value(n.text, index);
      if (std::holds_alternative<std::monostate>(v))
        return {Code::invalid_argument, "no value for ${" + n.text + "}", n.text};
      if (auto* s = std::get_if<std::string>(&v)) w.String(s->c_str(), static_cast<rapidjson::SizeType>(s->size()));
      else if (auto* i = std::get_if<int64_t>(&v)) w.Int64(*i);
      else if (auto* d = std::get_if<double>(&v)) w.Double(*d);
      else w.Bool(std::get<bool>(v));
      return {};
    }
    case TNode::Kind::interpolated: {
      std::string out;
      for (auto& [is_path, text] : n.pieces) {
        if (!is_path) {
          out += text;
          continue;
        }
        auto v = src.value(text, index);
        if (std::holds_alternative<std::monostate>(v))
          return {Code::invalid_argument, "no value for ${" + text + "}", text};
        out += text_of(v);
      }
      w.String(out.c_str(), static_cast<rapidjson::SizeType>(out.size()));
      return {};
    }
  }
  return {};
}

void collect(simdjson::dom::element e, const std::vector<std::string>& segs, size_t i,
             std::vector<simdjson::dom::element>* out, size_t limit) {
  if (out->size() >= limit) return;
  if (i == segs.size()) {
    out->push_back(e);
    return;
  }
  const std::string& seg = segs[i];
  if (e.is_array()) {
    simdjson::dom::array arr = e.get_array().value();
    if (seg == "*") {
      for (auto child : arr) collect(child, segs, i + 1, out, limit);
      return;
    }
    // An index too large for size_t matches nothing, like any index past the end.
    size_t index = 0;
    auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
    if (seg.empty() || ec != std::errc() || end != seg.data() + seg.size()) return;
    auto child = arr.at(index);
    if (!child.error()) collect(child.value(), segs, i + 1, out, limit);
    return;
  }
  if (e.is_object()) {
    auto child = e.get_object().value()[seg];
    if (!child.error()) collect(child.value(), segs, i + 1, out, limit);
  }
}

std::vector<std::string> split_pointer(const std::string& pointer) {
  std::vector<std::string> segs;
  size_t pos = pointer.empty() || pointer[0] != '/' ? 0 : 1;
  if (pointer.empty()) return segs;
  while (pos <= pointer.size()) {
    auto next = pointer.find('/', pos);
    std::string seg = pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    // RFC 6901 escapes
    for (size_t k; (k = seg.find("~1")) != std::string::npos;) seg.replace(k, 2, "/");
    for (size_t k; (k = seg.find("~0")) != std::string::npos;) seg.replace(k, 2, "~");
    segs.push_back(seg);
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return segs;
}

// Matches bounded so a hostile response cannot make us allocate without limit.
constexpr size_t kMaxMatches = 1000;

Result<std::vector<simdjson::dom::element>> match(simdjson::dom::parser& parser, std::string_view json,
                                                  const std::string& pointer) {
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS)
    return Status{Code::invalid_argument, "carrier answered with malformed JSON"};
  std::vector<simdjson::dom::element> found;
  collect(doc, split_pointer(pointer), 0, &found, kMaxMatches);
  return found;
}

}  // namespace

RequestTemplate::RequestTemplate() = default;
RequestTemplate::~RequestTemplate() = default;
RequestTemplate::RequestTemplate(const RequestTemplate&) = default;
RequestTemplate& RequestTemplate::operator=(const RequestTemplate&) = default;
RequestTemplate::RequestTemplate(RequestTemplate&&) noexcept = default;
RequestTemplate& RequestTemplate::operator=(RequestTemplate&&) noexcept = default;

Result<RequestTemplate> RequestTemplate::compile(const YAML::Node& node, const std::string& where) {
  try {
    auto root = compile_node(node, where);
    if (!root) return root.status();
    RequestTemplate t;
    t.root_ = std::make_shared<const Node>(std::move(*root));
    return t;
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, e.what(), where};
  }
}

Result<std::string> RequestTemplate::render(const MappingSource& source) const {
  if (!root_) return std::string();
  rapidjson::StringBuffer sb;
  Writer w(sb);
  if (auto st = render_node(*root_, source, -1, w); !st.ok()) return st;
  return std::string(sb.GetString(), sb.GetSize());
}

std::string expand_path(const std::string& t, const std::map<std::string, std::string>& values) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '{') {
      out += t[i];
      continue;
    }
    auto close = t.find('}', i);
    if (close == std::string::npos) {
      out += t.substr(i);
      break;
    }
    auto it = values.find(t.substr(i + 1, close - i - 1));
    if (it != values.end())
      for (unsigned char c : it->second) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
          out += static_cast<char>(c);
        } else {
          out += '%';
          out += hex[c >> 4];
          out += hex[c & 15];
        }
      }
    i = close;
  }
  return out;
}

Result<std::vector<std::string>> extract_all(std::string_view json, const std::string& pointer) {
  simdjson::dom::parser parser;
  auto found = match(parser, json, pointer);
  if (!found) return found.status();
  std::vector<std::string> out;
  for (auto e : *found) {
    switch (e.type()) {
      case simdjson::dom::element_type::STRING: out.emplace_back(e.get_string().value()); break;
      case simdjson::dom::element_type::INT64: out.push_back(std::to_string(e.get_int64().value())); break;
      case simdjson::dom::element_type::UINT64: out.push_back(std::to_string(e.get_uint64().value())); break;
      case simdjson::dom::element_type::DOUBLE: out.push_back(text_of(e.get_double().value())); break;
      case simdjson::dom::element_type::BOOL: out.push_back(e.get_bool().value() ? "true" : "false"); break;
      case simdjson::dom::element_type::NULL_VALUE: break;
      default: out.push_back(simdjson::minify(e)); break;
    }
  }
  return out;
}

std::optional<std::string> extract_first(std::string_view json, const std::string& pointer) {
  auto all = extract_all(json, pointer);
  if (!all || all->empty()) return std::nullopt;
  return all->front();
}

Result<std::vector<std::string>> extract_raw(std::string_view json, const std::string& pointer) {
  simdjson::dom::parser parser;
  auto found = match(parser, json, pointer);
  if (!found) return found.status();
  std::vector<std::string> out;
  for (auto e : *found) out.push_back(simdjson::minify(e));
  return out;
}

}  // namespace waybill::actors
