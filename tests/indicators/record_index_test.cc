// The per-record index of the action-list series (indicators/record_index.h): what it keeps,
// how entries cancel, and the two reads the report uses.
#include "indicators/record_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "core/timeutil.h"

namespace danvan::indicators {
namespace {

Delta Own(const std::string& series, const std::string& unit, int64_t day, double value, int64_t pk) {
  return {series, unit, day, value, pk, true};
}

TEST(RecordSeriesIndex, KeepsOnlyOwnEntriesOfTrackedSeriesWithARecord) {
  RecordSeriesIndex index({"p.open_overdue", "r.head"});
  index.Apply({Own("p.open_overdue", "A", 10, 1, 7),
               {"p.open_overdue", "PARENT", 10, 1, 7, false},  // the ancestor's copy
               Own("p.recv", "A", 10, 1, 7),                   // not tracked
               Own("r.head", "A", 12, 1, 0)});                 // no record
  EXPECT_EQ(index.entry_count(), 1u);
  auto e = index.Between("p.open_overdue", 0, 100);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].record_pk, 7);
  EXPECT_EQ(e[0].unit, "A");
}

TEST(RecordSeriesIndex, PositiveLevelFollowsIntervalsAndCancels) {
  RecordSeriesIndex index({"p.open_overdue"});
  // Record 1 overdue from day 10 until day 20; record 2 from day 15, still open.
  index.Apply({Own("p.open_overdue", "A", 10, 1, 1), Own("p.open_overdue", "A", 20, -1, 1),
               Own("p.open_overdue", "B", 15, 1, 2)});
  auto at = [&](int64_t day) {
    std::vector<int64_t> pks;
    for (const auto& [pk, unit] : index.PositiveLevel("p.open_overdue", day)) pks.push_back(pk);
    return pks;
  };
  EXPECT_EQ(at(9), std::vector<int64_t>{});
  EXPECT_EQ(at(10), std::vector<int64_t>{1});
  EXPECT_EQ(at(19), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(at(20), std::vector<int64_t>{2});
  EXPECT_EQ(index.PositiveLevel("p.open_overdue", 30)[0].second, "B");
  // Record 2 is re-evaluated (old contributions out, new in): resolved on day 18.
  index.Apply({Own("p.open_overdue", "B", 15, -1, 2), Own("p.open_overdue", "B", 15, 1, 2),
               Own("p.open_overdue", "B", 18, -1, 2)});
  EXPECT_EQ(at(30), std::vector<int64_t>{});
  EXPECT_EQ(at(17), (std::vector<int64_t>{1, 2}));
  // Both records removed entirely: nothing is left behind.
  index.Apply({Own("p.open_overdue", "A", 10, -1, 1), Own("p.open_overdue", "A", 20, 1, 1),
               Own("p.open_overdue", "B", 15, -1, 2), Own("p.open_overdue", "B", 18, 1, 2)});
  EXPECT_EQ(index.entry_count(), 0u);
}

TEST(RecordSeriesIndex, BetweenIsInclusiveAndOrderedByDay) {
  RecordSeriesIndex index({"r.head"});
  index.Apply({Own("r.head", "A", 31, 1, 3), Own("r.head", "B", 1, 1, 4), Own("r.head", "A", 32, 1, 5)});
  auto e = index.Between("r.head", 1, 31);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].record_pk, 4);
  EXPECT_EQ(e[1].record_pk, 3);
  EXPECT_TRUE(index.Between("r.head", 33, 40).empty());
  EXPECT_TRUE(index.Between("r.head", 5, 4).empty());
  EXPECT_TRUE(index.Between("other", 0, 100).empty());
}

TEST(RecordSeriesIndex, UnitFollowsAMovedRecord) {
  RecordSeriesIndex index({"t.late"});
  index.Apply({Own("t.late", "A", 10, 1, 9)});
  // The record moves from unit A to unit B: old entry out (A), new in (B), same day.
  index.Apply({Own("t.late", "A", 10, -1, 9), Own("t.late", "B", 10, 1, 9)});
  auto levels = index.PositiveLevel("t.late", 11);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].second, "B");
}


// The compact layout (flat 32-day blocks; issue 16) answers exactly what the plain map it replaced
// answered: a model with the same rule (sum per (series, day, record); the unit of the last
// positive delta, or of the first one; dropped when it cancels) after random additions and
// cancellations, over days on both sides of 1970 and of block and month edges; and each month's
// checkpoint cell has the model's bytes and loads back into the same entries.
TEST(RecordSeriesIndex, FlatBlocksAnswerLikeAPlainMap) {
  struct Cell {
    double value = 0;
    std::string unit;
  };
  using Model = std::map<std::tuple<std::string, int64_t, int64_t>, Cell>;  // (series, day, pk)
  const std::vector<std::string> tracked = {"p.open_overdue", "t.late"};
  const std::vector<std::string> units = {"A", "A.B", "A.C", "Đ.Ư"};
  std::mt19937_64 rng(166);
  RecordSeriesIndex index(tracked);
  Model model;
  std::vector<Delta> history;
  const int64_t day0 = DaysFromCivil(1969, 11, 20);  // -42: negative days, 1969 -> 1970
  for (int round = 0; round < 400; ++round) {
    std::vector<Delta> batch;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      const bool cancel = !history.empty() && rng() % 3 == 0;
      Delta d;
      if (cancel) {
        d = history[rng() % history.size()];
        d.value = -d.value;
      } else {
        d.series = rng() % 7 == 0 ? std::string("p.recv") : tracked[rng() % 2];
        d.unit = units[rng() % units.size()];
        d.day = rng() % 50 == 0 ? int64_t{4000000000} * (rng() % 2 ? 1 : -1) : day0 + static_cast<int64_t>(rng() % 200);
        d.value = (rng() % 4 == 0 ? 0.5 : 1.0) * (rng() % 5 == 0 ? -1 : 1);
        d.record_pk = 1 + static_cast<int64_t>(rng() % 40);
        d.own_unit = rng() % 9 != 0;
        if (rng() % 25 == 0) d.record_pk = 0;
      }
      batch.push_back(d);
      history.push_back(d);
    }
    index.Apply(batch);
    for (const auto& d : batch) {
      if (d.record_pk == 0 || !d.own_unit || !index.Tracks(d.series)) continue;
      auto [it, added] = model.try_emplace({d.series, d.day, d.record_pk});
      it->second.value += d.value;
      if (d.value > 0 || added) it->second.unit = d.unit;
      if (std::fabs(it->second.value) < 1e-9) model.erase(it);
    }
  }
  ASSERT_EQ(index.entry_count(), model.size());
  ASSERT_GT(model.size(), 100u);
  auto between = [&](const std::string& series, int64_t from, int64_t to) {
    std::vector<std::tuple<int64_t, int64_t, double, std::string>> out;  // day, pk, value, unit
    for (const auto& [k, c] : model)
      if (std::get<0>(k) == series && std::get<1>(k) >= from && std::get<1>(k) <= to)
        out.emplace_back(std::get<1>(k), std::get<2>(k), c.value, c.unit);
    return out;
  };
  auto got_between = [&](const std::string& series, int64_t from, int64_t to) {
    std::vector<std::tuple<int64_t, int64_t, double, std::string>> out;
    for (const auto& e : index.Between(series, from, to)) out.emplace_back(e.day, e.record_pk, e.value, e.unit);
    return out;
  };
  for (const auto& series : tracked) {
    EXPECT_EQ(got_between(series, INT64_MIN, INT64_MAX), between(series, INT64_MIN, INT64_MAX));
    for (int i = 0; i < 60; ++i) {
      const int64_t from = day0 - 5 + static_cast<int64_t>(rng() % 210), to = from + static_cast<int64_t>(rng() % 70);
      ASSERT_EQ(got_between(series, from, to), between(series, from, to)) << series << " " << from << ".." << to;
      // Positive levels: the sum of a record's entries up to the day, with its latest entry's unit.
      std::map<int64_t, std::pair<double, std::string>> level;
      for (const auto& [day, pk, value, unit] : between(series, INT64_MIN, to)) {
        level[pk].first += value;
        level[pk].second = unit;
      }
      std::vector<std::pair<int64_t, std::string>> want;
      for (const auto& [pk, l] : level)
        if (l.first > 1e-9) want.emplace_back(pk, l.second);
      ASSERT_EQ(index.PositiveLevel(series, to), want) << series << " day " << to;
    }
  }
  // Checkpoint cells: one per month that has entries (the model's months), the model's bytes.
  std::set<std::string> want_keys;
  for (const auto& [k, c] : model)
    if (std::abs(std::get<1>(k)) < 1000000) want_keys.insert(RecordSeriesIndex::CellKey(std::get<0>(k), std::get<1>(k)));
  RecordSeriesIndex loaded(tracked);
  int month_cells = 0;
  for (const auto& key : index.CellKeys()) {
    const size_t sep = key.rfind('\x1f');
    const std::string series = key.substr(2, sep - 2);
    const int64_t month = std::stoll(key.substr(sep + 1));
    if (month < 1900 * 12 || month > 2100 * 12) continue;  // the far days' (no calendar month)
    const std::string data = index.EncodeCell(key);
    ASSERT_FALSE(data.empty()) << key;
    ASSERT_TRUE(loaded.LoadCell(key, data));
    ++month_cells;
    EXPECT_TRUE(want_keys.count(key)) << key;
    const int y = static_cast<int>(month / 12);
    const unsigned m = static_cast<unsigned>(month % 12) + 1;
    const int64_t first = DaysFromCivil(y, m, 1), last = DaysFromCivil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
    std::string expect;
    for (const auto& [day, pk, value, unit] : between(series, first, last)) {
      PutI64(&expect, day);
      PutI64(&expect, pk);
      int64_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      PutI64(&expect, bits);
      PutU32(&expect, static_cast<uint32_t>(unit.size()));
      expect += unit;
    }
    EXPECT_EQ(data, expect) << key;
  }
  EXPECT_EQ(static_cast<size_t>(month_cells), want_keys.size());
  const int64_t near_from = day0 - 400, near_to = day0 + 400;
  for (const auto& series : tracked) {
    std::vector<std::tuple<int64_t, int64_t, double, std::string>> reloaded;
    for (const auto& e : loaded.Between(series, INT64_MIN, INT64_MAX)) reloaded.emplace_back(e.day, e.record_pk, e.value, e.unit);
    EXPECT_EQ(reloaded, between(series, near_from, near_to)) << series;
  }
  size_t near = 0;
  for (const auto& [k, c] : model) near += std::abs(std::get<1>(k)) < 1000000;
  EXPECT_EQ(loaded.entry_count(), near);
  // Cancelling everything leaves nothing behind.
  std::vector<Delta> undo;
  for (const auto& [k, c] : model)
    undo.push_back({std::get<0>(k), c.unit, std::get<1>(k), -c.value, std::get<2>(k), true});
  index.Apply(undo);
  EXPECT_EQ(index.entry_count(), 0u);
  EXPECT_TRUE(index.CellKeys().empty());
}

}  // namespace
}  // namespace danvan::indicators
