#include "indicators/record_index.h"

#include <cmath>
#include <cstring>
#include <mutex>

#include "core/timeutil.h"

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

namespace {

int64_t MonthKey(int64_t day) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  return static_cast<int64_t>(y) * 12 + (m - 1);
}

// Days [first, last] of a month key.
void MonthDays(int64_t month_key, int64_t* first, int64_t* last) {
  const int y = static_cast<int>(month_key / 12);
  const unsigned m = static_cast<unsigned>(month_key % 12) + 1;
  *first = DaysFromCivil(y, m, 1);
  *last = (m == 12 ? DaysFromCivil(y + 1, 1, 1) : DaysFromCivil(y, m + 1, 1)) - 1;
}

// Splits "r" 0x1f series 0x1f month.
bool SplitKey(const std::string& key, std::string* series, int64_t* month) {
  if (!RecordSeriesIndex::IsCellKey(key)) return false;
  const size_t sep = key.rfind('\x1f');
  if (sep == std::string::npos || sep < 2 || sep + 1 >= key.size()) return false;
  *series = key.substr(2, sep - 2);
  char* end = nullptr;
  *month = std::strtoll(key.c_str() + sep + 1, &end, 10);
  return end && *end == '\0';
}

}  // namespace

std::string RecordSeriesIndex::CellKey(const std::string& series, int64_t day) {
  return std::string("r\x1f") + series + '\x1f' + std::to_string(MonthKey(day));
}

bool RecordSeriesIndex::IsCellKey(const std::string& key) {
  return key.size() > 2 && key[0] == 'r' && key[1] == '\x1f';
}

std::string RecordSeriesIndex::EncodeCell(const std::string& key) const {
  std::string series, out;
  int64_t month;
  if (!SplitKey(key, &series, &month)) return out;
  int64_t first, last;
  MonthDays(month, &first, &last);
  std::shared_lock lock(mu_);
  auto found = data_.find(series);
  if (found == data_.end()) return out;
  const Entries& entries = found->second;
  for (auto it = entries.lower_bound({first, INT64_MIN}); it != entries.end() && it->first.first <= last; ++it) {
    PutI64(&out, it->first.first);
    PutI64(&out, it->first.second);
    int64_t bits;
    std::memcpy(&bits, &it->second.value, sizeof bits);
    PutI64(&out, bits);
    const std::string& unit = units_[it->second.unit];
    PutU32(&out, static_cast<uint32_t>(unit.size()));
    out += unit;
  }
  return out;
}

std::vector<std::string> RecordSeriesIndex::CellKeys() const {
  std::shared_lock lock(mu_);
  std::set<std::string> keys;
  for (const auto& [series, entries] : data_)
    for (const auto& [k, cell] : entries) keys.insert(CellKey(series, k.first));
  return {keys.begin(), keys.end()};
}

bool RecordSeriesIndex::LoadCell(const std::string& key, const std::string& data) {
  std::string series;
  int64_t month;
  if (!SplitKey(key, &series, &month)) return false;
  std::vector<Delta> deltas;
  size_t pos = 0;
  while (pos < data.size()) {
    Delta d;
    int64_t bits;
    uint32_t len;
    if (!GetI64(data, &pos, &d.day) || !GetI64(data, &pos, &d.record_pk) || !GetI64(data, &pos, &bits) ||
        !GetU32(data, &pos, &len) || data.size() - pos < len)
      return false;
    std::memcpy(&d.value, &bits, sizeof bits);
    d.unit = data.substr(pos, len);
    pos += len;
    d.series = series;
    d.own_unit = true;
    if (d.record_pk == 0) return false;
    deltas.push_back(std::move(d));
  }
  Apply(deltas);
  return true;
}

size_t RecordSeriesIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  // A red-black tree node: three pointers and a colour, then the key and the value.
  constexpr size_t kNode = 4 * sizeof(void*) + sizeof(std::pair<int64_t, int64_t>) + sizeof(Cell);
  size_t n = 0;
  for (const auto& [series, entries] : data_) n += series.capacity() + 64 + entries.size() * kNode;
  for (const auto& u : units_) n += 2 * (sizeof(std::string) + u.capacity()) + 3 * sizeof(void*);
  return n;
}

void RecordSeriesIndex::Clear() {
  std::unique_lock lock(mu_);
  data_.clear();
  units_.clear();
  unit_ids_.clear();
}

size_t RecordSeriesIndex::entry_count() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [series, entries] : data_) n += entries.size();
  return n;
}

}  // namespace danvan::indicators
