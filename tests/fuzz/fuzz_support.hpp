// Shared bits of the libFuzzer targets: a check that aborts (so libFuzzer keeps the
// input as a crash), and reading the shipped profiles of configs/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "waybill/actors/model.hpp"

// An invariant of the code under test; a violation is a finding, like a crash.
#define FUZZ_CHECK(cond, what)                                                                     \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                     \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace waybill::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// A file of the source tree (profiles in configs/); aborts when missing, since a target
/// without its profile would fuzz nothing.
inline std::string read_tree_file(const std::string& relative) {
  std::ifstream in(std::string(WAYBILL_SOURCE_DIR) + "/" + relative, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz: cannot read %s/%s\n", WAYBILL_SOURCE_DIR, relative.c_str());
    std::abort();
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The request hash of a canonical value: FNV-1a of its FlatBuffer with the hash zeroed.
template <class T>
uint64_t rehash(T value) {
  value.request_hash = 0;
  return fnv1a64(encode(value));
}

/// A stored value decodes to itself: encode, decode, encode gives the same bytes.
template <class T>
bool storage_round_trip(const T& value) {
  std::string bytes = encode(value);
  auto back = decode<T>(bytes);
  return back && encode(*back) == bytes;
}

}  // namespace waybill::fuzz
