#include "waybill/runtime/pii.hpp"

#include <array>
#include <vector>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace waybill::runtime {

namespace {

bool utf8_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

constexpr std::array<std::string_view, 4> kPartyKeys = {"ship_to", "ship_from", "recipient", "consignee"};

enum class Mask { none, name, email, phone };

Mask party_field(std::string_view key) {
  if (key == "name" || key == "street" || key == "street2") return Mask::name;
  if (key == "email") return Mask::email;
  if (key == "phone") return Mask::phone;
  return Mask::none;
}

std::string apply(Mask m, std::string_view v) {
  switch (m) {
    case Mask::name: return mask_name(v);
    case Mask::email: return mask_email(v);
    case Mask::phone: return mask_phone(v);
    case Mask::none: break;
  }
  return std::string(v);
}

// A RapidJSON SAX handler that copies every event to a writer, replacing the values
// to mask. Numbers arrive as their text (kParseNumbersAsStringsFlag) and are copied
// unchanged.
class MaskingHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, MaskingHandler> {
 public:
  explicit MaskingHandler(rapidjson::Writer<rapidjson::StringBuffer>& w) : w_(w) {}

  bool Null() { return w_.Null(); }
  bool Bool(bool b) { return w_.Bool(b); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return w_.RawValue(s, n, rapidjson::kNumberType); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    Mask m = current_mask();
    if (m == Mask::none) return w_.String(s, n);
    std::string masked = apply(m, std::string_view(s, n));
    return w_.String(masked.data(), static_cast<rapidjson::SizeType>(masked.size()));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (!frames_.empty()) frames_.back().key.assign(s, n);
    return w_.Key(s, n);
  }
  bool StartObject() {
    bool party = false;
    if (!frames_.empty()) {
      auto& k = frames_.back().key;
      for (auto p : kPartyKeys) party = party || k == p;
    }
    frames_.push_back({true, party, {}});
    return w_.StartObject();
  }
  bool EndObject(rapidjson::SizeType) {
    frames_.pop_back();
    return w_.EndObject();
  }
  bool StartArray() {
    // Values of an array are masked as the array's member would be (lists of lines).
    Frame f{false, false, {}};
    if (!frames_.empty()) f = {false, frames_.back().party, frames_.back().key};
    frames_.push_back(std::move(f));
    return w_.StartArray();
  }
  bool EndArray(rapidjson::SizeType) {
    frames_.pop_back();
    return w_.EndArray();
  }

 private:
  struct Frame {
    bool object;
    bool party;       // an object holding a party, or an array inside one
    std::string key;  // object: the member being read; array: the array's member
  };

  Mask current_mask() const {
    if (frames_.empty()) return Mask::none;
    auto& f = frames_.back();
    if (f.key == "signed_by") return Mask::name;
    return f.party ? party_field(f.key) : Mask::none;
  }

  rapidjson::Writer<rapidjson::StringBuffer>& w_;
  std::vector<Frame> frames_;
};

}  // namespace

std::string mask_name(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool word_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == ',' || c == '-' || c == '.' || c == '/') {
      out += static_cast<char>(c);
      word_start = true;
      continue;
    }
    if (word_start) {
      // The whole first character, however many UTF-8 bytes it has.
      out += static_cast<char>(c);
      while (i + 1 < text.size() && utf8_continuation(static_cast<unsigned char>(text[i + 1]))) out += text[++i];
      word_start = false;
      continue;
    }
    if (!utf8_continuation(c)) out += '*';  // one star per character, not per byte
  }
  return out;
}

std::string mask_email(std::string_view text) {
  auto at = text.rfind('@');
  if (at == std::string_view::npos) return "***";
  return "***" + std::string(text.substr(at));
}

std::string mask_phone(std::string_view text) {
  std::string digits;
  for (char c : text)
    if (c >= '0' && c <= '9') digits += c;
  if (digits.size() <= 4) return "***";  // too short to keep any of it
  return "***" + digits.substr(digits.size() - 2);
}

bool may_hold_pii(std::string_view body) {
  for (auto key : {"\"ship_to\"", "\"ship_from\"", "\"recipient\"", "\"consignee\"", "\"signed_by\""})
    if (body.find(key) != std::string_view::npos) return true;
  return false;
}

std::optional<std::string> mask_pii_json(std::string_view body) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  MaskingHandler handler(w);
  rapidjson::MemoryStream ms(body.data(), body.size());
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseValidateEncodingFlag;
  if (!reader.Parse<kFlags>(ms, handler)) return std::nullopt;
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace waybill::runtime
