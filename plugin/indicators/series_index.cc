#include "indicators/series_index.h"

#include <cmath>
#include <mutex>

#include "core/timeutil.h"

namespace danvan::indicators {
namespace {

std::string Key(const std::string& series, const std::string& unit) {
  std::string k;
  k.reserve(series.size() + unit.size() + 1);
  k += series;
  k += '\x1f';
  k += unit;
  return k;
}

void MonthOf(int64_t day, int64_t* month_key, unsigned* dom) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  *month_key = static_cast<int64_t>(y) * 12 + (m - 1);
  *dom = d;
}

constexpr double kScale = 1e6;  // sums in millionths (see series_index.h)

int64_t ToFixed(double value) { return std::llround(value * kScale); }
double FromFixed(int64_t fixed) { return static_cast<double>(fixed) / kScale; }

}  // namespace

void SeriesIndex::Apply(const std::vector<Delta>& deltas) {
  std::unique_lock lock(mu_);
  for (const auto& d : deltas) {
    int64_t mk;
    unsigned dom;
    MonthOf(d.day, &mk, &dom);
    Month& m = data_[Key(d.series, d.unit)][mk];
    const int64_t v = ToFixed(d.value);
    m.total += v;
    m.days[dom - 1] += v;
  }
}

const SeriesIndex::Buckets* SeriesIndex::Find(const std::string& series,
                                              const std::string& unit) const {
  auto it = data_.find(Key(series, unit));
  return it == data_.end() ? nullptr : &it->second;
}

int64_t SeriesIndex::Prefix(const Buckets& b, int64_t day) {
  int64_t mk;
  unsigned dom;
  MonthOf(day, &mk, &dom);
  int64_t sum = 0;
  for (auto it = b.begin(); it != b.end() && it->first <= mk; ++it) {
    if (it->first < mk) {
      sum += it->second.total;
    } else {
      for (unsigned i = 0; i < dom; ++i) sum += it->second.days[i];
    }
  }
  return sum;
}

double SeriesIndex::Range(const std::string& series, const std::string& unit, int64_t from_day,
                          int64_t to_day) const {
  if (to_day < from_day) return 0;
  std::shared_lock lock(mu_);
  const Buckets* b = Find(series, unit);
  if (!b) return 0;
  return FromFixed(Prefix(*b, to_day) - Prefix(*b, from_day - 1));
}

double SeriesIndex::Level(const std::string& series, const std::string& unit, int64_t day) const {
  std::shared_lock lock(mu_);
  const Buckets* b = Find(series, unit);
  return b ? FromFixed(Prefix(*b, day)) : 0;
}

size_t SeriesIndex::bucket_count() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [k, b] : data_) n += b.size();
  return n;
}

}  // namespace danvan::indicators
