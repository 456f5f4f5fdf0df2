// The compact SeriesIndex (sparse days, interned keys; issue 16) answers exactly what a plain
// per-day map answers, after any order of additions and cancellations, and its checkpoint
// cells (and RecordSeriesIndex's) load back into the same figures.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

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
      if (!data.empty()) ASSERT_TRUE(loaded.LoadCell(SeriesIndex::CellKey(s, u), data));
    }
  for (const auto& s : series)
    for (const auto& u : units)
      for (int64_t d = first; d <= last; d += 37)
        ASSERT_DOUBLE_EQ(loaded.Range(s, u, d, d + 45), index.Range(s, u, d, d + 45));
  // Malformed cells are refused whole.
  EXPECT_FALSE(loaded.LoadCell(SeriesIndex::CellKey("x", "y"), std::string("\x01\x02\x03", 3)));
  EXPECT_FALSE(loaded.LoadCell("z\x1fx\x1fy", index.EncodeCell(series[0], units[0])));
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

}  // namespace
}  // namespace danvan::indicators
