// The compact SeriesIndex (sparse days, interned keys; issue 16) answers exactly what a plain
// per-day map answers, after any order of additions and cancellations, and its checkpoint
// cells (and RecordSeriesIndex's) load back into the same figures.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <tuple>

#include "core/starvation.h"
#include "core/timeutil.h"
#include "indicators/record_index.h"
#include "indicators/series_index.h"

namespace danvan::indicators {
namespace {

using Naive = std::map<std::pair<std::string, std::string>, std::map<int64_t, int64_t>>;  // millionths

double NaiveRange(const Naive& n, const std::string& s, const std::string& u, int64_t from, int64_t to) {
  auto it = n.find({s, u});
  if (it == n.end()) return 0;
  int64_t sum = 0;
  for (const auto& [day, v] : it->second)
    if (day >= from && day <= to) sum += v;
  return static_cast<double>(sum) / 1e6;
}

TEST(SeriesIndexTest, SparseDaysAnswerLikeAPlainMapAndCellsRoundTrip) {
  std::mt19937_64 rng(16);
  const std::vector<std::string> series = {"dossier.received", "dossier.open_overdue", "petition.open"};
  const std::vector<std::string> units = {"A", "A.B", "A.C", "D"};
  const int64_t first = DaysFromCivil(2023, 1, 1), last = DaysFromCivil(2027, 12, 31);
  SeriesIndex index;
  Naive naive;
  std::vector<Delta> applied;
  for (int round = 0; round < 40; ++round) {
    std::vector<Delta> batch;
    for (int i = 0; i < 500; ++i) {
      Delta d;
      d.series = series[rng() % series.size()];
      d.unit = units[rng() % units.size()];
      d.day = first + static_cast<int64_t>(rng() % static_cast<uint64_t>(last - first + 1));
      d.value = (rng() % 3 == 0) ? -1.0 : (rng() % 5 == 0 ? 2.5 : 1.0);
      batch.push_back(d);
    }
    // Cancel some earlier deltas exactly: days go back to zero and are dropped.
    for (int i = 0; i < 200 && !applied.empty(); ++i) {
      Delta d = applied[rng() % applied.size()];
      d.value = -d.value;
      batch.push_back(d);
    }
    index.Apply(batch);
    for (const auto& d : batch) {
      naive[{d.series, d.unit}][d.day] += std::llround(d.value * 1e6);
      applied.push_back(d);
    }
  }
  for (int q = 0; q < 3000; ++q) {
    const auto& s = series[rng() % series.size()];
    const auto& u = units[rng() % units.size()];
    int64_t a = first - 40 + static_cast<int64_t>(rng() % 2000), b = a + static_cast<int64_t>(rng() % 400);
    ASSERT_DOUBLE_EQ(index.Range(s, u, a, b), NaiveRange(naive, s, u, a, b)) << s << " " << u << " " << a << " " << b;
    ASSERT_DOUBLE_EQ(index.Level(s, u, b), NaiveRange(naive, s, u, INT64_MIN / 4, b));
  }
  // Months whose days all cancelled are gone.
  size_t months = 0;
  for (const auto& [k, days] : naive) {
    std::set<int64_t> m;
    for (const auto& [day, v] : days) {
      if (v == 0) continue;
      int y;
      unsigned mo, dd;
      CivilFromDays(day, &y, &mo, &dd);
      m.insert(y * 12 + mo);
    }
    months += m.size();
  }
  EXPECT_EQ(index.bucket_count(), months);
  // Cells: encode every key, load into a fresh index, same answers.
  SeriesIndex loaded;
  for (const auto& s : series)
    for (const auto& u : units) {
      const std::string data = index.EncodeCell(s, u);
      if (!data.empty()) {
        ASSERT_TRUE(loaded.LoadCell(SeriesIndex::CellKey(s, u), data));
      }
    }
  for (const auto& s : series)
    for (const auto& u : units)
      for (int64_t d = first; d <= last; d += 37)
        ASSERT_DOUBLE_EQ(loaded.Range(s, u, d, d + 45), index.Range(s, u, d, d + 45));
  // Malformed cells are refused whole.
  EXPECT_FALSE(loaded.LoadCell(SeriesIndex::CellKey("x", "y"), std::string("\x01\x02\x03", 3)));
  EXPECT_FALSE(loaded.LoadCell("z\x1fx\x1fy", index.EncodeCell(series[0], units[0])));
}

// SeriesIndex::Read (issue 16: one resolution per query) answers what Range and Level answer,
// for a SeriesList that names series the index does not have yet, after cells are created,
// emptied (their buckets freed), loaded from checkpoint cells, after Clear (ids re-assigned in
// another order) and with one list alternating between two indexes with different ids.
TEST(SeriesIndexTest, ReaderAnswersLikeRangeAndLevelThroughNewNamesEmptiedCellsAndClear) {
  const int64_t day = DaysFromCivil(2025, 3, 14);
  const SeriesList list({"d.recv", "later", "p.open", "d.recv"});  // a name twice is allowed
  auto expect_same = [&](const SeriesIndex& index, const std::string& unit) {
    std::vector<double> range, level;
    {
      const SeriesIndex::Reader r = index.Read(unit, list);
      for (size_t i = 0; i < list.size(); ++i) {
        range.push_back(r.Range(i, day - 40, day + 40));
        level.push_back(r.Level(i, day));
      }
      EXPECT_EQ(r.Range(0, day + 1, day), 0);  // an empty range
    }
    for (size_t i = 0; i < list.size(); ++i) {
      EXPECT_EQ(range[i], index.Range(list.names()[i], unit, day - 40, day + 40)) << list.names()[i] << " " << unit;
      EXPECT_EQ(level[i], index.Level(list.names()[i], unit, day)) << list.names()[i] << " " << unit;
    }
    return range;
  };
  SeriesIndex a;
  a.Apply({{"p.open", "U1", day - 3, 1}, {"d.recv", "U1", day, 2}, {"d.recv", "U2", day + 1, 1}});
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{2, 0, 1, 2}));
  EXPECT_EQ(expect_same(a, "nowhere"), (std::vector<double>{0, 0, 0, 0}));
  // A series name the list was resolved without: the list resolves again.
  a.Apply({{"later", "U1", day - 1, 5}});
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{2, 5, 1, 2}));
  // A cell whose every day cancels is erased: the reader must not see its freed buckets.
  // (The next new cell is likely to get the freed node's memory.)
  a.Apply({{"d.recv", "U1", day, -2}});
  a.Apply({{"p.open", "U2", day, 8}});
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{0, 5, 1, 0}));
  a.Apply({{"d.recv", "U1", day - 2, 3}});  // and comes back
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{3, 5, 1, 3}));
  // A second index interns the names in another order; the list alternates between the two.
  SeriesIndex b;
  b.Apply({{"x", "U9", day, 1}, {"later", "U1", day, 7}, {"p.open", "U1", day, 4}, {"d.recv", "U1", day, 9}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(expect_same(b, "U1"), (std::vector<double>{9, 7, 4, 9}));
    EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{3, 5, 1, 3}));
  }
  // Clear, then other ids: nothing stale.
  a.Clear();
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{0, 0, 0, 0}));
  a.Apply({{"p.open", "U2", day, 1}, {"later", "U1", day, 1}, {"d.recv", "U1", day, 1}});
  EXPECT_EQ(expect_same(a, "U1"), (std::vector<double>{1, 1, 0, 1}));
  // Cells loaded from a checkpoint are read the same.
  SeriesIndex loaded;
  for (const auto& [s, u] : b.Keys()) ASSERT_TRUE(loaded.LoadCell(SeriesIndex::CellKey(s, u), b.EncodeCell(s, u)));
  EXPECT_EQ(expect_same(loaded, "U1"), (std::vector<double>{9, 7, 4, 9}));
}

// Readers on several threads while a writer adds and cancels: every reader sees a whole batch
// or none (the lock is held for the reader's life), and the list's cache is shared safely.
TEST(SeriesIndexTest, ReadersAndAWriterConcurrently) {
  const int64_t day = DaysFromCivil(2024, 6, 1);
  SeriesIndex index;
  const SeriesList list({"a", "b"});
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!stop.load()) {
        {
          const SeriesIndex::Reader r = index.Read("U", list);
          // Each batch adds 1 to a and 1 to b (a new day, a new series name at first), or
          // cancels the last one: a == b always.
          if (r.Range(0, day, day + 400) != r.Range(1, day, day + 400)) bad.fetch_add(1);
        }
        // No pause: the index's lock queues new readers behind a waiting writer (with
        // std::shared_mutex, glibc's rwlock preferring readers, this loop starved the writer for
        // minutes under ASan on 2 loaded cores).
      }
    });
  for (int i = 0; i < 300; ++i) {
    index.Apply({{"a", "U", day + i, 1}, {"b", "U", day + i, 1}});
    if (i % 3 == 2) index.Apply({{"a", "U", day + i, -1}, {"b", "U", day + i, -1}});
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  const SeriesIndex::Reader r = index.Read("U", list);
  EXPECT_EQ(r.Range(0, day, day + 400), 200);
  EXPECT_EQ(r.Range(1, day, day + 400), 200);
}

// Host threads querying in a loop, their reads overlapping (each Reader held until another thread
// has taken one after it, or 50 ms), must not starve intake's Apply: 40 applies within the
// deadline, each costing about one hold. With a reader-preferring lock the readers hand the
// shared lock over forever and the watchdog reports 0 of 40.
TEST(SeriesIndexTest, ApplyIsNotStarvedByReadersLoopingWithoutPause) {
  using namespace std::chrono_literals;
  const int64_t day = DaysFromCivil(2024, 6, 1);
  SeriesIndex index;
  const SeriesList list({"a", "b"});
  std::atomic<int> bad{0};
  testing::HandOverHand overlap(50ms);
  int applied = 0;
  const int turns = testing::TurnsBeforeDeadline(
      4,
      [&] {
        const SeriesIndex::Reader r = index.Read("U", list);
        if (r.Range(0, day, day + 100) != r.Range(1, day, day + 100)) bad.fetch_add(1);
        overlap.Hold();
      },
      40,
      [&] {
        index.Apply({{"a", "U", day + applied, 1}, {"b", "U", day + applied, 1}});
        ++applied;
      },
      60s);
  EXPECT_EQ(turns, 40) << "intake's Apply was starved by looping readers";
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(index.Range("a", "U", day, day + 100), 40);
}

TEST(RecordSeriesIndexTest, CellsRoundTripPerMonth) {
  RecordSeriesIndex index({"petition.overdue"});
  std::vector<Delta> deltas;
  const int64_t day0 = DaysFromCivil(2024, 2, 27);
  for (int i = 0; i < 60; ++i)
    deltas.push_back({"petition.overdue", i % 2 ? "A.B" : "A.C", day0 + i, i % 7 ? 1.0 : -1.0, 100 + i, true});
  deltas.push_back({"petition.overdue", "A", day0, 1.0, 100, false});  // an ancestor's copy: not kept
  index.Apply(deltas);
  std::set<std::string> keys;
  for (const auto& d : deltas) keys.insert(RecordSeriesIndex::CellKey(d.series, d.day));
  EXPECT_EQ(keys.size(), 3u);  // February, March, April 2024
  RecordSeriesIndex loaded({"petition.overdue"});
  for (const auto& k : keys) ASSERT_TRUE(loaded.LoadCell(k, index.EncodeCell(k)));
  auto a = index.Between("petition.overdue", day0 - 10, day0 + 100);
  auto b = loaded.Between("petition.overdue", day0 - 10, day0 + 100);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(std::tie(a[i].record_pk, a[i].unit, a[i].day, a[i].value),
              std::tie(b[i].record_pk, b[i].unit, b[i].day, b[i].value));
  EXPECT_FALSE(loaded.LoadCell(RecordSeriesIndex::CellKey("petition.overdue", day0), "short"));
}

// A checkpoint cell damaged on disk is input too (redteam, fourteenth session). Cells whose
// day values are valid varints but whose sums overflow int64 (two days of 2^62 millionths: the
// month total was 2^63, undefined behaviour under UBSan, garbage figures without it) are refused
// whole, as is any day beyond 2^60; a cell of large but plausible sums still loads.
std::string Zigzag(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  std::string out;
  while (u >= 0x80) {
    out.push_back(static_cast<char>(u | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
  return out;
}

std::string MonthCell(int32_t month_key, uint32_t mask, const std::vector<int64_t>& values) {
  std::string days;
  for (int64_t v : values) days += Zigzag(v);
  std::string out;
  PutU32(&out, static_cast<uint32_t>(month_key));
  PutU32(&out, mask);
  PutU32(&out, static_cast<uint32_t>(days.size()));
  return out + days;
}

TEST(SeriesIndexTest, DamagedCellWhoseSumsOverflowIsRefused) {
  const int32_t june = 2024 * 12 + 5;
  const std::string key = SeriesIndex::CellKey("dossier.received", "SGDDT.VP");
  SeriesIndex index;
  const int64_t big = int64_t{1} << 62;
  EXPECT_FALSE(index.LoadCell(key, MonthCell(june, 0b11, {big, big})));        // month total 2^63
  EXPECT_FALSE(index.LoadCell(key, MonthCell(june, 0b11, {-big, -big})));      // and -2^63
  EXPECT_FALSE(index.LoadCell(key, MonthCell(june, 0b1, {INT64_MIN})));        // one day of -2^63
  EXPECT_FALSE(index.LoadCell(key, MonthCell(june, 0b1, {(int64_t{1} << 60) + 1})));
  // Two months each within the bound, together past it (Prefix adds month totals).
  EXPECT_FALSE(index.LoadCell(key, MonthCell(june, 0b1, {int64_t{1} << 59}) +
                                       MonthCell(june + 1, 0b1, {(int64_t{1} << 59) + 1})));
  EXPECT_EQ(index.key_count(), 0u);
  // Large but inside the bound: loaded, and read back exactly.
  const int64_t day = DaysFromCivil(2024, 6, 1);
  ASSERT_TRUE(index.LoadCell(key, MonthCell(june, 0b101, {5'000'000'000'000'000, -2'000'000})));
  EXPECT_DOUBLE_EQ(index.Range("dossier.received", "SGDDT.VP", day, day + 29), 5'000'000'000'000'000 / 1e6 - 2);
  EXPECT_DOUBLE_EQ(index.Level("dossier.received", "SGDDT.VP", day + 29), 5'000'000'000'000'000 / 1e6 - 2);
}

// A per-record cell is refused when an entry's day is not in its key's month (a day near
// INT64_MAX overflowed CivilFromDays, undefined behaviour, when the cells were written back;
// one of another month was written back under the wrong key) or its value is not finite, and
// when the key's month is outside years 0..9999.
TEST(RecordSeriesIndexTest, DamagedCellWithADayOutsideItsMonthIsRefused) {
  const std::string series = "petition.overdue";
  const int64_t day = DaysFromCivil(2024, 6, 10);
  const std::string key = RecordSeriesIndex::CellKey(series, day);
  auto entry = [](int64_t d, int64_t pk, double value) {
    std::string out;
    PutI64(&out, d);
    PutI64(&out, pk);
    int64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    PutI64(&out, bits);
    PutU32(&out, 8);
    return out + "SGDDT.VP";
  };
  RecordSeriesIndex index({series});
  EXPECT_FALSE(index.LoadCell(key, entry(INT64_MAX - 3, 7, 1.0)));
  EXPECT_FALSE(index.LoadCell(key, entry(INT64_MIN + 3, 7, 1.0)));
  EXPECT_FALSE(index.LoadCell(key, entry(day, 7, 1.0) + entry(DaysFromCivil(2024, 7, 1), 8, 1.0)));
  EXPECT_FALSE(index.LoadCell(key, entry(DaysFromCivil(2024, 5, 31), 8, 1.0)));
  EXPECT_FALSE(index.LoadCell(key, entry(day, 7, std::nan(""))));
  EXPECT_FALSE(index.LoadCell(key, entry(day, 7, INFINITY)));
  EXPECT_FALSE(index.LoadCell("r\x1f" + series + "\x1f-3", entry(day, 7, 1.0)));
  EXPECT_FALSE(index.LoadCell("r\x1f" + series + "\x1f" "999999999999", entry(day, 7, 1.0)));
  EXPECT_EQ(index.entry_count(), 0u);
  // Writing back what was loaded reads each entry's month: nothing outside a real month.
  EXPECT_TRUE(index.CellKeys().empty());
  // The first and last days of the month are inside it.
  ASSERT_TRUE(index.LoadCell(key, entry(DaysFromCivil(2024, 6, 1), 7, 1.0) + entry(DaysFromCivil(2024, 6, 30), 8, 1.0)));
  EXPECT_EQ(index.entry_count(), 2u);
  EXPECT_EQ(index.CellKeys(), std::vector<std::string>{key});
}

}  // namespace
}  // namespace danvan::indicators
