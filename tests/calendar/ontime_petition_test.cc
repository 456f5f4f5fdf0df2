// Petitions classified against their legal deadline (domain.md §3, config/deadlines.json).
#include <gtest/gtest.h>

#include "calendar/ontime.h"
#include "test_util.h"

namespace danvan::calendar {
namespace {

using testing::Iso;
using testing::T;

class PetitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(testing::ShippedCalendar(), nullptr);
    classifier_ = std::make_unique<OnTimeClassifier>(
        testing::ShippedCalendar(), testing::ShippedProcedures(), testing::ShippedRules());
  }
  static PetitionFacts Complaint() {
    PetitionFacts p;
    p.id = "KN-2023-000123";
    p.petition_kind = "complaint";
    p.round = 1;
    p.status = "accepted";
    p.received_at = T("2023-02-24T09:00:00");
    p.accepted_at = T("2023-03-01T09:00:00");
    return p;
  }
  Classification At(const PetitionFacts& p, int64_t as_of) {
    auto c = classifier_->ClassifyPetition(p, as_of);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? c.value() : Classification{};
  }
  std::unique_ptr<OnTimeClassifier> classifier_;
};

TEST_F(PetitionTest, ResolvedComplaintAgainstThirtyDays) {
  PetitionFacts p = Complaint();
  p.status = "resolved";
  p.resolved_at = T("2023-03-31T15:00:00");
  auto on_time = At(p, T("2023-06-30T00:00:00"));
  EXPECT_EQ(on_time.cls, OnTimeClass::kOnTime);
  EXPECT_EQ(on_time.rule_id, "complaint.r1.resolve");
  EXPECT_EQ(*on_time.due_ms, T("2023-03-31T23:59:59.999"));
  EXPECT_EQ(on_time.due_source, "legal_rule");
  p.resolved_at = T("2023-03-20T15:00:00");
  EXPECT_EQ(At(p, T("2023-06-30T00:00:00")).cls, OnTimeClass::kEarly);
  p.resolved_at = T("2023-04-03T08:00:00");
  EXPECT_EQ(At(p, T("2023-06-30T00:00:00")).cls, OnTimeClass::kLate);
  // Complex: 45 days -> Saturday 15/4 -> Monday 17/4, so 3/4 is early.
  p.complex = true;
  auto complex = At(p, T("2023-06-30T00:00:00"));
  EXPECT_EQ(complex.cls, OnTimeClass::kEarly);
  EXPECT_EQ(*complex.due_ms, T("2023-04-17T23:59:59.999"));
}

TEST_F(PetitionTest, OpenComplaintSchedule) {
  PetitionFacts p = Complaint();
  // Horizon 3 working days: due Friday 31/3, due soon from Wednesday 29/3 00:00.
  auto within = At(p, T("2023-03-27T10:00:00"));
  EXPECT_EQ(within.cls, OnTimeClass::kOpenWithinDeadline);
  ASSERT_TRUE(within.next_change_ms.has_value());
  EXPECT_EQ(*within.next_change_ms, T("2023-03-29T00:00:00")) << Iso(*within.next_change_ms);
  EXPECT_EQ(*within.next_class, OnTimeClass::kDueSoon);
  auto soon = At(p, *within.next_change_ms);
  EXPECT_EQ(soon.cls, OnTimeClass::kDueSoon);
  EXPECT_EQ(*soon.next_change_ms, T("2023-04-01T00:00:00"));
  EXPECT_EQ(*soon.next_class, OnTimeClass::kOpenOverdue);
  auto overdue = At(p, *soon.next_change_ms);
  EXPECT_EQ(overdue.cls, OnTimeClass::kOpenOverdue);
  EXPECT_FALSE(overdue.next_change_ms.has_value());
}

TEST_F(PetitionTest, NotYetAcceptedUsesAcceptanceDeadlineAcrossTet) {
  PetitionFacts p = Complaint();
  p.status = "received";
  p.received_at = T("2023-01-16T10:00:00");
  p.accepted_at.reset();
  // 10 days -> 26/1 (Tết) -> 27/1; 3 working days before: 18/1 (19/1, then Tết).
  auto c = At(p, T("2023-01-18T10:00:00"));
  EXPECT_EQ(c.rule_id, "complaint.r1.accept");
  EXPECT_EQ(*c.due_ms, T("2023-01-27T23:59:59.999"));
  EXPECT_EQ(c.cls, OnTimeClass::kDueSoon);
  EXPECT_EQ(*c.due_soon_from_ms, T("2023-01-18T00:00:00"));
  // Accepted after the judging instant: still judged on the acceptance deadline.
  p.accepted_at = T("2023-02-01T09:00:00");
  EXPECT_EQ(At(p, T("2023-01-18T10:00:00")).rule_id, "complaint.r1.accept");
  EXPECT_EQ(At(p, T("2023-02-02T10:00:00")).rule_id, "complaint.r1.resolve");
}

TEST_F(PetitionTest, FeedbackFifteenWorkingDays) {
  PetitionFacts p;
  p.id = "PAKN-2025-0100";
  p.petition_kind = "feedback";
  p.status = "resolved";
  p.received_at = T("2025-04-25T10:00:00");
  p.resolved_at = T("2025-05-21T09:00:00");
  auto c = At(p, T("2025-06-30T00:00:00"));
  EXPECT_EQ(*c.due_ms, T("2025-05-20T23:59:59.999"));
  EXPECT_EQ(c.cls, OnTimeClass::kLate);
  p.resolved_at = T("2025-05-20T16:00:00");
  EXPECT_EQ(At(p, T("2025-06-30T00:00:00")).cls, OnTimeClass::kOnTime);
}

TEST_F(PetitionTest, DenunciationExtensionsMoveTheDue) {
  PetitionFacts p;
  p.id = "TC-2025-0002";
  p.petition_kind = "denunciation";
  p.status = "in_progress";
  p.received_at = T("2024-12-20T08:00:00");
  p.accepted_at = T("2025-01-02T08:00:00");
  EXPECT_EQ(At(p, T("2025-02-10T08:00:00")).cls, OnTimeClass::kOpenOverdue);
  p.extensions = {{30, "Vụ việc phức tạp", T("2025-01-25T00:00:00")}};
  auto extended = At(p, T("2025-02-10T08:00:00"));
  EXPECT_EQ(extended.cls, OnTimeClass::kOpenWithinDeadline);
  EXPECT_EQ(*extended.due_ms, T("2025-03-03T23:59:59.999"));
}

TEST_F(PetitionTest, Errors) {
  PetitionFacts p = Complaint();
  p.status = "resolved";  // no resolved_at / decision_at
  auto r = classifier_->ClassifyPetition(p, T("2023-06-30T00:00:00"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("resolved_at"), std::string::npos);
  PetitionFacts odd = Complaint();
  odd.petition_kind = "praise";
  auto none = classifier_->ClassifyPetition(odd, T("2023-06-30T00:00:00"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  PetitionFacts future = Complaint();
  EXPECT_EQ(At(future, T("2023-02-01T00:00:00")).cls, OnTimeClass::kNotCounted);
}

// Every legal step of a petition is visible with its own clock (issue 13, domain.md §3).
const nlohmann::json* StepOf(const Classification& c, const std::string& rule_id) {
  for (const auto& s : c.steps)
    if (s["rule_id"] == rule_id) return &s;
  return nullptr;
}

// Denunciations Law 2018: art. 24 (initial processing within 7 working days of receipt),
// art. 29 (notify within 5 working days of acceptance), art. 30 (resolve within 30 days of
// acceptance, one extension of up to 30 days for a complex case). Received Monday 24/4/2023:
// the 29/4-3/5 break (domain.md §5) is not counted, so the 7th working day is Monday 8/5.
TEST_F(PetitionTest, DenunciationShowsEveryStepWithItsOwnClock) {
  PetitionFacts p;
  p.id = "TC-2023-000045";
  p.petition_kind = "denunciation";
  p.status = "in_progress";
  p.received_at = T("2023-04-24T09:00:00");
  p.accepted_at = T("2023-05-05T10:00:00");
  auto c = At(p, T("2023-06-07T09:00:00"));
  const auto* initial = StepOf(c, "denunciation.initial");
  ASSERT_NE(initial, nullptr) << c.steps.dump();
  EXPECT_EQ((*initial)["due"], Iso(T("2023-05-08T23:59:59.999")));
  EXPECT_EQ((*initial)["state"], "met");
  EXPECT_EQ((*initial)["met_on"], "2023-05-05");
  EXPECT_NE((*initial)["legal_basis"].get<std::string>().find("Điều 24"), std::string::npos);
  const auto* notify = StepOf(c, "denunciation.notify");
  ASSERT_NE(notify, nullptr);
  EXPECT_EQ((*notify)["due"], Iso(T("2023-05-12T23:59:59.999")));  // 5 working days after 5/5
  EXPECT_EQ((*notify)["state"], "untracked");  // no record field shows the notice was sent
  // 30 days after 5/5 is Sunday 4/6: moved to Monday 5/6; on 7/6 unresolved, 2 days overdue.
  const auto* resolve = StepOf(c, "denunciation.resolve");
  ASSERT_NE(resolve, nullptr);
  EXPECT_EQ((*resolve)["due"], Iso(T("2023-06-05T23:59:59.999")));
  EXPECT_EQ((*resolve)["state"], "overdue");
  EXPECT_EQ((*resolve)["overdue_by_days"], 2);
  EXPECT_TRUE((*resolve)["used_for_classification"].get<bool>());
  EXPECT_EQ(c.rule_id, "denunciation.resolve");
  // Forwarding (art. 24) applies only to a forwarded denunciation.
  EXPECT_EQ(StepOf(c, "denunciation.forward"), nullptr);
  // An extension (art. 30) re-evaluates the resolve step: 5/5 + 30 + 30 days = Tuesday 4/7.
  p.complex = true;
  p.extensions.push_back({30, "Vụ việc phức tạp, cần xác minh tại nhiều nơi", T("2023-06-01T09:00:00")});
  auto extended = At(p, T("2023-06-07T09:00:00"));
  resolve = StepOf(extended, "denunciation.resolve");
  ASSERT_NE(resolve, nullptr);
  EXPECT_EQ((*resolve)["due"], Iso(T("2023-07-04T23:59:59.999"))) << resolve->dump();
  EXPECT_EQ((*resolve)["state"], "due");
  EXPECT_EQ(extended.ToJson()["steps"].size(), extended.steps.size());
}

// Complaints Law 2011 art. 27 (accept within 10 days of receipt), art. 28 (resolve within 30 days
// of acceptance); Circular 05/2021/TT-TTCP (process the letter within 10 working days).
TEST_F(PetitionTest, ComplaintStepsMetAndOverdue) {
  PetitionFacts p = Complaint();  // received Friday 24/2, accepted Wednesday 1/3/2023
  auto c = At(p, T("2023-04-05T09:00:00"));
  const auto* accept = StepOf(c, "complaint.r1.accept");
  ASSERT_NE(accept, nullptr) << c.steps.dump();
  EXPECT_EQ((*accept)["due"], Iso(T("2023-03-06T23:59:59.999")));  // 24/2 + 10 days
  EXPECT_EQ((*accept)["state"], "met");
  EXPECT_EQ((*accept)["met_on"], "2023-03-01");
  const auto* intake = StepOf(c, "complaint.intake");
  ASSERT_NE(intake, nullptr);
  EXPECT_EQ((*intake)["due"], Iso(T("2023-03-10T23:59:59.999")));  // 10 working days
  EXPECT_EQ((*intake)["state"], "met");
  const auto* resolve = StepOf(c, "complaint.r1.resolve");
  ASSERT_NE(resolve, nullptr);
  EXPECT_EQ((*resolve)["due"], Iso(T("2023-03-31T23:59:59.999")));
  EXPECT_EQ((*resolve)["state"], "overdue");
  EXPECT_EQ((*resolve)["overdue_by_days"], 5);
  const auto* filing = StepOf(c, "complaint.filing_limit");
  ASSERT_NE(filing, nullptr);
  EXPECT_EQ((*filing)["state"], "not_started");  // the contested decision's date is unknown
  // Resolved late on 3/4: met late by 3 days.
  p.status = "resolved";
  p.resolved_at = T("2023-04-03T15:00:00");
  auto resolved = At(p, T("2023-04-05T09:00:00"));
  resolve = StepOf(resolved, "complaint.r1.resolve");
  ASSERT_NE(resolve, nullptr);
  EXPECT_EQ((*resolve)["state"], "met_late");
  EXPECT_EQ((*resolve)["late_by_days"], 3);
}

}  // namespace
}  // namespace danvan::calendar
