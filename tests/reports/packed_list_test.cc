// PackedList (reports/packed_list.h): every field comes back as it went in (lengths past one
// varint byte, NUL bytes, empty lists, negative and non-finite numbers), and SortBy gives the
// order std::sort gives the structs with the same comparison, ties included.
#include "reports/packed_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "reports/report_model.h"

namespace danvan::reports {
namespace {

// Every field of p, in order, as text.
std::vector<std::string> Flat(const OverduePetition& p) {
  std::vector<std::string> out = {p.id, p.title, p.kind, p.unit, p.received_at, p.due_at, p.assignee,
                                  std::to_string(p.days_overdue), "#" + std::to_string(p.overdue_steps.size())};
  out.insert(out.end(), p.overdue_steps.begin(), p.overdue_steps.end());
  return out;
}

TEST(PackedList, FieldsComeBackAsTheyWentIn) {
  PackedList<OverduePetition> list;
  std::vector<OverduePetition> items;
  items.push_back({});                                               // all empty
  items.push_back({"DT-1", std::string(300, 'x') + "ở", "complaint", "SO.A", "2023-01-02", "", "Lê A",
                   -7, {"", std::string("a\0b", 3), std::string(20000, 'y')}});
  items.push_back({std::string("\0", 1), "Đơn \"khẩn\"\n", "", "", "", "", "", INT32_MIN, {}});
  for (const auto& x : items) list.push_back(x);
  ASSERT_EQ(list.size(), items.size());
  size_t i = 0;
  for (const OverduePetition& x : list) EXPECT_EQ(Flat(x), Flat(items[i++]));
  EXPECT_EQ(i, items.size());
  EXPECT_EQ(Flat(list.back()), Flat(items.back()));

  PackedList<LateTask> tasks;
  for (double v : {0.0, -0.0, 12.5, -1e300, std::nan(""), static_cast<double>(INFINITY)}) tasks.push_back({"KH", "1", "t", "u", "d", "s", v});
  EXPECT_TRUE(std::signbit(tasks[1].progress_percent));
  EXPECT_EQ(tasks[3].progress_percent, -1e300);
  EXPECT_TRUE(std::isnan(tasks[4].progress_percent));
  EXPECT_TRUE(std::isinf(tasks[5].progress_percent));

  OverduePetition changed = items[1];
  changed.title = "mới";
  list.Set(1, changed);
  EXPECT_EQ(list[1].title, "mới");
  EXPECT_EQ(Flat(list[2]), Flat(items[2]));
  list.clear();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.begin(), list.end());
}

// Many equal keys (std::sort is not stable): the packed list's order is the struct vector's,
// item for item, for the report's comparisons.
TEST(PackedList, SortByGivesStdSortsOrderTiesIncluded) {
  std::mt19937 rng(3);
  std::vector<CaseItem> items;
  for (int i = 0; i < 3000; ++i)
    items.push_back({"DT-" + std::to_string(rng() % 50), "nội dung " + std::to_string(i), "complaint", "SO",
                     "2023-0" + std::to_string(1 + rng() % 3), "open", "ghi chú " + std::to_string(i), {}});
  PackedList<CaseItem> list;
  for (const auto& x : items) list.push_back(x);
  std::sort(items.begin(), items.end(), [](const auto& x, const auto& y) {
    return x.received_at != y.received_at ? x.received_at < y.received_at : x.id < y.id;
  });
  list.SortBy([](const CaseItem& c) { return std::make_pair(c.received_at, c.id); },
              [](const auto& x, const auto& y) { return x < y; });
  ASSERT_EQ(list.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) ASSERT_EQ(list[i].title, items[i].title) << i;

  std::vector<OverduePetition> overdue;
  for (int i = 0; i < 2000; ++i)
    overdue.push_back({"DT-" + std::to_string(rng() % 30), "đơn " + std::to_string(i), "", "", "", "", "",
                       static_cast<int>(rng() % 5), {}});
  PackedList<OverduePetition> packed;
  for (const auto& x : overdue) packed.push_back(x);
  std::sort(overdue.begin(), overdue.end(), [](const auto& x, const auto& y) {
    return x.days_overdue != y.days_overdue ? x.days_overdue > y.days_overdue : x.id < y.id;
  });
  packed.SortBy([](const OverduePetition& p) { return std::make_pair(p.days_overdue, p.id); },
                [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  for (size_t i = 0; i < overdue.size(); ++i) ASSERT_EQ(packed[i].title, overdue[i].title) << i;
}

// The packed rows are smaller than the structs they stand for (what a city's report holds).
TEST(PackedList, SmallerThanTheStructs) {
  PackedList<CaseItem> list;
  for (int i = 0; i < 1000; ++i)
    list.push_back({"DT-2023-" + std::to_string(100000 + i), "Tố cáo giáo viên có hành vi xúc phạm học sinh",
                    "denunciation", "D05.TTRA", "2023-09-06T10:11:56+07:00", "in_progress",
                    "Chưa giải quyết xong tại ngày 2025-12-10", {"protracted", "complex"}});
  list.shrink_to_fit();
  // The struct alone is 7 strings and a vector (~250 bytes) before its heap parts.
  EXPECT_LT(list.memory_bytes(), 1000 * (sizeof(CaseItem) + 100));
}

}  // namespace
}  // namespace danvan::reports
