#include "core/timeutil.h"

#include <charconv>
#include <cstdio>
#include <cstring>

namespace danvan {
namespace {

bool ReadInt(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

unsigned DaysInMonth(int y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

bool ValidCivil(int y, int mo, int d, int h, int mi, int s) {
  return y >= 1900 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 &&
         d <= static_cast<int>(DaysInMonth(y, mo)) && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 &&
         s >= 0 && s <= 60;
}

int64_t ToEpochMs(int y, int mo, int d, int h, int mi, int s, int offset_minutes) {
  int64_t days = DaysFromCivil(y, mo, d);
  return ((days * 86400 + h * 3600 + mi * 60 + s) - offset_minutes * 60LL) * 1000;
}

}  // namespace

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(y + (m <= 2));
  *month = m;
  *day = d;
}

int64_t LocalDay(int64_t epoch_ms, int utc_offset_minutes) {
  int64_t local = epoch_ms + utc_offset_minutes * 60'000LL;
  return local >= 0 ? local / kMsPerDay : (local - kMsPerDay + 1) / kMsPerDay;
}

int Weekday(int64_t day) {
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  int64_t w = (day + 3) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

std::optional<int64_t> ParsePortalTime(std::string_view s, int utc_offset_minutes) {
  if (s.size() != 14) return std::nullopt;
  int y, mo, d, h, mi, se;
  if (!ReadInt(s, 0, 4, &y) || !ReadInt(s, 4, 2, &mo) || !ReadInt(s, 6, 2, &d) ||
      !ReadInt(s, 8, 2, &h) || !ReadInt(s, 10, 2, &mi) || !ReadInt(s, 12, 2, &se))
    return std::nullopt;
  if (!ValidCivil(y, mo, d, h, mi, se)) return std::nullopt;
  return ToEpochMs(y, mo, d, h, mi, se, utc_offset_minutes);
}

namespace {

// `v` (0 <= v < 10^width) as `width` decimal digits at `out`.
void PutDigits(unsigned v, int width, char* out) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

std::string FormatPortalTime(int64_t epoch_ms, int utc_offset_minutes) {
  int64_t local_s = epoch_ms / 1000 + utc_offset_minutes * 60LL;
  int64_t day = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
  int64_t sod = local_s - day * 86400;
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  char buf[32];
  if (y < 0 || y > 9999) {
    // Outside four digits: printf's widening and sign, as always.
    std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d%02d", y, m, d, static_cast<int>(sod / 3600),
                  static_cast<int>(sod % 3600 / 60), static_cast<int>(sod % 60));
    return buf;
  }
  // The same digits as the format above, without printf (called for every time written).
  PutDigits(static_cast<unsigned>(y), 4, buf);
  PutDigits(m, 2, buf + 4);
  PutDigits(d, 2, buf + 6);
  PutDigits(static_cast<unsigned>(sod / 3600), 2, buf + 8);
  PutDigits(static_cast<unsigned>(sod % 3600 / 60), 2, buf + 10);
  PutDigits(static_cast<unsigned>(sod % 60), 2, buf + 12);
  return std::string(buf, 14);
}

std::optional<int64_t> ParseIsoTime(std::string_view s, int default_offset_minutes) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (s.size() < 10 || !ReadInt(s, 0, 4, &y) || s[4] != '-' || !ReadInt(s, 5, 2, &mo) ||
      s[7] != '-' || !ReadInt(s, 8, 2, &d))
    return std::nullopt;
  size_t pos = 10;
  int millis = 0;
  int offset = default_offset_minutes;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != ' ') return std::nullopt;
    if (!ReadInt(s, pos + 1, 2, &h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadInt(s, pos + 4, 2, &mi))
      return std::nullopt;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!ReadInt(s, pos + 1, 2, &se)) return std::nullopt;
      pos += 3;
    }
    if (pos < s.size() && s[pos] == '.') {
      size_t start = ++pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return std::nullopt;
      std::string frac(s.substr(start, std::min<size_t>(3, pos - start)));
      while (frac.size() < 3) frac += '0';
      millis = std::stoi(frac);
    }
    if (pos < s.size()) {
      if (s[pos] == 'Z' && pos + 1 == s.size()) {
        offset = 0;
      } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
        int oh, om;
        if (!ReadInt(s, pos + 1, 2, &oh) || !ReadInt(s, pos + 4, 2, &om)) return std::nullopt;
        offset = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
      } else {
        return std::nullopt;
      }
    }
  }
  if (!ValidCivil(y, mo, d, h, mi, se)) return std::nullopt;
  return ToEpochMs(y, mo, d, h, mi, se, offset) + millis;
}

std::string FormatIsoTime(int64_t epoch_ms, int utc_offset_minutes) {
  std::string p = FormatPortalTime(epoch_ms, utc_offset_minutes);
  char buf[40];
  int off = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
  if (p.size() == 14 && p[0] != '-' && off < 100 * 60) {
    // "yyyy-MM-ddTHH:mm:ss+hh:mm": the format below, without printf.
    std::string out(25, '\0');
    const char* q = p.data();
    char* o = out.data();
    std::memcpy(o, q, 4);
    o[4] = '-';
    std::memcpy(o + 5, q + 4, 2);
    o[7] = '-';
    std::memcpy(o + 8, q + 6, 2);
    o[10] = 'T';
    std::memcpy(o + 11, q + 8, 2);
    o[13] = ':';
    std::memcpy(o + 14, q + 10, 2);
    o[16] = ':';
    std::memcpy(o + 17, q + 12, 2);
    o[19] = utc_offset_minutes < 0 ? '-' : '+';
    PutDigits(static_cast<unsigned>(off / 60), 2, o + 20);
    o[22] = ':';
    PutDigits(static_cast<unsigned>(off % 60), 2, o + 23);
    return out;
  }
  std::snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%c%02d:%02d", p.c_str(),
                p.c_str() + 4, p.c_str() + 6, p.c_str() + 8, p.c_str() + 10, p.c_str() + 12,
                utc_offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return buf;
}

std::optional<int64_t> ParseIsoDate(std::string_view s) {
  int y, mo, d;
  if (s.size() != 10 || !ReadInt(s, 0, 4, &y) || s[4] != '-' || !ReadInt(s, 5, 2, &mo) ||
      s[7] != '-' || !ReadInt(s, 8, 2, &d) || !ValidCivil(y, mo, d, 0, 0, 0))
    return std::nullopt;
  return DaysFromCivil(y, mo, d);
}

std::string FormatIsoDate(int64_t day) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

}  // namespace danvan
