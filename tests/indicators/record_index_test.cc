// The per-record index of the action-list series (indicators/record_index.h): what it keeps,
// how entries cancel, and the two reads the report uses.
#include "indicators/record_index.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace danvan::indicators
