#include "reports/report_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "reports/vnformat.h"

namespace danvan::reports {
namespace {

using nlohmann::json;

// Reads optional string fields; a present non-string value is an error naming the field.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}
  void Str(const json& j, const char* key, std::string* out, bool required = false) {
    if (!st_.ok()) return;
    if (!j.is_object()) {
      st_ = Status::InvalidInput(where_ + " phải là đối tượng JSON");
      return;
    }
    if (!j.contains(key) || j[key].is_null()) {
      if (required) st_ = Status::InvalidInput(where_ + ": thiếu trường '" + key + "'");
      return;
    }
    if (!j[key].is_string()) {
      st_ = Status::InvalidInput(where_ + ": trường '" + key + "' phải là chuỗi");
      return;
    }
    *out = j[key].get<std::string>();
  }
  template <typename T>
  void Num(const json& j, const char* key, T* out) {
    if (!st_.ok() || !j.is_object() || !j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_number()) {
      st_ = Status::InvalidInput(where_ + ": trường '" + key + "' phải là số");
      return;
    }
    *out = j[key].get<T>();
  }
  void StrList(const json& j, const char* key, std::vector<std::string>* out) {
    if (!st_.ok() || !j.is_object() || !j.contains(key)) return;
    if (!j[key].is_array()) {
      st_ = Status::InvalidInput(where_ + ": trường '" + key + "' phải là mảng");
      return;
    }
    for (const json& x : j[key]) {
      if (!x.is_string()) {
        st_ = Status::InvalidInput(where_ + ": '" + key + "' phải là mảng chuỗi");
        return;
      }
      out->push_back(x.get<std::string>());
    }
  }
  void Fail(Status s) {
    if (st_.ok()) st_ = std::move(s);
  }
  const Status& status() const { return st_; }

 private:
  std::string where_;
  Status st_;
};

const json& ArrayOrEmpty(const json& j, const char* key, Reader* r) {
  static const json kEmpty = json::array();
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_array()) {
    r->Fail(Status::InvalidInput(std::string("trường '") + key + "' phải là mảng"));
    return kEmpty;
  }
  return j[key];
}

json PeriodJson(const Period& p) { return scoring::ToJson(p); }

struct IndicatorInfo {
  const char* label;
  const char* format;
};

const std::map<std::string, IndicatorInfo>& Indicators() {
  static const std::map<std::string, IndicatorInfo> m = {
      {"idx766.synced", {"Hồ sơ đồng bộ lên Cổng DVC quốc gia", "percent"}},
      {"idx766.on_time", {"Hồ sơ giải quyết trước và đúng hạn", "percent"}},
      {"idx766.online", {"Hồ sơ trực tuyến toàn trình", "percent"}},
      {"idx766.paid_online", {"Hồ sơ thanh toán trực tuyến", "percent"}},
      {"idx766.e_result", {"Hồ sơ trả kết quả điện tử", "percent"}},
      {"idx766.digitised", {"Thành phần hồ sơ được số hoá", "percent"}},
      {"idx766.reuse", {"Tái sử dụng dữ liệu số hoá", "percent"}},
      {"idx766.population_data", {"Khai thác dữ liệu dân cư", "percent"}},
      {"idx766.pakn_on_time", {"Phản ánh, kiến nghị xử lý đúng hạn", "percent"}},
      {"idx766.pakn_satisfaction", {"Hài lòng về xử lý phản ánh, kiến nghị", "percent"}},
      {"idx766.dossier_satisfaction", {"Hài lòng về giải quyết hồ sơ", "percent"}},
      {"dossier.received", {"Hồ sơ tiếp nhận", "count"}},
      {"dossier.finished", {"Hồ sơ đã giải quyết", "count"}},
      {"dossier.avg_processing_days", {"Thời gian giải quyết bình quân (ngày)", "days"}},
      {"petition.received", {"Đơn thư tiếp nhận", "count"}},
      {"petition.received.complaint", {"– Khiếu nại", "count"}},
      {"petition.received.denunciation", {"– Tố cáo", "count"}},
      {"petition.received.petition", {"– Kiến nghị", "count"}},
      {"petition.received.feedback", {"– Phản ánh", "count"}},
      {"petition.received.feedback_regulation",
       {"– Phản ánh, kiến nghị về quy định hành chính", "count"}},
      {"petition.resolved", {"Đơn thư đã giải quyết", "percent"}},
      {"petition.resolved_on_time", {"Đơn thư giải quyết đúng hạn", "percent"}},
      {"petition.overdue_open", {"Đơn thư quá hạn chưa giải quyết", "count"}},
      {"petition.complex", {"Vụ việc phức tạp", "count"}},
      {"petition.group", {"Đơn thư đông người", "count"}},
      {"petition.protracted", {"Vụ việc kéo dài", "count"}},
      {"petition.reraised", {"Đơn thư tái khiếu, tái tố", "count"}},
      {"petition.staff_conduct", {"Đơn thư phản ánh thái độ cán bộ", "count"}},
      {"reception.head_months_held", {"Tháng người đứng đầu tiếp công dân định kỳ", "fraction"}},
      {"reception.adhoc", {"Buổi tiếp công dân đột xuất", "count"}},
      {"reception.people", {"Lượt công dân được tiếp", "count"}},
      {"reception.group", {"Đoàn đông người được tiếp", "count"}},
      {"dvk.registered", {"Mô hình \"Dân vận khéo\" đăng ký", "count"}},
      {"dvk.recognised", {"Mô hình \"Dân vận khéo\" được công nhận", "count"}},
      {"plan.tasks_total", {"Nhiệm vụ kế hoạch dân vận", "count"}},
      {"plan.tasks_done", {"Nhiệm vụ đã hoàn thành", "percent"}},
      {"plan.tasks_late", {"Nhiệm vụ chậm tiến độ", "count"}},
      {"plan.tasks_on_track", {"Nhiệm vụ đúng tiến độ", "percent"}},
      {"report.six_month_on_time", {"Báo cáo 6 tháng gửi đúng hạn", "percent"}},
      {"report.annual_on_time", {"Báo cáo năm gửi đúng hạn", "percent"}},
  };
  return m;
}

// Looks up an indicator of the report's own unit (tables with no unit_code or that unit).
const IndicatorValue* Find(const ReportModel& m, const std::string& id) {
  for (const IndicatorTable& t : m.indicator_tables) {
    if (!t.unit_code.empty() && t.unit_code != m.meta.unit.code) continue;
    for (const IndicatorRow& r : t.rows)
      if (r.indicator_id == id && r.current) return &*r.current;
  }
  return nullptr;
}

const IndicatorValue* FindPrev(const ReportModel& m, const std::string& id) {
  for (const IndicatorTable& t : m.indicator_tables) {
    if (!t.unit_code.empty() && t.unit_code != m.meta.unit.code) continue;
    for (const IndicatorRow& r : t.rows)
      if (r.indicator_id == id && r.previous) return &*r.previous;
  }
  return nullptr;
}

std::string Count(double v) { return FormatNumberVn(v, 1); }

}  // namespace

std::string DefaultIndicatorLabel(const std::string& id) {
  auto it = Indicators().find(id);
  return it == Indicators().end() ? id : it->second.label;
}

std::string DefaultIndicatorFormat(const std::string& id) {
  auto it = Indicators().find(id);
  return it == Indicators().end() ? "count" : it->second.format;
}

std::string KindLabel(const std::string& v) {
  static const std::map<std::string, std::string> m = {
      {"complaint", "Khiếu nại"},
      {"denunciation", "Tố cáo"},
      {"petition", "Kiến nghị"},
      {"feedback", "Phản ánh"},
      {"feedback_regulation", "Phản ánh về quy định hành chính"},
      {"protracted", "kéo dài"},
      {"complex", "phức tạp"},
      {"group", "đông người"},
      {"reraised", "tái khiếu, tái tố"},
      {"not_started", "Chưa thực hiện"},
      {"in_progress", "Đang thực hiện"},
      {"done", "Hoàn thành"},
      {"cancelled", "Đã huỷ"},
      {"received", "Đã tiếp nhận"},
      {"accepted", "Đã thụ lý"},
      {"resolved", "Đã giải quyết"},
      {"rejected", "Không thụ lý"},
      {"withdrawn", "Đã rút"},
      {"forwarded", "Đã chuyển"},
      {"closed", "Đã đóng"},
      {"model", "Mô hình"},
      {"exemplar", "Điển hình"},
      {"economy", "Kinh tế"},
      {"culture_society", "Văn hoá – xã hội"},
      {"defence_security", "Quốc phòng – an ninh"},
      {"political_system", "Xây dựng hệ thống chính trị"},
      {"unit", "Cấp đơn vị"},
      {"department", "Cấp Sở"},
      {"city", "Cấp thành phố"},
      {"national", "Cấp trung ương"}};
  auto it = m.find(v);
  return it == m.end() ? v : it->second;
}

std::string ReportTitle(const ReportMeta& meta) {
  if (!meta.title.empty()) return meta.title;
  std::string t = meta.kind == "annual" ? "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN NĂM"
                                        : "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN 6 THÁNG";
  const std::string year = meta.period.to.size() >= 4 ? meta.period.to.substr(0, 4) : "";
  if (meta.kind == "annual") return t + " " + year;
  return t + " ĐẦU NĂM " + year;
}

namespace {

// The parts of ToJson, one function each, so WriteJson serialises the same values.
json MetaJson(const ReportMeta& mm) {
  json meta = {{"kind", mm.kind},
               {"title", ReportTitle(mm)},
               {"period", PeriodJson(mm.period)},
               {"cut_off", mm.cut_off},
               {"scope", mm.scope},
               {"unit", scoring::ToJson(mm.unit)},
               {"rubric", {{"id", mm.rubric_id}, {"version", mm.rubric_version}}}};
  if (mm.previous_period) meta["previous_period"] = PeriodJson(*mm.previous_period);
  if (!mm.due.empty()) meta["due"] = mm.due;
  if (!mm.generated_at.empty()) meta["generated_at"] = mm.generated_at;
  if (!mm.generated_by.empty()) meta["generated_by"] = mm.generated_by;
  return meta;
}

json IndicatorTablesJson(const std::vector<IndicatorTable>& indicator_tables) {
  json tables = json::array();
  for (const IndicatorTable& t : indicator_tables) {
    json tj = {{"id", t.id}, {"title", t.title}};
    if (!t.unit_code.empty()) tj["unit_code"] = t.unit_code;
    tj["rows"] = json::array();
    for (const IndicatorRow& r : t.rows) {
      json rj = {{"indicator_id", r.indicator_id},
                 {"label", r.label.empty() ? DefaultIndicatorLabel(r.indicator_id) : r.label},
                 {"format", r.format.empty() ? DefaultIndicatorFormat(r.indicator_id) : r.format}};
      if (r.current) rj["current"] = scoring::ToJson(*r.current);
      if (r.previous) rj["previous"] = scoring::ToJson(*r.previous);
      tj["rows"].push_back(std::move(rj));
    }
    tables.push_back(std::move(tj));
  }
  return tables;
}

json ItemJson(const OverduePetition& p) {
  return {{"id", p.id},
          {"title", p.title},
          {"kind", p.kind},
          {"unit", p.unit},
          {"received_at", p.received_at},
          {"due_at", p.due_at},
          {"days_overdue", p.days_overdue},
          {"overdue_steps", p.overdue_steps},
          {"assignee", p.assignee}};
}

json ItemJson(const CaseItem& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"kind", c.kind},
          {"unit", c.unit},
          {"received_at", c.received_at},
          {"status", c.status},
          {"flags", c.flags},
          {"note", c.note}};
}

json ItemJson(const MissedReception& r) {
  return {{"unit_code", r.unit_code}, {"unit_name", r.unit_name}, {"month", r.month}};
}

json ItemJson(const LateTask& t) {
  return {{"plan_id", t.plan_id}, {"task_no", t.task_no},
          {"title", t.title},     {"lead_unit", t.lead_unit},
          {"due", t.due},         {"progress_percent", t.progress_percent},
          {"status", t.status}};
}

json ItemJson(const DvkModel& d) {
  return {{"name", d.name},
          {"model_type", d.model_type},
          {"field", d.field},
          {"registering_unit", d.registering_unit},
          {"registered_at", d.registered_at},
          {"recognition_level", d.recognition_level},
          {"recognition_decision", d.recognition_decision},
          {"recognised_at", d.recognised_at}};
}

template <typename List>
json ArrayJson(const List& items) {
  json a = json::array();
  for (const auto& x : items) a.push_back(ItemJson(x));
  return a;
}

// A score's document (ToJson of the UnitScore) from its packed text.
json ItemJson(const PackedScores& scores, size_t i) {
  thread_local std::string text;  // kept: not allocated and freed per unit
  text.clear();
  scores.AppendJson(i, &text);
  json j = json::parse(text);
  if (text.capacity() > (size_t{1} << 20)) std::string().swap(text);
  return j;
}

json ArrayJson(const PackedScores& scores) {
  json a = json::array();
  for (size_t i = 0; i < scores.size(); ++i) a.push_back(ItemJson(scores, i));
  return a;
}

// `v` as v.dump(2) writes it nested `depth` levels deep: each line after the first indented by
// two spaces per level (a dumped string never holds a raw line break, so every '\n' is a line).
void WriteNested(std::ostream& o, const json& v, int depth) {
  const std::string text = v.dump(2);
  const std::string pad(2 * depth, ' ');
  size_t from = 0;
  for (size_t nl; (nl = text.find('\n', from)) != std::string::npos; from = nl + 1) {
    o.write(text.data() + from, static_cast<std::streamsize>(nl + 1 - from));
    o << pad;
  }
  o.write(text.data() + from, static_cast<std::streamsize>(text.size() - from));
}

// json::parse(compact) written as WriteNested writes it at `depth`, without a document:
// `compact` must be nlohmann's compact dump of a document (DumpJson: no whitespace outside
// strings, its escapes and number forms, which a parse and dump keep as they are), so only the
// layout changes: after '{' or '[' (unless empty) and after ',' a line break and two spaces a
// level, "": " between a key and its value, a line break before the closing bracket.
void WriteIndented(std::ostream& o, std::string_view compact, int depth) {
  thread_local std::string out;  // kept: not allocated and freed per unit
  out.clear();
  int level = depth;
  auto line = [&](int lvl) {
    out += '\n';
    out.append(2 * static_cast<size_t>(lvl), ' ');
  };
  const size_t n = compact.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = compact[i];
    switch (c) {
      case '"': {  // a string: copied up to its closing quote, escapes included
        size_t j = i + 1;
        while (j < n && compact[j] != '"') j += compact[j] == '\\' ? 2 : 1;
        out.append(compact.data() + i, std::min(j + 1, n) - i);
        i = j;
        break;
      }
      case '{':
      case '[':
        if (i + 1 < n && compact[i + 1] == (c == '{' ? '}' : ']')) {
          out += c;
          out += compact[++i];
        } else {
          out += c;
          line(++level);
        }
        break;
      case '}':
      case ']':
        line(--level);
        out += c;
        break;
      case ',':
        out += ',';
        line(level);
        break;
      case ':':
        out += ": ";
        break;
      default:
        out += c;
    }
  }
  o.write(out.data(), static_cast<std::streamsize>(out.size()));
  if (out.capacity() > (size_t{1} << 20)) std::string().swap(out);
}

// The array of ArrayJson(items) as dump(2) writes it at `depth`, one element's document at a
// time; stops early once the stream has failed.
template <typename List>
void WriteArray(std::ostream& o, const List& items, int depth) {
  if (items.empty()) {
    o << "[]";
    return;
  }
  const std::string pad(2 * (depth + 1), ' ');
  o << "[\n";
  for (size_t i = 0; i < items.size() && o; ++i) {
    o << pad;
    if constexpr (std::is_same_v<List, PackedScores>) {
      thread_local std::string text;  // kept: not allocated and freed per unit
      text.clear();
      items.AppendJson(i, &text);
      if (text.empty()) o.setstate(std::ios::failbit);  // a damaged packed text: only a bug
      WriteIndented(o, text, depth + 1);
      if (text.capacity() > (size_t{1} << 20)) std::string().swap(text);
    } else
      WriteNested(o, ItemJson(items[i]), depth + 1);
    o << (i + 1 < items.size() ? ",\n" : "\n");
  }
  o << std::string(2 * depth, ' ') << "]";
}

}  // namespace

json ToJson(const ReportModel& m) {
  json a;
  a["overdue_petitions"] = ArrayJson(m.actions.overdue_petitions);
  a["cases"] = ArrayJson(m.actions.cases);
  a["missed_head_reception"] = ArrayJson(m.actions.missed_head_reception);
  a["late_plan_tasks"] = ArrayJson(m.actions.late_plan_tasks);
  a["dvk_models"] = ArrayJson(m.actions.dvk_models);
  // Moved, not copied: an initializer list would deep-copy the (large) scores array.
  json out = json::object();
  out["meta"] = MetaJson(m.meta);
  out["indicator_tables"] = IndicatorTablesJson(m.indicator_tables);
  out["scores"] = ArrayJson(m.scores);
  out["actions"] = std::move(a);
  out["summary"] = m.summary.empty() ? ComposeSummary(m) : m.summary;
  return out;
}

Status WriteJson(const ReportModel& m, std::ostream& o) {
  // The members in the order of ToJson's object (nlohmann's std::map: sorted by key).
  try {
    o << "{\n  \"actions\": {\n    \"cases\": ";
    WriteArray(o, m.actions.cases, 2);
    o << ",\n    \"dvk_models\": ";
    WriteArray(o, m.actions.dvk_models, 2);
    o << ",\n    \"late_plan_tasks\": ";
    WriteArray(o, m.actions.late_plan_tasks, 2);
    o << ",\n    \"missed_head_reception\": ";
    WriteArray(o, m.actions.missed_head_reception, 2);
    o << ",\n    \"overdue_petitions\": ";
    WriteArray(o, m.actions.overdue_petitions, 2);
    o << "\n  },\n  \"indicator_tables\": ";
    WriteNested(o, IndicatorTablesJson(m.indicator_tables), 1);
    o << ",\n  \"meta\": ";
    WriteNested(o, MetaJson(m.meta), 1);
    o << ",\n  \"scores\": ";
    WriteArray(o, m.scores, 1);
    o << ",\n  \"summary\": ";
    WriteNested(o, m.summary.empty() ? json(ComposeSummary(m)) : json(m.summary), 1);
    o << "\n}\n";
  } catch (const json::exception& e) {  // stored text that is not UTF-8 (type_error 316)
    // Internal, not InvalidInput: the request was valid, the stored data is not (intake
    // refuses such text), as the document's dump failed before.
    return Status::Internal(
        std::string("báo cáo chứa văn bản không hợp lệ (không phải UTF-8): ") + e.what());
  }
  return Status::Ok();
}

Result<ReportModel> ReportModelFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidInput("mô hình báo cáo phải là đối tượng JSON");
  ReportModel m;
  Reader r("meta");
  if (!j.contains("meta")) return Status::InvalidInput("mô hình báo cáo thiếu 'meta'");
  const json& mj = j["meta"];
  r.Str(mj, "kind", &m.meta.kind, true);
  r.Str(mj, "title", &m.meta.title);
  r.Str(mj, "cut_off", &m.meta.cut_off);
  r.Str(mj, "due", &m.meta.due);
  r.Str(mj, "scope", &m.meta.scope);
  r.Str(mj, "generated_at", &m.meta.generated_at);
  r.Str(mj, "generated_by", &m.meta.generated_by);
  if (!r.status().ok()) return r.status();
  if (m.meta.kind != "six_month" && m.meta.kind != "annual")
    return Status::InvalidInput("meta.kind phải là \"six_month\" (6 tháng) hoặc \"annual\" (năm)");
  if (m.meta.scope != "unit" && m.meta.scope != "department")
    return Status::InvalidInput("meta.scope phải là \"unit\" hoặc \"department\"");
  if (!mj.contains("period")) return Status::InvalidInput("meta thiếu 'period'");
  auto p = scoring::PeriodFromJson(mj["period"]);
  if (!p.ok()) return Status::InvalidInput("meta.period: " + p.status().message());
  m.meta.period = std::move(p).value();
  if (m.meta.cut_off.empty()) m.meta.cut_off = m.meta.period.to;
  if (mj.contains("previous_period") && !mj["previous_period"].is_null()) {
    auto pp = scoring::PeriodFromJson(mj["previous_period"]);
    if (!pp.ok()) return Status::InvalidInput("meta.previous_period: " + pp.status().message());
    m.meta.previous_period = std::move(pp).value();
  }
  if (mj.contains("unit")) {
    auto u = scoring::UnitRefFromJson(mj["unit"]);
    if (!u.ok()) return Status::InvalidInput("meta.unit: " + u.status().message());
    m.meta.unit = std::move(u).value();
  }
  if (mj.contains("rubric")) {
    r.Str(mj["rubric"], "id", &m.meta.rubric_id);
    r.Str(mj["rubric"], "version", &m.meta.rubric_version);
  }
  Reader t("indicator_tables");
  for (const json& tj : ArrayOrEmpty(j, "indicator_tables", &t)) {
    IndicatorTable tab;
    t.Str(tj, "id", &tab.id, true);
    t.Str(tj, "title", &tab.title);
    t.Str(tj, "unit_code", &tab.unit_code);
    for (const json& rj : ArrayOrEmpty(tj, "rows", &t)) {
      IndicatorRow row;
      t.Str(rj, "indicator_id", &row.indicator_id, true);
      t.Str(rj, "label", &row.label);
      t.Str(rj, "format", &row.format);
      if (!t.status().ok()) return t.status();
      if (!row.format.empty() && row.format != "percent" && row.format != "count" &&
          row.format != "days" && row.format != "fraction")
        return Status::InvalidInput("chỉ số " + row.indicator_id +
                                    ": format phải là percent, count, days hoặc fraction");
      for (const char* key : {"current", "previous"}) {
        if (!rj.contains(key) || rj[key].is_null()) continue;
        auto v = scoring::IndicatorValueFromJson(rj[key]);
        if (!v.ok())
          return Status::InvalidInput("chỉ số " + row.indicator_id + "." + key + ": " +
                                      v.status().message());
        (std::string(key) == "current" ? row.current : row.previous) = std::move(v).value();
      }
      tab.rows.push_back(std::move(row));
    }
    m.indicator_tables.push_back(std::move(tab));
  }
  if (!t.status().ok()) return t.status();
  Reader s("scores");
  for (const json& sj : ArrayOrEmpty(j, "scores", &s)) {
    auto us = scoring::UnitScoreFromJson(sj);
    if (!us.ok()) return Status::InvalidInput("scores: " + us.status().message());
    m.scores.push_back(std::move(us).value());
  }
  if (!s.status().ok()) return s.status();
  Reader a("actions");
  const json empty_obj = json::object();
  const json& aj = j.contains("actions") ? j["actions"] : empty_obj;
  for (const json& x : ArrayOrEmpty(aj, "overdue_petitions", &a)) {
    OverduePetition p;
    a.Str(x, "id", &p.id, true);
    a.Str(x, "title", &p.title);
    a.Str(x, "kind", &p.kind);
    a.Str(x, "unit", &p.unit);
    a.Str(x, "received_at", &p.received_at);
    a.Str(x, "due_at", &p.due_at);
    a.Str(x, "assignee", &p.assignee);
    a.Num(x, "days_overdue", &p.days_overdue);
    if (x.contains("overdue_steps") && x["overdue_steps"].is_array())
      for (const json& step : x["overdue_steps"])
        if (step.is_string()) p.overdue_steps.push_back(step.get<std::string>());
    m.actions.overdue_petitions.push_back(std::move(p));
  }
  for (const json& x : ArrayOrEmpty(aj, "cases", &a)) {
    CaseItem c;
    a.Str(x, "id", &c.id, true);
    a.Str(x, "title", &c.title);
    a.Str(x, "kind", &c.kind);
    a.Str(x, "unit", &c.unit);
    a.Str(x, "received_at", &c.received_at);
    a.Str(x, "status", &c.status);
    a.Str(x, "note", &c.note);
    a.StrList(x, "flags", &c.flags);
    m.actions.cases.push_back(std::move(c));
  }
  for (const json& x : ArrayOrEmpty(aj, "missed_head_reception", &a)) {
    MissedReception mr;
    a.Str(x, "unit_code", &mr.unit_code, true);
    a.Str(x, "unit_name", &mr.unit_name);
    a.Str(x, "month", &mr.month, true);
    m.actions.missed_head_reception.push_back(std::move(mr));
  }
  for (const json& x : ArrayOrEmpty(aj, "late_plan_tasks", &a)) {
    LateTask lt;
    a.Str(x, "plan_id", &lt.plan_id);
    a.Str(x, "task_no", &lt.task_no);
    a.Str(x, "title", &lt.title, true);
    a.Str(x, "lead_unit", &lt.lead_unit);
    a.Str(x, "due", &lt.due);
    a.Str(x, "status", &lt.status);
    a.Num(x, "progress_percent", &lt.progress_percent);
    m.actions.late_plan_tasks.push_back(std::move(lt));
  }
  for (const json& x : ArrayOrEmpty(aj, "dvk_models", &a)) {
    DvkModel d;
    a.Str(x, "name", &d.name, true);
    a.Str(x, "model_type", &d.model_type);
    a.Str(x, "field", &d.field);
    a.Str(x, "registering_unit", &d.registering_unit);
    a.Str(x, "registered_at", &d.registered_at);
    a.Str(x, "recognition_level", &d.recognition_level);
    a.Str(x, "recognition_decision", &d.recognition_decision);
    a.Str(x, "recognised_at", &d.recognised_at);
    m.actions.dvk_models.push_back(std::move(d));
  }
  if (!a.status().ok()) return a.status();
  Reader sm("summary");
  sm.StrList(j, "summary", &m.summary);
  if (!sm.status().ok()) return sm.status();
  return m;
}

std::vector<std::string> ComposeSummary(const ReportModel& m) {
  std::vector<std::string> out;
  const std::string who = m.meta.unit.name.empty() ? m.meta.unit.code : m.meta.unit.name;
  const std::string when =
      "Từ " + FormatDateVn(m.meta.period.from) + " đến " + FormatDateVn(m.meta.period.to);
  auto change = [&](const std::string& id) -> std::string {
    const IndicatorValue* c = Find(m, id);
    const IndicatorValue* p = FindPrev(m, id);
    if (!c || !p || !c->ratio || !p->ratio) return "";
    const double d = *c->ratio - *p->ratio;
    if (std::string(FormatNumberVn(d * 100, 1)) == "0") return " (bằng kỳ trước)";
    return std::string(d > 0 ? " (tăng " : " (giảm ") + FormatNumberVn(std::fabs(d) * 100, 1) +
           " điểm % so với kỳ trước)";
  };

  // Dossiers.
  if (const IndicatorValue* rec = Find(m, "dossier.received")) {
    std::string s =
        when + ", " + who + " tiếp nhận " + Count(rec->numerator) + " hồ sơ thủ tục hành chính";
    if (const IndicatorValue* ot = Find(m, "idx766.on_time"); ot && ot->ratio)
      s += "; tỷ lệ giải quyết trước và đúng hạn " + FormatPercentVn(ot->ratio) +
           change("idx766.on_time");
    if (const IndicatorValue* on = Find(m, "idx766.online"); on && on->ratio)
      s += "; hồ sơ trực tuyến toàn trình " + FormatPercentVn(on->ratio) + change("idx766.online");
    out.push_back(s + ".");
  }
  // Petitions.
  if (const IndicatorValue* pr = Find(m, "petition.received")) {
    std::string s = "Tiếp nhận " + Count(pr->numerator) + " đơn thư";
    std::string kinds;
    for (const auto& [id, name] : std::vector<std::pair<std::string, std::string>>{
             {"petition.received.complaint", "khiếu nại"},
             {"petition.received.denunciation", "tố cáo"},
             {"petition.received.petition", "kiến nghị"},
             {"petition.received.feedback", "phản ánh"},
             {"petition.received.feedback_regulation", "phản ánh về quy định hành chính"}}) {
      const IndicatorValue* k = Find(m, id);
      if (k && k->numerator > 0)
        kinds += (kinds.empty() ? "" : ", ") + Count(k->numerator) + " " + name;
    }
    if (!kinds.empty()) s += " (" + kinds + ")";
    if (const IndicatorValue* rs = Find(m, "petition.resolved"); rs && rs->ratio)
      s += "; đã giải quyết " + Count(rs->numerator) + " đơn (" + FormatPercentVn(rs->ratio) + ")";
    if (const IndicatorValue* ot = Find(m, "petition.resolved_on_time"); ot && ot->ratio)
      s += ", đúng hạn " + FormatPercentVn(ot->ratio);
    if (const IndicatorValue* od = Find(m, "petition.overdue_open"))
      s += od->numerator > 0 ? "; còn " + Count(od->numerator) + " đơn quá hạn chưa giải quyết"
                             : "; không có đơn quá hạn";
    out.push_back(s + ".");
  }
  // Reception.
  if (const IndicatorValue* hr = Find(m, "reception.head_months_held")) {
    std::string s = "Người đứng đầu tiếp công dân định kỳ " + Count(hr->numerator) + "/" +
                    Count(hr->denominator) + " tháng";
    std::vector<std::string> months;
    for (const auto& r : m.actions.missed_head_reception)
      if (m.meta.scope == "department" || r.unit_code == m.meta.unit.code)
        months.push_back(FormatDateVn(r.month));
    if (!months.empty() && m.meta.scope == "unit") {
      s += "; chưa tiếp trong tháng ";
      for (size_t i = 0; i < months.size(); ++i) s += (i ? ", " : "") + months[i];
    } else if (!months.empty()) {
      s += "; " + std::to_string(months.size()) + " lượt tháng đơn vị chưa tổ chức tiếp định kỳ";
    }
    if (const IndicatorValue* pe = Find(m, "reception.people"))
      s += "; tiếp " + Count(pe->numerator) + " lượt công dân";
    out.push_back(s + ".");
  }
  // Dân vận khéo.
  if (const IndicatorValue* dr = Find(m, "dvk.registered")) {
    std::string s = "Phong trào \"Dân vận khéo\": đăng ký " + Count(dr->numerator) + " mô hình";
    if (const IndicatorValue* dc = Find(m, "dvk.recognised"))
      s += ", được công nhận " + Count(dc->numerator);
    out.push_back(s + ".");
  }
  // Plan tasks.
  if (const IndicatorValue* pt = Find(m, "plan.tasks_total")) {
    std::string s = "Kế hoạch công tác dân vận có " + Count(pt->numerator) + " nhiệm vụ";
    if (const IndicatorValue* d = Find(m, "plan.tasks_done"))
      s += ": hoàn thành " + Count(d->numerator);
    if (const IndicatorValue* l = Find(m, "plan.tasks_late"))
      s += ", chậm tiến độ " + Count(l->numerator);
    out.push_back(s + ".");
  }
  // Scores.
  if (m.meta.scope == "unit") {
    for (const ScoreSummary& s : m.scores) {
      if (s.unit.code != m.meta.unit.code) continue;
      int ranked = 0;
      for (const ScoreSummary& o : m.scores) ranked += o.rank.has_value();
      std::string line = "Kết quả chấm điểm: " + FormatNumberVn(s.total, 2) + "/" +
                         FormatNumberVn(s.max_points, 2) + " điểm, xếp loại " + s.rating;
      if (s.rank)
        line += ", xếp hạng " + std::to_string(*s.rank) + "/" + std::to_string(ranked) +
                (s.rank_tied ? " (đồng hạng)" : "");
      out.push_back(line + ".");
    }
  } else if (!m.scores.empty()) {
    std::vector<std::pair<std::string, int>> by_rating;
    for (const ScoreSummary& s : m.scores) {
      auto it = std::find_if(by_rating.begin(), by_rating.end(),
                             [&](const auto& p) { return p.first == s.rating; });
      if (it == by_rating.end())
        by_rating.push_back({s.rating, 1});
      else
        ++it->second;
    }
    std::string line = std::to_string(m.scores.size()) + " đơn vị được chấm điểm: ";
    for (size_t i = 0; i < by_rating.size(); ++i)
      line += (i ? ", " : "") + std::to_string(by_rating[i].second) + " " + by_rating[i].first;
    std::vector<std::string> top;
    for (const ScoreSummary& s : m.scores)
      if (s.rank == 1) top.push_back(s.unit.name.empty() ? s.unit.code : s.unit.name);
    if (!top.empty()) {
      line += "; dẫn đầu: ";
      for (size_t i = 0; i < top.size(); ++i) line += (i ? ", " : "") + top[i];
      line += " (" + FormatNumberVn(m.scores.front().total, 2) + " điểm)";
    }
    out.push_back(line + ".");
  }
  // Action lists.
  const size_t cases = m.actions.cases.size(), late = m.actions.late_plan_tasks.size();
  if (!m.actions.overdue_petitions.empty() || cases > 0 || late > 0) {
    std::string s = "Cần chỉ đạo xử lý: ";
    std::vector<std::string> parts;
    if (!m.actions.overdue_petitions.empty())
      parts.push_back(std::to_string(m.actions.overdue_petitions.size()) + " đơn thư quá hạn");
    if (cases > 0) parts.push_back(std::to_string(cases) + " vụ việc phức tạp, kéo dài");
    if (late > 0) parts.push_back(std::to_string(late) + " nhiệm vụ chậm tiến độ");
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
    out.push_back(s + ".");
  }
  return out;
}

void FillSummary(ReportModel* m) {
  if (m->summary.empty()) m->summary = ComposeSummary(*m);
}

}  // namespace danvan::reports
