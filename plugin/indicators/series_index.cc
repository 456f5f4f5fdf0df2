#include "indicators/series_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>

#include "core/timeutil.h"

namespace danvan::indicators {
namespace {

constexpr char kSep = '\x1f';

void MonthOf(int64_t day, int32_t* month_key, unsigned* dom) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  *month_key = static_cast<int32_t>(y * 12 + static_cast<int>(m - 1));
  *dom = d;
}

constexpr double kScale = 1e6;  // sums in millionths (see series_index.h)

// The most a loaded cell's days add up to in absolute value, in millionths: 2^60 (1.15e12 counts
// or days, far beyond any unit's figures), so a cell's sums and every sum of them stay inside
// int64 whatever a damaged checkpoint holds.
constexpr int64_t kMaxCellMagnitude = int64_t{1} << 60;

int64_t ToFixed(double value) { return std::llround(value * kScale); }
double FromFixed(int64_t fixed) { return static_cast<double>(fixed) / kScale; }

// Bits of days 1..dom.
uint32_t UpTo(unsigned dom) { return dom >= 32 ? ~0u : ((1u << dom) - 1); }

}  // namespace

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutI64(std::string* out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
bool GetU32(const std::string& in, size_t* pos, uint32_t* v) {
  if (in.size() - *pos < 4 || *pos > in.size()) return false;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= uint32_t{static_cast<unsigned char>(in[*pos + i])} << (8 * i);
  *pos += 4;
  *v = r;
  return true;
}
bool GetI64(const std::string& in, size_t* pos, int64_t* v) {
  if (*pos > in.size() || in.size() - *pos < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r |= uint64_t{static_cast<unsigned char>(in[*pos + i])} << (8 * i);
  *pos += 8;
  *v = static_cast<int64_t>(r);
  return true;
}

uint32_t SeriesIndex::Intern(std::vector<std::string>* names,
                             std::unordered_map<std::string, uint32_t>* ids, const std::string& name) {
  auto [it, added] = ids->try_emplace(name, static_cast<uint32_t>(names->size()));
  if (added) {
    names->push_back(name);
    if (names == &series_names_) names_stamp_ = NewStamp();  // SeriesLists resolve again
  }
  return it->second;
}

uint64_t SeriesIndex::NewStamp() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void SeriesIndex::SetCell(uint64_t key, const Buckets* b) {
  const auto series = static_cast<uint32_t>(key >> 32), unit = static_cast<uint32_t>(key & 0xffffffffu);
  if (unit >= rows_.size()) {
    if (!b) return;
    rows_.resize(unit_names_.size());
  }
  auto& row = rows_[unit];
  if (series >= row.size()) {
    if (!b) return;
    row.resize(series_names_.size(), nullptr);
  }
  row[series] = b;
}

namespace {

// Writes v at out (room for 10 bytes); returns the bytes written.
size_t PutVarint(uint8_t* out, int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
  size_t n = 0;
  while (u >= 0x80) {
    out[n++] = static_cast<uint8_t>(u | 0x80);
    u >>= 7;
  }
  out[n++] = static_cast<uint8_t>(u);
  return n;
}

int64_t GetVarint(const uint8_t** p) {
  uint64_t u = 0;
  int shift = 0;
  for (;;) {
    const uint8_t byte = *(*p)++;
    u |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) break;
    shift += 7;
  }
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

}  // namespace

void SeriesIndex::Decode(const Buckets& b, const MonthHdr& h, int n, int64_t* out) {
  const uint8_t* p = b.bytes.data() + h.off;
  for (int i = 0; i < n; ++i) out[i] = GetVarint(&p);
}

void SeriesIndex::Add(Buckets* b, int32_t month, unsigned dom, int64_t v) {
  if (v == 0) return;
  auto& months = b->months;
  auto it = std::lower_bound(months.begin(), months.end(), month,
                             [](const MonthHdr& h, int32_t m) { return h.month < m; });
  if (it == months.end() || it->month != month) {
    MonthHdr h;
    h.month = month;
    h.off = it == months.end() ? static_cast<uint32_t>(b->bytes.size()) : it->off;
    if (months.size() == months.capacity()) {
      const auto at = it - months.begin();
      months.reserve(GrownCapacity(months.size(), 1));
      it = months.begin() + at;
    }
    it = months.insert(it, h);
  }
  int64_t vals[32];
  int n = std::popcount(it->mask);
  Decode(*b, *it, n, vals);
  const uint32_t bit = 1u << (dom - 1);
  const int pos = std::popcount(it->mask & (bit - 1));
  it->total += v;
  if (it->mask & bit) {
    vals[pos] += v;
    if (vals[pos] == 0) {
      // The day's sum is back to zero: drop it.
      std::copy(vals + pos + 1, vals + n, vals + pos);
      --n;
      it->mask &= ~bit;
    }
  } else {
    std::copy_backward(vals + pos, vals + n, vals + n + 1);
    vals[pos] = v;
    ++n;
    it->mask |= bit;
  }
  uint8_t enc[31 * 10];  // at most 31 days of at most 10 bytes each
  size_t new_len = 0;
  for (int i = 0; i < n; ++i) new_len += PutVarint(enc + new_len, vals[i]);
  auto& bytes = b->bytes;
  const size_t old_len = it->len;
  if (new_len > old_len && bytes.size() + (new_len - old_len) > bytes.capacity())
    bytes.reserve(GrownCapacity(bytes.size(), new_len - old_len));
  const auto start = bytes.begin() + it->off;
  if (new_len <= old_len) {
    std::copy(enc, enc + new_len, start);
    bytes.erase(start + static_cast<std::ptrdiff_t>(new_len), start + static_cast<std::ptrdiff_t>(old_len));
  } else {
    std::copy(enc, enc + old_len, start);
    bytes.insert(start + static_cast<std::ptrdiff_t>(old_len), enc + old_len, enc + new_len);
  }
  it->len = static_cast<uint32_t>(new_len);
  const int64_t shift = static_cast<int64_t>(new_len) - static_cast<int64_t>(old_len);
  for (auto j = it + 1; j != months.end(); ++j) j->off = static_cast<uint32_t>(j->off + shift);
  if (it->mask == 0) months.erase(it);
}

void SeriesIndex::Apply(const std::vector<Delta>& deltas) {
  std::unique_lock lock(mu_);
  for (const auto& d : deltas) {
    int32_t mk;
    unsigned dom;
    MonthOf(d.day, &mk, &dom);
    const uint64_t key = KeyOf(Intern(&series_names_, &series_ids_, d.series),
                               Intern(&unit_names_, &unit_ids_, d.unit));
    auto [it, added] = data_.try_emplace(key);
    Buckets& b = it->second;
    Add(&b, mk, dom, ToFixed(d.value));
    if (b.months.empty()) {
      data_.erase(it);
      SetCell(key, nullptr);
    } else if (added) {
      SetCell(key, &b);
    }
  }
}

const SeriesIndex::Buckets* SeriesIndex::Find(const std::string& series,
                                              const std::string& unit) const {
  auto s = series_ids_.find(series);
  if (s == series_ids_.end()) return nullptr;
  auto u = unit_ids_.find(unit);
  if (u == unit_ids_.end()) return nullptr;
  auto it = data_.find(KeyOf(s->second, u->second));
  return it == data_.end() ? nullptr : &it->second;
}

int64_t SeriesIndex::Prefix(const Buckets& b, int64_t day) {
  int32_t mk;
  unsigned dom;
  MonthOf(day, &mk, &dom);
  int64_t sum = 0;
  for (const MonthHdr& h : b.months) {
    if (h.month < mk) {
      sum += h.total;
      continue;
    }
    if (h.month == mk) {
      const int n = std::popcount(h.mask & UpTo(dom));
      int64_t vals[32];
      Decode(b, h, n, vals);
      for (int i = 0; i < n; ++i) sum += vals[i];
    }
    break;
  }
  return sum;
}

int64_t SeriesIndex::RangeSum(const Buckets& b, int64_t from_day, int64_t to_day) {
  int32_t m0, m1;
  unsigned d0, d1;
  MonthOf(from_day, &m0, &d0);
  MonthOf(to_day, &m1, &d1);
  auto it = std::lower_bound(b.months.begin(), b.months.end(), m0,
                             [](const MonthHdr& h, int32_t m) { return h.month < m; });
  int64_t sum = 0;
  for (; it != b.months.end() && it->month <= m1; ++it) {
    const MonthHdr& h = *it;
    uint32_t want = ~0u;                       // the month's days inside the range
    if (h.month == m0) want &= ~UpTo(d0 - 1);  // from d0
    if (h.month == m1) want &= UpTo(d1);       // up to d1
    if ((h.mask & want) == h.mask) {           // every day it has is inside: its total
      sum += h.total;
      continue;
    }
    int64_t vals[32];
    Decode(b, h, std::popcount(h.mask), vals);
    int i = 0;
    for (uint32_t mask = h.mask; mask; mask &= mask - 1, ++i)
      if (mask & (~mask + 1) & want) sum += vals[i];
  }
  return sum;
}

double SeriesIndex::Range(const std::string& series, const std::string& unit, int64_t from_day,
                          int64_t to_day) const {
  if (to_day < from_day) return 0;
  std::shared_lock lock(mu_);
  const Buckets* b = Find(series, unit);
  if (!b) return 0;
  // == Prefix(to_day) - Prefix(from_day - 1), exactly (integer millionths), reading only the
  // months of the range and decoding only partial ones (a month period decodes none).
  return FromFixed(RangeSum(*b, from_day, to_day));
}

SeriesIndex::Reader SeriesIndex::Read(const std::string& unit, const SeriesList& list) const {
  Reader r;
  r.lock_ = std::shared_lock(mu_);
  r.cells_.assign(list.size(), nullptr);
  auto u = unit_ids_.find(unit);
  if (u == unit_ids_.end() || u->second >= rows_.size()) return r;
  const auto& row = rows_[u->second];
  std::lock_guard list_lock(list.mu_);
  if (list.stamp_ != names_stamp_) {
    list.ids_.resize(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      auto s = series_ids_.find(list.names_[i]);
      list.ids_[i] = s == series_ids_.end() ? UINT32_MAX : s->second;
    }
    list.stamp_ = names_stamp_;
  }
  for (size_t i = 0; i < list.size(); ++i)
    if (list.ids_[i] < row.size()) r.cells_[i] = row[list.ids_[i]];
  return r;
}

double SeriesIndex::Reader::Range(size_t i, int64_t from_day, int64_t to_day) const {
  if (to_day < from_day || !cells_[i]) return 0;
  return FromFixed(RangeSum(*cells_[i], from_day, to_day));
}

double SeriesIndex::Reader::Level(size_t i, int64_t day) const {
  return cells_[i] ? FromFixed(Prefix(*cells_[i], day)) : 0;
}

double SeriesIndex::Level(const std::string& series, const std::string& unit, int64_t day) const {
  std::shared_lock lock(mu_);
  const Buckets* b = Find(series, unit);
  return b ? FromFixed(Prefix(*b, day)) : 0;
}

void SeriesIndex::Clear() {
  std::unique_lock lock(mu_);
  data_.clear();
  rows_.clear();
  names_stamp_ = NewStamp();
  series_names_.clear();
  unit_names_.clear();
  series_ids_.clear();
  unit_ids_.clear();
}

size_t SeriesIndex::bucket_count() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [k, b] : data_) n += b.months.size();
  return n;
}

size_t SeriesIndex::key_count() const {
  std::shared_lock lock(mu_);
  return data_.size();
}

size_t SeriesIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  // Hash node: key, value (two vectors), next pointer, cached hash; plus the bucket array.
  size_t n = data_.bucket_count() * sizeof(void*);
  for (const auto& [k, b] : data_)
    n += sizeof(uint64_t) + sizeof(Buckets) + 2 * sizeof(void*) + b.months.capacity() * sizeof(MonthHdr) +
         b.bytes.capacity();
  for (const auto& row : rows_) n += sizeof(row) + row.capacity() * sizeof(row[0]);
  for (const auto* names : {&series_names_, &unit_names_})
    for (const auto& s : *names) n += 2 * (sizeof(std::string) + s.capacity()) + 3 * sizeof(void*);
  return n;
}

std::string SeriesIndex::CellKey(const std::string& series, const std::string& unit) {
  std::string k;
  k.reserve(series.size() + unit.size() + 3);
  k += 's';
  k += kSep;
  k += series;
  k += kSep;
  k += unit;
  return k;
}

bool SeriesIndex::IsCellKey(const std::string& key) { return key.size() > 2 && key[0] == 's' && key[1] == kSep; }

std::vector<std::pair<std::string, std::string>> SeriesIndex::Keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(data_.size());
  for (const auto& [k, b] : data_)
    out.emplace_back(series_names_[k >> 32], unit_names_[k & 0xffffffffu]);
  return out;
}

std::string SeriesIndex::EncodeCell(const std::string& series, const std::string& unit) const {
  std::shared_lock lock(mu_);
  std::string out;
  const Buckets* b = Find(series, unit);
  if (!b) return out;
  out.reserve(b->months.size() * 12 + b->bytes.size());
  for (const MonthHdr& h : b->months) {
    PutU32(&out, static_cast<uint32_t>(h.month));
    PutU32(&out, h.mask);
    PutU32(&out, h.len);
    out.append(reinterpret_cast<const char*>(b->bytes.data()) + h.off, h.len);
  }
  return out;
}

bool SeriesIndex::LoadCell(const std::string& key, const std::string& data) {
  if (!IsCellKey(key)) return false;
  const size_t sep = key.find(kSep, 2);
  if (sep == std::string::npos) return false;
  // Parsed and checked whole before anything changes: months increasing, each month's varints
  // exactly one per set day, no bit for a 32nd day, no zero day, and the days' magnitudes
  // summing to at most kMaxCellMagnitude (a damaged cell's varints of up to 2^63 made the month
  // totals, and later Prefix and Apply, overflow int64: undefined behaviour).
  Buckets fresh;
  size_t pos = 0;
  int64_t prev = INT64_MIN;
  int64_t magnitude = 0;  // sum of |day value| over the cell, <= kMaxCellMagnitude
  while (pos < data.size()) {
    uint32_t month, mask, len;
    if (!GetU32(data, &pos, &month) || !GetU32(data, &pos, &mask) || !GetU32(data, &pos, &len)) return false;
    if (data.size() - pos < len || mask == 0 || (mask >> 31) || static_cast<int32_t>(month) <= prev) return false;
    prev = static_cast<int32_t>(month);
    MonthHdr h;
    h.month = static_cast<int32_t>(month);
    h.mask = mask;
    h.off = static_cast<uint32_t>(fresh.bytes.size());
    h.len = len;
    const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + pos;
    const auto* end = p + len;
    for (int i = std::popcount(mask); i > 0; --i) {
      if (p >= end) return false;
      // A varint must end inside the month's bytes.
      const uint8_t* q = p;
      while (q < end && (*q & 0x80)) ++q;
      if (q >= end || q - p > 9) return false;
      const int64_t v = GetVarint(&p);
      if (v == 0 || v > kMaxCellMagnitude || v < -kMaxCellMagnitude) return false;
      magnitude += v < 0 ? -v : v;  // both terms <= 2^60: no overflow
      if (magnitude > kMaxCellMagnitude) return false;
      h.total += v;
    }
    if (p != end) return false;
    fresh.bytes.insert(fresh.bytes.end(), reinterpret_cast<const uint8_t*>(data.data()) + pos, end);
    fresh.months.push_back(h);
    pos += len;
  }
  // Exact sizes: the appends above doubled the capacities (~1/3 of the index's memory at 10M).
  fresh.months.shrink_to_fit();
  fresh.bytes.shrink_to_fit();
  std::unique_lock lock(mu_);
  const uint64_t k = KeyOf(Intern(&series_names_, &series_ids_, key.substr(2, sep - 2)),
                           Intern(&unit_names_, &unit_ids_, key.substr(sep + 1)));
  auto [it, added] = data_.try_emplace(k);
  if (added) {
    it->second = std::move(fresh);
    SetCell(k, &it->second);
  } else {
    // Already has sums (not at open): add day by day.
    for (const MonthHdr& h : fresh.months) {
      int64_t vals[32];
      Decode(fresh, h, std::popcount(h.mask), vals);
      int i = 0;
      for (unsigned d = 1; d <= 31; ++d)
        if (h.mask & (1u << (d - 1))) Add(&it->second, h.month, d, vals[i++]);
    }
  }
  if (it->second.months.empty()) {
    data_.erase(it);
    SetCell(k, nullptr);
  }
  return true;
}

}  // namespace danvan::indicators
