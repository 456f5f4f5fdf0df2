#include "indicators/catalog.h"

#include <map>

#include "core/json_schema.h"
#include "core/json_write.h"
#include "core/timeutil.h"

namespace danvan::indicators {
namespace {

// The position of an idx766 indicator in the catalog's sorted id list, if it is one.
std::optional<size_t> Idx766Slot(const std::vector<std::string>& sorted_ids, const std::string& id) {
  auto it = std::lower_bound(sorted_ids.begin(), sorted_ids.end(), id);
  if (it == sorted_ids.end() || *it != id) return std::nullopt;
  return static_cast<size_t>(it - sorted_ids.begin());
}

using M = Term::Mode;

Term R(const std::string& s, double sign = 1) { return {M::kRange, s, sign}; }
Term L(const std::string& s, double sign = 1) { return {M::kLevel, s, sign}; }
Term B(const std::string& s, double sign = 1) { return {M::kBeforeStart, s, sign}; }

std::string VnDate(int64_t day) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  return std::to_string(d) + "/" + std::to_string(m) + "/" + std::to_string(y);
}

// The definitions. Series names are produced by contributions.cc.
std::vector<IndicatorDef> Definitions() {
  // Received or processed in the period: received up to the end, minus ended before the start.
  const std::vector<Term> in_period = {L("d.recv"), B("d.fin", -1)};
  std::vector<IndicatorDef> d = {
      {"idx766.synced", "Tỷ lệ hồ sơ đồng bộ lên Cổng DVC quốc gia", "ratio", {R("d.recv_synced")}, {R("d.recv")}},
      {"idx766.on_time", "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", "ratio", {R("d.fin_ontime"), L("d.open_ok")}, in_period},
      {"idx766.online", "Tỷ lệ hồ sơ trực tuyến (TTHC trực tuyến toàn trình)", "ratio", {R("d.online")}, {R("d.online_eligible")}},
      {"idx766.paid_online", "Tỷ lệ hồ sơ thanh toán trực tuyến", "ratio", {R("d.paid_online")}, {R("d.with_fee")}},
      {"idx766.e_result", "Tỷ lệ hồ sơ cấp kết quả điện tử", "ratio", {R("d.e_result")}, {R("d.result_due")}},
      {"idx766.digitised", "Tỷ lệ thành phần hồ sơ được số hóa", "ratio", {R("d.files_digitised")}, {R("d.files")}},
      {"idx766.reuse", "Tỷ lệ tái sử dụng dữ liệu số hóa", "ratio", {R("d.files_reused")}, {R("d.files")}},
      {"idx766.population_data", "Tỷ lệ hồ sơ khai thác dữ liệu dân cư", "ratio", {R("d.population_data")}, {R("d.recv")}},
      {"idx766.pakn_on_time", "Tỷ lệ PAKN được xử lý đúng hạn", "ratio", {R("p.resolved_ontime")}, {R("p.resolved"), L("p.open_overdue")}},
      {"idx766.pakn_satisfaction", "Mức độ hài lòng xử lý PAKN", "ratio",
       {R("p.dissatisfied"), L("p.open_overdue"), R("p.reraised")}, {R("p.recv")}, true},
      {"idx766.dossier_satisfaction", "Mức độ hài lòng xử lý hồ sơ", "ratio",
       {R("d.fin_late"), L("d.open_overdue"), R("d.complained")}, in_period, true},
      {"dossier.received", "Hồ sơ tiếp nhận", "count", {R("d.recv")}, {}},
      {"dossier.finished", "Hồ sơ đã giải quyết xong", "count", {R("d.fin")}, {}},
      {"dossier.finished_early", "Hồ sơ giải quyết trước hạn", "count", {R("d.fin_early")}, {}},
      {"dossier.finished_late", "Hồ sơ giải quyết quá hạn", "count", {R("d.fin_late")}, {}},
      {"dossier.open_overdue", "Hồ sơ đang giải quyết, đã quá hạn", "count", {L("d.open_overdue")}, {}},
      {"dossier.avg_processing_days", "Thời gian giải quyết bình quân (ngày làm việc)", "days", {R("d.proc_days")}, {R("d.fin")}},
      {"dossier.online_share", "Tỷ lệ hồ sơ nộp trực tuyến", "ratio", {R("d.channel_online")}, {R("d.recv")}},
      {"petition.received", "Đơn thư tiếp nhận", "count", {R("p.recv")}, {}},
      {"petition.received.complaint", "Đơn khiếu nại", "count", {R("p.recv.complaint")}, {}},
      {"petition.received.denunciation", "Đơn tố cáo", "count", {R("p.recv.denunciation")}, {}},
      {"petition.received.petition", "Đơn kiến nghị", "count", {R("p.recv.petition")}, {}},
      {"petition.received.feedback", "Đơn phản ánh", "count", {R("p.recv.feedback")}, {}},
      {"petition.received.feedback_regulation", "Phản ánh, kiến nghị về quy định hành chính", "count", {R("p.recv.feedback_regulation")}, {}},
      {"petition.received.unclassified", "Đơn chưa phân loại", "count", {R("p.recv.unclassified")}, {}},
      {"petition.resolved", "Đơn thư đã giải quyết", "count", {R("p.resolved")}, {}},
      {"petition.resolved_on_time", "Tỷ lệ đơn thư giải quyết đúng hạn", "ratio", {R("p.resolved_ontime")}, {R("p.resolved")}},
      {"petition.overdue_open", "Đơn thư quá hạn chưa giải quyết", "count", {L("p.open_overdue")}, {}},
      {"petition.open", "Đơn thư đang giải quyết", "count", {L("p.open")}, {}},
      {"petition.backlog_age_days", "Tuổi bình quân đơn thư tồn đọng (ngày)", "days", {L("p.open_rsum")}, {L("p.open")}, false, false, true},
      {"petition.complex", "Vụ việc phức tạp", "count", {R("p.complex")}, {}},
      {"petition.group", "Đơn thư đông người", "count", {R("p.group")}, {}},
      {"petition.protracted", "Vụ việc kéo dài", "count", {R("p.protracted")}, {}},
      {"petition.reraised", "Đơn thư tái phát sinh (gửi lại sau khi đã giải quyết)", "count", {R("p.reraised")}, {}},
      {"petition.staff_conduct", "Phản ánh về thái độ, văn hóa công vụ", "count", {R("p.staff_conduct")}, {}},
      {"petition.anonymous", "Tố cáo nặc danh", "count", {R("p.anonymous")}, {}},
      {"reception.head_months_held", "Số tháng người đứng đầu tiếp công dân định kỳ", "months", {R("r.head")}, {}, false, true},
      {"reception.sessions", "Buổi tiếp công dân", "count", {R("r.sessions")}, {}},
      {"reception.head_sessions", "Buổi tiếp công dân của người đứng đầu", "count", {R("r.head")}, {}},
      {"reception.adhoc", "Buổi tiếp công dân đột xuất", "count", {R("r.adhoc")}, {}},
      {"reception.people", "Lượt người được tiếp", "count", {R("r.people")}, {}},
      {"reception.group", "Đoàn đông người được tiếp", "count", {R("r.group")}, {}},
      {"dvk.registered", "Mô hình \"Dân vận khéo\" đăng ký", "count", {R("v.registered")}, {}},
      {"dvk.recognised", "Mô hình \"Dân vận khéo\" được công nhận", "count", {R("v.recognised")}, {}},
      {"dvk.registered.economy", "Mô hình DVK lĩnh vực kinh tế", "count", {R("v.registered.economy")}, {}},
      {"dvk.registered.culture_society", "Mô hình DVK lĩnh vực văn hóa - xã hội", "count", {R("v.registered.culture_society")}, {}},
      {"dvk.registered.defence_security", "Mô hình DVK lĩnh vực quốc phòng - an ninh", "count", {R("v.registered.defence_security")}, {}},
      {"dvk.registered.political_system", "Mô hình DVK lĩnh vực xây dựng hệ thống chính trị", "count", {R("v.registered.political_system")}, {}},
      {"plan.tasks_total", "Nhiệm vụ kế hoạch", "count", {L("t.total")}, {}},
      {"plan.tasks_done", "Nhiệm vụ đã hoàn thành", "count", {L("t.done")}, {}},
      {"plan.tasks_late", "Nhiệm vụ chậm tiến độ", "count", {L("t.late")}, {}},
      {"plan.tasks_on_track", "Nhiệm vụ đúng tiến độ (đang thực hiện)", "count", {L("t.total"), L("t.done", -1), L("t.late", -1)}, {}},
  };
  return d;
}

}  // namespace

nlohmann::json Period::ToJson() const {
  return {{"kind", kind}, {"label", label}, {"from", FormatIsoDate(from_day)}, {"to", FormatIsoDate(to_day)}};
}

namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

// `lead` is the member's text up to its key's closing quote (`,"name` or `{"name`, ASCII
// literals): appends it, `":` and (AppendMember) the string value.
void AppendKey(const char* lead, std::string* out) {
  *out += lead;
  *out += "\":";
}

void AppendMember(const char* lead, const std::string& value, std::string* out) {
  AppendKey(lead, out);
  AppendJsonString(value, out, kReplace);
}

// The configured maximum points and thresholds of the idx766 indicators (the last entry of an
// id wins).
void ConfiguredMaxima(const nlohmann::json& idx766, std::map<std::string, double>* max,
                      std::map<std::string, double>* threshold) {
  for (const auto& g : idx766["groups"])
    for (const auto& i : g["indicators"]) {
      (*max)[i["id"]] = i["max"].get<double>();
      if (i.contains("threshold")) (*threshold)[i["id"]] = i["threshold"].get<double>();
    }
}

void AppendOptionalDouble(const std::optional<double>& v, std::string* out) {
  if (v) AppendJsonDouble(*v, out);
  else *out += "null";
}

}  // namespace

// Keys in nlohmann's object order (sorted), as Period::ToJson.
void Period::AppendJson(std::string* out) const {
  AppendMember("{\"from", FormatIsoDate(from_day), out);
  AppendMember(",\"kind", kind, out);
  AppendMember(",\"label", label, out);
  AppendMember(",\"to", FormatIsoDate(to_day), out);
  *out += '}';
}

// Keys in nlohmann's object order (sorted): denominator, id, max_points, measure, name,
// numerator, points, ratio, value; as ToJson, a count has no denominator and ratio but a value.
void IndicatorValue::AppendJson(std::string* out, const IndicatorDef* def) const {
  // A member whose value is the definition's prewritten JSON, or written now.
  auto member = [&](const char* lead, const std::string& value, const std::string* json) {
    if (!json) return AppendMember(lead, value, out);
    AppendKey(lead, out);
    *out += *json;
  };
  const bool count = unit_of_measure == "count";
  if (!count) {
    AppendKey("{\"denominator", out);
    AppendJsonDouble(denominator, out);
    member(",\"id", id, def ? &def->id_json : nullptr);
  } else {
    member("{\"id", id, def ? &def->id_json : nullptr);
  }
  if (max_points) {
    AppendKey(",\"max_points", out);
    AppendJsonDouble(*max_points, out);
  }
  member(",\"measure", unit_of_measure, def ? &def->measure_json : nullptr);
  member(",\"name", name, def ? &def->name_json : nullptr);
  AppendKey(",\"numerator", out);
  AppendJsonDouble(numerator, out);
  if (max_points) {
    AppendKey(",\"points", out);
    AppendOptionalDouble(points, out);
  }
  if (count) {
    AppendKey(",\"value", out);
    AppendJsonDouble(numerator, out);
  } else {
    AppendKey(",\"ratio", out);
    AppendOptionalDouble(ratio, out);
  }
  *out += '}';
}

nlohmann::json IndicatorValue::ToJson() const {
  nlohmann::json j = {{"id", id}, {"name", name}, {"measure", unit_of_measure},
                      {"numerator", numerator}, {"denominator", denominator}};
  j["ratio"] = ratio ? nlohmann::json(*ratio) : nlohmann::json(nullptr);
  if (unit_of_measure == "count") {
    j.erase("denominator");
    j.erase("ratio");
    j["value"] = numerator;
  }
  if (max_points) {
    j["max_points"] = *max_points;
    j["points"] = points ? nlohmann::json(*points) : nlohmann::json(nullptr);
  }
  return j;
}

Result<std::shared_ptr<const IndicatorCatalog>> IndicatorCatalog::LoadFile(
    const std::string& path, const std::string& schemas_dir, const JsonReadLimits& limits) {
  auto doc = LoadValidatedJsonFile(path, schemas_dir + "/indicators.schema.json", limits);
  if (!doc.ok()) return doc.status();
  return FromConfig(doc.value());
}

Result<std::shared_ptr<const IndicatorCatalog>> IndicatorCatalog::FromConfig(const nlohmann::json& c) {
  auto cat = std::make_shared<IndicatorCatalog>();
  cat->defs_ = Definitions();
  {
    // Every term's series resolved once to a slot of the catalog's SeriesList.
    std::vector<std::string> names;
    std::map<std::string, size_t> slots;
    for (auto& def : cat->defs_)
      for (auto* terms : {&def.numerator, &def.denominator})
        for (auto& t : *terms) {
          auto [it, added] = slots.try_emplace(t.series, names.size());
          if (added) names.push_back(t.series);
          t.slot = it->second;
          if (t.series == "p.resolved_ontime" || t.series == "p.open_overdue") def.reads_petition_class = true;
        }
    cat->series_ = std::make_unique<const SeriesList>(std::move(names));
    for (size_t i = 0; i < cat->defs_.size(); ++i) cat->by_id_.try_emplace(cat->defs_[i].id, i);
    for (auto& def : cat->defs_) {
      AppendJsonString(def.id, &def.id_json, kReplace);
      AppendJsonString(def.name, &def.name_json, kReplace);
      AppendJsonString(def.unit_of_measure, &def.measure_json, kReplace);
    }
  }
  cat->idx766_ = c["idx766"];
  cat->version_ = c["version"];
  cat->half_start_ = c["periods"]["half_year"]["start"];
  cat->half_cutoff_ = c["periods"]["half_year"]["cutoff"];
  cat->year_start_ = c["periods"]["year"]["start"];
  cat->year_cutoff_ = c["periods"]["year"]["cutoff"];
  if (c.contains("head_reception"))
    for (const auto& t : c["head_reception"]["unit_types"]) cat->head_reception_types_.insert(t.get<std::string>());
  std::vector<FieldError> errors;
  for (size_t g = 0; g < cat->idx766_["groups"].size(); ++g) {
    const auto& inds = cat->idx766_["groups"][g]["indicators"];
    for (size_t i = 0; i < inds.size(); ++i)
      if (!cat->Find(inds[i]["id"]))
        errors.push_back({"/idx766/groups/" + std::to_string(g) + "/indicators/" + std::to_string(i) + "/id",
                          "chỉ số không tồn tại: " + inds[i]["id"].get<std::string>()});
  }
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  cat->CompileIdx766();
  for (const auto& id : cat->idx766_ids_) {
    auto it = cat->by_id_.find(id);
    cat->idx766_def_.push_back(it == cat->by_id_.end() ? SIZE_MAX : it->second);
  }
  return std::shared_ptr<const IndicatorCatalog>(std::move(cat));
}

const IndicatorDef* IndicatorCatalog::Find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &defs_[it->second];
}

Result<Period> IndicatorCatalog::ResolvePeriod(const nlohmann::json& s) const {
  if (!s.is_object()) return Status::InvalidInput("/period: phải là đối tượng");
  Period p;
  // An integer member in [lo, hi]; nullopt when absent, of another type or out of range
  // (read as int64 first: 4294969296 must not wrap to 2000).
  auto int_of = [&](const char* name, int lo, int hi) -> std::optional<int> {
    auto it = s.find(name);
    if (it == s.end() || !it->is_number_integer()) return std::nullopt;
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi)) return std::nullopt;
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) return std::nullopt;
    return static_cast<int>(v);
  };
  auto year_of = [&]() { return int_of("year", 2000, 2100); };
  auto mmdd = [](int y, const std::string& md) {
    return DaysFromCivil(y, std::stoi(md.substr(0, 2)), std::stoi(md.substr(3, 2)));
  };
  if (s.contains("kind") && !s["kind"].is_string())
    return Status::InvalidInput("/period/kind: cần chuỗi: month, quarter, half_year, year hoặc from/to");
  std::string kind = s.value("kind", s.contains("from") ? "range" : "");
  p.kind = kind;
  if (kind == "range") {
    auto from = s.contains("from") && s["from"].is_string() ? ParseIsoDate(s["from"].get<std::string>()) : std::nullopt;
    auto to = s.contains("to") && s["to"].is_string() ? ParseIsoDate(s["to"].get<std::string>()) : std::nullopt;
    if (!from) return Status::InvalidInput("/period/from: cần ngày dạng YYYY-MM-DD");
    if (!to) return Status::InvalidInput("/period/to: cần ngày dạng YYYY-MM-DD");
    if (*to < *from) return Status::InvalidInput("/period: ngày kết thúc trước ngày bắt đầu");
    p.from_day = *from;
    p.to_day = *to;
    p.label = "Từ " + VnDate(*from) + " đến " + VnDate(*to);
    return p;
  }
  auto y = year_of();
  if (!y) return Status::InvalidInput("/period/year: cần năm (số nguyên 2000..2100)");
  if (kind == "month") {
    auto month = int_of("month", 1, 12);
    if (!month) return Status::InvalidInput("/period/month: cần tháng 1..12 (số nguyên)");
    const int m = *month;
    p.from_day = DaysFromCivil(*y, m, 1);
    p.to_day = (m == 12 ? DaysFromCivil(*y + 1, 1, 1) : DaysFromCivil(*y, m + 1, 1)) - 1;
    p.label = "Tháng " + std::to_string(m) + "/" + std::to_string(*y);
  } else if (kind == "quarter") {
    auto quarter = int_of("quarter", 1, 4);
    if (!quarter) return Status::InvalidInput("/period/quarter: cần quý 1..4 (số nguyên)");
    const int q = *quarter;
    p.from_day = DaysFromCivil(*y, (q - 1) * 3 + 1, 1);
    p.to_day = (q == 4 ? DaysFromCivil(*y + 1, 1, 1) : DaysFromCivil(*y, q * 3 + 1, 1)) - 1;
    static const char* kRoman[] = {"I", "II", "III", "IV"};
    p.label = "Quý " + std::string(kRoman[q - 1]) + "/" + std::to_string(*y);
  } else if (kind == "half_year") {
    p.from_day = mmdd(*y, half_start_);
    p.to_day = mmdd(*y, half_cutoff_);
    p.label = "6 tháng đầu năm " + std::to_string(*y) + " (" + VnDate(p.from_day) + " – " + VnDate(p.to_day) + ")";
  } else if (kind == "year") {
    p.from_day = mmdd(*y, year_start_);
    p.to_day = mmdd(*y, year_cutoff_);
    p.label = "Năm " + std::to_string(*y) + " (" + VnDate(p.from_day) + " – " + VnDate(p.to_day) + ")";
  } else {
    return Status::InvalidInput("/period/kind: cần month, quarter, half_year, year hoặc from/to");
  }
  return p;
}

Period IndicatorCatalog::Previous(const Period& p) const {
  int y;
  unsigned m, d;
  CivilFromDays(p.from_day, &y, &m, &d);
  nlohmann::json spec;
  if (p.kind == "month") spec = {{"kind", "month"}, {"year", m == 1 ? y - 1 : y}, {"month", m == 1 ? 12 : m - 1}};
  else if (p.kind == "quarter") {
    int q = (m - 1) / 3 + 1;
    spec = {{"kind", "quarter"}, {"year", q == 1 ? y - 1 : y}, {"quarter", q == 1 ? 4 : q - 1}};
  } else if (p.kind == "half_year" || p.kind == "year") {
    int cy;
    CivilFromDays(p.to_day, &cy, &m, &d);
    spec = {{"kind", p.kind}, {"year", cy - 1}};
  } else {
    int64_t len = p.to_day - p.from_day + 1;
    spec = {{"from", FormatIsoDate(p.from_day - len)}, {"to", FormatIsoDate(p.from_day - 1)}};
  }
  auto r = ResolvePeriod(spec);
  return r.ok() ? r.value() : p;
}

std::vector<IndicatorValue> IndicatorCatalog::Compute(const SeriesIndex& index, const std::string& unit,
                                                      const Period& period, int64_t today_day,
                                                      const std::vector<std::string>& ids) const {
  const int64_t as_of = std::min(period.to_day, today_day);
  // The unit's cells of every series the terms read, resolved once (one shared lock, no lookup
  // per term); the same figures as index.Range and index.Level. No other call on `index` below.
  const SeriesIndex::Reader cells = index.Read(unit, *series_);
  auto eval = [&](const std::vector<Term>& terms) {
    double sum = 0;
    for (const auto& t : terms) {
      double v = 0;
      switch (t.mode) {
        case M::kRange: v = cells.Range(t.slot, period.from_day, period.to_day); break;
        case M::kLevel: v = cells.Level(t.slot, as_of); break;
        case M::kBeforeStart: v = cells.Level(t.slot, period.from_day - 1); break;
      }
      sum += t.sign * v;
    }
    return sum;
  };
  std::vector<IndicatorValue> out;
  out.reserve(ids.empty() ? defs_.size() : ids.size());
  for (const auto& def : defs_) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), def.id) == ids.end()) continue;
    IndicatorValue v{def.id, def.name, def.unit_of_measure};
    if (def.months_held) {
      // Months of the period (whole or partial) in which the series is > 0.
      int y;
      unsigned m, d;
      CivilFromDays(period.from_day, &y, &m, &d);
      int64_t start = DaysFromCivil(y, m, 1);
      while (start <= period.to_day) {
        int ny = m == 12 ? y + 1 : y;
        unsigned nm = m == 12 ? 1 : m + 1;
        int64_t next = DaysFromCivil(ny, nm, 1);
        int64_t a = std::max(start, period.from_day), b = std::min(next - 1, period.to_day);
        if (a <= std::min(b, as_of)) {
          v.denominator += 1;
          double held = 0;
          for (const auto& t : def.numerator) held += cells.Range(t.slot, a, b);
          if (held > 0) v.numerator += 1;
        }
        start = next;
        y = ny;
        m = nm;
      }
      v.ratio = v.denominator > 0 ? std::optional<double>(v.numerator / v.denominator) : std::nullopt;
    } else {
      v.numerator = eval(def.numerator);
      if (!def.denominator.empty()) {
        v.denominator = eval(def.denominator);
        if (def.complement) v.numerator = std::max(0.0, v.denominator - v.numerator);
        if (def.average_age && v.denominator > 0) {
          v.ratio = static_cast<double>(as_of) - v.numerator / v.denominator;
          v.numerator = *v.ratio * v.denominator;  // total age in days
        } else if (v.denominator > 0) {
          v.ratio = v.numerator / v.denominator;
        }
      }
    }
    out.push_back(std::move(v));
  }
  // Points of the idx766 indicators.
  const Idx766Score score = Idx766(out);
  for (auto& v : out) {
    const std::optional<size_t> slot = Idx766Slot(idx766_ids_, v.id);
    if (!slot) continue;
    v.max_points = score.max[*slot];
    v.points = score.points[*slot];
  }
  return out;
}

void IndicatorCatalog::CompileIdx766() {
  // The same maps as Idx766Points builds per call: the last entry of an id wins.
  std::map<std::string, double> max;
  std::map<std::string, double> threshold;
  ConfiguredMaxima(idx766_, &max, &threshold);
  auto slot_of = [&](const std::string& id) { return Idx766Slot(idx766_ids_, id); };
  for (const auto& [id, m] : max) {  // std::map: sorted as a document's keys
    idx766_ids_.push_back(id);
    idx766_id_json_.push_back(DumpJson(nlohmann::json(id), kReplace) + ":");
    idx766_max_.push_back(m);
    auto t = threshold.find(id);
    idx766_threshold_.push_back(t == threshold.end() ? std::nullopt : std::optional<double>(t->second));
  }
  for (const auto& g : idx766_["groups"]) {
    Idx766Group group{DumpJson(g["id"], kReplace), DumpJson(g["name"], kReplace), DumpJson(g["max"], kReplace), {}};
    for (const auto& i : g["indicators"]) group.slots.push_back(*slot_of(i["id"]));
    idx766_groups_.push_back(std::move(group));
  }
  if (idx766_.contains("no_petitions_redistribution")) {
    const auto& r = idx766_["no_petitions_redistribution"];
    redistribution_from_id_ = r["from"].get<std::string>();
    redistribution_from_ = slot_of(redistribution_from_id_);
    for (const auto& to : r["to"]) redistribution_to_.push_back(slot_of(to.get<std::string>()));
  }
}

Idx766Score IndicatorCatalog::Idx766(const std::vector<IndicatorValue>& values) const {
  // `values` is usually every definition in order (position k is defs_[k]); else searched.
  const bool every = values.size() == defs_.size();
  auto find = [&](const std::string& id, size_t def_pos) -> const IndicatorValue* {
    if (every && def_pos < values.size() && values[def_pos].id == id) return &values[def_pos];
    for (const auto& v : values)
      if (v.id == id) return &v;
    return nullptr;
  };
  Idx766Score s;
  s.max = idx766_max_;
  s.points.assign(idx766_ids_.size(), std::nullopt);
  if (redistribution_from_) {
    const IndicatorValue* from = find(redistribution_from_id_, idx766_def_[*redistribution_from_]);
    if (from && from->denominator == 0) {
      const double share = s.max[*redistribution_from_] / static_cast<double>(redistribution_to_.size());
      for (const auto& to : redistribution_to_)
        if (to) s.max[*to] += share;
      s.max[*redistribution_from_] = 0;
      s.redistributed = true;
    }
  }
  std::vector<const IndicatorValue*> value_of(idx766_ids_.size(), nullptr);
  for (size_t k = 0; k < idx766_ids_.size(); ++k) value_of[k] = find(idx766_ids_[k], idx766_def_[k]);
  for (const auto& g : idx766_groups_) {
    double gp = 0, gmax = 0;
    for (size_t slot : g.slots) {
      const IndicatorValue* v = value_of[slot];
      const double m = s.max[slot];
      if (v && v->ratio) {
        // Idx766Points' rule, the same operations in the same order.
        const auto& t = idx766_threshold_[slot];
        const double p = t ? (*v->ratio >= *t ? m : *v->ratio * m / *t) : *v->ratio * m;
        s.points[slot] = p;
        gp += p;
        gmax += m;
      }
    }
    s.group_points.push_back(gp);
    s.group_max_computable.push_back(gmax);
    s.points_total += gp;
    s.max_computable += gmax;
  }
  return s;
}

// Keys in nlohmann's object order (sorted), as Idx766Points.
void IndicatorCatalog::AppendIdx766Points(const Idx766Score& s, std::string* out) const {
  *out += "{\"by_indicator\":{";
  for (size_t k = 0; k < idx766_ids_.size(); ++k) {
    if (k) *out += ',';
    *out += idx766_id_json_[k];
    *out += "{\"max\":";
    AppendJsonDouble(s.max[k], out);
    *out += ",\"points\":";
    AppendOptionalDouble(s.points[k], out);
    *out += '}';
  }
  *out += "},\"groups\":[";
  for (size_t g = 0; g < idx766_groups_.size(); ++g) {
    const auto& group = idx766_groups_[g];
    *out += g ? ",{\"id\":" : "{\"id\":";
    *out += group.id_json;
    *out += ",\"max\":";
    *out += group.max_json;
    *out += ",\"max_computable\":";
    AppendJsonDouble(s.group_max_computable[g], out);
    *out += ",\"name\":";
    *out += group.name_json;
    *out += ",\"points\":";
    AppendJsonDouble(s.group_points[g], out);
    *out += '}';
  }
  *out += "],\"max_computable\":";
  AppendJsonDouble(s.max_computable, out);
  *out += s.redistributed ? ",\"petition_redistribution_applied\":true" : ",\"petition_redistribution_applied\":false";
  *out += ",\"points\":";
  AppendJsonDouble(s.points_total, out);
  *out += '}';
}

nlohmann::json IndicatorCatalog::Idx766Points(const std::vector<IndicatorValue>& values) const {
  auto find = [&](const std::string& id) -> const IndicatorValue* {
    for (const auto& v : values)
      if (v.id == id) return &v;
    return nullptr;
  };
  // Maximum points per indicator, after the "no petitions" redistribution.
  std::map<std::string, double> max;
  std::map<std::string, double> threshold;
  ConfiguredMaxima(idx766_, &max, &threshold);
  bool redistributed = false;
  if (idx766_.contains("no_petitions_redistribution")) {
    const auto& r = idx766_["no_petitions_redistribution"];
    const IndicatorValue* from = find(r["from"]);
    if (from && from->denominator == 0 && max.count(r["from"])) {
      double share = max[r["from"]] / static_cast<double>(r["to"].size());
      for (const auto& to : r["to"]) max[to] += share;
      max[r["from"]] = 0;
      redistributed = true;
    }
  }
  nlohmann::json by_indicator = nlohmann::json::object(), groups = nlohmann::json::array();
  double total = 0, total_max = 0;
  for (const auto& g : idx766_["groups"]) {
    double gp = 0, gmax = 0;
    for (const auto& i : g["indicators"]) {
      std::string id = i["id"];
      const IndicatorValue* v = find(id);
      double m = max[id];
      nlohmann::json pts = nullptr;
      if (v && v->ratio) {
        // Full points at or above the threshold, else ratio x max / threshold; no threshold:
        // ratio x max (national portal's rule).
        double p = threshold.count(id) ? (*v->ratio >= threshold[id] ? m : *v->ratio * m / threshold[id])
                                       : *v->ratio * m;
        pts = p;
        gp += p;
        gmax += m;
      }
      by_indicator[id] = {{"max", m}, {"points", pts}};
    }
    groups.push_back({{"id", g["id"]}, {"name", g["name"]}, {"points", gp}, {"max_computable", gmax},
                      {"max", g["max"]}});
    total += gp;
    total_max += gmax;
  }
  return {{"by_indicator", by_indicator}, {"groups", groups}, {"points", total},
          {"max_computable", total_max}, {"petition_redistribution_applied", redistributed}};
}

}  // namespace danvan::indicators
