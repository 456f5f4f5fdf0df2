#include "scoring/rubric.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "core/data_dirs.h"
#include "core/json_schema.h"

namespace danvan::scoring {
namespace {

using nlohmann::json;

constexpr double kEps = 1e-9;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Schemas are compiled once per path and kept for the process lifetime (immutable afterwards).
Result<std::shared_ptr<const JsonSchema>> LoadSchema(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const JsonSchema>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  auto schema = JsonSchema::FromFile(path);
  if (!schema.ok()) return schema.status();
  cache[path] = schema.value();
  return schema.value();
}

Status ValidateAgainstSchema(const json& j, const std::string& schema_path) {
  auto schema = LoadSchema(schema_path);
  if (!schema.ok()) return schema.status();
  std::vector<FieldError> errors;
  if (schema.value()->Validate(j, &errors)) return Status::Ok();
  std::string msg = "tệp tiêu chí chấm điểm không đúng lược đồ rubric.schema.json:";
  for (size_t i = 0; i < errors.size() && i < 5; ++i)
    msg += " " + errors[i].path + ": " + errors[i].reason + ";";
  return Status::InvalidInput(msg);
}

ValueOf ParseValueOf(const json& j, ValueOf dflt) {
  if (!j.is_string()) return dflt;
  const std::string s = j.get<std::string>();
  if (s == "numerator") return ValueOf::kNumerator;
  if (s == "denominator") return ValueOf::kDenominator;
  return ValueOf::kRatio;
}

CriterionType ParseType(const std::string& s) {
  if (s == "bands") return CriterionType::kBands;
  if (s == "linear") return CriterionType::kLinear;
  if (s == "threshold") return CriterionType::kThreshold;
  if (s == "per_item") return CriterionType::kPerItem;
  if (s == "count") return CriterionType::kCount;
  return CriterionType::kManual;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string Rubric::DefaultSchemaPath() {
  // No compile-time path in the shipped library: DANVAN_DATA_DIR or the install layout.
  auto dir = FindDataSubdir("schemas", "schemas_dir");
  return (dir.ok() ? dir.value() : std::string("schemas")) + "/rubric.schema.json";
}

Result<Rubric> Rubric::FromFile(const std::string& path, const std::string& schema_path,
                               const JsonReadLimits& limits) {
  auto j = ReadJsonFile(path, limits);
  if (!j.ok()) return j.status();
  return FromJson(j.value(), schema_path);
}

Result<Rubric> Rubric::FromJson(const json& j, const std::string& schema_path) {
  Status st = ValidateAgainstSchema(j, schema_path.empty() ? DefaultSchemaPath() : schema_path);
  if (!st.ok()) return st;
  Rubric r;
  try {
    r.json_ = j;
    r.id_ = j.at("id").get<std::string>();
    r.version_ = j.at("version").get<std::string>();
    r.title_ = j.at("title").get<std::string>();
    r.max_points_ = j.at("max_points").get<double>();
    r.precision_ = j.value("precision", 2);
    r.total_min_ = j.value("total_min", 0.0);
    r.total_max_ = j.value("total_max", r.max_points_);
    std::set<std::string> group_ids;
    double scored_sum = 0;
    for (const json& gj : j.at("groups")) {
      Group g;
      g.id = gj.at("id").get<std::string>();
      g.name = gj.at("name").get<std::string>();
      g.adjustment = gj.value("kind", "scored") == "adjustment";
      g.max_points = gj.at("max_points").get<double>();
      g.min_points = gj.value("min_points", 0.0);
      if (!group_ids.insert(g.id).second)
        return Status::InvalidInput("nhóm tiêu chí '" + g.id + "' bị khai báo trùng");
      if (!g.adjustment && g.min_points != 0)
        return Status::InvalidInput("nhóm '" + g.id +
                                    "': chỉ nhóm cộng/trừ điểm mới có min_points");
      double crit_max_sum = 0;
      for (const json& cj : gj.at("criteria")) {
        Criterion c;
        c.id = cj.at("id").get<std::string>();
        c.name = cj.at("name").get<std::string>();
        c.type = ParseType(cj.at("type").get<std::string>());
        c.max_points = cj.at("max_points").get<double>();
        c.min_points = cj.value("min_points", 0.0);
        c.indicator = cj.value("indicator", "");
        const bool counts = c.type == CriterionType::kPerItem || c.type == CriterionType::kCount;
        c.value_of = ParseValueOf(cj.value("value_of", json()),
                                  counts ? ValueOf::kNumerator : ValueOf::kRatio);
        c.otherwise = cj.value("otherwise", 0.0);
        c.low = cj.value("low", 0.0);
        c.high = cj.value("high", 0.0);
        c.invert = cj.value("invert", false);
        if (cj.contains("threshold") && cj["threshold"].is_number())
          c.threshold = cj["threshold"].get<double>();
        c.points_per_item = cj.value("points_per_item", 0.0);
        c.target = cj.value("target", 0.0);
        c.source = cj.value("source", "");
        if (cj.contains("bands"))
          for (const json& b : cj["bands"])
            c.bands.push_back({b.at("min").get<double>(), b.at("points").get<double>()});
        if (cj.contains("no_data")) {
          const std::string p = cj["no_data"].at("policy").get<std::string>();
          c.no_data = p == "full"           ? NoDataPolicy::kFull
                      : p == "redistribute" ? NoDataPolicy::kRedistribute
                                            : NoDataPolicy::kZero;
          if (cj["no_data"].contains("to"))
            for (const json& t : cj["no_data"]["to"])
              c.redistribute_to.push_back(
                  {t.at("criterion").get<std::string>(), t.at("share").get<double>()});
        }
        const std::string use = cj.value("use", "superior_else_self");
        c.use = use == "superior"  ? ManualUse::kSuperior
                : use == "self"    ? ManualUse::kSelf
                : use == "average" ? ManualUse::kAverage
                                   : ManualUse::kSuperiorElseSelf;

        const std::string where = "tiêu chí '" + c.id + "' (" + c.name + ")";
        if (r.index_.count(c.id)) return Status::InvalidInput(where + " bị khai báo trùng mã");
        if (c.min_points > 0 || c.min_points > c.max_points)
          return Status::InvalidInput(where + ": min_points phải ≤ 0 và ≤ max_points");
        if (c.min_points < 0 && c.type != CriterionType::kPerItem &&
            c.type != CriterionType::kManual)
          return Status::InvalidInput(where +
                                      ": chỉ tiêu chí per_item hoặc manual được có điểm âm");
        switch (c.type) {
          case CriterionType::kBands: {
            for (size_t i = 0; i < c.bands.size(); ++i) {
              if (i > 0 && !(c.bands[i].min < c.bands[i - 1].min))
                return Status::InvalidInput(where +
                                            ": các mức (bands) phải xếp theo 'min' giảm dần");
              if (c.bands[i].points > c.max_points + kEps || c.bands[i].points < -kEps)
                return Status::InvalidInput(where + ": điểm của mức phải trong khoảng 0.." +
                                            Num(c.max_points));
            }
            if (c.otherwise > c.max_points + kEps || c.otherwise < -kEps)
              return Status::InvalidInput(where + ": 'otherwise' vượt khoảng điểm");
            break;
          }
          case CriterionType::kLinear:
            if (!(c.high > c.low))
              return Status::InvalidInput(where + ": 'high' phải lớn hơn 'low'");
            break;
          case CriterionType::kThreshold:
            if (c.threshold && !(*c.threshold > 0))
              return Status::InvalidInput(where + ": ngưỡng (threshold) phải > 0");
            break;
          case CriterionType::kPerItem:
            if (c.points_per_item == 0)
              return Status::InvalidInput(where + ": points_per_item phải khác 0");
            break;
          case CriterionType::kCount:
          case CriterionType::kManual:
            break;
        }
        if (c.no_data == NoDataPolicy::kRedistribute) {
          if (c.type == CriterionType::kManual || c.redistribute_to.empty())
            return Status::InvalidInput(
                where +
                ": phân bổ lại điểm chỉ áp dụng cho tiêu chí tính từ chỉ số "
                "và phải có danh sách 'to'");
        }
        crit_max_sum += c.max_points;
        r.index_[c.id] = {r.groups_.size(), g.criteria.size()};
        g.criteria.push_back(std::move(c));
      }
      if (!g.adjustment && std::fabs(crit_max_sum - g.max_points) > kEps)
        return Status::InvalidInput("nhóm '" + g.id + "' (" + g.name +
                                    "): tổng điểm tối đa các tiêu chí (" + Num(crit_max_sum) +
                                    ") khác điểm tối đa của nhóm (" + Num(g.max_points) + ")");
      if (!g.adjustment) scored_sum += g.max_points;
      r.groups_.push_back(std::move(g));
    }
    if (std::fabs(scored_sum - r.max_points_) > kEps)
      return Status::InvalidInput("tổng điểm tối đa các nhóm (" + Num(scored_sum) +
                                  ") khác tổng điểm của bộ tiêu chí (" + Num(r.max_points_) + ")");
    // Redistribution targets: existing computed criteria that do not themselves redistribute;
    // shares of one source sum to 1 so the rubric's maximum is preserved.
    for (const Group& g : r.groups_) {
      for (const Criterion& c : g.criteria) {
        if (c.no_data != NoDataPolicy::kRedistribute) continue;
        double share_sum = 0;
        for (const Redistribution& t : c.redistribute_to) {
          const Criterion* tc = r.FindCriterion(t.criterion);
          if (!tc || tc == &c || tc->type == CriterionType::kManual ||
              tc->no_data == NoDataPolicy::kRedistribute || tc->max_points <= 0)
            return Status::InvalidInput("tiêu chí '" + c.id + "': đích phân bổ lại '" +
                                        t.criterion +
                                        "' không tồn tại hoặc không nhận phân bổ được");
          share_sum += t.share;
        }
        if (std::fabs(share_sum - 1.0) > kEps)
          return Status::InvalidInput("tiêu chí '" + c.id +
                                      "': tổng tỷ lệ phân bổ lại phải bằng 1");
      }
    }
    for (const json& bj : j.at("rating_bands")) {
      RatingBand b{bj.at("name").get<std::string>(), bj.at("min").get<double>()};
      if (!r.rating_bands_.empty() && !(b.min < r.rating_bands_.back().min))
        return Status::InvalidInput("các mức xếp loại phải xếp theo điểm sàn giảm dần");
      r.rating_bands_.push_back(std::move(b));
    }
    if (j.contains("eligibility")) {
      const json& ej = j["eligibility"];
      r.not_eligible_label_ = ej.at("label").get<std::string>();
      for (const json& rj : ej.at("rules")) {
        std::vector<std::string> ids;
        if (rj.contains("indicators")) ids = rj["indicators"].get<std::vector<std::string>>();
        else ids.push_back(rj.at("indicator").get<std::string>());
        r.eligibility_rules_.push_back({std::move(ids),
                                        ParseValueOf(rj.value("value_of", json()), ValueOf::kNumerator),
                                        rj.at("min").get<double>(), rj.at("reason").get<std::string>()});
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("tệp tiêu chí chấm điểm không hợp lệ: ") + e.what());
  }
  // Digest of the canonical text (nlohmann objects keep keys sorted).
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : r.json_.dump()) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  r.digest_ = Hex64(h);
  return r;
}

const Criterion* Rubric::FindCriterion(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  return &groups_[it->second.first].criteria[it->second.second];
}

std::vector<std::string> Rubric::IndicatorIds() const {
  std::set<std::string> ids;
  for (const Group& g : groups_)
    for (const Criterion& c : g.criteria)
      if (!c.indicator.empty()) ids.insert(c.indicator);
  for (const EligibilityRule& e : eligibility_rules_) ids.insert(e.indicators.begin(), e.indicators.end());
  return {ids.begin(), ids.end()};
}

Status RubricRegistry::Add(Rubric rubric) {
  auto key = std::make_pair(rubric.id(), rubric.version());
  auto it = rubrics_.find(key);
  if (it != rubrics_.end()) {
    if (it->second.digest() == rubric.digest()) return Status::Ok();
    return Status::Conflict("bộ tiêu chí '" + rubric.id() + "' phiên bản " + rubric.version() +
                            " đã có với nội dung khác; hãy tăng số phiên bản khi sửa bộ tiêu chí");
  }
  rubrics_.emplace(std::move(key), std::move(rubric));
  return Status::Ok();
}

Result<const Rubric*> RubricRegistry::Find(const std::string& id,
                                           const std::string& version) const {
  auto it = rubrics_.find({id, version});
  if (it == rubrics_.end())
    return Status::NotFound("không có bộ tiêu chí '" + id + "' phiên bản " + version);
  return &it->second;
}

}  // namespace danvan::scoring
