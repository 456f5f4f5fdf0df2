#include "scoring/scoring.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace danvan::scoring {
namespace {

constexpr double kEdgeEps = 1e-12;

const char* TypeName(CriterionType t) {
  switch (t) {
    case CriterionType::kBands:
      return "bands";
    case CriterionType::kLinear:
      return "linear";
    case CriterionType::kThreshold:
      return "threshold";
    case CriterionType::kPerItem:
      return "per_item";
    case CriterionType::kCount:
      return "count";
    case CriterionType::kManual:
      return "manual";
  }
  return "manual";
}

// Vietnamese number for messages: "12", "2,5".
std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  std::string s = buf;
  for (char& c : s)
    if (c == '.') c = ',';
  return s;
}

// Half away from zero at `precision` decimals. The nudge keeps values such as 2.675 (stored as
// 2.67499999...) rounding as written.
double RoundTo(double v, int precision) {
  const double scale = std::pow(10.0, precision);
  const double y = v * scale;
  const double r = std::round(y + (y >= 0 ? 1e-7 : -1e-7));
  double out = r / scale;
  if (out == 0) out = 0;  // no "-0"
  return out;
}

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }

std::optional<double> Pick(const IndicatorValue& v, ValueOf of) {
  switch (of) {
    case ValueOf::kRatio:
      return v.ratio;
    case ValueOf::kNumerator:
      return v.numerator;
    case ValueOf::kDenominator:
      return v.denominator;
  }
  return std::nullopt;
}

// Points at the rubric's max for a value (before redistribution scaling and rounding).
double ComputedPoints(const Criterion& c, double v, std::string* note) {
  switch (c.type) {
    case CriterionType::kBands:
      for (const Band& b : c.bands)
        if (v >= b.min - kEdgeEps) {
          *note = "đạt mức ≥ " + Num(b.min);
          return b.points;
        }
      *note = "dưới mức thấp nhất";
      return c.otherwise;
    case CriterionType::kLinear: {
      double t = Clamp((v - c.low) / (c.high - c.low), 0, 1);
      if (c.invert) t = 1 - t;
      *note = "tuyến tính " + Num(c.low) + "–" + Num(c.high);
      return t * c.max_points;
    }
    case CriterionType::kThreshold:
      if (!c.threshold) {
        *note = "tỷ lệ × điểm tối đa";
        return Clamp(v * c.max_points, 0, c.max_points);
      }
      if (v >= *c.threshold - kEdgeEps) {
        *note = "đạt ngưỡng " + Num(*c.threshold);
        return c.max_points;
      }
      *note = "dưới ngưỡng " + Num(*c.threshold) + ": tỷ lệ × tối đa ÷ ngưỡng";
      return Clamp(v * c.max_points / *c.threshold, 0, c.max_points);
    case CriterionType::kPerItem:
      *note = Num(v) + " × " + Num(c.points_per_item) + " điểm";
      return Clamp(v * c.points_per_item, c.min_points, c.max_points);
    case CriterionType::kCount:
      *note = Num(v) + "/" + Num(c.target);
      return Clamp(std::min(v, c.target) / c.target * c.max_points, 0, c.max_points);
    case CriterionType::kManual:
      break;
  }
  return 0;
}

std::string Where(const Criterion& c) { return "tiêu chí '" + c.id + "' (" + c.name + ")"; }

}  // namespace

Status ValidateManualEntry(const Rubric& rubric, const ManualEntry& e) {
  const Criterion* c = rubric.FindCriterion(e.criterion_id);
  if (!c)
    return Status::InvalidInput("không có tiêu chí '" + e.criterion_id + "' trong bộ tiêu chí '" +
                                rubric.id() + "' phiên bản " + rubric.version());
  if (c->type != CriterionType::kManual)
    return Status::InvalidInput(Where(*c) + " được tính tự động từ chỉ số '" + c->indicator +
                                "', không nhập điểm tay");
  if (!std::isfinite(e.score) || e.score < c->min_points - kEdgeEps ||
      e.score > c->max_points + kEdgeEps)
    return Status::InvalidInput("Điểm " + Num(e.score) + " của " + Where(*c) +
                                " nằm ngoài khoảng cho phép " + Num(c->min_points) + "–" +
                                Num(c->max_points));
  return Status::Ok();
}

Result<UnitScore> ScoreUnit(const Rubric& rubric, const UnitRef& unit, const Period& period,
                            const std::vector<IndicatorValue>& indicators,
                            const std::vector<ManualEntry>& manual) {
  std::map<std::string, const IndicatorValue*> by_id;
  for (const IndicatorValue& v : indicators)
    if (!by_id.emplace(v.id, &v).second)
      return Status::InvalidInput("chỉ số '" + v.id + "' của đơn vị " + unit.code +
                                  " được cung cấp hai lần");
  // Manual entries per criterion; validated first so nothing is scored from a bad entry.
  std::map<std::string, std::vector<const ManualEntry*>> by_crit;
  for (const ManualEntry& m : manual) {
    Status st = ValidateManualEntry(rubric, m);
    if (!st.ok()) return st;
    by_crit[m.criterion_id].push_back(&m);
  }
  auto latest = [&](const std::vector<const ManualEntry*>& es, Assessor who) -> const ManualEntry* {
    const ManualEntry* best = nullptr;
    for (const ManualEntry* m : es)
      if (m->assessor == who && (!best || m->entered_at >= best->entered_at)) best = m;
    return best;
  };

  auto value_of = [&](const Criterion& c) -> std::optional<double> {
    auto it = by_id.find(c.indicator);
    if (it == by_id.end()) return std::nullopt;
    return Pick(*it->second, c.value_of);
  };

  // Pass 1: effective maxima after redistribution of criteria without data.
  std::map<std::string, double> extra_max;
  std::set<std::string> redistributed;
  for (const Group& g : rubric.groups())
    for (const Criterion& c : g.criteria)
      if (c.type != CriterionType::kManual && c.no_data == NoDataPolicy::kRedistribute &&
          !value_of(c)) {
        redistributed.insert(c.id);
        for (const Redistribution& t : c.redistribute_to)
          extra_max[t.criterion] += t.share * c.max_points;
      }

  UnitScore s;
  s.unit = unit;
  s.period = period;
  s.rubric_id = rubric.id();
  s.rubric_version = rubric.version();
  s.rubric_digest = rubric.digest();
  s.max_points = rubric.max_points();
  const int prec = rubric.precision();
  double total = 0;
  for (const Group& g : rubric.groups()) {
    GroupScore gs;
    gs.group_id = g.id;
    gs.name = g.name;
    gs.kind = g.adjustment ? "adjustment" : "scored";
    gs.max_points = g.max_points;
    gs.min_points = g.min_points;
    double sum = 0;
    for (const Criterion& c : g.criteria) {
      CriterionScore cs;
      cs.criterion_id = c.id;
      cs.name = c.name;
      cs.type = TypeName(c.type);
      cs.min_points = c.min_points;
      const double extra = extra_max.count(c.id) ? extra_max[c.id] : 0;
      cs.max_points = c.max_points + extra;
      if (c.type == CriterionType::kManual) {
        auto it = by_crit.find(c.id);
        const ManualEntry* self = nullptr;
        const ManualEntry* sup = nullptr;
        if (it != by_crit.end()) {
          self = latest(it->second, Assessor::kSelf);
          sup = latest(it->second, Assessor::kSuperior);
          for (const ManualEntry* m : it->second) cs.manual_entries.push_back(*m);
        }
        std::optional<double> v;
        switch (c.use) {
          case ManualUse::kSuperiorElseSelf:
            if (sup) {
              v = sup->score, cs.manual = *sup, cs.note = "điểm cấp trên chấm";
            } else if (self) {
              v = self->score, cs.manual = *self, cs.note = "điểm tự chấm (chưa có điểm cấp trên)";
            }
            break;
          case ManualUse::kSuperior:
            if (sup) v = sup->score, cs.manual = *sup, cs.note = "điểm cấp trên chấm";
            break;
          case ManualUse::kSelf:
            if (self) v = self->score, cs.manual = *self, cs.note = "điểm tự chấm";
            break;
          case ManualUse::kAverage:
            if (self && sup) {
              v = (self->score + sup->score) / 2;
              cs.note = "trung bình điểm tự chấm và cấp trên chấm";
            }
            break;
        }
        if (v) {
          cs.value = v;
          cs.points = RoundTo(*v, prec);
          cs.source = "manual";
        } else {
          cs.source = "no_data";
          cs.points = c.no_data == NoDataPolicy::kFull ? c.max_points : 0;
          cs.note = c.no_data == NoDataPolicy::kFull ? "chưa có điểm nhập tay: tính đủ điểm"
                                                     : "chưa có điểm nhập tay: 0 điểm";
        }
      } else {
        cs.indicator_id = c.indicator;
        auto it = by_id.find(c.indicator);
        if (it != by_id.end()) cs.indicator = *it->second;
        std::optional<double> v = value_of(c);
        if (redistributed.count(c.id)) {
          cs.source = "redistributed";
          cs.max_points = 0;
          cs.points = 0;
          std::string to;
          for (const Redistribution& t : c.redistribute_to)
            to += (to.empty() ? "" : ", ") + t.criterion + " (" + Num(t.share * c.max_points) + ")";
          cs.note = "không có dữ liệu: điểm chia cho " + to;
        } else if (!v) {
          cs.source = "no_data";
          const bool full = c.no_data == NoDataPolicy::kFull;
          cs.points = full ? RoundTo(cs.max_points, prec) : 0;
          cs.note = full ? "không có dữ liệu: tính đủ điểm" : "không có dữ liệu: 0 điểm";
        } else {
          cs.source = "indicator";
          cs.value = v;
          std::string note;
          double p = ComputedPoints(c, *v, &note);
          if (extra > 0 && c.max_points > 0) {
            p *= cs.max_points / c.max_points;
            note += "; điểm tối đa nâng lên " + Num(cs.max_points) + " do phân bổ lại";
          }
          cs.points = RoundTo(p, prec);
          cs.note = note;
        }
      }
      sum += cs.points;
      gs.criteria.push_back(std::move(cs));
    }
    // Redistribution can move points across groups; the group cap follows its criteria.
    double gmax = 0;
    for (const CriterionScore& cs : gs.criteria) gmax += cs.max_points;
    if (!g.adjustment) gs.max_points = gmax;
    gs.points = RoundTo(Clamp(sum, gs.min_points, gs.max_points), prec);
    total += gs.points;
    s.groups.push_back(std::move(gs));
  }
  s.total = RoundTo(Clamp(total, rubric.total_min(), rubric.total_max()), prec);

  for (const EligibilityRule& r : rubric.eligibility_rules()) {
    double v = 0;
    std::string names;
    for (const std::string& id : r.indicators) {
      auto it = by_id.find(id);
      if (it != by_id.end()) v += Pick(*it->second, r.value_of).value_or(0);
      names += (names.empty() ? "" : " + ") + id;
    }
    if (v < r.min - kEdgeEps) {
      s.eligible = false;
      s.not_eligible_reasons.push_back(r.reason + " (" + names + " = " + Num(v) + ", cần ≥ " +
                                       Num(r.min) + ")");
    }
  }
  if (!s.eligible) {
    s.rating = rubric.not_eligible_label();
  } else {
    for (const RatingBand& b : rubric.rating_bands())
      if (s.total >= b.min - kEdgeEps) {
        s.rating = b.name;
        break;
      }
    if (s.rating.empty()) s.rating = rubric.rating_bands().back().name;
  }
  for (const std::string& id : rubric.IndicatorIds()) {
    auto it = by_id.find(id);
    if (it != by_id.end()) s.indicators_used.push_back(*it->second);
  }
  return s;
}

Result<UnitScore> ScoreUnit(const Rubric& rubric, const ScoreInputs& in) {
  return ScoreUnit(rubric, in.unit, in.period, in.indicators, in.manual);
}

Result<std::vector<UnitScore>> Rank(std::vector<UnitScore> scores) {
  for (size_t i = 1; i < scores.size(); ++i) {
    const UnitScore& a = scores[0];
    const UnitScore& b = scores[i];
    if (a.rubric_id != b.rubric_id || a.rubric_version != b.rubric_version)
      return Status::InvalidInput(
          "không thể xếp hạng chung kết quả của hai bộ tiêu chí khác nhau (" + a.rubric_id + " " +
          a.rubric_version + " và " + b.rubric_id + " " + b.rubric_version + ")");
    if (a.period.from != b.period.from || a.period.to != b.period.to)
      return Status::InvalidInput("không thể xếp hạng chung kết quả của hai kỳ khác nhau (" +
                                  a.period.from + "–" + a.period.to + " và " + b.period.from + "–" +
                                  b.period.to + ")");
  }
  std::set<std::string> codes;
  for (const UnitScore& s : scores)
    if (!codes.insert(s.unit.code).second)
      return Status::InvalidInput("đơn vị " + s.unit.code +
                                  " có hai kết quả trong cùng bảng xếp hạng");
  // Totals are already rounded to the rubric precision; equal means equal within rounding noise.
  constexpr double kTie = 1e-9;
  std::stable_sort(scores.begin(), scores.end(), [&](const UnitScore& a, const UnitScore& b) {
    if (a.eligible != b.eligible) return a.eligible;
    if (a.eligible && std::fabs(a.total - b.total) > kTie) return a.total > b.total;
    return a.unit.code < b.unit.code;
  });
  for (size_t i = 0; i < scores.size(); ++i) {
    UnitScore& s = scores[i];
    s.rank.reset();
    s.rank_tied = false;
    if (!s.eligible) continue;
    if (i > 0 && scores[i - 1].eligible && std::fabs(scores[i - 1].total - s.total) <= kTie) {
      s.rank = scores[i - 1].rank;
      s.rank_tied = true;
      scores[i - 1].rank_tied = true;
    } else {
      s.rank = static_cast<int>(i) + 1;
    }
  }
  return scores;
}

Result<UnitScore> Rescore(const RubricRegistry& registry, const UnitScore& stored) {
  auto rubric = registry.Find(stored.rubric_id, stored.rubric_version);
  if (!rubric.ok()) return rubric.status();
  if (!stored.rubric_digest.empty() && (*rubric)->digest() != stored.rubric_digest)
    return Status::Conflict("bộ tiêu chí '" + stored.rubric_id + "' phiên bản " +
                            stored.rubric_version + " đã bị sửa nội dung (mã băm " +
                            (*rubric)->digest() + " khác " + stored.rubric_digest +
                            "); không tái lập được kết quả cũ");
  return ScoreUnit(**rubric, InputsFromScore(stored));
}

}  // namespace danvan::scoring
