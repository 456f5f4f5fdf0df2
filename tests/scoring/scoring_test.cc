// Rubric engine tests: every criterion type, band edges, penalty caps, no-data policies
// (including the 766 "no petitions" redistribution), eligibility, rating bands, ranking ties,
// manual entry validation, and exact reproduction of an old score after a rubric change.
#include "scoring/scoring.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <fstream>
#include <set>

#include "scoring/model.h"
#include "scoring/rubric.h"

namespace danvan::scoring {
namespace {

using nlohmann::json;

std::string Root() { return DANVAN_SOURCE_ROOT; }

// A small rubric exercising every criterion type; tests patch it with json pointers.
json TestRubricJson() {
  return json::parse(R"({
    "schema_version": 1, "id": "test", "version": "1", "title": "Bộ tiêu chí thử",
    "max_points": 50, "precision": 2,
    "groups": [
      {"id": "a", "name": "Nhóm A", "max_points": 30, "criteria": [
        {"id": "a.bands", "name": "Đúng hạn", "type": "bands", "indicator": "petition.resolved_on_time", "max_points": 8,
         "bands": [{"min": 0.95, "points": 8}, {"min": 0.9, "points": 6}, {"min": 0.8, "points": 4}, {"min": 0.5, "points": 2}]},
        {"id": "a.linear", "name": "Giải quyết xong", "type": "linear", "indicator": "petition.resolved", "low": 0.5, "high": 1.0, "max_points": 4},
        {"id": "a.threshold", "name": "Trực tuyến", "type": "threshold", "indicator": "idx766.online", "threshold": 0.5, "max_points": 12},
        {"id": "a.ratio", "name": "Đúng hạn hồ sơ", "type": "threshold", "indicator": "idx766.on_time", "threshold": null, "max_points": 6}
      ]},
      {"id": "b", "name": "Nhóm B", "max_points": 20, "criteria": [
        {"id": "b.count", "name": "Mô hình đăng ký", "type": "count", "indicator": "dvk.registered", "target": 2, "max_points": 4},
        {"id": "b.invert", "name": "Đơn về thái độ", "type": "linear", "indicator": "petition.staff_conduct", "value_of": "numerator", "low": 0, "high": 3, "invert": true, "max_points": 6},
        {"id": "b.manual", "name": "Văn hoá công sở", "type": "manual", "max_points": 10, "use": "superior_else_self"}
      ]},
      {"id": "adj", "name": "Cộng, trừ", "kind": "adjustment", "max_points": 5, "min_points": -6, "criteria": [
        {"id": "adj.bonus", "name": "Khen thưởng", "type": "manual", "max_points": 5, "use": "superior"},
        {"id": "adj.overdue", "name": "Đơn quá hạn", "type": "per_item", "indicator": "petition.overdue_open", "points_per_item": -1, "min_points": -5, "max_points": 0},
        {"id": "adj.group", "name": "Đơn đông người", "type": "per_item", "indicator": "petition.group", "points_per_item": -1, "min_points": -3, "max_points": 0}
      ]}
    ],
    "rating_bands": [{"name": "Xuất sắc", "min": 45}, {"name": "Tốt", "min": 40}, {"name": "Khá", "min": 30}, {"name": "Yếu", "min": 0}],
    "eligibility": {"label": "Không xếp loại", "rules": [
      {"indicator": "dossier.received", "min": 10, "reason": "Dưới 10 hồ sơ"}]}
  })");
}

Rubric MustLoad(const json& j) {
  auto r = Rubric::FromJson(j);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

IndicatorValue Iv(const std::string& id, double num, double den) {
  IndicatorValue v;
  v.id = id;
  v.numerator = num;
  v.denominator = den;
  if (den != 0) v.ratio = num / den;
  return v;
}

IndicatorValue Count(const std::string& id, double n) { return Iv(id, n, 0); }

const UnitRef kUnit{"SGDDT.TTRA", "Thanh tra Sở", "SGDDT"};
const Period kH1{"half_year", "2023-01-01", "2023-06-15", "6 tháng đầu năm 2023"};

const CriterionScore& Crit(const UnitScore& s, const std::string& id) {
  for (const auto& g : s.groups)
    for (const auto& c : g.criteria)
      if (c.criterion_id == id) return c;
  ADD_FAILURE() << "no criterion " << id;
  static CriterionScore none;
  return none;
}

const GroupScore& Grp(const UnitScore& s, const std::string& id) {
  for (const auto& g : s.groups)
    if (g.group_id == id) return g;
  ADD_FAILURE() << "no group " << id;
  static GroupScore none;
  return none;
}

UnitScore Score(const Rubric& r, std::vector<IndicatorValue> ivs, std::vector<ManualEntry> m = {},
                UnitRef unit = kUnit) {
  auto s = ScoreUnit(r, unit, kH1, ivs, m);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : UnitScore{};
}

ManualEntry Manual(const std::string& crit, Assessor who, double score, const std::string& at) {
  return {crit, who, score, "Biên bản kiểm tra số 12/BB-VP", "VB-2023-0456", "nguyen.van.an", at};
}

double OnlyPoints(const Rubric& r, const std::string& crit, IndicatorValue v) {
  return Crit(Score(r, {v}), crit).points;
}

// ---- Shipped rubrics ----

TEST(ShippedRubrics, LoadAndUseOnlyContractIndicatorIds) {
  const std::set<std::string> contract = {"idx766.synced",
                                          "idx766.on_time",
                                          "idx766.online",
                                          "idx766.paid_online",
                                          "idx766.e_result",
                                          "idx766.digitised",
                                          "idx766.reuse",
                                          "idx766.population_data",
                                          "idx766.pakn_on_time",
                                          "idx766.pakn_satisfaction",
                                          "idx766.dossier_satisfaction",
                                          "dossier.received",
                                          "dossier.finished",
                                          "dossier.avg_processing_days",
                                          "petition.received",
                                          "petition.received.complaint",
                                          "petition.received.denunciation",
                                          "petition.received.petition",
                                          "petition.received.feedback",
                                          "petition.received.feedback_regulation",
                                          "petition.resolved",
                                          "petition.resolved_on_time",
                                          "petition.overdue_open",
                                          "petition.complex",
                                          "petition.group",
                                          "petition.protracted",
                                          "petition.reraised",
                                          "petition.staff_conduct",
                                          "reception.head_months_held",
                                          "reception.sessions",
                                          "reception.adhoc",
                                          "reception.people",
                                          "reception.group",
                                          "dvk.registered",
                                          "dvk.recognised",
                                          "plan.tasks_total",
                                          "plan.tasks_done",
                                          "plan.tasks_late",
                                          "plan.tasks_on_track",
                                          "report.six_month_on_time",
                                          "report.annual_on_time"};
  for (const char* file : {"/config/rubric/default.json", "/config/rubric/idx766.json"}) {
    auto r = Rubric::FromFile(Root() + file);
    ASSERT_TRUE(r.ok()) << file << ": " << r.status().ToString();
    EXPECT_DOUBLE_EQ(r->max_points(), 100);
    for (const auto& id : r->IndicatorIds())
      EXPECT_TRUE(contract.count(id)) << file << " reads " << id;
    double sum = 0;
    for (const auto& g : r->groups())
      if (!g.adjustment) sum += g.max_points;
    EXPECT_DOUBLE_EQ(sum, 100) << file;
  }
  auto d = Rubric::FromFile(Root() + "/config/rubric/default.json");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->groups().size(), 9u);  // domain.md §4: eight groups + bonus/penalty
  EXPECT_TRUE(d->groups().back().adjustment);
}

TEST(ShippedRubrics, Idx766PerfectUnitScores100AndNoPetitionsRedistributes) {
  auto r = Rubric::FromFile(Root() + "/config/rubric/idx766.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<IndicatorValue> ivs;
  for (const char* id :
       {"idx766.synced", "idx766.on_time", "idx766.online", "idx766.paid_online", "idx766.e_result",
        "idx766.digitised", "idx766.reuse", "idx766.population_data", "idx766.pakn_on_time",
        "idx766.pakn_satisfaction", "idx766.dossier_satisfaction"})
    ivs.push_back(Iv(id, 40, 40));
  ivs.push_back(Count("dossier.received", 40));
  std::vector<ManualEntry> manual;
  for (const auto& g : r->groups())
    for (const auto& c : g.criteria)
      if (c.type == CriterionType::kManual)
        manual.push_back(
            Manual(c.id, Assessor::kSuperior, c.max_points, "2023-06-20T08:00:00+07:00"));
  UnitScore full = Score(*r, ivs, manual);
  EXPECT_DOUBLE_EQ(full.total, 100);
  EXPECT_EQ(full.rating, "Xuất sắc");

  // No petitions: pakn ratios are null. The 6 satisfaction points go 3 + 3 to the other two.
  for (auto& v : ivs)
    if (v.id == "idx766.pakn_on_time" || v.id == "idx766.pakn_satisfaction") v = Iv(v.id, 0, 0);
  UnitScore none = Score(*r, ivs, manual);
  EXPECT_EQ(Crit(none, "satisfaction.pakn").source, "redistributed");
  EXPECT_DOUBLE_EQ(Crit(none, "satisfaction.pakn").max_points, 0);
  EXPECT_DOUBLE_EQ(Crit(none, "satisfaction.pakn_on_time").max_points, 9);
  EXPECT_DOUBLE_EQ(Crit(none, "satisfaction.pakn_on_time").points, 9);  // policy full, scaled
  EXPECT_DOUBLE_EQ(Crit(none, "satisfaction.dossier").max_points, 9);
  EXPECT_DOUBLE_EQ(Crit(none, "satisfaction.dossier").points, 9);
  EXPECT_DOUBLE_EQ(none.total, 100);

  // Dossier satisfaction 81% with threshold 90% and max raised to 9: 0.81 × 9 ÷ 0.9 = 8.1.
  for (auto& v : ivs)
    if (v.id == "idx766.dossier_satisfaction") v = Iv(v.id, 81, 100);
  UnitScore part = Score(*r, ivs, manual);
  EXPECT_DOUBLE_EQ(Crit(part, "satisfaction.dossier").points, 8.1);
  EXPECT_DOUBLE_EQ(Grp(part, "satisfaction").points, 17.1);
}

// ---- Criterion types ----

TEST(Criteria, BandsAtTheirEdges) {
  Rubric r = MustLoad(TestRubricJson());
  auto pts = [&](double n, double d) {
    return OnlyPoints(r, "a.bands", Iv("petition.resolved_on_time", n, d));
  };
  EXPECT_DOUBLE_EQ(pts(19, 20), 8);      // exactly 0.95
  EXPECT_DOUBLE_EQ(pts(1899, 2000), 6);  // 0.9495
  EXPECT_DOUBLE_EQ(pts(9, 10), 6);       // exactly 0.9
  EXPECT_DOUBLE_EQ(pts(4, 5), 4);        // exactly 0.8
  EXPECT_DOUBLE_EQ(pts(799, 1000), 2);
  EXPECT_DOUBLE_EQ(pts(1, 2), 2);     // exactly 0.5
  EXPECT_DOUBLE_EQ(pts(49, 100), 0);  // below every band: otherwise = 0
  EXPECT_EQ(Crit(Score(r, {Iv("petition.resolved_on_time", 9, 10)}), "a.bands").source,
            "indicator");
}

TEST(Criteria, LinearBetweenTwoRatiosAndInverted) {
  Rubric r = MustLoad(TestRubricJson());
  auto lin = [&](double n, double d) {
    return OnlyPoints(r, "a.linear", Iv("petition.resolved", n, d));
  };
  EXPECT_DOUBLE_EQ(lin(1, 2), 0);
  EXPECT_DOUBLE_EQ(lin(3, 4), 2);
  EXPECT_DOUBLE_EQ(lin(9, 10), 3.2);
  EXPECT_DOUBLE_EQ(lin(1, 1), 4);
  EXPECT_DOUBLE_EQ(lin(1, 5), 0);  // clamped below low
  auto inv = [&](double n) {
    return OnlyPoints(r, "b.invert", Count("petition.staff_conduct", n));
  };
  EXPECT_DOUBLE_EQ(inv(0), 6);
  EXPECT_DOUBLE_EQ(inv(1), 4);
  EXPECT_DOUBLE_EQ(inv(3), 0);
  EXPECT_DOUBLE_EQ(inv(10), 0);
}

TEST(Criteria, ThresholdIsThe766Rule) {
  Rubric r = MustLoad(TestRubricJson());
  auto thr = [&](double n, double d) {
    return OnlyPoints(r, "a.threshold", Iv("idx766.online", n, d));
  };
  EXPECT_DOUBLE_EQ(thr(1, 2), 12);   // at the threshold: full
  EXPECT_DOUBLE_EQ(thr(7, 10), 12);  // above
  EXPECT_DOUBLE_EQ(thr(2, 5), 9.6);  // 0.4 × 12 ÷ 0.5
  EXPECT_DOUBLE_EQ(thr(1, 3), 8);    // 0.333.. × 12 ÷ 0.5 = 8
  EXPECT_DOUBLE_EQ(thr(0, 9), 0);
  auto ratio = [&](double n, double d) {
    return OnlyPoints(r, "a.ratio", Iv("idx766.on_time", n, d));
  };
  EXPECT_DOUBLE_EQ(ratio(2, 3), 4);  // no threshold: ratio × max
  EXPECT_DOUBLE_EQ(ratio(191, 200), 5.73);
  EXPECT_DOUBLE_EQ(ratio(1, 7), 0.86);  // 0.857.. rounded to 2 decimals
}

TEST(Criteria, PerItemPenaltiesAreCapped) {
  Rubric r = MustLoad(TestRubricJson());
  auto pen = [&](double n) {
    return OnlyPoints(r, "adj.overdue", Count("petition.overdue_open", n));
  };
  EXPECT_DOUBLE_EQ(pen(0), 0);
  EXPECT_DOUBLE_EQ(pen(3), -3);
  EXPECT_DOUBLE_EQ(pen(5), -5);
  EXPECT_DOUBLE_EQ(pen(12), -5);  // capped at −5
  // The adjustment group is clamped to its own minimum (−6) even when criteria sum lower.
  UnitScore s = Score(r, {Count("petition.overdue_open", 9), Count("petition.group", 4)});
  EXPECT_DOUBLE_EQ(Crit(s, "adj.group").points, -3);
  EXPECT_DOUBLE_EQ(Grp(s, "adj").points, -6);
}

TEST(Criteria, CountAgainstTarget) {
  Rubric r = MustLoad(TestRubricJson());
  auto cnt = [&](double n) { return OnlyPoints(r, "b.count", Count("dvk.registered", n)); };
  EXPECT_DOUBLE_EQ(cnt(0), 0);
  EXPECT_DOUBLE_EQ(cnt(1), 2);
  EXPECT_DOUBLE_EQ(cnt(2), 4);
  EXPECT_DOUBLE_EQ(cnt(7), 4);
}

TEST(Criteria, NoDataPolicies) {
  json j = TestRubricJson();
  j["groups"][0]["criteria"][1]["no_data"] = {{"policy", "full"}};
  Rubric r = MustLoad(j);
  UnitScore s = Score(r, {Iv("petition.resolved", 0, 0)});  // ratio null
  EXPECT_EQ(Crit(s, "a.linear").source, "no_data");
  EXPECT_DOUBLE_EQ(Crit(s, "a.linear").points, 4);
  EXPECT_EQ(Crit(s, "a.bands").source, "no_data");  // absent indicator, default policy zero
  EXPECT_DOUBLE_EQ(Crit(s, "a.bands").points, 0);
  EXPECT_FALSE(Crit(s, "a.bands").indicator.has_value());
}

TEST(Criteria, RedistributionIsRubricData) {
  json j = TestRubricJson();
  j["groups"][0]["criteria"][0]["no_data"] = json::parse(
      R"({"policy": "redistribute", "to": [{"criterion": "a.threshold", "share": 0.25}, {"criterion": "b.count", "share": 0.75}]})");
  Rubric r = MustLoad(j);
  UnitScore s = Score(r, {Iv("petition.resolved_on_time", 0, 0), Iv("idx766.online", 1, 5),
                          Count("dvk.registered", 1)});
  EXPECT_DOUBLE_EQ(Crit(s, "a.bands").max_points, 0);
  EXPECT_DOUBLE_EQ(Crit(s, "a.threshold").max_points, 14);  // 12 + 0.25 × 8
  EXPECT_DOUBLE_EQ(Crit(s, "a.threshold").points, 5.6);     // 0.2 × 14 ÷ 0.5
  EXPECT_DOUBLE_EQ(Crit(s, "b.count").max_points, 10);      // 4 + 0.75 × 8
  EXPECT_DOUBLE_EQ(Crit(s, "b.count").points, 5);
  EXPECT_DOUBLE_EQ(Grp(s, "a").max_points, 24);  // group caps follow the moved points
  EXPECT_DOUBLE_EQ(Grp(s, "b").max_points, 26);
  // With data, nothing moves.
  UnitScore t = Score(r, {Iv("petition.resolved_on_time", 1, 1), Iv("idx766.online", 1, 5)});
  EXPECT_DOUBLE_EQ(Crit(t, "a.threshold").max_points, 12);
  EXPECT_DOUBLE_EQ(Crit(t, "a.threshold").points, 4.8);
}

// ---- Manual entries ----

TEST(Manual, SuperiorOverridesSelfAndLatestWins) {
  Rubric r = MustLoad(TestRubricJson());
  UnitScore self_only =
      Score(r, {}, {Manual("b.manual", Assessor::kSelf, 9, "2023-06-01T08:00:00+07:00")});
  EXPECT_DOUBLE_EQ(Crit(self_only, "b.manual").points, 9);
  EXPECT_EQ(Crit(self_only, "b.manual").source, "manual");
  ASSERT_TRUE(Crit(self_only, "b.manual").manual.has_value());
  EXPECT_EQ(Crit(self_only, "b.manual").manual->entered_by, "nguyen.van.an");
  EXPECT_EQ(Crit(self_only, "b.manual").manual->evidence_note, "Biên bản kiểm tra số 12/BB-VP");

  UnitScore both = Score(r, {},
                         {Manual("b.manual", Assessor::kSuperior, 7.5, "2023-06-10T08:00:00+07:00"),
                          Manual("b.manual", Assessor::kSelf, 9, "2023-06-01T08:00:00+07:00"),
                          Manual("b.manual", Assessor::kSuperior, 8, "2023-06-12T08:00:00+07:00"),
                          Manual("b.manual", Assessor::kSuperior, 6, "2023-06-11T08:00:00+07:00")});
  EXPECT_DOUBLE_EQ(Crit(both, "b.manual").points, 8);  // the superior's latest entry
  EXPECT_EQ(Crit(both, "b.manual").manual->assessor, Assessor::kSuperior);
  EXPECT_EQ(Crit(both, "b.manual").manual_entries.size(), 4u);  // full audit trail kept

  // use: superior ignores self-assessment.
  UnitScore bonus =
      Score(r, {}, {Manual("adj.bonus", Assessor::kSelf, 5, "2023-06-01T08:00:00+07:00")});
  EXPECT_DOUBLE_EQ(Crit(bonus, "adj.bonus").points, 0);
  EXPECT_EQ(Crit(bonus, "adj.bonus").source, "no_data");

  json j = TestRubricJson();
  j["groups"][1]["criteria"][2]["use"] = "average";
  Rubric avg = MustLoad(j);
  UnitScore a = Score(avg, {},
                      {Manual("b.manual", Assessor::kSelf, 9, "2023-06-01T08:00:00+07:00"),
                       Manual("b.manual", Assessor::kSuperior, 6, "2023-06-10T08:00:00+07:00")});
  EXPECT_DOUBLE_EQ(Crit(a, "b.manual").points, 7.5);
}

TEST(Manual, OutOfRangeIsRejectedInVietnamese) {
  Rubric r = MustLoad(TestRubricJson());
  Status st = ValidateManualEntry(r, Manual("b.manual", Assessor::kSelf, 12, "2023-06-01"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidInput);
  EXPECT_EQ(st.message(),
            "Điểm 12 của tiêu chí 'b.manual' (Văn hoá công sở) nằm ngoài khoảng cho phép 0–10");
  Status neg = ValidateManualEntry(r, Manual("b.manual", Assessor::kSuperior, -0.5, "2023-06-01"));
  EXPECT_NE(neg.message().find("-0,5"), std::string::npos) << neg.message();
  EXPECT_TRUE(ValidateManualEntry(r, Manual("b.manual", Assessor::kSelf, 10, "x")).ok());
  EXPECT_TRUE(ValidateManualEntry(r, Manual("b.manual", Assessor::kSelf, 0, "x")).ok());

  Status unknown = ValidateManualEntry(r, Manual("z.none", Assessor::kSelf, 1, "x"));
  EXPECT_NE(unknown.message().find("không có tiêu chí 'z.none'"), std::string::npos);
  Status computed = ValidateManualEntry(r, Manual("a.bands", Assessor::kSelf, 1, "x"));
  EXPECT_NE(computed.message().find("tính tự động"), std::string::npos);

  // ScoreUnit refuses to score with a bad entry rather than clamping it.
  auto s = ScoreUnit(r, kUnit, kH1, {}, {Manual("b.manual", Assessor::kSelf, 11, "x")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("nằm ngoài khoảng cho phép 0–10"), std::string::npos);
}

// ---- Totals, ratings, eligibility ----

std::vector<IndicatorValue> PerfectA() {
  return {Iv("petition.resolved_on_time", 1, 1), Iv("petition.resolved", 1, 1),
          Iv("idx766.online", 1, 1), Iv("idx766.on_time", 1, 1), Count("dossier.received", 50)};
}

TEST(Totals, RatingBandsAtTheirEdges) {
  Rubric r = MustLoad(TestRubricJson());
  // Group A perfect = 30; b.invert with no data = 0; manual sets the rest.
  auto total_with = [&](double manual, double extra_count) {
    auto ivs = PerfectA();
    ivs.push_back(Count("dvk.registered", extra_count));
    return Score(r, ivs, {Manual("b.manual", Assessor::kSelf, manual, "2023-06-01")});
  };
  UnitScore s45 = total_with(10, 2.5);
  // b.invert has no indicator → 0; so 30 + 4 (count capped) + 10 = 44 → "Tốt".
  EXPECT_DOUBLE_EQ(s45.total, 44);
  EXPECT_EQ(s45.rating, "Tốt");
  UnitScore s40 = total_with(6, 2);
  EXPECT_DOUBLE_EQ(s40.total, 40);
  EXPECT_EQ(s40.rating, "Tốt");  // exactly at the cut-off
  UnitScore s3999 = total_with(5.99, 2);
  EXPECT_DOUBLE_EQ(s3999.total, 39.99);
  EXPECT_EQ(s3999.rating, "Khá");
  auto ivs = PerfectA();
  ivs.push_back(Count("dvk.registered", 2));
  ivs.push_back(Count("petition.staff_conduct", 0));
  UnitScore top = Score(r, ivs,
                        {Manual("b.manual", Assessor::kSelf, 5, "x"),
                         Manual("adj.bonus", Assessor::kSuperior, 5, "x")});
  EXPECT_DOUBLE_EQ(top.total, 50);  // 30 + 4 + 6 + 5 + 5 = 50
  EXPECT_EQ(top.rating, "Xuất sắc");
  UnitScore capped = Score(r, ivs,
                           {Manual("b.manual", Assessor::kSelf, 10, "x"),
                            Manual("adj.bonus", Assessor::kSuperior, 5, "x")});
  EXPECT_DOUBLE_EQ(capped.total, 50);  // 55 clamped to total_max = max_points
}

TEST(Totals, NotEligibleUnitIsScoredButNotRated) {
  Rubric r = MustLoad(TestRubricJson());
  auto ivs = PerfectA();
  ivs.back() = Count("dossier.received", 9);
  UnitScore s = Score(r, ivs);
  EXPECT_FALSE(s.eligible);
  EXPECT_EQ(s.rating, "Không xếp loại");
  EXPECT_DOUBLE_EQ(s.total, 30);
  ASSERT_EQ(s.not_eligible_reasons.size(), 1u);
  EXPECT_EQ(s.not_eligible_reasons[0], "Dưới 10 hồ sơ (dossier.received = 9, cần ≥ 10)");
  // Absent indicator counts as 0.
  UnitScore absent = Score(r, {});
  EXPECT_FALSE(absent.eligible);
  ivs.back() = Count("dossier.received", 10);
  EXPECT_TRUE(Score(r, ivs).eligible);
}

// "Too few records": the rule sums several indicators.
TEST(Totals, EligibilityRuleSumsSeveralIndicators) {
  json j = TestRubricJson();
  j["eligibility"]["rules"] = json::parse(R"([{"indicators": ["dossier.received", "petition.received"],
      "min": 10, "reason": "Dưới 10 hồ sơ và đơn thư"}])");
  Rubric r = MustLoad(j);
  auto ivs = PerfectA();
  ivs.back() = Count("dossier.received", 6);
  ivs.push_back(Count("petition.received", 3));
  UnitScore s = Score(r, ivs);
  EXPECT_FALSE(s.eligible);
  ASSERT_EQ(s.not_eligible_reasons.size(), 1u);
  EXPECT_EQ(s.not_eligible_reasons[0],
            "Dưới 10 hồ sơ và đơn thư (dossier.received + petition.received = 9, cần ≥ 10)");
  ivs.back() = Count("petition.received", 4);
  EXPECT_TRUE(Score(r, ivs).eligible);
  // Both indicators are inputs of the rubric.
  auto ids = r.IndicatorIds();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "petition.received"), ids.end());
}

TEST(Totals, DuplicateIndicatorIsAnError) {
  Rubric r = MustLoad(TestRubricJson());
  auto s = ScoreUnit(r, kUnit, kH1, {Count("dvk.registered", 1), Count("dvk.registered", 2)}, {});
  EXPECT_FALSE(s.ok());
}

// ---- Ranking ----

UnitScore WithTotal(const Rubric& r, const std::string& code, double manual, bool eligible = true) {
  auto ivs = PerfectA();
  if (!eligible) ivs.back() = Count("dossier.received", 1);
  return Score(r, ivs, {Manual("b.manual", Assessor::kSelf, manual, "x")},
               UnitRef{code, code, "SGDDT"});
}

TEST(Ranking, TiesShareARankAndTheNextRankSkips) {
  Rubric r = MustLoad(TestRubricJson());
  std::vector<UnitScore> in = {WithTotal(r, "SGDDT.VP", 7),          WithTotal(r, "SGDDT.TTRA", 9),
                               WithTotal(r, "SGDDT.KHTC", 7),        WithTotal(r, "SGDDT.GDTH", 3),
                               WithTotal(r, "SGDDT.AAA", 10, false), WithTotal(r, "SGDDT.GDMN", 9)};
  auto ranked = Rank(in);
  ASSERT_TRUE(ranked.ok()) << ranked.status().ToString();
  const auto& v = *ranked;
  ASSERT_EQ(v.size(), 6u);
  std::vector<std::string> order;
  for (const auto& s : v) order.push_back(s.unit.code);
  EXPECT_EQ(order, (std::vector<std::string>{"SGDDT.GDMN", "SGDDT.TTRA", "SGDDT.KHTC", "SGDDT.VP",
                                             "SGDDT.GDTH", "SGDDT.AAA"}));
  EXPECT_EQ(v[0].rank, 1);
  EXPECT_EQ(v[1].rank, 1);
  EXPECT_TRUE(v[0].rank_tied && v[1].rank_tied);
  EXPECT_EQ(v[2].rank, 3);
  EXPECT_EQ(v[3].rank, 3);
  EXPECT_EQ(v[4].rank, 5);
  EXPECT_FALSE(v[4].rank_tied);
  EXPECT_FALSE(v[5].rank.has_value());  // not eligible: listed last, unranked
  EXPECT_EQ(v[5].rating, "Không xếp loại");
}

TEST(Ranking, RefusesMixedRubricsOrPeriods) {
  Rubric r = MustLoad(TestRubricJson());
  json j2 = TestRubricJson();
  j2["version"] = "2";
  Rubric r2 = MustLoad(j2);
  EXPECT_FALSE(Rank({WithTotal(r, "A", 1), WithTotal(r2, "B", 1)}).ok());
  UnitScore other = WithTotal(r, "B", 1);
  other.period.to = "2023-12-10";
  EXPECT_FALSE(Rank({WithTotal(r, "A", 1), other}).ok());
  EXPECT_FALSE(Rank({WithTotal(r, "A", 1), WithTotal(r, "A", 2)}).ok());
}

// ---- Reproduction ----

TEST(Reproduction, OldScoreIsReproducedAfterRubricChange) {
  json v1 = TestRubricJson();
  Rubric r1 = MustLoad(v1);
  std::vector<IndicatorValue> ivs = PerfectA();
  ivs[2] = Iv("idx766.online", 3, 10);
  ivs.push_back(Count("petition.overdue_open", 2));
  ivs.push_back(Count("dossier.avg_processing_days", 4));  // not read by the rubric: not recorded
  UnitScore s1 =
      Score(r1, ivs, {Manual("b.manual", Assessor::kSelf, 8, "2023-06-01T08:00:00+07:00")});
  const std::string stored = ToJson(s1).dump();

  // The province raises the online weight and the threshold in version 2.
  json v2 = v1;
  v2["version"] = "2";
  v2["groups"][0]["criteria"][2]["threshold"] = 0.8;
  Rubric r2 = MustLoad(v2);
  UnitScore s2 =
      Score(r2, ivs, {Manual("b.manual", Assessor::kSelf, 8, "2023-06-01T08:00:00+07:00")});
  EXPECT_NE(s2.total, s1.total);

  RubricRegistry reg;
  ASSERT_TRUE(reg.Add(r2).ok());
  ASSERT_TRUE(reg.Add(MustLoad(v1)).ok());
  auto back = UnitScoreFromJson(json::parse(stored));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->indicators_used.size(), 6u);  // the rubric's ids present in the inputs
  auto again = Rescore(reg, *back);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ToJson(*again).dump(), stored);
  EXPECT_DOUBLE_EQ(again->total, s1.total);

  // Editing version 1 in place is detected, both at registration and at rescoring.
  json v1_edited = v1;
  v1_edited["groups"][0]["criteria"][2]["threshold"] = 0.6;
  Rubric edited = MustLoad(v1_edited);
  EXPECT_EQ(reg.Add(edited).code(), Status::Code::kConflict);
  RubricRegistry reg2;
  ASSERT_TRUE(reg2.Add(edited).ok());
  EXPECT_EQ(Rescore(reg2, *back).status().code(), Status::Code::kConflict);
  RubricRegistry empty;
  EXPECT_EQ(Rescore(empty, *back).status().code(), Status::Code::kNotFound);
}

TEST(Reproduction, JsonRoundTripIsExact) {
  Rubric r = MustLoad(TestRubricJson());
  auto ivs = PerfectA();
  ivs[0].record_ids = {"DT-2023-000123", "DT-2023-000124"};
  ivs[0].points = 7.5;
  auto ranked =
      Rank({Score(r, ivs, {Manual("b.manual", Assessor::kSuperior, 3.25, "2023-06-02")})});
  ASSERT_TRUE(ranked.ok());
  json j = ToJson((*ranked)[0]);
  auto back = UnitScoreFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), j);
  // Figures are stored once (indicators_used) and re-linked to their criteria on reading.
  EXPECT_EQ(j["groups"][0]["criteria"][0]["indicator_id"], "petition.resolved_on_time");
  EXPECT_FALSE(j["groups"][0]["criteria"][0].contains("indicator"));
  ASSERT_TRUE(Crit(*back, "a.bands").indicator.has_value());
  EXPECT_EQ(Crit(*back, "a.bands").indicator->record_ids.size(), 2u);
  EXPECT_EQ(j["rank"], 1);
  EXPECT_EQ(j["rubric"]["id"], "test");
  EXPECT_EQ(j["rubric"]["digest"].get<std::string>().size(), 16u);
  EXPECT_FALSE(UnitScoreFromJson(json::parse(R"({"unit": {"code": 1}})")).ok());
}

// ---- Rubric validation ----

std::string LoadError(const json& j) {
  auto r = Rubric::FromJson(j);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(RubricValidation, SchemaAndSemanticErrors) {
  json j = TestRubricJson();
  j.erase("rating_bands");
  EXPECT_NE(LoadError(j).find("rubric.schema.json"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["criteria"][0]["type"] = "magic";
  EXPECT_NE(LoadError(j).find("rubric.schema.json"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["criteria"][2].erase("threshold");  // threshold criteria need it (if/then)
  EXPECT_NE(LoadError(j).find("rubric.schema.json"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["max_points"] = 31;
  EXPECT_NE(LoadError(j).find("khác điểm tối đa của nhóm"), std::string::npos);

  j = TestRubricJson();
  j["groups"][1]["criteria"][0]["id"] = "a.bands";
  EXPECT_NE(LoadError(j).find("trùng"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["criteria"][0]["bands"][1]["min"] = 0.99;
  EXPECT_NE(LoadError(j).find("giảm dần"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["criteria"][0]["no_data"] =
      json::parse(R"({"policy": "redistribute", "to": [{"criterion": "nope", "share": 1}]})");
  EXPECT_NE(LoadError(j).find("'nope'"), std::string::npos);

  j = TestRubricJson();
  j["groups"][0]["criteria"][0]["no_data"] =
      json::parse(R"({"policy": "redistribute", "to": [{"criterion": "a.ratio", "share": 0.5}]})");
  EXPECT_NE(LoadError(j).find("bằng 1"), std::string::npos);

  j = TestRubricJson();
  j["rating_bands"][1]["min"] = 50;
  EXPECT_NE(LoadError(j).find("giảm dần"), std::string::npos);

  EXPECT_FALSE(Rubric::FromFile(Root() + "/config/rubric/nope.json").ok());
}

}  // namespace
}  // namespace danvan::scoring
