// PackedScores (scoring/packed_scores.h): the packed text is the score's canonical JSON byte
// for byte, the full score comes back equal, Rank orders and ranks as scoring::Rank (ties and
// non-eligible units included), and the packing is several times smaller than the text.
#include "scoring/packed_scores.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <cstring>
#include <limits>
#include <random>

#include "core/json_write.h"
#include "scoring/rubric.h"
#include "scoring/scoring.h"

namespace danvan::scoring {
namespace {

using nlohmann::json;

const Period kH1{"half_year", "2023-01-01", "2023-06-15", "6 tháng đầu năm 2023"};

Rubric Default() {
  auto r = Rubric::FromFile(std::string(DANVAN_SOURCE_ROOT) + "/config/rubric/default.json");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

IndicatorValue Iv(const std::string& id, double num, double den) {
  IndicatorValue v{id, num, den, std::nullopt, std::nullopt, {}};
  if (den != 0) v.ratio = num / den;
  return v;
}

// n units with varied figures (some equal, to tie; some without data, to be not eligible),
// manual entries with Vietnamese text, drill-down record ids and portal points.
std::vector<UnitScore> Scores(const Rubric& r, int n) {
  std::mt19937 rng(7);
  std::vector<UnitScore> out;
  for (int u = 0; u < n; ++u) {
    std::vector<IndicatorValue> ivs;
    const double den = 40 + u % 3;
    for (const std::string& id : r.IndicatorIds()) {
      IndicatorValue v = Iv(id, u % 5 == 0 ? den : static_cast<double>(rng() % 41), den);
      if (u % 7 == 0) v.points = 0.5 * (rng() % 20);
      if (u % 11 == 0) v.record_ids = {"HS-" + std::to_string(u), "HS-\"ngoặc\"\n" + std::to_string(u)};
      if (u % 13 != 4) ivs.push_back(std::move(v));
    }
    std::vector<ManualEntry> manual;
    if (u % 2)
      manual.push_back({"g1.plan_issued", Assessor::kSuperior, 3.5, "Kế hoạch số " + std::to_string(u) + "/KH — 😀",
                        "VB-" + std::to_string(u), "nguyễn.văn.an", "2023-06-20T08:00:00+07:00"});
    UnitRef unit{"SO.U" + std::to_string(1000 + u), "Trường số " + std::to_string(u) + " \"A\"\t", "SO"};
    auto s = ScoreUnit(r, unit, kH1, ivs, manual);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    out.push_back(std::move(s).value());
  }
  return out;
}

std::string Text(const PackedScores& p, size_t i) {
  std::string out;
  p.AppendJson(i, &out);
  return out;
}

TEST(PackedScores, TextFullScoreAndRankAreTheUnpackedOnes) {
  const Rubric r = Default();
  const auto scores = Scores(r, 120);
  PackedScores packed;
  for (const auto& s : scores) packed.push_back(s);
  ASSERT_EQ(packed.size(), scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(Text(packed, i), DumpJson(ToJson(scores[i]))) << i;
    EXPECT_EQ(packed.JsonSize(i), Text(packed, i).size());
    EXPECT_EQ(packed[i].criteria, 0u + [&] {
      size_t n = 0;
      for (const auto& g : scores[i].groups) n += g.criteria.size();
      return n;
    }());
  }
  auto ranked = Rank(scores);
  ASSERT_TRUE(ranked.ok());
  ASSERT_TRUE(packed.Rank().ok());
  size_t ties = 0, unranked = 0;
  for (size_t i = 0; i < ranked->size(); ++i) {
    const UnitScore& want = ranked.value()[i];
    EXPECT_EQ(packed[i].unit.code, want.unit.code) << i;
    EXPECT_EQ(packed[i].rank, want.rank) << i;
    EXPECT_EQ(packed[i].rank_tied, want.rank_tied) << i;
    EXPECT_EQ(Text(packed, i), DumpJson(ToJson(want))) << i;
    auto full = packed.Full(i);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    EXPECT_EQ(ToJson(full.value()), ToJson(want)) << i;
    ties += want.rank_tied;
    unranked += !want.rank.has_value();
  }
  EXPECT_GT(ties, 0u);  // the data has ties and units without a rank
  EXPECT_GT(unranked, 0u);
  size_t text = 0;
  for (size_t i = 0; i < packed.size(); ++i) text += packed.JsonSize(i);
  std::printf("120 units: text %zu bytes, packed %zu bytes\n", text, packed.memory_bytes());
  EXPECT_LT(packed.memory_bytes(), text / 3);
}

// The typed criterion table (ForEachCriterion) a report reads is what the unit's text parses
// to (Full: UnitScoreFromJson of it), criterion by criterion, on real scores (the default
// rubric, manual entries by both assessors with Vietnamese text and emoji) and on hostile
// figures: a value that is not finite (null in the text), -0 beside a ratio of 0 (kept apart),
// a value equal to its indicator's ratio, fractions and huge numbers, an indicator listed twice
// (the last one is re-linked) or not at all, empty strings. Also after Rank, KeepIf, Set, and
// in a copy that outlives its original and keeps interning.
bool SameNumber(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool SameNumber(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || SameNumber(*a, *b));
}

void ExpectTableIsTheText(const PackedScores& packed) {
  for (size_t i = 0; i < packed.size(); ++i) {
    auto full = packed.Full(i);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    std::vector<std::pair<const GroupScore*, const CriterionScore*>> want;
    for (const GroupScore& g : full->groups)
      for (const CriterionScore& c : g.criteria) want.emplace_back(&g, &c);
    ASSERT_EQ(packed[i].criteria, want.size()) << i;
    size_t k = 0;
    packed.ForEachCriterion(i, [&](const CriterionView& v) {
      const GroupScore& g = *want.at(k).first;
      const CriterionScore& c = *want.at(k).second;
      const std::string at = packed[i].unit.code + " " + c.criterion_id;
      EXPECT_EQ(v.group_name, g.name) << at;
      EXPECT_EQ(v.criterion_id, c.criterion_id) << at;
      EXPECT_EQ(v.name, c.name) << at;
      EXPECT_EQ(v.source, c.source) << at;
      EXPECT_EQ(v.indicator_id, c.indicator_id) << at;
      EXPECT_EQ(v.note, c.note) << at;
      EXPECT_TRUE(SameNumber(v.value, c.value)) << at;
      EXPECT_TRUE(SameNumber(v.points, c.points)) << at;
      EXPECT_TRUE(SameNumber(v.max_points, c.max_points)) << at;
      EXPECT_EQ(v.indicator.has_value(), c.indicator.has_value()) << at;
      if (v.indicator && c.indicator) {
        EXPECT_TRUE(SameNumber(v.indicator->numerator, c.indicator->numerator)) << at;
        EXPECT_TRUE(SameNumber(v.indicator->denominator, c.indicator->denominator)) << at;
        EXPECT_TRUE(SameNumber(v.indicator->ratio, c.indicator->ratio)) << at;
      }
      EXPECT_EQ(v.manual.has_value(), c.manual.has_value()) << at;
      if (v.manual && c.manual) {
        EXPECT_EQ(v.manual->assessor, c.manual->assessor) << at;
        EXPECT_EQ(v.manual->entered_by, c.manual->entered_by) << at;
        EXPECT_EQ(v.manual->entered_at, c.manual->entered_at) << at;
        EXPECT_EQ(v.manual->evidence_note, c.manual->evidence_note) << at;
        EXPECT_EQ(v.manual->document_ref, c.manual->document_ref) << at;
      }
      ++k;
      return true;
    });
    EXPECT_EQ(k, want.size()) << i;
  }
}

TEST(PackedScores, CriterionTableIsTheTextsParse) {
  const Rubric r = Default();
  auto scores = Scores(r, 60);
  size_t manual = 0, superior = 0, with_figures = 0;
  for (const UnitScore& s : scores)
    for (const GroupScore& g : s.groups)
      for (const CriterionScore& c : g.criteria) {
        manual += c.manual.has_value();
        superior += c.manual && c.manual->assessor == Assessor::kSuperior;
        with_figures += c.indicator.has_value();
      }
  ASSERT_GT(manual, 0u);  // the data has what the table shows
  ASSERT_GT(superior, 0u);
  ASSERT_GT(with_figures, 0u);
  // Hostile figures in unit 1's criteria (a score as a host could read it from the store).
  UnitScore& h = scores[1];
  std::vector<CriterionScore*> cs;
  for (GroupScore& g : h.groups)
    for (CriterionScore& c : g.criteria) cs.push_back(&c);
  ASSERT_GE(cs.size(), 8u);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  cs[0]->value = nan;
  cs[1]->value = -0.0;
  cs[1]->indicator_id = "x.zero";
  cs[2]->value = 0.1 + 0.2;
  cs[2]->indicator_id = "x.dup";
  cs[3]->value = 1e300;
  cs[3]->points = 2.5;
  cs[3]->max_points = -7;
  cs[3]->indicator_id = "x.missing";
  cs[4]->value = 123456789012.0;
  cs[4]->indicator_id = "x.nanratio";
  cs[5]->manual = ManualEntry{cs[5]->criterion_id, Assessor::kSelf, 1.25, "", "", "", ""};
  cs[5]->note = "";
  cs[6]->name = "Tiêu chí \"mới\"\n😀";
  h.indicators_used.push_back({"x.zero", 0, 5, 0.0, std::nullopt, {}});
  h.indicators_used.push_back({"x.dup", 1, 3, 0.1 + 0.2, std::nullopt, {}});
  h.indicators_used.push_back({"x.dup", 2, 3, 0.5, 4.0, {"HS-1"}});  // the one re-linked
  h.indicators_used.push_back({"x.nanratio", 7, 0, nan, std::nullopt, {}});
  PackedScores packed;
  for (const auto& s : scores) packed.push_back(s);
  ExpectTableIsTheText(packed);
  ASSERT_TRUE(packed.Rank().ok());
  ExpectTableIsTheText(packed);
  packed.KeepIf([](const ScoreSummary& s) { return s.unit.code != "SO.U1003"; });
  packed.Set(0, scores[7]);
  ExpectTableIsTheText(packed);
  // A copy keeps its own pool: it outlives the original and interns new strings.
  auto copy = std::make_unique<PackedScores>(packed);
  packed = PackedScores();
  UnitScore renamed = scores[9];
  renamed.unit.code = "SO.KHAC";
  for (GroupScore& g : renamed.groups)
    for (CriterionScore& c : g.criteria) c.note += " (sửa)";
  copy->push_back(renamed);
  copy->push_back(scores[1]);
  ExpectTableIsTheText(*copy);
}

// Rank's refusals leave the scores as they were; KeepIf and Set keep the others untouched.
TEST(PackedScores, RankErrorsKeepIfAndSet) {
  const Rubric r = Default();
  auto scores = Scores(r, 6);
  PackedScores packed;
  for (const auto& s : scores) packed.push_back(s);
  UnitScore other = scores[0];
  other.unit.code = "KHAC";
  other.period.to = "2023-06-30";
  packed.push_back(other);
  const std::string before = Text(packed, 0);
  EXPECT_EQ(packed.Rank().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(Text(packed, 0), before);
  EXPECT_EQ(packed[6].unit.code, "KHAC");

  packed.KeepIf([](const ScoreSummary& s) { return s.unit.code != "KHAC" && s.unit.code != "SO.U1001"; });
  ASSERT_EQ(packed.size(), 5u);
  EXPECT_EQ(Text(packed, 0), DumpJson(ToJson(scores[0])));
  EXPECT_EQ(Text(packed, 1), DumpJson(ToJson(scores[2])));
  UnitScore renamed = scores[3];
  renamed.unit.name = "=Tên mới";
  renamed.rank = 9;
  packed.Set(2, renamed);
  EXPECT_EQ(Text(packed, 2), DumpJson(ToJson(renamed)));
  EXPECT_EQ(packed[2].rank, 9);
  EXPECT_EQ(Text(packed, 3), DumpJson(ToJson(scores[4])));

  packed.clear();
  EXPECT_TRUE(packed.empty());
  packed.push_back(scores[5]);  // a new dictionary
  EXPECT_EQ(Text(packed, 0), DumpJson(ToJson(scores[5])));
}

// Text that is not UTF-8 is refused as DumpJson(ToJson(s)) refuses it (type_error 316), and
// nothing is added.
TEST(PackedScores, InvalidUtf8IsRefusedAndNothingIsAdded) {
  const Rubric r = Default();
  auto scores = Scores(r, 2);
  PackedScores packed;
  packed.push_back(scores[0]);
  scores[1].unit.name = "Tr\xC6\xB0\xE1\xBB";  // a cut sequence
  EXPECT_THROW(packed.push_back(scores[1]), json::type_error);
  EXPECT_THROW(DumpJson(ToJson(scores[1])), json::type_error);
  EXPECT_EQ(packed.size(), 1u);
  EXPECT_EQ(Text(packed, 0), DumpJson(ToJson(scores[0])));
}

}  // namespace
}  // namespace danvan::scoring
