#include "indicators/record_index.h"

#include <cmath>
#include <mutex>

namespace danvan::indicators {
namespace {

// Contributions are small integers or sums of them; anything below this is a cancelled entry.
constexpr double kZero = 1e-9;

}  // namespace

RecordSeriesIndex::RecordSeriesIndex(std::vector<std::string> tracked_series)
    : tracked_(tracked_series.begin(), tracked_series.end()) {}

bool RecordSeriesIndex::Tracks(const std::string& series) const { return tracked_.count(series) > 0; }

uint32_t RecordSeriesIndex::Intern(const std::string& unit) {
  auto [it, added] = unit_ids_.try_emplace(unit, static_cast<uint32_t>(units_.size()));
  if (added) units_.push_back(unit);
  return it->second;
}

void RecordSeriesIndex::Apply(const std::vector<Delta>& deltas) {
  std::unique_lock lock(mu_);
  for (const auto& d : deltas) {
    if (d.record_pk == 0 || !d.own_unit || !Tracks(d.series)) continue;
    Entries& entries = data_[d.series];
    auto [it, added] = entries.try_emplace({d.day, d.record_pk});
    it->second.value += d.value;
    if (d.value > 0 || added) it->second.unit = Intern(d.unit);
    if (std::fabs(it->second.value) < kZero) entries.erase(it);
  }
}

std::vector<RecordSeriesIndex::Entry> RecordSeriesIndex::Between(const std::string& series,
                                                                 int64_t from_day,
                                                                 int64_t to_day) const {
  std::shared_lock lock(mu_);
  std::vector<Entry> out;
  auto found = data_.find(series);
  if (found == data_.end() || from_day > to_day) return out;
  const Entries& entries = found->second;
  for (auto it = entries.lower_bound({from_day, INT64_MIN});
       it != entries.end() && it->first.first <= to_day; ++it)
    out.push_back({it->first.second, units_[it->second.unit], it->first.first, it->second.value});
  return out;
}

std::vector<std::pair<int64_t, std::string>> RecordSeriesIndex::PositiveLevel(
    const std::string& series, int64_t day) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<int64_t, std::string>> out;
  auto found = data_.find(series);
  if (found == data_.end()) return out;
  struct Level {
    double sum = 0;
    uint32_t unit = 0;
  };
  std::map<int64_t, Level> levels;
  for (auto it = found->second.begin(); it != found->second.end() && it->first.first <= day; ++it) {
    Level& l = levels[it->first.second];
    l.sum += it->second.value;
    l.unit = it->second.unit;
  }
  for (const auto& [pk, l] : levels)
    if (l.sum > kZero) out.emplace_back(pk, units_[l.unit]);
  return out;
}

size_t RecordSeriesIndex::entry_count() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [series, entries] : data_) n += entries.size();
  return n;
}

}  // namespace danvan::indicators
