#include "calendar/deadline_rules.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace danvan::calendar {
namespace {

using testing::D;
using testing::T;

// The "why" of the first refused extension in a deadline explanation, or "".
std::string Refusal(const nlohmann::json& explanation) {
  for (const auto& e : explanation)
    if (e["code"] == "extension_refused") return e["why"].get<std::string>();
  return "";
}

class DeadlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cal_ = testing::ShippedCalendar();
    rules_ = testing::ShippedRules();
    ASSERT_NE(cal_, nullptr);
    ASSERT_NE(rules_, nullptr);
  }
  // Due day of `kind`/`round`/`step` for the given facts.
  Result<DeadlineResult> Due(const std::string& kind, int round, const std::string& step,
                             const PetitionFacts& p) {
    const DeadlineRule* rule = rules_->Find(kind, round, step);
    EXPECT_NE(rule, nullptr) << kind << "/" << round << "/" << step;
    if (!rule) return Status::NotFound("no rule");
    return ComputeDeadline(*rule, p, *cal_);
  }
  static PetitionFacts Complaint(int round, const std::string& accepted, bool complex,
                                 bool remote) {
    PetitionFacts p;
    p.id = "KN-2023-0001";
    p.petition_kind = "complaint";
    p.round = round;
    p.received_at = T(accepted) - 5 * kMsPerDay;
    p.accepted_at = T(accepted);
    p.complex = complex;
    p.remote_area = remote;
    return p;
  }
  std::shared_ptr<const WorkingCalendar> cal_;
  std::shared_ptr<const DeadlineRules> rules_;
};

TEST_F(DeadlineTest, ComplaintFirstRoundVariants) {
  // Complaints Law 2011 art. 28: 30 / 45 complex / 45 remote / 60 remote complex, calendar days.
  auto base = Due("complaint", 1, "resolve", Complaint(1, "2023-03-01T09:00:00", false, false));
  ASSERT_TRUE(base.ok()) << base.status().message();
  EXPECT_EQ(base->due_day, D("2023-03-31"));
  EXPECT_EQ(base->due_ms, T("2023-03-31T23:59:59.999"));
  EXPECT_EQ(base->variant, "base");
  EXPECT_EQ(base->legal_basis, "Luật Khiếu nại 2011, Điều 28");
  // 45 days lands on Saturday 15/4 and moves to Monday 17/4.
  auto complex = Due("complaint", 1, "resolve", Complaint(1, "2023-03-01T09:00:00", true, false));
  EXPECT_EQ(complex->due_day, D("2023-04-17"));
  EXPECT_TRUE(complex->moved_to_next_working_day);
  EXPECT_EQ(complex->variant, "complex");
  auto remote = Due("complaint", 1, "resolve", Complaint(1, "2023-03-01T09:00:00", false, true));
  EXPECT_EQ(remote->due_day, D("2023-04-17"));
  EXPECT_EQ(remote->variant, "remote_area");
  // 60 days lands on 30/4/2023 (Sunday, holiday); 1/5 holiday, 2-3/5 compensatory: 4/5.
  auto remote_complex =
      Due("complaint", 1, "resolve", Complaint(1, "2023-03-01T09:00:00", true, true));
  EXPECT_EQ(remote_complex->due_day, D("2023-05-04"));
  EXPECT_EQ(remote_complex->variant, "remote_area_complex");
}

TEST_F(DeadlineTest, ComplaintSecondRoundVariants) {
  // Art. 37: 45 / 60 / 60 / 70 days.
  EXPECT_EQ(
      Due("complaint", 2, "resolve", Complaint(2, "2024-01-02T08:00:00", false, false))->due_day,
      D("2024-02-16"));
  EXPECT_EQ(
      Due("complaint", 2, "resolve", Complaint(2, "2024-01-02T08:00:00", true, false))->due_day,
      D("2024-03-04"));  // 2/3 is a Saturday
  EXPECT_EQ(
      Due("complaint", 2, "resolve", Complaint(2, "2024-01-02T08:00:00", false, true))->due_day,
      D("2024-03-04"));
  EXPECT_EQ(
      Due("complaint", 2, "resolve", Complaint(2, "2024-01-02T08:00:00", true, true))->due_day,
      D("2024-03-12"));
  EXPECT_EQ(rules_->Find("complaint", 2, "resolve")->id, "complaint.r2.resolve");
  EXPECT_EQ(rules_->Find("complaint", 1, "resolve")->id, "complaint.r1.resolve");
}

TEST_F(DeadlineTest, AcceptanceEndingInTetMovesToNextWorkingDay) {
  PetitionFacts p = Complaint(1, "2023-01-20T08:00:00", false, false);
  p.received_at = T("2023-01-16T10:00:00");
  auto r = Due("complaint", 1, "accept", p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->due_day, D("2023-01-27"));  // 26/1 is a compensatory day of Tết
  EXPECT_EQ(r->explanation.back()["code"], "moved_to_next_working_day");
}

TEST_F(DeadlineTest, DenunciationInitialWorkingDaysAndExtension) {
  PetitionFacts p;
  p.id = "TC-2023-0007";
  p.petition_kind = "denunciation";
  p.received_at = T("2023-01-18T14:00:00");
  // Denunciations Law 2018 art. 24: 7 working days, skipping Tết 2023.
  auto r = Due("denunciation", 1, "initial", p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->due_day, D("2023-02-03"));
  EXPECT_EQ(r->day_type, DayType::kWorking);
  // Up to 10 working days in all: one extension of at most 3.
  p.extensions.push_back({3, "Cần xác minh thông tin người tố cáo", std::nullopt});
  auto ext = Due("denunciation", 1, "initial", p);
  EXPECT_EQ(ext->due_day, D("2023-02-08"));
  EXPECT_EQ(ext->extensions_applied, 1);
  p.extensions[0].days = 4;
  auto too_long = Due("denunciation", 1, "initial", p);
  EXPECT_EQ(too_long->due_day, D("2023-02-03"));
  EXPECT_EQ(Refusal(too_long->explanation), "exceeds_max_days");
}

TEST_F(DeadlineTest, DenunciationResolveExtensions) {
  PetitionFacts p;
  p.id = "TC-2025-0002";
  p.petition_kind = "denunciation";
  p.received_at = T("2024-12-20T08:00:00");
  p.accepted_at = T("2025-01-02T08:00:00");
  // Art. 30: 30 days -> Saturday 1/2/2025 -> Monday 3/2.
  auto r = Due("denunciation", 1, "resolve", p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->due_day, D("2025-02-03"));
  // Especially complex: two extensions of 30 days -> 1/2 + 60 = 2/4/2025 (Wednesday).
  p.extensions = {{30, "Vụ việc phức tạp", std::nullopt},
                  {30, "Vụ việc đặc biệt phức tạp", std::nullopt}};
  auto two = Due("denunciation", 1, "resolve", p);
  EXPECT_EQ(two->due_day, D("2025-04-02"));
  EXPECT_EQ(two->extension_days, 60);
  // A third extension is refused, as is one without a reason.
  p.extensions.push_back({10, "Thêm", std::nullopt});
  auto three = Due("denunciation", 1, "resolve", p);
  EXPECT_EQ(three->due_day, D("2025-04-02"));
  EXPECT_EQ(Refusal(three->explanation), "exceeds_max_count");
  p.extensions = {{30, "", std::nullopt}};
  auto no_reason = Due("denunciation", 1, "resolve", p);
  EXPECT_EQ(no_reason->due_day, D("2025-02-03"));
  EXPECT_EQ(Refusal(no_reason->explanation), "reason_missing");
}

TEST_F(DeadlineTest, ComplaintsHaveNoExtensions) {
  PetitionFacts p = Complaint(1, "2023-03-01T09:00:00", false, false);
  p.extensions = {{10, "Phức tạp", std::nullopt}};
  auto r = Due("complaint", 1, "resolve", p);
  EXPECT_EQ(r->due_day, D("2023-03-31"));
  EXPECT_EQ(r->extensions_applied, 0);
}

TEST_F(DeadlineTest, PortalFeedbackFifteenWorkingDays) {
  PetitionFacts p;
  p.id = "PAKN-2025-0100";
  p.petition_kind = "feedback";
  p.received_at = T("2025-04-25T10:00:00");
  // Over the make-up Saturday 26/4, the holidays 30/4-1/5 and the swapped 2/5.
  auto r = Due("feedback", 1, "resolve", p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->due_day, D("2025-05-20"));
  // 2 working days: the make-up Saturday 26/4 counts, then Monday 28/4.
  EXPECT_EQ(Due("feedback", 1, "refuse", p)->due_day, D("2025-04-28"));
}

TEST_F(DeadlineTest, MissingStartFieldIsAnError) {
  PetitionFacts p = Complaint(1, "2023-03-01T09:00:00", false, false);
  p.accepted_at.reset();
  auto r = Due("complaint", 1, "resolve", p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("accepted_at"), std::string::npos);
}

TEST_F(DeadlineTest, ClassificationRulesByPriority) {
  auto rules = rules_->ClassificationRules("complaint", 1);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]->id, "complaint.r1.resolve");
  EXPECT_EQ(rules[1]->id, "complaint.r1.accept");
  EXPECT_EQ(rules_->ClassificationRules("feedback", 1).front()->id, "feedback.resolve");
}

TEST_F(DeadlineTest, PetitionFactsFromRecordData) {
  auto ok = PetitionFacts::FromRecordData(nlohmann::json::parse(R"({
    "petition_kind": "complaint", "round": 2, "status": "accepted",
    "received_at": "2023-03-02", "accepted_at": "2023-03-06T09:15:00+07:00",
    "complex": true, "remote_area": false,
    "extensions": [{"days": 10, "reason": "Xác minh tại hai địa điểm", "at": "2023-03-20"}]})"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->round, 2);
  EXPECT_EQ(*ok->received_at, T("2023-03-02T00:00:00"));
  EXPECT_EQ(*ok->accepted_at, T("2023-03-06T09:15:00"));
  EXPECT_TRUE(ok->complex);
  ASSERT_EQ(ok->extensions.size(), 1u);
  auto bad = PetitionFacts::FromRecordData(nlohmann::json::parse(
      R"({"petition_kind": "complaint", "received_at": "2023-03-02", "accepted_at": "06/03/2023"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("$.data.accepted_at"), std::string::npos)
      << bad.status().message();
  auto no_kind =
      PetitionFacts::FromRecordData(nlohmann::json::parse(R"({"received_at": "2023-03-02"})"));
  ASSERT_FALSE(no_kind.ok());
  EXPECT_NE(no_kind.status().message().find("petition_kind"), std::string::npos);
}

TEST(DeadlineDataErrors, SchemaAndSemanticErrorsNameFileAndPath) {
  testing::TempDir dir;
  const std::string head = R"({"due_soon": {"dossier": {"value": 1, "unit": "working_days"},
                                             "petition": {"value": 3, "unit": "working_days"}}, "rules": [)";
  const std::string bad_type =
      dir.Write("d1.json", head + R"({"id": "x", "petition_kind": "complaint",
      "step": "resolve", "start_from": "accepted_at", "day_type": "calendar", "days": "ba mươi",
      "legal_basis": "Luật Khiếu nại 2011, Điều 28"}]})");
  auto r1 = DeadlineRules::Load(bad_type, testing::SchemasDir());
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find(bad_type), std::string::npos) << r1.status().message();
  EXPECT_NE(r1.status().message().find("$.rules[0].days"), std::string::npos)
      << r1.status().message();
  const std::string shorter =
      dir.Write("d2.json", head + R"({"id": "x", "petition_kind": "complaint",
      "step": "resolve", "start_from": "accepted_at", "day_type": "calendar", "days": 30, "complex_days": 20,
      "legal_basis": "Luật Khiếu nại 2011, Điều 28"}]})");
  auto r2 = DeadlineRules::Load(shorter, testing::SchemasDir());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("$.rules[0].complex_days"), std::string::npos)
      << r2.status().message();
  const std::string dup = dir.Write("d3.json", head + R"({"id": "x", "petition_kind": "complaint",
      "step": "resolve", "start_from": "accepted_at", "day_type": "calendar", "days": 30, "legal_basis": "a"},
      {"id": "x", "petition_kind": "feedback", "step": "resolve", "start_from": "received_at",
       "day_type": "working", "days": 15, "legal_basis": "b"}]})");
  auto r3 = DeadlineRules::Load(dup, testing::SchemasDir());
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("$.rules[1].id"), std::string::npos)
      << r3.status().message();
}

}  // namespace
}  // namespace danvan::calendar
