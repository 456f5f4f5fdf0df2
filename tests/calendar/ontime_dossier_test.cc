// The Decision 766 on-time rule (domain.md §2), case by case against hand-worked examples.
// Working hours in the shipped calendar: 07:30-11:30 and 13:30-17:30 (8 h).
#include <gtest/gtest.h>

#include "calendar/ontime.h"
#include "test_util.h"

namespace danvan::calendar {
namespace {

using testing::Iso;
using testing::P;
using testing::T;

constexpr int64_t kHour = 3'600'000;

class DossierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(testing::ShippedCalendar(), nullptr);
    classifier_ = std::make_unique<OnTimeClassifier>(
        testing::ShippedCalendar(), testing::ShippedProcedures(), testing::ShippedRules());
  }
  // A dossier of "Cấp phép dạy thêm, học thêm" received Wednesday 1/3/2023 08:00, due 15/3 17:00.
  static nlohmann::json Item(int status, const std::string& end = "") {
    return {{"MaHoSo", "H31.29-230301-0001"},
            {"MaTTHC", "1.006388"},
            {"TrangThaiHoSo", std::to_string(status)},
            {"NgayTiepNhan", P("2023-03-01T08:00:00")},
            {"NgayHenTra", P("2023-03-15T17:00:00")},
            {"NgayKetThucXuLy", end.empty() ? "" : P(end)},
            {"DanhSachHoSoBoSung", nlohmann::json::array()}};
  }
  Classification Classify(const nlohmann::json& item, std::vector<StatusStep> history,
                          const std::string& as_of) {
    return ClassifyAt(item, std::move(history), T(as_of));
  }
  Classification ClassifyAt(const nlohmann::json& item, std::vector<StatusStep> history,
                            int64_t as_of) {
    auto facts = DossierFacts::FromPortalItem(item, std::move(history));
    EXPECT_TRUE(facts.ok()) << facts.status().message();
    auto c = classifier_->ClassifyDossier(facts.value(), as_of);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? c.value() : Classification{};
  }
  static std::vector<StatusStep> Steps(std::initializer_list<std::pair<int, const char*>> steps) {
    std::vector<StatusStep> out;
    for (auto [s, at] : steps) out.push_back({s, T(at)});
    return out;
  }
  static bool HasReason(const Classification& c, const std::string& code) {
    const nlohmann::json explanation = c.explanation.Json();
    for (const auto& r : explanation["reasons"])
      if (r["code"] == code) return true;
    return false;
  }
  std::unique_ptr<OnTimeClassifier> classifier_;
};

const char* const kLater = "2023-06-30T23:59:59";

// The explanation is kept as text: written, it is the document nlohmann would serialise from
// the same members (keys sorted, integers, doubles, nulls, escapes), and Json() reads it back.
TEST(ExplanationText, WritesWhatTheDocumentSerialises) {
  Explanation e;
  std::string out;
  e.Write(&out, nlohmann::json::error_handler_t::strict);
  EXPECT_EQ(out, "null");
  EXPECT_TRUE(e.Json().is_null());
  e.Start();
  const std::string quoted = "Điều 12 \"Luật\" \\ tab\t";
  e.Add({{"code", "finished_after_due"}, {"late_by_ms", int64_t{-5}}, {"due", quoted},
         {"end", std::string("2023-03-15T17:00:00+07:00")}, {"NgayTiepNhan", nullptr},
         {"value", 1.5}, {"count", 2}, {"allowed_ms", 10.0}, {"Z", 1e21}});
  e.Add({{"code", "waiting_for_supplement"}});
  e.SetDeadline(nlohmann::json::array({{{"code", "base_period"}, {"days", 10}}}));
  e.SetClass("late");
  nlohmann::json want = {
      {"class", "late"},
      {"deadline", nlohmann::json::array({{{"code", "base_period"}, {"days", 10}}})},
      {"reasons",
       {{{"code", "finished_after_due"}, {"late_by_ms", -5}, {"due", quoted},
         {"end", "2023-03-15T17:00:00+07:00"}, {"NgayTiepNhan", nullptr}, {"value", 1.5},
         {"count", 2}, {"allowed_ms", 10.0}, {"Z", 1e21}},
        {{"code", "waiting_for_supplement"}}}}};
  out.clear();
  e.Write(&out, nlohmann::json::error_handler_t::strict);
  EXPECT_EQ(out, want.dump());
  EXPECT_EQ(e.Json().dump(), want.dump());
  EXPECT_EQ(e.Json(), want);
  // Started again: a fresh {"reasons": []}.
  e.Start();
  out.clear();
  e.Write(&out, nlohmann::json::error_handler_t::strict);
  EXPECT_EQ(out, R"({"reasons":[]})");
}

TEST_F(DossierTest, FinishedBeforeDueDayIsEarly) {
  auto c = Classify(
      Item(9),
      Steps({{2, "2023-03-01T08:00:00"}, {4, "2023-03-01T09:00:00"}, {9, "2023-03-10T10:00:00"}}),
      kLater);
  EXPECT_EQ(c.cls, OnTimeClass::kEarly);
  EXPECT_EQ(*c.end_ms, T("2023-03-10T10:00:00"));
  EXPECT_EQ(*c.end_status, 9);
  EXPECT_EQ(*c.due_ms, T("2023-03-15T17:00:00"));
  EXPECT_EQ(c.due_source, "NgayHenTra");
  // 1/3 08:00-17:30 = 7.5 h, 2-3/3 and 6-9/3 = 6 x 8 h, 10/3 07:30-10:00 = 2.5 h.
  EXPECT_EQ(c.elapsed_working_ms, 58 * kHour);
  EXPECT_EQ(c.elapsed_ms, T("2023-03-10T10:00:00") - T("2023-03-01T08:00:00"));
  EXPECT_FALSE(c.next_change_ms.has_value());
}

TEST_F(DossierTest, FinishedOnDueDayIsOnTimeAfterIsLate) {
  EXPECT_EQ(
      Classify(Item(9), Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-15T16:00:00"}}), kLater)
          .cls,
      OnTimeClass::kOnTime);
  EXPECT_EQ(
      Classify(Item(9), Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-15T17:00:00"}}), kLater)
          .cls,
      OnTimeClass::kOnTime);
  auto late =
      Classify(Item(9), Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-16T09:00:00"}}), kLater);
  EXPECT_EQ(late.cls, OnTimeClass::kLate);
  EXPECT_TRUE(HasReason(late, "finished_after_due"));
}

TEST_F(DossierTest, EndStatePriorityNineThenTenThenEightOrThree) {
  // Returned (10) on 14/3 but finished (9) only on 16/3: 9 has priority -> late.
  auto c = Classify(
      Item(10),
      Steps({{4, "2023-03-01T09:00:00"}, {10, "2023-03-14T09:00:00"}, {9, "2023-03-16T09:00:00"}}),
      kLater);
  EXPECT_EQ(c.cls, OnTimeClass::kLate);
  EXPECT_EQ(*c.end_status, 9);
  // Only 10: it ends processing.
  auto ret =
      Classify(Item(10), Steps({{4, "2023-03-01T09:00:00"}, {10, "2023-03-14T09:00:00"}}), kLater);
  EXPECT_EQ(ret.cls, OnTimeClass::kEarly);
  EXPECT_EQ(*ret.end_status, 10);
  // 10 before 8: 10 wins even though 8 is listed first in time.
  auto stop_then_ret = Classify(
      Item(10),
      Steps({{4, "2023-03-01T09:00:00"}, {8, "2023-03-02T09:00:00"}, {10, "2023-03-20T09:00:00"}}),
      kLater);
  EXPECT_EQ(*stop_then_ret.end_status, 10);
  EXPECT_EQ(stop_then_ret.cls, OnTimeClass::kLate);
  // Stopped (8) after the due date.
  auto stopped =
      Classify(Item(8), Steps({{4, "2023-03-01T09:00:00"}, {8, "2023-03-20T09:00:00"}}), kLater);
  EXPECT_EQ(stopped.cls, OnTimeClass::kLate);
  EXPECT_EQ(*stopped.end_status, 8);
  // Refused (3) after processing started: counted, ends processing.
  auto refused = Classify(
      Item(3),
      Steps({{2, "2023-03-01T08:00:00"}, {4, "2023-03-01T09:00:00"}, {3, "2023-03-03T09:00:00"}}),
      kLater);
  EXPECT_EQ(refused.cls, OnTimeClass::kEarly);
  EXPECT_EQ(*refused.end_status, 3);
  // Withdrawn (7) ends it too.
  auto withdrawn =
      Classify(Item(7), Steps({{4, "2023-03-01T09:00:00"}, {7, "2023-03-10T09:00:00"}}), kLater);
  EXPECT_EQ(withdrawn.cls, OnTimeClass::kEarly);
  EXPECT_EQ(*withdrawn.end_status, 7);
}

TEST_F(DossierTest, NotReceivedIsNotCounted) {
  auto fresh = Classify(Item(1), {}, kLater);
  EXPECT_EQ(fresh.cls, OnTimeClass::kNotCounted);
  auto fresh_hist = Classify(Item(1), Steps({{1, "2023-03-01T08:00:00"}}), kLater);
  EXPECT_EQ(fresh_hist.cls, OnTimeClass::kNotCounted);
  auto refused_at_reception =
      Classify(Item(3), Steps({{1, "2023-03-01T08:00:00"}, {3, "2023-03-01T10:00:00"}}), kLater);
  EXPECT_EQ(refused_at_reception.cls, OnTimeClass::kNotCounted);
  auto refused_no_history = Classify(Item(3), {}, kLater);
  EXPECT_EQ(refused_no_history.cls, OnTimeClass::kNotCounted);
  // Received after the judging instant.
  auto future = Classify(Item(4), {}, "2023-02-28T23:59:59");
  EXPECT_EQ(future.cls, OnTimeClass::kNotCounted);
}

TEST_F(DossierTest, SupplementWaitIsExcluded) {
  // Supplement requested Monday 13/3 08:00, received Friday 17/3 08:00: 32 working hours
  // (7.5 + 8 + 8 + 8 + 0.5). The due 15/3 17:00 moves by 32 working hours to Tuesday 21/3 17:00.
  nlohmann::json item = Item(9);
  item["DanhSachHoSoBoSung"] = {{{"NgayBoSung", P("2023-03-13T08:00:00")},
                                 {"NgayTiepNhanBoSung", P("2023-03-17T08:00:00")},
                                 {"NgayHenTraTruoc", ""},
                                 {"NgayHenTraMoi", ""}}};
  auto steps = Steps({{4, "2023-03-01T09:00:00"},
                      {5, "2023-03-13T08:00:00"},
                      {4, "2023-03-17T08:00:00"},
                      {9, "2023-03-21T16:00:00"}});
  auto c = Classify(item, steps, kLater);
  EXPECT_EQ(c.cls, OnTimeClass::kOnTime);
  EXPECT_EQ(*c.due_ms, T("2023-03-21T17:00:00")) << Iso(*c.due_ms);
  EXPECT_EQ(c.paused_working_ms, 32 * kHour);
  EXPECT_EQ(c.paused_ms, 4 * kMsPerDay);
  EXPECT_EQ(c.supplement_requests, 1);
  EXPECT_TRUE(HasReason(c, "supplement_pause"));
  // Without the pause the same end is late.
  auto no_pause =
      Classify(Item(9), Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-21T16:00:00"}}), kLater);
  EXPECT_EQ(no_pause.cls, OnTimeClass::kLate);
  // The pause taken from the status history alone (no DanhSachHoSoBoSung) gives the same due.
  auto from_history = Classify(Item(9), steps, kLater);
  EXPECT_EQ(*from_history.due_ms, T("2023-03-21T17:00:00"));
  EXPECT_EQ(from_history.cls, OnTimeClass::kOnTime);
  // Elapsed working time excludes the wait.
  EXPECT_EQ(c.elapsed_working_ms, no_pause.elapsed_working_ms - 32 * kHour);
}

TEST_F(DossierTest, SupplementShiftSkipsTetHolidays) {
  // Due Thursday 19/1/2023 17:00. Wait from 18/1 08:00 to 19/1 08:00 = 8 working hours
  // (3.5 + 4 + 0.5). Moving the due by 8 working hours: 0.5 h on 19/1, Tết 20-26/1, then 7.5 h on
  // Friday 27/1: due 27/1 17:00.
  nlohmann::json item = Item(9);
  item["NgayTiepNhan"] = P("2023-01-09T08:00:00");
  item["NgayHenTra"] = P("2023-01-19T17:00:00");
  item["DanhSachHoSoBoSung"] = {
      {{"NgayBoSung", P("2023-01-18T08:00:00")}, {"NgayTiepNhanBoSung", P("2023-01-19T08:00:00")}}};
  auto c = Classify(item, Steps({{4, "2023-01-09T09:00:00"}, {9, "2023-01-27T16:00:00"}}), kLater);
  EXPECT_EQ(c.paused_working_ms, 8 * kHour);
  EXPECT_EQ(*c.due_ms, T("2023-01-27T17:00:00")) << Iso(*c.due_ms);
  EXPECT_EQ(c.cls, OnTimeClass::kOnTime);
}

TEST_F(DossierTest, MoreThanOneSupplementRequestIsLate) {
  nlohmann::json item = Item(9);
  item["DanhSachHoSoBoSung"] = {
      {{"NgayBoSung", P("2023-03-02T09:00:00")}, {"NgayTiepNhanBoSung", P("2023-03-03T09:00:00")}},
      {{"NgayBoSung", P("2023-03-06T09:00:00")}, {"NgayTiepNhanBoSung", P("2023-03-07T09:00:00")}}};
  auto c = Classify(item, Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-08T10:00:00"}}), kLater);
  EXPECT_EQ(c.cls, OnTimeClass::kLate);  // finished a week early, still late
  EXPECT_EQ(c.supplement_requests, 2);
  EXPECT_TRUE(HasReason(c, "multiple_supplement_requests"));
  // Two requests seen only in the history count the same way; while open it is overdue.
  auto open = Classify(Item(4),
                       Steps({{4, "2023-03-01T09:00:00"},
                              {5, "2023-03-02T09:00:00"},
                              {4, "2023-03-03T09:00:00"},
                              {5, "2023-03-06T09:00:00"},
                              {4, "2023-03-07T09:00:00"}}),
                       "2023-03-08T12:00:00");
  EXPECT_EQ(open.cls, OnTimeClass::kOpenOverdue);
  EXPECT_EQ(open.supplement_requests, 2);
}

TEST_F(DossierTest, NewDueDateFromSupplementRound) {
  nlohmann::json item = Item(9);
  item["DanhSachHoSoBoSung"] = {{{"NgayBoSung", P("2023-03-13T08:00:00")},
                                 {"NgayTiepNhanBoSung", P("2023-03-14T08:00:00")},
                                 {"NgayHenTraTruoc", P("2023-03-15T17:00:00")},
                                 {"NgayHenTraMoi", P("2023-03-17T17:00:00")}}};
  auto c = Classify(item, Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-03-17T11:00:00"}}), kLater);
  EXPECT_EQ(*c.due_ms, T("2023-03-17T17:00:00"));
  EXPECT_EQ(c.due_source, "NgayHenTraMoi");
  EXPECT_EQ(c.cls, OnTimeClass::kOnTime);
}

TEST_F(DossierTest, OpenDossierMovesThroughDueSoonToOverdue) {
  const auto steps = Steps({{2, "2023-03-01T08:00:00"}, {4, "2023-03-01T09:00:00"}});
  auto within = Classify(Item(4), steps, "2023-03-10T12:00:00");
  EXPECT_EQ(within.cls, OnTimeClass::kOpenWithinDeadline);
  EXPECT_FALSE(within.end_ms.has_value());
  // Horizon in config: 1 working day, so due soon from the start of the due day.
  ASSERT_TRUE(within.next_change_ms.has_value());
  EXPECT_EQ(*within.next_change_ms, T("2023-03-15T00:00:00"));
  EXPECT_EQ(*within.next_class, OnTimeClass::kDueSoon);
  // Re-judged at that instant it is due soon, and next becomes overdue one ms after the due.
  auto soon = ClassifyAt(Item(4), steps, *within.next_change_ms);
  EXPECT_EQ(ClassifyAt(Item(4), steps, *within.next_change_ms - 1).cls,
            OnTimeClass::kOpenWithinDeadline);
  EXPECT_EQ(soon.cls, OnTimeClass::kDueSoon);
  EXPECT_EQ(*soon.next_change_ms, T("2023-03-15T17:00:00") + 1);
  EXPECT_EQ(*soon.next_class, OnTimeClass::kOpenOverdue);
  EXPECT_EQ(ClassifyAt(Item(4), steps, *soon.next_change_ms - 1).cls, OnTimeClass::kDueSoon);
  auto overdue = ClassifyAt(Item(4), steps, *soon.next_change_ms);
  EXPECT_EQ(overdue.cls, OnTimeClass::kOpenOverdue);
  EXPECT_FALSE(overdue.next_change_ms.has_value());
}

TEST_F(DossierTest, UnfinishedAtPeriodEndJudgedAtLastDay) {
  auto cal = testing::ShippedCalendar();
  const int64_t march_end = cal->EndOfDayMs(testing::D("2023-03-31"));
  // Finished on 5/4, due 10/4: at the end of March it was open and within its deadline.
  nlohmann::json item = Item(9, "2023-04-05T10:00:00");
  item["NgayHenTra"] = P("2023-04-10T17:00:00");
  auto facts = DossierFacts::FromPortalItem(
                   item, Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-04-05T10:00:00"}}))
                   .value();
  auto march = classifier_->ClassifyDossier(facts, march_end).value();
  EXPECT_EQ(march.cls, OnTimeClass::kOpenWithinDeadline);
  EXPECT_FALSE(march.end_ms.has_value());
  EXPECT_TRUE(HasReason(march, "judged_at_as_of"));
  EXPECT_EQ(classifier_->ClassifyDossier(facts, cal->EndOfDayMs(testing::D("2023-04-30")))->cls,
            OnTimeClass::kEarly);
  // Due 20/3 and still unfinished at the end of March: open and overdue in March.
  item["NgayHenTra"] = P("2023-03-20T17:00:00");
  auto overdue_facts = DossierFacts::FromPortalItem(
                           item, Steps({{4, "2023-03-01T09:00:00"}, {9, "2023-04-05T10:00:00"}}))
                           .value();
  EXPECT_EQ(classifier_->ClassifyDossier(overdue_facts, march_end)->cls, OnTimeClass::kOpenOverdue);
}

TEST_F(DossierTest, WaitingForSupplementPausesTheClock) {
  nlohmann::json item = Item(5);
  item["DanhSachHoSoBoSung"] = {
      {{"NgayBoSung", P("2023-03-14T08:00:00")}, {"NgayTiepNhanBoSung", ""}}};
  auto c = Classify(item, Steps({{4, "2023-03-01T09:00:00"}, {5, "2023-03-14T08:00:00"}}),
                    "2023-03-20T10:00:00");
  // Past the printed due (15/3 17:00), but the clock stopped on 14/3 08:00 with 1 day 9 h left.
  EXPECT_TRUE(c.clock_paused);
  EXPECT_NE(c.cls, OnTimeClass::kOpenOverdue);
  EXPECT_GT(*c.due_ms, T("2023-03-20T10:00:00"));
  EXPECT_FALSE(c.next_change_ms.has_value());
  EXPECT_TRUE(HasReason(c, "waiting_for_supplement"));
}

TEST_F(DossierTest, NoDueDateUsesProcedureHoursAcrossTet) {
  // 2.000449: 4 working hours. Received Thursday 19/1/2023 15:00: 2.5 h that day, then Tết
  // (20-26/1) and 1.5 h on Friday 27/1: due 27/1 09:00.
  nlohmann::json item = {{"MaHoSo", "H31.29-230119-0002"},
                         {"MaTTHC", "2.000449"},
                         {"TrangThaiHoSo", "9"},
                         {"NgayTiepNhan", P("2023-01-19T15:00:00")},
                         {"NgayHenTra", ""}};
  auto on_time =
      Classify(item, Steps({{4, "2023-01-19T15:10:00"}, {9, "2023-01-27T08:30:00"}}), kLater);
  EXPECT_EQ(*on_time.due_ms, T("2023-01-27T09:00:00")) << Iso(*on_time.due_ms);
  EXPECT_EQ(on_time.due_source, "procedure");
  EXPECT_EQ(on_time.cls, OnTimeClass::kOnTime);
  EXPECT_EQ(on_time.elapsed_working_ms, 3 * kHour + 30 * 60'000);
  auto late =
      Classify(item, Steps({{4, "2023-01-19T15:10:00"}, {9, "2023-01-27T10:00:00"}}), kLater);
  EXPECT_EQ(late.cls, OnTimeClass::kLate);
}

TEST_F(DossierTest, NoDueDateUsesProcedureWorkingDaysAcrossTet) {
  // 1.006388: 10 working days = 80 working hours from Monday 16/1/2023 09:00; Tết skipped:
  // due Monday 6/2 09:00.
  nlohmann::json item = {{"MaHoSo", "H31.29-230116-0003"},
                         {"MaTTHC", "1.006388"},
                         {"TrangThaiHoSo", "9"},
                         {"NgayTiepNhan", P("2023-01-16T09:00:00")},
                         {"NgayHenTra", ""}};
  auto early = Classify(item, Steps({{9, "2023-02-03T15:00:00"}}), kLater);
  EXPECT_EQ(*early.due_ms, T("2023-02-06T09:00:00")) << Iso(*early.due_ms);
  EXPECT_EQ(early.cls, OnTimeClass::kEarly);
  EXPECT_EQ(Classify(item, Steps({{9, "2023-02-06T08:00:00"}}), kLater).cls, OnTimeClass::kOnTime);
  EXPECT_EQ(Classify(item, Steps({{9, "2023-02-07T08:00:00"}}), kLater).cls, OnTimeClass::kLate);
}

TEST_F(DossierTest, NoDueDateUsesProcedureCalendarDays) {
  // 1.004889: 15 calendar days from 16/1/2023 09:00: due 31/1 09:00; a 2-day supplement wait
  // moves it by 2 calendar days.
  nlohmann::json item = {{"MaHoSo", "H31.29-230116-0004"},
                         {"MaTTHC", "1.004889"},
                         {"TrangThaiHoSo", "9"},
                         {"NgayTiepNhan", P("2023-01-16T09:00:00")},
                         {"NgayHenTra", ""}};
  auto c = Classify(item, Steps({{9, "2023-01-31T08:00:00"}}), kLater);
  EXPECT_EQ(*c.due_ms, T("2023-01-31T09:00:00"));
  EXPECT_EQ(c.cls, OnTimeClass::kOnTime);
  item["DanhSachHoSoBoSung"] = {
      {{"NgayBoSung", P("2023-01-17T09:00:00")}, {"NgayTiepNhanBoSung", P("2023-01-19T09:00:00")}}};
  auto paused = Classify(item, Steps({{9, "2023-02-02T08:00:00"}}), kLater);
  EXPECT_EQ(*paused.due_ms, T("2023-02-02T09:00:00"));
  EXPECT_EQ(paused.cls, OnTimeClass::kOnTime);
}

TEST_F(DossierTest, EndFromNgayKetThucXuLyWithoutHistory) {
  auto c = Classify(Item(9, "2023-03-14T10:00:00"), {}, kLater);
  EXPECT_EQ(c.cls, OnTimeClass::kEarly);
  EXPECT_TRUE(HasReason(c, "end_from_NgayKetThucXuLy"));
}

TEST_F(DossierTest, ErrorsAreValues) {
  // Finished without any end time.
  auto facts = DossierFacts::FromPortalItem(Item(9), {}).value();
  auto r = classifier_->ClassifyDossier(facts, T(kLater));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  // No due date and an unknown procedure.
  nlohmann::json item = Item(4);
  item["NgayHenTra"] = "";
  item["MaTTHC"] = "9.999999";
  auto unknown =
      classifier_->ClassifyDossier(DossierFacts::FromPortalItem(item, {}).value(), T(kLater));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Status::Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("9.999999"), std::string::npos);
  // Malformed portal date names the field.
  item["DanhSachHoSoBoSung"] = {{{"NgayBoSung", "2023-03-13"}}};
  auto bad = DossierFacts::FromPortalItem(item, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("$.DanhSachHoSoBoSung[0].NgayBoSung"), std::string::npos)
      << bad.status().message();
  // Outside the loaded calendar.
  nlohmann::json old = Item(4);
  old["NgayTiepNhan"] = P("2022-12-20T08:00:00");
  auto outside = classifier_->ClassifyDossier(DossierFacts::FromPortalItem(old, {}).value(),
                                              T("2023-01-05T08:00:00"));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().code(), Status::Code::kNotFound);
}

TEST_F(DossierTest, ProgressItemsAndJson) {
  auto step = DossierFacts::StepFromProgressItem({{"MaHoSo", "H31.29-230301-0001"},
                                                  {"TrangThai", "9"},
                                                  {"ThoiDiemXuLy", P("2023-03-10T10:00:00")}});
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->status, 9);
  EXPECT_EQ(step->at_ms, T("2023-03-10T10:00:00"));
  auto c = Classify(Item(9), {step.value()}, kLater);
  nlohmann::json j = c.ToJson();
  EXPECT_EQ(j["class"], "early");
  EXPECT_EQ(j["due"], "2023-03-15T17:00:00+07:00");
  EXPECT_EQ(j["end"], "2023-03-10T10:00:00+07:00");
  EXPECT_EQ(j["explanation"]["class"], "early");
  EXPECT_TRUE(j["next_change"].is_null());
}

}  // namespace
}  // namespace danvan::calendar
