#include "indicators/record_index.h"

#include <algorithm>
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

void RecordSeriesIndex::AddLocked(Blocks* blocks, const Delta& d) {
  const int64_t block = d.day >> 5;  // floor(day / kBlockDays): an arithmetic shift (C++20)
  const auto off = static_cast<uint8_t>(d.day & (kBlockDays - 1));
  auto b = std::lower_bound(blocks->begin(), blocks->end(), block,
                            [](const Block& x, int64_t k) { return x.block < k; });
  if (b == blocks->end() || b->block != block) {
    if (std::fabs(d.value) < kZero) {
      Intern(d.unit);  // as an added-then-cancelled entry did before
      return;
    }
    if (blocks->size() == blocks->capacity()) {
      const auto at = b - blocks->begin();
      blocks->reserve(GrownCapacity(blocks->size(), 1));
      b = blocks->begin() + at;
    }
    b = blocks->insert(b, Block{block, {}});
  }
  auto& entries = b->entries;
  auto e = std::lower_bound(entries.begin(), entries.end(), std::make_pair(off, d.record_pk),
                            [](const Slot& x, const std::pair<uint8_t, int64_t>& k) {
                              return x.off != k.first ? x.off < k.first : x.record_pk < k.second;
                            });
  const bool added = e == entries.end() || e->off != off || e->record_pk != d.record_pk;
  if (added) {
    if (entries.size() == entries.capacity()) {
      const auto at = e - entries.begin();
      entries.reserve(GrownCapacity(entries.size(), 1));
      e = entries.begin() + at;
    }
    e = entries.insert(e, Slot{d.record_pk, 0, 0, off});
  }
  e->value += d.value;
  if (d.value > 0 || added) e->unit = Intern(d.unit);
  if (std::fabs(e->value) < kZero) {
    entries.erase(e);
    if (entries.empty()) blocks->erase(b);
  }
}

void RecordSeriesIndex::Apply(const std::vector<Delta>& deltas) {
  std::unique_lock lock(mu_);
  for (const auto& d : deltas) {
    if (d.record_pk == 0 || !d.own_unit || !Tracks(d.series)) continue;
    AddLocked(&data_[d.series], d);
  }
}

template <class Fn>
void RecordSeriesIndex::ForEachBetween(const Blocks& blocks, int64_t from_day, int64_t to_day, Fn fn) {
  if (from_day > to_day) return;
  auto b = std::lower_bound(blocks.begin(), blocks.end(), from_day >> 5,
                            [](const Block& x, int64_t k) { return x.block < k; });
  for (; b != blocks.end() && b->block <= (to_day >> 5); ++b) {
    const int64_t base = b->block * kBlockDays;
    for (const Slot& e : b->entries) {
      const int64_t day = base + e.off;
      if (day < from_day) continue;
      if (day > to_day) break;
      fn(day, e);
    }
  }
}

std::vector<RecordSeriesIndex::Entry> RecordSeriesIndex::Between(const std::string& series,
                                                                 int64_t from_day,
                                                                 int64_t to_day) const {
  std::shared_lock lock(mu_);
  std::vector<Entry> out;
  auto found = data_.find(series);
  if (found == data_.end()) return out;
  ForEachBetween(found->second, from_day, to_day,
                 [&](int64_t day, const Slot& e) { out.push_back({e.record_pk, units_[e.unit], day, e.value}); });
  return out;
}

std::vector<std::pair<int64_t, std::string>> RecordSeriesIndex::PositiveLevel(
    const std::string& series, int64_t day) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<int64_t, std::string>> out;
  auto found = data_.find(series);
  if (found == data_.end()) return out;
  // Every entry up to the day, in (day, record) order; then by record, stably: a record's
  // entries stay in day order, so its last one gives the level's unit.
  struct Level {
    int64_t pk;
    double value;
    uint32_t unit;
  };
  std::vector<Level> all;
  ForEachBetween(found->second, INT64_MIN, day,
                 [&](int64_t, const Slot& e) { all.push_back({e.record_pk, e.value, e.unit}); });
  std::stable_sort(all.begin(), all.end(), [](const Level& a, const Level& b) { return a.pk < b.pk; });
  for (size_t i = 0; i < all.size();) {
    double sum = 0;
    size_t j = i;
    for (; j < all.size() && all[j].pk == all[i].pk; ++j) sum += all[j].value;
    if (sum > kZero) out.emplace_back(all[i].pk, units_[all[j - 1].unit]);
    i = j;
  }
  return out;
}

namespace {

int64_t MonthKey(int64_t day) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  return static_cast<int64_t>(y) * 12 + (m - 1);
}

// Month keys of years 0..9999 (the dates the intake reads); MonthDays is exact for those.
constexpr int64_t kMaxMonthKey = 10000 * 12;

// Days [first, last] of a month key in [0, kMaxMonthKey).
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
  ForEachBetween(found->second, first, last, [&](int64_t day, const Slot& e) {
    PutI64(&out, day);
    PutI64(&out, e.record_pk);
    int64_t bits;
    std::memcpy(&bits, &e.value, sizeof bits);
    PutI64(&out, bits);
    const std::string& unit = units_[e.unit];
    PutU32(&out, static_cast<uint32_t>(unit.size()));
    out += unit;
  });
  return out;
}

std::vector<std::string> RecordSeriesIndex::CellKeys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> keys;
  for (const auto& entry : data_) {
    // Not a structured binding: clang 14 (Debian 12, the sanitizer builds) cannot capture one
    // in a lambda.
    const auto& series = entry.first;
    int64_t last_month = INT64_MIN;
    ForEachBetween(entry.second, INT64_MIN, INT64_MAX, [&](int64_t day, const Slot&) {
      const int64_t month = MonthKey(day);  // days ascend, so each month comes once, in a run
      if (month == last_month) return;
      last_month = month;
      keys.push_back(CellKey(series, day));
    });
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void RecordSeriesIndex::Shrink(Blocks* blocks, int64_t from_day, int64_t to_day) {
  auto b = std::lower_bound(blocks->begin(), blocks->end(), from_day >> 5,
                            [](const Block& x, int64_t k) { return x.block < k; });
  for (; b != blocks->end() && b->block <= (to_day >> 5); ++b)
    if (b->entries.capacity() > b->entries.size() + b->entries.size() / 8) b->entries.shrink_to_fit();
}

bool RecordSeriesIndex::LoadCell(const std::string& key, const std::string& data) {
  std::string series;
  int64_t month;
  if (!SplitKey(key, &series, &month)) return false;
  // Every entry's day must lie in the key's month (a month of years 0..9999, as CellKey makes
  // them), and its value be finite: a damaged cell's day near INT64_MAX overflowed
  // CivilFromDays (undefined behaviour) when the cells were written back (CellKeys), a day of
  // another month was written back under the wrong key, and a NaN never cancelled.
  if (month < 0 || month >= kMaxMonthKey) return false;
  int64_t first_day, last_day;
  MonthDays(month, &first_day, &last_day);
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
    if (d.record_pk == 0 || d.day < first_day || d.day > last_day || !std::isfinite(d.value)) return false;
    deltas.push_back(std::move(d));
  }
  if (deltas.empty() || !Tracks(series)) return true;
  std::unique_lock lock(mu_);
  Blocks& blocks = data_[series];
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& d : deltas) {
    AddLocked(&blocks, d);
    lo = std::min(lo, d.day);
    hi = std::max(hi, d.day);
  }
  Shrink(&blocks, lo, hi);
  if (blocks.empty()) data_.erase(series);
  return true;
}

size_t RecordSeriesIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [series, blocks] : data_) {
    n += series.capacity() + 64 + blocks.capacity() * sizeof(Block);
    for (const auto& b : blocks) n += b.entries.capacity() * sizeof(Slot);
  }
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
  for (const auto& [series, blocks] : data_)
    for (const auto& b : blocks) n += b.entries.size();
  return n;
}

}  // namespace danvan::indicators
