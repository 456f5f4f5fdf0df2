#include "reports/vnformat.h"

#include <cmath>
#include <cstdio>

#include "core/timeutil.h"

namespace danvan::reports {

std::string FormatNumberVn(double v, int max_decimals) {
  if (!std::isfinite(v)) return "—";
  const double scale = std::pow(10.0, max_decimals);
  // Half away from zero; the nudge keeps 2.675 (stored as 2.67499..) rounding as written.
  double scaled = std::round(std::fabs(v) * scale + 1e-7);
  const bool negative = v < 0 && scaled > 0;
  const unsigned long long units = static_cast<unsigned long long>(scaled);
  const unsigned long long div = static_cast<unsigned long long>(scale);
  unsigned long long int_part = units / div;
  unsigned long long frac = units % div;
  std::string digits = std::to_string(int_part);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += '.';
    out += digits[i];
  }
  if (frac > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llu", max_decimals, frac);
    std::string f = buf;
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += ',' + f;
  }
  return negative ? "-" + out : out;
}

std::string FormatPercentVn(std::optional<double> ratio, int max_decimals) {
  if (!ratio) return "—";
  return FormatNumberVn(*ratio * 100, max_decimals) + "%";
}

std::string FormatPointChangeVn(double delta, int max_decimals) {
  std::string n = FormatNumberVn(delta * 100, max_decimals);
  if (n != "0" && n[0] != '-') n = "+" + n;
  return n + " điểm %";
}

std::string FormatCountChangeVn(double delta, int max_decimals) {
  std::string n = FormatNumberVn(delta, max_decimals);
  if (n != "0" && n[0] != '-') n = "+" + n;
  return n;
}

std::string FormatDateVn(std::string_view iso) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (iso.size() == 7 && iso[4] == '-') {
    if (std::sscanf(std::string(iso).c_str(), "%4d-%2u", &y, &m) == 2 && m >= 1 && m <= 12)
      return std::to_string(m) + "/" + std::to_string(y);
    return std::string(iso);
  }
  if (iso.size() == 10) {
    auto day = ParseIsoDate(iso);
    if (!day) return std::string(iso);
    CivilFromDays(*day, &y, &m, &d);
  } else {
    auto t = ParseIsoTime(iso, 420);
    if (!t) return std::string(iso);
    CivilFromDays(LocalDay(*t, 420), &y, &m, &d);
  }
  return std::to_string(d) + "/" + std::to_string(m) + "/" + std::to_string(y);
}

}  // namespace danvan::reports
