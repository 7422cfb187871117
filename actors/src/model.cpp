#include "waybill/actors/model.hpp"

#include <chrono>
#include <cstdio>

namespace waybill {

namespace {
template <class E, size_t N>
std::optional<E> lookup(const char* const (&names)[N], std::string_view s) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  return std::nullopt;
}
const char* const kOrderStatus[] = {"received", "validated", "released", "allocated", "packed",
                                    "shipping", "shipped", "delivered", "exception", "cancelled"};
const char* const kTrackingStatus[] = {
    "pending", "label_created", "picked_up", "in_transit", "out_for_delivery", "attempt_failed",
    "available_for_pickup", "delivered", "exception", "return_to_sender", "cancelled", "stale"};
const char* const kServiceLevel[] = {"ground", "express", "overnight", "freight"};
}  // namespace

const char* name(OrderStatus s) { return kOrderStatus[static_cast<size_t>(s)]; }
const char* name(TrackingStatus s) { return kTrackingStatus[static_cast<size_t>(s)]; }
const char* name(ServiceLevel s) { return kServiceLevel[static_cast<size_t>(s)]; }
std::optional<OrderStatus> parse_order_status(std::string_view s) { return lookup<OrderStatus>(kOrderStatus, s); }
std::optional<TrackingStatus> parse_tracking_status(std::string_view s) { return lookup<TrackingStatus>(kTrackingStatus, s); }
std::optional<ServiceLevel> parse_service_level(std::string_view s) { return lookup<ServiceLevel>(kServiceLevel, s); }

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
// Howard Hinnant's days_from_civil: proleptic Gregorian date to days since 1970-01-01.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}
bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}
}  // namespace

std::optional<int64_t> parse_rfc3339_us(std::string_view t) {
  int year, mon, day, hh, mm, ss;
  if (!digits(t, 0, 4, &year) || t.size() < 20 || t[4] != '-' || !digits(t, 5, 2, &mon) ||
      t[7] != '-' || !digits(t, 8, 2, &day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
      !digits(t, 11, 2, &hh) || t[13] != ':' || !digits(t, 14, 2, &mm) || t[16] != ':' ||
      !digits(t, 17, 2, &ss))
    return std::nullopt;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (mon < 1 || mon > 12 || day < 1 || day > kDays[mon - 1] || (mon == 2 && day == 29 && !leap) ||
      hh > 23 || mm > 59 || ss > 60)
    return std::nullopt;
  size_t pos = 19;
  int64_t frac_us = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      frac_us += (t[pos] - '0') * scale;  // digits beyond microseconds are truncated
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos >= t.size()) return std::nullopt;
  int64_t offset_s = 0;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    ++pos;
  } else if (t[pos] == '+' || t[pos] == '-') {
    int oh, om;
    if (!digits(t, pos + 1, 2, &oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !digits(t, pos + 4, 2, &om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  int64_t secs = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss);
  return (secs - offset_s) * 1000000 + frac_us;
}

std::string format_rfc3339(int64_t us) {
  int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  int64_t frac = us - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                static_cast<long long>(frac));
  return buf;
}

uint64_t fnv1a64(std::string_view data, uint64_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace waybill
