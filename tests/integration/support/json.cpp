#include "json.hpp"

#include <cstdio>

namespace waybill::itest {

Json Json::parse(std::string_view text) {
  Json j;
  j.parser_ = std::make_shared<simdjson::dom::parser>();
  auto doc = j.parser_->parse(text.data(), text.size());  // copies into a padded buffer
  if (doc.error()) {
    j.error_ = std::string("invalid JSON: ") + simdjson::error_message(doc.error());
    return j;
  }
  j.element_ = doc.value();
  j.error_.clear();
  return j;
}

Json Json::at(std::string_view pointer) const {
  Json j;
  if (!ok()) {
    j.error_ = error_;
    return j;
  }
  if (pointer.empty()) return *this;
  auto v = element_.at_pointer(pointer);
  if (v.error()) {
    j.error_ = "no value at '" + std::string(pointer) + "'";
    return j;
  }
  j.parser_ = parser_;
  j.element_ = v.value();
  j.error_.clear();
  return j;
}

bool Json::has(std::string_view pointer) const { return at(pointer).ok(); }

std::optional<std::string> Json::str(std::string_view pointer) const {
  auto j = at(pointer);
  if (!j.ok() || !j.element_.is_string()) return std::nullopt;
  return std::string(j.element_.get_string().value());
}

std::optional<int64_t> Json::int64(std::string_view pointer) const {
  auto j = at(pointer);
  if (!j.ok() || !j.element_.is_int64()) return std::nullopt;
  return j.element_.get_int64().value();
}

std::optional<double> Json::number(std::string_view pointer) const {
  auto j = at(pointer);
  if (!j.ok() || !j.element_.is_number()) return std::nullopt;
  return j.element_.get_double().value();
}

std::optional<bool> Json::boolean(std::string_view pointer) const {
  auto j = at(pointer);
  if (!j.ok() || !j.element_.is_bool()) return std::nullopt;
  return j.element_.get_bool().value();
}

bool Json::is_array(std::string_view pointer) const {
  auto j = at(pointer);
  return j.ok() && j.element_.is_array();
}

bool Json::is_object(std::string_view pointer) const {
  auto j = at(pointer);
  return j.ok() && j.element_.is_object();
}

std::vector<Json> Json::items(std::string_view pointer) const {
  std::vector<Json> out;
  auto j = at(pointer);
  if (!j.ok() || !j.element_.is_array()) return out;
  // Keep the array in a variable: a range-for over simdjson_result::value() of a
  // temporary would iterate a dangling reference.
  simdjson::dom::array arr = j.element_.get_array().value();
  for (simdjson::dom::element e : arr) {
    Json item;
    item.parser_ = parser_;
    item.element_ = e;
    item.error_.clear();
    out.push_back(std::move(item));
  }
  return out;
}

size_t Json::size(std::string_view pointer) const {
  auto j = at(pointer);
  if (!j.ok()) return 0;
  if (j.element_.is_array()) {
    simdjson::dom::array arr = j.element_.get_array().value();
    return arr.size();
  }
  if (j.element_.is_object()) {
    simdjson::dom::object obj = j.element_.get_object().value();
    return obj.size();
  }
  return 0;
}

std::string Json::dump() const {
  if (!ok()) return "<" + error_ + ">";
  return simdjson::minify(element_);
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace waybill::itest
