#include "scoring/model.h"

#include <algorithm>
#include <set>

namespace danvan::scoring {
namespace {

using nlohmann::json;

// Strict field readers: wrong types become InvalidInput naming the field.
Status Str(const json& j, const char* key, std::string* out, bool required = false) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) return Status::InvalidInput(std::string("thiếu trường '") + key + "'");
    return Status::Ok();
  }
  if (!j[key].is_string())
    return Status::InvalidInput(std::string("trường '") + key + "' phải là chuỗi");
  *out = j[key].get<std::string>();
  return Status::Ok();
}

Status Dbl(const json& j, const char* key, double* out, bool required = false) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) return Status::InvalidInput(std::string("thiếu trường '") + key + "'");
    return Status::Ok();
  }
  if (!j[key].is_number())
    return Status::InvalidInput(std::string("trường '") + key + "' phải là số");
  *out = j[key].get<double>();
  return Status::Ok();
}

Status OptDbl(const json& j, const char* key, std::optional<double>* out) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  if (!j[key].is_number())
    return Status::InvalidInput(std::string("trường '") + key + "' phải là số");
  *out = j[key].get<double>();
  return Status::Ok();
}

#define DV_TRY(expr)              \
  do {                            \
    ::danvan::Status _s = (expr); \
    if (!_s.ok()) return _s;      \
  } while (0)

void PutOpt(json& j, const char* key, const std::optional<double>& v) {
  if (v) j[key] = *v;
}

Result<CriterionScore> CriterionScoreFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("tiêu chí trong kết quả phải là đối tượng");
  CriterionScore c;
  DV_TRY(Str(j, "criterion_id", &c.criterion_id, true));
  DV_TRY(Str(j, "name", &c.name));
  DV_TRY(Str(j, "type", &c.type));
  DV_TRY(Dbl(j, "max_points", &c.max_points));
  DV_TRY(Dbl(j, "min_points", &c.min_points));
  DV_TRY(OptDbl(j, "value", &c.value));
  DV_TRY(Dbl(j, "points", &c.points, true));
  DV_TRY(Str(j, "source", &c.source));
  DV_TRY(Str(j, "note", &c.note));
  DV_TRY(Str(j, "indicator_id", &c.indicator_id));
  if (j.contains("indicator")) {
    auto iv = IndicatorValueFromJson(j["indicator"]);
    if (!iv.ok()) return iv.status();
    c.indicator = std::move(iv).value();
  }
  if (j.contains("manual")) {
    auto m = ManualEntryFromJson(j["manual"]);
    if (!m.ok()) return m.status();
    c.manual = std::move(m).value();
  }
  if (j.contains("manual_entries")) {
    if (!j["manual_entries"].is_array())
      return Status::InvalidInput("'manual_entries' phải là mảng");
    for (const json& mj : j["manual_entries"]) {
      auto m = ManualEntryFromJson(mj);
      if (!m.ok()) return m.status();
      c.manual_entries.push_back(std::move(m).value());
    }
  }
  return c;
}

Result<GroupScore> GroupScoreFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("nhóm trong kết quả phải là đối tượng");
  GroupScore g;
  DV_TRY(Str(j, "group_id", &g.group_id, true));
  DV_TRY(Str(j, "name", &g.name));
  DV_TRY(Str(j, "kind", &g.kind));
  DV_TRY(Dbl(j, "max_points", &g.max_points));
  DV_TRY(Dbl(j, "min_points", &g.min_points));
  DV_TRY(Dbl(j, "points", &g.points, true));
  if (j.contains("criteria")) {
    if (!j["criteria"].is_array()) return Status::InvalidInput("'criteria' phải là mảng");
    for (const json& cj : j["criteria"]) {
      auto c = CriterionScoreFromJson(cj);
      if (!c.ok()) return c.status();
      g.criteria.push_back(std::move(c).value());
    }
  }
  return g;
}

}  // namespace

const char* AssessorName(Assessor a) { return a == Assessor::kSelf ? "self" : "superior"; }

json ToJson(const IndicatorValue& v) {
  json j = {{"id", v.id}, {"numerator", v.numerator}, {"denominator", v.denominator}};
  j["ratio"] = v.ratio ? json(*v.ratio) : json(nullptr);
  PutOpt(j, "points", v.points);
  if (!v.record_ids.empty()) j["record_ids"] = v.record_ids;
  return j;
}

json ToJson(const UnitRef& u) { return {{"code", u.code}, {"name", u.name}, {"parent", u.parent}}; }

json ToJson(const Period& p) {
  return {{"kind", p.kind}, {"from", p.from}, {"to", p.to}, {"label", p.label}};
}

json ToJson(const ManualEntry& m) {
  return {{"criterion_id", m.criterion_id},
          {"assessor", AssessorName(m.assessor)},
          {"score", m.score},
          {"evidence_note", m.evidence_note},
          {"document_ref", m.document_ref},
          {"entered_by", m.entered_by},
          {"entered_at", m.entered_at}};
}

json ToJson(const ScoreInputs& in) {
  json j = {{"unit", ToJson(in.unit)}, {"period", ToJson(in.period)}};
  j["indicators"] = json::array();
  for (const auto& v : in.indicators) j["indicators"].push_back(ToJson(v));
  j["manual"] = json::array();
  for (const auto& m : in.manual) j["manual"].push_back(ToJson(m));
  return j;
}

json ToJson(const CriterionScore& c) {
  json j = {{"criterion_id", c.criterion_id},
            {"name", c.name},
            {"type", c.type},
            {"max_points", c.max_points},
            {"min_points", c.min_points},
            {"points", c.points},
            {"source", c.source},
            {"note", c.note}};
  j["value"] = c.value ? json(*c.value) : json(nullptr);
  if (!c.indicator_id.empty()) j["indicator_id"] = c.indicator_id;
  if (c.manual) j["manual"] = ToJson(*c.manual);
  if (!c.manual_entries.empty()) {
    j["manual_entries"] = json::array();
    for (const auto& m : c.manual_entries) j["manual_entries"].push_back(ToJson(m));
  }
  return j;
}

json ToJson(const GroupScore& g) {
  json j = {{"group_id", g.group_id},
            {"name", g.name},
            {"kind", g.kind},
            {"max_points", g.max_points},
            {"min_points", g.min_points},
            {"points", g.points}};
  j["criteria"] = json::array();
  for (const auto& c : g.criteria) j["criteria"].push_back(ToJson(c));
  return j;
}

json ToJson(const UnitScore& s) {
  json j = {
      {"unit", ToJson(s.unit)},
      {"period", ToJson(s.period)},
      {"rubric", {{"id", s.rubric_id}, {"version", s.rubric_version}, {"digest", s.rubric_digest}}},
      {"max_points", s.max_points},
      {"total", s.total},
      {"eligible", s.eligible},
      {"not_eligible_reasons", s.not_eligible_reasons},
      {"rating", s.rating}};
  j["rank"] = s.rank ? json(*s.rank) : json(nullptr);
  j["rank_tied"] = s.rank_tied;
  j["groups"] = json::array();
  for (const auto& g : s.groups) j["groups"].push_back(ToJson(g));
  j["indicators_used"] = json::array();
  for (const auto& v : s.indicators_used) j["indicators_used"].push_back(ToJson(v));
  return j;
}

Result<IndicatorValue> IndicatorValueFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("giá trị chỉ số phải là đối tượng JSON");
  IndicatorValue v;
  DV_TRY(Str(j, "id", &v.id, true));
  DV_TRY(Dbl(j, "numerator", &v.numerator, true));
  DV_TRY(Dbl(j, "denominator", &v.denominator, true));
  DV_TRY(OptDbl(j, "ratio", &v.ratio));
  DV_TRY(OptDbl(j, "points", &v.points));
  if (!j.contains("ratio") && v.denominator != 0) v.ratio = v.numerator / v.denominator;
  if (j.contains("record_ids")) {
    if (!j["record_ids"].is_array()) return Status::InvalidInput("'record_ids' phải là mảng");
    for (const json& r : j["record_ids"]) {
      if (!r.is_string()) return Status::InvalidInput("'record_ids' phải là mảng chuỗi");
      v.record_ids.push_back(r.get<std::string>());
    }
  }
  return v;
}

Result<UnitRef> UnitRefFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("đơn vị phải là đối tượng JSON");
  UnitRef u;
  DV_TRY(Str(j, "code", &u.code, true));
  DV_TRY(Str(j, "name", &u.name));
  DV_TRY(Str(j, "parent", &u.parent));
  return u;
}

Result<Period> PeriodFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("kỳ đánh giá phải là đối tượng JSON");
  Period p;
  DV_TRY(Str(j, "kind", &p.kind));
  DV_TRY(Str(j, "from", &p.from, true));
  DV_TRY(Str(j, "to", &p.to, true));
  DV_TRY(Str(j, "label", &p.label));
  return p;
}

Result<ManualEntry> ManualEntryFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("điểm nhập tay phải là đối tượng JSON");
  ManualEntry m;
  DV_TRY(Str(j, "criterion_id", &m.criterion_id, true));
  std::string who = "self";
  DV_TRY(Str(j, "assessor", &who));
  if (who == "self") {
    m.assessor = Assessor::kSelf;
  } else if (who == "superior") {
    m.assessor = Assessor::kSuperior;
  } else {
    return Status::InvalidInput(
        "'assessor' phải là \"self\" (tự chấm) hoặc \"superior\" (cấp trên chấm)");
  }
  DV_TRY(Dbl(j, "score", &m.score, true));
  DV_TRY(Str(j, "evidence_note", &m.evidence_note));
  DV_TRY(Str(j, "document_ref", &m.document_ref));
  DV_TRY(Str(j, "entered_by", &m.entered_by));
  DV_TRY(Str(j, "entered_at", &m.entered_at));
  return m;
}

Result<ScoreInputs> ScoreInputsFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("dữ liệu chấm điểm phải là đối tượng JSON");
  ScoreInputs in;
  if (j.contains("unit")) {
    auto u = UnitRefFromJson(j["unit"]);
    if (!u.ok()) return u.status();
    in.unit = std::move(u).value();
  }
  if (j.contains("period")) {
    auto p = PeriodFromJson(j["period"]);
    if (!p.ok()) return p.status();
    in.period = std::move(p).value();
  }
  if (j.contains("indicators")) {
    if (!j["indicators"].is_array()) return Status::InvalidInput("'indicators' phải là mảng");
    for (const json& ij : j["indicators"]) {
      auto v = IndicatorValueFromJson(ij);
      if (!v.ok()) return v.status();
      in.indicators.push_back(std::move(v).value());
    }
  }
  if (j.contains("manual")) {
    if (!j["manual"].is_array()) return Status::InvalidInput("'manual' phải là mảng");
    for (const json& mj : j["manual"]) {
      auto m = ManualEntryFromJson(mj);
      if (!m.ok()) return m.status();
      in.manual.push_back(std::move(m).value());
    }
  }
  return in;
}

Result<UnitScore> UnitScoreFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("kết quả chấm điểm phải là đối tượng JSON");
  UnitScore s;
  if (!j.contains("unit") || !j.contains("period") || !j.contains("rubric"))
    return Status::InvalidInput("kết quả chấm điểm thiếu 'unit', 'period' hoặc 'rubric'");
  auto u = UnitRefFromJson(j["unit"]);
  if (!u.ok()) return u.status();
  s.unit = std::move(u).value();
  auto p = PeriodFromJson(j["period"]);
  if (!p.ok()) return p.status();
  s.period = std::move(p).value();
  const json& r = j["rubric"];
  if (!r.is_object()) return Status::InvalidInput("'rubric' phải là đối tượng");
  DV_TRY(Str(r, "id", &s.rubric_id, true));
  DV_TRY(Str(r, "version", &s.rubric_version, true));
  DV_TRY(Str(r, "digest", &s.rubric_digest));
  DV_TRY(Dbl(j, "max_points", &s.max_points));
  DV_TRY(Dbl(j, "total", &s.total, true));
  if (j.contains("eligible")) {
    if (!j["eligible"].is_boolean()) return Status::InvalidInput("'eligible' phải là true/false");
    s.eligible = j["eligible"].get<bool>();
  }
  if (j.contains("not_eligible_reasons") && j["not_eligible_reasons"].is_array())
    for (const json& x : j["not_eligible_reasons"])
      if (x.is_string()) s.not_eligible_reasons.push_back(x.get<std::string>());
  DV_TRY(Str(j, "rating", &s.rating));
  if (j.contains("rank") && j["rank"].is_number_integer()) s.rank = j["rank"].get<int>();
  if (j.contains("rank_tied") && j["rank_tied"].is_boolean())
    s.rank_tied = j["rank_tied"].get<bool>();
  if (j.contains("groups")) {
    if (!j["groups"].is_array()) return Status::InvalidInput("'groups' phải là mảng");
    for (const json& gj : j["groups"]) {
      auto g = GroupScoreFromJson(gj);
      if (!g.ok()) return g.status();
      s.groups.push_back(std::move(g).value());
    }
  }
  if (j.contains("indicators_used")) {
    if (!j["indicators_used"].is_array())
      return Status::InvalidInput("'indicators_used' phải là mảng");
    for (const json& ij : j["indicators_used"]) {
      auto v = IndicatorValueFromJson(ij);
      if (!v.ok()) return v.status();
      s.indicators_used.push_back(std::move(v).value());
    }
  }
  for (GroupScore& g : s.groups)
    for (CriterionScore& c : g.criteria) {
      if (c.indicator || c.indicator_id.empty()) continue;
      for (const IndicatorValue& v : s.indicators_used)
        if (v.id == c.indicator_id) c.indicator = v;
    }
  return s;
}

ScoreInputs InputsFromScore(const UnitScore& s) {
  ScoreInputs in;
  in.unit = s.unit;
  in.period = s.period;
  in.indicators = s.indicators_used;
  for (const GroupScore& g : s.groups)
    for (const CriterionScore& c : g.criteria)
      for (const ManualEntry& m : c.manual_entries) in.manual.push_back(m);
  return in;
}

}  // namespace danvan::scoring
