#include "calendar/working_calendar.h"

#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace danvan::calendar {
namespace {

using testing::D;
using testing::Iso;
using testing::T;

class CalendarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cal_ = testing::ShippedCalendar();
    ASSERT_NE(cal_, nullptr);
  }
  bool Working(const std::string& date) {
    auto r = cal_->IsWorkingDay(D(date));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() && r.value();
  }
  std::shared_ptr<const WorkingCalendar> cal_;
};

TEST_F(CalendarTest, LoadsShippedYears) {
  EXPECT_EQ(cal_->first_year(), 2023);
  EXPECT_EQ(cal_->last_year(), 2027);
  EXPECT_EQ(cal_->utc_offset_minutes(), 420);
}

TEST_F(CalendarTest, Tet2023IsOffFrom20To26January) {
  EXPECT_TRUE(Working("2023-01-19"));
  for (const char* d : {"2023-01-20", "2023-01-21", "2023-01-22", "2023-01-23", "2023-01-24",
                        "2023-01-25", "2023-01-26"})
    EXPECT_FALSE(Working(d)) << d;
  EXPECT_TRUE(Working("2023-01-27"));
  auto info = cal_->Describe(D("2023-01-23"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->kind, DayKind::kHoliday);
  EXPECT_NE(info->name.find("Tết Nguyên đán"), std::string::npos);
  EXPECT_NE(info->source.find("Bộ luật Lao động 2019"), std::string::npos);
  auto comp = cal_->Describe(D("2023-01-25"));
  ASSERT_TRUE(comp.ok());
  EXPECT_EQ(comp->kind, DayKind::kCompensatoryOff);
}

TEST_F(CalendarTest, NationalDay2025WithFirstSeptember) {
  EXPECT_TRUE(Working("2025-08-29"));   // Friday
  EXPECT_FALSE(Working("2025-08-30"));  // weekend
  EXPECT_FALSE(Working("2025-08-31"));
  EXPECT_FALSE(Working("2025-09-01"));  // adjacent day
  EXPECT_FALSE(Working("2025-09-02"));
  EXPECT_TRUE(Working("2025-09-03"));
  EXPECT_EQ(cal_->Describe(D("2025-09-01"))->kind, DayKind::kHoliday);
}

TEST_F(CalendarTest, NewYear2023FallsOnSundayCompensatedMonday) {
  EXPECT_FALSE(Working("2023-01-02"));
  EXPECT_EQ(cal_->Describe(D("2023-01-02"))->kind, DayKind::kCompensatoryOff);
  EXPECT_TRUE(Working("2023-01-03"));
}

TEST_F(CalendarTest, SwappedDaysAndMakeupSaturdays) {
  // 2024: Monday 29/4 off, Saturday 4/5 worked.
  EXPECT_FALSE(Working("2024-04-29"));
  EXPECT_EQ(cal_->Describe(D("2024-04-29"))->kind, DayKind::kSwappedOff);
  EXPECT_TRUE(Working("2024-05-04"));
  EXPECT_EQ(cal_->Describe(D("2024-05-04"))->kind, DayKind::kMakeupWorking);
  EXPECT_FALSE(Working("2024-05-11"));  // an ordinary Saturday
  // 2025: Saturday 26/4 worked, Friday 2/5 off.
  EXPECT_TRUE(Working("2025-04-26"));
  EXPECT_FALSE(Working("2025-05-02"));
  EXPECT_EQ(cal_->Describe(D("2025-03-12"))->kind, DayKind::kWorkday);
  EXPECT_TRUE(cal_->Describe(D("2025-03-12"))->name.empty());
}

// domain.md §5 [verified]: in 2023 Hùng Kings day fell on Saturday 29/4 and 30/4 on a Sunday, so
// 2/5 and 3/5 were days off in lieu (Labour Code 2019 art. 112(3)): 29/4-3/5 off, and no make-up
// Saturday (that was the 2024 arrangement). The data must say so without an [unconfirmed] mark.
TEST_F(CalendarTest, HungKingsBreak2023IsVerifiedAndHasNoMakeupSaturday) {
  EXPECT_TRUE(Working("2023-04-28"));  // Friday
  for (const char* d : {"2023-04-29", "2023-04-30", "2023-05-01", "2023-05-02", "2023-05-03"})
    EXPECT_FALSE(Working(d)) << d;
  EXPECT_TRUE(Working("2023-05-04"));
  EXPECT_FALSE(Working("2023-05-06"));  // an ordinary Saturday, not worked in exchange
  for (const char* d : {"2023-05-02", "2023-05-03"}) {
    auto info = cal_->Describe(D(d));
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->kind, DayKind::kCompensatoryOff) << d;
    EXPECT_FALSE(info->unconfirmed) << d;
    EXPECT_EQ(info->note.find("[unconfirmed]"), std::string::npos) << d;
  }
  // 28/4 + 1 working day skips the whole break (Civil Code 2015 art. 147 counting).
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-04-28"), 1).value(), D("2023-05-04"));
  // National Day 2023: 1/9 (adjacent day) to 4/9 (in lieu of Saturday 2/9), per the Government
  // Office's letter 8056/VPCP-KGVX.
  EXPECT_TRUE(Working("2023-08-31"));
  for (const char* d : {"2023-09-01", "2023-09-02", "2023-09-03", "2023-09-04"})
    EXPECT_FALSE(Working(d)) << d;
  EXPECT_TRUE(Working("2023-09-05"));
  EXPECT_FALSE(cal_->Describe(D("2023-09-01"))->unconfirmed);
  EXPECT_FALSE(cal_->Describe(D("2023-09-04"))->unconfirmed);
}

// The confidence marks are honest: an entry is flagged unconfirmed exactly when its note says
// "[unconfirmed]", and no day of 2023 (every entry now checked) remains unconfirmed.
TEST_F(CalendarTest, ConfidenceMarksAgreeWithNotes) {
  int unconfirmed_2023 = 0;
  for (int64_t day = cal_->first_day(); day <= cal_->last_day(); ++day) {
    auto info = cal_->Describe(day);
    ASSERT_TRUE(info.ok());
    const bool noted = info->note.find("[unconfirmed]") != std::string::npos;
    EXPECT_EQ(info->unconfirmed, noted) << FormatIsoDate(day) << ": " << info->note;
    if (day < DaysFromCivil(2024, 1, 1) && info->unconfirmed) ++unconfirmed_2023;
  }
  EXPECT_EQ(unconfirmed_2023, 0);
}

// Consistency of every shipped year with the Labour Code 2019 art. 112: 11 public-holiday days
// (1/1, 5 days of Tết, Hùng Kings, 30/4, 1/5, 2/9 and its adjacent day), the fixed ones on their
// dates, and one compensatory day off for each holiday falling on a weekly rest day.
TEST_F(CalendarTest, EveryShippedYearFollowsLabourCodeArticle112) {
  for (int year = cal_->first_year(); year <= cal_->last_year(); ++year) {
    int holidays = 0, on_weekend = 0, compensatory = 0;
    for (int64_t day = DaysFromCivil(year, 1, 1); day < DaysFromCivil(year + 1, 1, 1); ++day) {
      auto info = cal_->Describe(day);
      ASSERT_TRUE(info.ok());
      if (info->kind == DayKind::kHoliday) {
        ++holidays;
        if (Weekday(day) >= 5) ++on_weekend;
        EXPECT_FALSE(info->source.empty());
      }
      if (info->kind == DayKind::kCompensatoryOff) ++compensatory;
    }
    EXPECT_EQ(holidays, 11) << year;
    EXPECT_EQ(compensatory, on_weekend) << year;
    for (auto [m, d] :
         {std::pair{1u, 1u}, std::pair{4u, 30u}, std::pair{5u, 1u}, std::pair{9u, 2u}})
      EXPECT_EQ(cal_->Describe(DaysFromCivil(year, m, d))->kind, DayKind::kHoliday)
          << year << "-" << m << "-" << d;
  }
}

TEST_F(CalendarTest, AddWorkingDaysAcrossTet2023) {
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-01-19"), 1).value(), D("2023-01-27"));
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-01-27"), -1).value(), D("2023-01-19"));
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-01-21"), 1).value(), D("2023-01-27"));
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-01-18"), 7).value(), D("2023-02-03"));
  EXPECT_EQ(cal_->AddWorkingDays(D("2023-01-18"), 0).value(), D("2023-01-18"));
  EXPECT_EQ(cal_->NextWorkingDay(D("2023-01-19")).value(), D("2023-01-27"));
  EXPECT_EQ(cal_->OnOrNextWorkingDay(D("2023-01-19")).value(), D("2023-01-19"));
  EXPECT_EQ(cal_->OnOrNextWorkingDay(D("2023-01-22")).value(), D("2023-01-27"));
  EXPECT_EQ(cal_->WorkingDaysBetween(D("2023-01-19"), D("2023-01-27")).value(), 1);
  EXPECT_EQ(cal_->WorkingDaysBetween(D("2023-01-01"), D("2023-01-31")).value(), 16);
  // April-May 2025: 25/4 Fri + 15 working days, over the makeup Saturday and the swap.
  EXPECT_EQ(cal_->AddWorkingDays(D("2025-04-25"), 15).value(), D("2025-05-20"));
}

TEST_F(CalendarTest, AddWorkingDaysAgreesWithDayByDayCount) {
  for (int64_t day = D("2023-01-01"); day <= D("2025-12-31"); day += 3) {
    for (int64_t n : {1, 2, 5, 7, 10, 15, 30}) {
      auto fast = cal_->AddWorkingDays(day, n);
      ASSERT_TRUE(fast.ok());
      int64_t d = day, left = n;
      while (left > 0) {
        ++d;
        if (cal_->IsWorkingDay(d).value()) --left;
      }
      ASSERT_EQ(fast.value(), d) << FormatIsoDate(day) << " + " << n;
      ASSERT_EQ(cal_->WorkingDaysBetween(day, d).value(), n);
      // Going back n working days lands on the last working day at or before `day`; before
      // the first loaded working day that is an error, not a guess.
      auto back = cal_->AddWorkingDays(d, -n);
      int64_t last_working = day;
      while (last_working >= cal_->first_day() && !cal_->IsWorkingDay(last_working).value())
        --last_working;
      if (last_working < cal_->first_day()) {
        ASSERT_FALSE(back.ok());
      } else {
        ASSERT_TRUE(back.ok());
        ASSERT_EQ(back.value(), last_working) << FormatIsoDate(d) << " - " << n;
      }
    }
  }
}

TEST_F(CalendarTest, DatesOutsideLoadedYearsAreErrors) {
  auto before = cal_->IsWorkingDay(D("2022-12-31"));
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().code(), Status::Code::kNotFound);
  EXPECT_NE(before.status().message().find("2022-12-31"), std::string::npos);
  EXPECT_FALSE(cal_->IsWorkingDay(D("2028-01-01")).ok());
  EXPECT_FALSE(cal_->AddWorkingDays(D("2027-12-28"), 10).ok());
  EXPECT_FALSE(cal_->AddWorkingDays(D("2023-01-05"), -10).ok());
  EXPECT_FALSE(cal_->WorkingMsBetween(T("2022-12-30T08:00:00"), T("2023-01-03T08:00:00")).ok());
}

TEST_F(CalendarTest, WorkingHours) {
  // 07:30-11:30 and 13:30-17:30 (config), so 10:00-14:00 holds 1.5 h + 0.5 h.
  EXPECT_EQ(cal_->WorkingMsBetween(T("2023-03-01T10:00:00"), T("2023-03-01T14:00:00")).value(),
            2 * 3'600'000);
  // Across Tết 2023: Thursday 19/1 and Friday 27/1 are the only working days.
  EXPECT_EQ(cal_->WorkingMsBetween(T("2023-01-19T07:30:00"), T("2023-01-27T17:30:00")).value(),
            16 * 3'600'000);
  EXPECT_EQ(cal_->AddWorkingMs(T("2023-01-19T16:30:00"), 2 * 3'600'000).value(),
            T("2023-01-27T08:30:00"));
  // Completing exactly at the end of a period gives that end, not the next start.
  EXPECT_EQ(cal_->AddWorkingMs(T("2023-03-01T13:30:00"), 4 * 3'600'000).value(),
            T("2023-03-01T17:30:00"));
  // From outside working hours the clock starts at the next period.
  EXPECT_EQ(cal_->AddWorkingMs(T("2023-03-01T12:00:00"), 3'600'000).value(),
            T("2023-03-01T14:30:00"));
  EXPECT_EQ(cal_->WorkingDayLengthMs(D("2023-03-01")).value(), 8 * 3'600'000);
  EXPECT_EQ(cal_->WorkingMsBetween(T("2023-03-04T08:00:00"), T("2023-03-05T18:00:00")).value(), 0);
}

TEST_F(CalendarTest, AddWorkingMsInvertsWorkingMsBetween) {
  std::mt19937_64 rng(20230120);
  const int64_t lo = T("2023-01-01T00:00:00"), hi = T("2025-12-01T00:00:00");
  for (int i = 0; i < 2000; ++i) {
    const int64_t from = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo));
    const int64_t ms = static_cast<int64_t>(rng() % (200ULL * 3'600'000));
    auto to = cal_->AddWorkingMs(from, ms);
    ASSERT_TRUE(to.ok());
    ASSERT_GE(to.value(), from);
    ASSERT_EQ(cal_->WorkingMsBetween(from, to.value()).value(), ms) << Iso(from);
  }
}

// --- bad data files -------------------------------------------------------------------------

std::string YearFile(int year, const std::string& days, const std::string& hours = "8") {
  return R"({"year": )" + std::to_string(year) +
         R"(, "utc_offset_minutes": 420, "weekend": ["saturday", "sunday"],
  "working_hours": {"hours_per_day": )" +
         hours +
         R"(, "periods": [{"start": "07:30", "end": "11:30"}, {"start": "13:30", "end": "17:30"}]},
  "days": [)" +
         days + "]}";
}

Status LoadOne(const testing::TempDir& dir, const std::string& text, std::string* file) {
  *file = dir.Write("2023.json", text);
  auto r = WorkingCalendar::LoadFiles({*file}, testing::SchemasDir());
  return r.ok() ? Status::Ok() : r.status();
}

TEST(CalendarDataErrors, SchemaViolationNamesFileAndPath) {
  testing::TempDir dir;
  std::string file;
  Status s = LoadOne(
      dir,
      YearFile(
          2023,
          R"({"date": "2023-01-01", "type": "holidy", "name": "Tết Dương lịch", "source": "BLLĐ"})"),
      &file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidInput);
  EXPECT_NE(s.message().find(file), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("$.days[0].type"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("không hợp lệ"), std::string::npos) << s.message();
}

TEST(CalendarDataErrors, DateOutsideItsYear) {
  testing::TempDir dir;
  std::string file;
  Status s = LoadOne(
      dir, YearFile(2023, R"({"date": "2023-01-01", "type": "holiday", "name": "a", "source": "b"},
                                       {"date": "2024-01-01", "type": "holiday", "name": "a", "source": "b"})"),
      &file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(file), std::string::npos);
  EXPECT_NE(s.message().find("$.days[1].date"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("không thuộc năm 2023"), std::string::npos) << s.message();
}

TEST(CalendarDataErrors, SemanticChecks) {
  testing::TempDir dir;
  std::string file;
  Status dup = LoadOne(
      dir,
      YearFile(2023,
               R"({"date": "2023-01-02", "type": "compensatory_off", "name": "a", "source": "b"},
                                             {"date": "2023-01-02", "type": "holiday", "name": "a", "source": "b"})"),
      &file);
  EXPECT_NE(dup.message().find("bị khai báo hai lần"), std::string::npos) << dup.message();
  Status makeup = LoadOne(
      dir,
      YearFile(2023,
               R"({"date": "2023-01-03", "type": "makeup_working", "name": "a", "source": "b"})"),
      &file);
  EXPECT_NE(makeup.message().find("$.days[0].type"), std::string::npos) << makeup.message();
  Status comp = LoadOne(
      dir,
      YearFile(2023,
               R"({"date": "2023-01-07", "type": "compensatory_off", "name": "a", "source": "b"})"),
      &file);
  EXPECT_NE(comp.message().find("trùng ngày nghỉ hằng tuần"), std::string::npos) << comp.message();
  Status hours = LoadOne(dir, YearFile(2023, "", "7.5"), &file);
  EXPECT_NE(hours.message().find("$.working_hours.hours_per_day"), std::string::npos)
      << hours.message();
  Status syntax = LoadOne(dir, "{\"year\": 2023,", &file);
  EXPECT_EQ(syntax.code(), Status::Code::kInvalidInput);
  EXPECT_NE(syntax.message().find("không phải JSON hợp lệ"), std::string::npos) << syntax.message();
}

TEST(CalendarDataErrors, YearsMustBeContiguousAndDistinct) {
  testing::TempDir dir;
  const std::string a = dir.Write("2023.json", YearFile(2023, ""));
  const std::string b = dir.Write("2025.json", YearFile(2025, ""));
  auto gap = WorkingCalendar::LoadFiles({a, b}, testing::SchemasDir());
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.status().message().find("Thiếu tệp lịch năm 2024"), std::string::npos)
      << gap.status().message();
  const std::string c = dir.Write("2023b.json", YearFile(2023, ""));
  auto dup = WorkingCalendar::LoadFiles({a, c}, testing::SchemasDir());
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find(c), std::string::npos) << dup.status().message();
  auto missing = WorkingCalendar::LoadFiles({dir.path() + "/nope.json"}, testing::SchemasDir());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kIoError);
}

}  // namespace
}  // namespace danvan::calendar
