// Server-rendered pages of the admin console. Every value shown goes through HtmlEscape; the
// pages carry no inline script or style (the Content-Security-Policy forbids them): behaviour is
// in /static/console.js, which posts the forms marked data-op to /api/query.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <set>

#include "console/internal.h"

namespace danvan::console {
namespace {

using json = nlohmann::json;

std::string E(std::string_view s) { return HtmlEscape(s); }

std::string Text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Any JSON answer as nested tables (depth-bounded): objects as key/value rows, arrays of
// objects as a table with one column per key.
void RenderJson(const json& j, std::string* out, int depth = 0) {
  if (depth > 4) {
    *out += "<code>" + E(Text(j)) + "</code>";
    return;
  }
  if (j.is_object()) {
    if (j.empty()) return;
    *out += "<table class=\"kv\">";
    for (const auto& [k, v] : j.items()) {
      *out += "<tr><th>" + E(k) + "</th><td>";
      RenderJson(v, out, depth + 1);
      *out += "</td></tr>";
    }
    *out += "</table>";
  } else if (j.is_array()) {
    bool objects = !j.empty() && std::all_of(j.begin(), j.end(), [](const json& x) { return x.is_object(); });
    if (!objects) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) *out += ", ";
        RenderJson(j[i], out, depth + 1);
      }
      return;
    }
    std::vector<std::string> cols;
    for (const auto& row : j)
      for (const auto& [k, v] : row.items())
        if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
    *out += "<table class=\"grid\"><tr>";
    for (const auto& c : cols) *out += "<th>" + E(c) + "</th>";
    *out += "</tr>";
    for (const auto& row : j) {
      *out += "<tr>";
      for (const auto& c : cols) {
        *out += "<td>";
        if (row.contains(c)) RenderJson(row[c], out, depth + 1);
        *out += "</td>";
      }
      *out += "</tr>";
    }
    *out += "</table>";
  } else {
    *out += E(Text(j));
  }
}

std::string ErrorBox(const Status& st) {
  return "<div class=\"error\" role=\"alert\">Lỗi: " + E(st.message()) + "</div>";
}

// Runs an op for a page section: the rendered answer, or an error box.
Result<json> Op(const PageRequest& r, json req) { return RunOp(r.shared, r.session, std::move(req)); }

std::optional<json> ParsePeriod(const std::string& s) {
  std::smatch m;
  static const std::regex year(R"(^(\d{4})$)"), half(R"(^(\d{4})-H([12])$)"), quarter(R"(^(\d{4})-Q([1-4])$)"),
      month(R"(^(\d{4})-(\d{2})$)"), range(R"(^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$)");
  if (std::regex_match(s, m, year)) return json{{"kind", "year"}, {"year", std::stoi(m[1])}};
  if (std::regex_match(s, m, half)) {
    // The first half is the 6-month reporting period (to 15/6); the second the rest of the year.
    if (m[2] == "1") return json{{"kind", "half_year"}, {"year", std::stoi(m[1])}};
    return json{{"from", m[1].str() + "-06-16"}, {"to", m[1].str() + "-12-31"}};
  }
  if (std::regex_match(s, m, quarter)) return json{{"kind", "quarter"}, {"year", std::stoi(m[1])}, {"quarter", std::stoi(m[2])}};
  if (std::regex_match(s, m, month)) return json{{"kind", "month"}, {"year", std::stoi(m[1])}, {"month", std::stoi(m[2])}};
  if (std::regex_match(s, m, range)) return json{{"from", m[1].str()}, {"to", m[2].str()}};
  return std::nullopt;
}

struct NavItem {
  const char* path;
  const char* label;
};
const NavItem kNav[] = {{"/health", "Tình trạng"},
                        {"/indicators", "Chỉ số và xếp hạng"},
                        {"/petitions", "Đơn quá hạn, sắp đến hạn"},
                        {"/review", "Rà soát gắn nhãn"},
                        {"/outbox", "Gửi lên Cổng DVC"},
                        {"/mappings", "Ánh xạ mã"},
                        {"/config", "Cấu hình"},
                        {"/audit", "Nhật ký quản trị"},
                        {"/reports", "Tải báo cáo"}};

std::string Layout(const PageRequest& r, const std::string& path, const std::string& title, const std::string& body) {
  std::string h =
      "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"csrf-token\" content=\"" + E(r.session.csrf) + "\">"
      "<title>" + E(title) + " — danvan</title>"
      "<link rel=\"stylesheet\" href=\"/static/console.css\">"
      "<script src=\"/static/console.js\" defer></script></head><body>"
      "<header><strong>danvan · Bảng điều khiển</strong><nav>";
  for (const auto& n : kNav)
    h += std::string("<a href=\"") + n.path + "\"" + (path == n.path ? " aria-current=\"page\"" : "") + ">" + n.label + "</a>";
  h += "</nav><form method=\"post\" action=\"/logout\" class=\"logout\"><span id=\"who\">" + E(r.session.user) + " (" +
       (r.session.role == Role::kAdmin ? "quản trị" : "người xem") + ")</span>"
       "<input type=\"hidden\" name=\"csrf\" value=\"" + E(r.session.csrf) + "\">"
       "<button type=\"submit\">Đăng xuất</button></form></header><main><h1>" + E(title) + "</h1>" +
       body + "</main></body></html>";
  return h;
}

// A form the script posts to /api/query as {"op": op, <named fields>...}.
// progress: instead of reloading the page, follow the progress bars (a long operation).
std::string OpForm(const std::string& op, const std::string& fields, const std::string& button,
                   const std::string& cls = "", bool progress = false) {
  return "<form class=\"op " + cls + "\" data-op=\"" + E(op) + "\" " +
         (progress ? "data-progress=\"1\"" : "data-reload=\"1\"") + ">" + fields +
         "<button type=\"submit\">" + E(button) + "</button><output class=\"result\"></output></form>";
}

std::string Hidden(const std::string& name, const std::string& value, const std::string& type = "") {
  return "<input type=\"hidden\" name=\"" + E(name) + "\" value=\"" + E(value) + "\"" +
         (type.empty() ? "" : " data-type=\"" + E(type) + "\"") + ">";
}

const char* JobLabel(const std::string& job) {
  if (job == "retag") return "Gắn nhãn lại";
  if (job == "deadlines.reevaluation") return "Đánh giá lại thời hạn";
  if (job == "report") return "Lập báo cáo";
  return "Công việc";
}

const char* JobStateLabel(const std::string& state) {
  if (state == "running") return "đang chạy";
  if (state == "done") return "xong";
  if (state == "failed") return "lỗi";
  if (state == "cancelled") return "đã dừng";
  return "chưa chạy";
}

// One progress bar per long operation (the `progress` op), the most recent run of each; the
// script refreshes them while one runs (same text as here: "done/total (percent%) — state").
std::string JobBars(const PageRequest& r, const std::string& only) {
  json req = {{"op", "progress"}};
  if (!only.empty()) req["job"] = only;
  auto p = Op(r, req);
  if (!p.ok()) return ErrorBox(p.status());
  std::string b = "<div class=\"jobs\">";
  std::set<std::string> seen;
  for (const auto& j : p.value().value("jobs", json::array())) {
    const std::string job = j.value("job", "");
    if (!seen.insert(job).second) continue;
    const std::string state = j.value("state", "idle");
    const int64_t done = j.value("done", int64_t{0}), total = j.value("total", int64_t{0});
    const int percent = j.value("percent", 0);
    std::string id = job;
    std::replace(id.begin(), id.end(), '.', '-');
    b += "<div class=\"job\" id=\"job-" + E(id) + "\" data-job=\"" + E(job) + "\" data-state=\"" + E(state) +
         "\"><span class=\"job-name\">" + E(JobLabel(job)) + "</span> <progress max=\"" +
         std::to_string(std::max<int64_t>(total, 1)) + "\" value=\"" +
         std::to_string(state == "done" ? std::max<int64_t>(total, 1) : std::min(done, std::max<int64_t>(total, 1))) +
         "\"></progress> <span class=\"progress-text\">" + std::to_string(done) + "/" + std::to_string(total) + " (" +
         std::to_string(percent) + "%) — " + JobStateLabel(state) + "</span>" +
         (j.contains("reason") && !Text(j["reason"]).empty() ? " <small class=\"job-reason\">" + E(Text(j["reason"])) + "</small>" : "") +
         "</div>";
  }
  return b + "</div>";
}

std::string Health(const PageRequest& r) {
  std::string b = "<section><h2>Phiên bản</h2><p id=\"version\">" + E(r.shared.env.version) + "</p></section>";
  auto stats = Op(r, {{"op", "stats"}});
  b += "<section><h2>Lưu trữ</h2>";
  if (stats.ok()) {
    const json& s = stats.value();
    const json storage = s.value("storage", json::object());
    b += "<table class=\"kv\"><tr><th>Kiểu</th><td>" + E(Text(storage.value("engine", json()))) +
         "</td></tr><tr><th>Tệp</th><td>" + E(Text(storage.value("path", json()))) +
         "</td></tr><tr><th>Số hồ sơ, bản ghi</th><td id=\"records\">" + E(Text(s.value("records", json(0)))) +
         "</td></tr><tr><th>Sự kiện bị cách ly</th><td>" + E(Text(s.value("quarantined", json(0)))) + "</td></tr>";
    b += "<tr><th>Theo loại</th><td>";
    RenderJson(s.value("records_by_kind", json::object()), &b);
    b += "</td></tr></table>";
  } else {
    b += ErrorBox(stats.status());
  }
  b += "</section><section><h2>Bộ lập lịch và công việc nền</h2>";
  b += JobBars(r, "");
  if (r.session.role == Role::kAdmin)
    b += "<p>Nạp lại tệp quy tắc gắn nhãn và gắn nhãn lại mọi hồ sơ, bản ghi (chạy nền, theo dõi ở thanh tiến độ trên):</p>" +
         OpForm("tagging.reload", "", "Gắn nhãn lại", "retag", /*progress=*/true);
  auto dl = Op(r, {{"op", "deadlines.status"}});
  b += "<h3>Dữ liệu thời hạn</h3>";
  if (dl.ok()) RenderJson(dl.value().value("inputs_sha256", json()), &b); else b += ErrorBox(dl.status());
  auto tg = Op(r, {{"op", "tagging.status"}});
  b += "<h3>Quy tắc gắn nhãn</h3>";
  if (tg.ok()) b += "<p>Phiên bản " + E(Text(tg.value().value("rules_version", json()))) + "; " +
                    E(Text(tg.value().value("changed", json(0)))) + " bản ghi đổi nhãn trong lần gắn nhãn lại gần nhất.</p>";
  else b += ErrorBox(tg.status());
  b += "</section><section><h2>Gửi lên Cổng Dịch vụ công quốc gia</h2>";
  auto ob = Op(r, {{"op", "outbox.status"}});
  if (ob.ok()) {
    const json& o = ob.value();
    auto last_error = o.value("last_error", json());
    b += "<table class=\"kv\" id=\"outbox-health\"><tr><th>Đích</th><td>" + E(Text(o.value("destination", json()))) +
         "</td></tr><tr><th>Đang chờ gửi</th><td id=\"queue-depth\">" + E(Text(o.value("queued", json(0)))) +
         "</td></tr><tr><th>Mục chờ lâu nhất</th><td>" +
         E(Fixed(o.value("oldest_pending_age_ms", 0.0) / 60000.0, 1)) + " phút</td></tr><tr><th>Lần gửi thành công gần nhất</th><td>" +
         E(o.value("last_success", json()).is_null() ? "chưa có" : Text(o["last_success"])) +
         "</td></tr><tr><th>Lỗi gần nhất</th><td>" +
         E(last_error.is_null() ? "không có" : Text(last_error.value("at", json())) + " — " + Text(last_error.value("message", json()))) +
         "</td></tr><tr><th>Thư chết chưa gửi lại</th><td>" + E(Text(o.value("dead_letters", json(0)))) +
         "</td></tr><tr><th>Tạm dừng</th><td>" + (o.value("paused", false) ? "có" : "không") + "</td></tr></table>";
  } else {
    b += ErrorBox(ob.status());
  }
  b += "</section>";
  return Layout(r, "/health", "Tình trạng hệ thống", b);
}

// An inline SVG bar chart (no script, no external resource): one bar per unit.
std::string BarChart(const std::vector<std::pair<std::string, double>>& bars) {
  if (bars.empty()) return "";
  double max = 0;
  for (const auto& [l, v] : bars) max = std::max(max, v);
  if (max <= 0) max = 1;
  const int row = 22, label_w = 260, bar_w = 400;
  const int height = row * static_cast<int>(bars.size()) + 10;
  std::string s = "<svg class=\"chart\" role=\"img\" aria-label=\"Biểu đồ điểm theo đơn vị\" width=\"" +
                  std::to_string(label_w + bar_w + 80) + "\" height=\"" + std::to_string(height) +
                  "\" viewBox=\"0 0 " + std::to_string(label_w + bar_w + 80) + " " + std::to_string(height) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\">";
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = 5 + row * static_cast<int>(i);
    const int w = static_cast<int>(std::lround(bars[i].second / max * bar_w));
    s += "<text x=\"0\" y=\"" + std::to_string(y + 15) + "\" font-size=\"12\">" + E(bars[i].first.substr(0, 60)) + "</text>";
    s += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" +
         std::to_string(std::max(w, 0)) + "\" height=\"16\" fill=\"#2f6fb3\"></rect>";
    s += "<text x=\"" + std::to_string(label_w + std::max(w, 0) + 4) + "\" y=\"" + std::to_string(y + 15) +
         "\" font-size=\"12\">" + E(Fixed(bars[i].second)) + "</text>";
  }
  return s + "</svg>";
}

std::string PeriodForm(const PageRequest& r, const std::string& action, const std::string& unit,
                       const std::string& period) {
  std::string units_options;
  auto units = Op(r, {{"op", "units"}});
  if (units.ok()) {
    // The unit tree's answer: every unit with its code and name, wherever it is nested.
    std::vector<std::pair<std::string, std::string>> list;
    std::function<void(const json&, int)> walk = [&](const json& j, int depth) {
      if (depth > 16) return;
      if (j.is_object()) {
        if (j.contains("code") && j["code"].is_string())
          list.emplace_back(j["code"].get<std::string>(), Text(j.value("name", json())));
        for (const auto& [k, v] : j.items()) walk(v, depth + 1);
      } else if (j.is_array()) {
        for (const auto& v : j) walk(v, depth + 1);
      }
    };
    walk(units.value(), 0);
    for (const auto& [code, name] : list)
      units_options += "<option value=\"" + E(code) + "\"" + (code == unit ? " selected" : "") + ">" + E(code) +
                       " — " + E(name) + "</option>";
  }
  return "<form method=\"get\" action=\"" + action + "\" class=\"filter\"><label>Đơn vị <select name=\"unit\">"
         "<option value=\"\">(đơn vị gốc)</option>" + units_options + "</select></label>"
         "<label>Kỳ <input name=\"period\" value=\"" + E(period) + "\" placeholder=\"2023, 2023-H1, 2023-Q2, 2023-03\"></label>"
         "<button type=\"submit\">Xem</button></form>";
}

std::string Indicators(const PageRequest& r) {
  const std::string unit = r.Param("unit"), period_text = r.Param("period", "2023");
  std::string b = PeriodForm(r, "/indicators", unit, period_text);
  auto period = ParsePeriod(period_text);
  if (!period) {
    b += ErrorBox(Status::InvalidInput("/period: cần 2023, 2023-H1, 2023-H2, 2023-Q2, 2023-03 hoặc 2023-01-01..2023-06-15"));
    return Layout(r, "/indicators", "Chỉ số và xếp hạng", b);
  }
  // Reading the page computes the ranking and stores nothing (journal false); storing a result
  // in the scoring journal is the admin's explicit "Chấm điểm và lưu" below.
  json score_req = {{"op", "score"}, {"rubric", "default"}, {"period", *period}, {"journal", false}};
  if (!unit.empty()) score_req["unit"] = unit;
  auto score = Op(r, score_req);
  b += "<section><h2>Xếp hạng</h2>";
  if (score.ok()) {
    std::vector<std::pair<std::string, double>> bars;
    b += "<table class=\"grid\" id=\"ranking\"><tr><th>Hạng</th><th>Đơn vị</th><th>Điểm</th><th>Xếp loại</th></tr>";
    for (const auto& row : score.value().value("ranking", json::array())) {
      const std::string name = Text(row.value("name", json()));
      b += "<tr><td>" + E(Text(row.value("rank", json()))) + "</td><td>" + E(Text(row.value("unit", json()))) + " — " +
           E(name) + "</td><td>" + E(Fixed(row.value("total", 0.0))) + "</td><td>" + E(Text(row.value("rating", json()))) +
           "</td></tr>";
      bars.emplace_back(name, row.value("total", 0.0));
    }
    b += "</table>" + BarChart(bars);
    if (r.session.role == Role::kAdmin)
      b += "<p>Kết quả trên chỉ được tính để xem, chưa lưu. Lưu kết quả chấm điểm kỳ này vào sổ (để đối chiếu, "
           "tái lập về sau):</p>" +
           OpForm("score", Hidden("rubric", "default") + Hidden("period", period->dump(), "json") +
                               (unit.empty() ? "" : Hidden("unit", unit)) + Hidden("journal", "true", "bool"),
                  "Chấm điểm và lưu", "score-save");
  } else {
    b += ErrorBox(score.status());
  }
  b += "</section><section><h2>Chỉ số</h2>";
  // The indicators op needs a unit: the one chosen, else the root the ranking was made for.
  std::string ind_unit = unit;
  if (ind_unit.empty() && score.ok()) ind_unit = Text(score.value().value("unit", json()));
  json ind_req = {{"op", "indicators"}, {"period", *period}, {"unit", ind_unit}};
  auto ind = Op(r, ind_req);
  if (ind.ok()) {
    const std::string u = Text(ind.value().value("unit", json()));
    b += "<table class=\"grid\" id=\"indicators\"><tr><th>Mã</th><th>Chỉ số</th><th>Tử số</th><th>Mẫu số</th><th>Tỷ lệ</th><th></th></tr>";
    for (const auto& i : ind.value().value("indicators", json::array())) {
      const std::string id = Text(i.value("id", json()));
      b += "<tr><td>" + E(id) + "</td><td>" + E(Text(i.value("name", json()))) + "</td><td>" +
           E(Text(i.value("numerator", json()))) + "</td><td>" + E(Text(i.value("denominator", json()))) + "</td><td>" +
           E(Text(i.value("ratio", json()))) + "</td><td><a href=\"/explain?unit=" + E(u) + "&amp;period=" +
           E(period_text) + "&amp;id=" + E(id) + "\">Hồ sơ</a></td></tr>";
    }
    b += "</table>";
  } else {
    b += ErrorBox(ind.status());
  }
  b += "</section>";
  return Layout(r, "/indicators", "Chỉ số và xếp hạng", b);
}

// The records behind one indicator's figure for a unit and period (indicators.explain): the
// figure itself, then the records counted in its numerator and in its denominator.
std::string RecordTable(const json& items, const char* id) {
  std::string b = std::string("<table class=\"grid\" id=\"") + id +
                  "\"><tr><th>Loại</th><th>Mã</th><th>Nguồn</th><th>Đơn vị</th><th>Trạng thái</th><th>Giá trị</th></tr>";
  for (const auto& i : items) {
    const json key = i.value("key", json::object());
    b += "<tr data-id=\"" + E(Text(key.value("id", json()))) + "\"><td>" + E(Text(key.value("kind", json()))) + "</td><td>" +
         E(Text(key.value("id", json()))) + "</td><td>" + E(Text(key.value("source", json()))) + "</td><td>" +
         E(Text(i.value("unit", json()))) + "</td><td>" + E(Text(i.value("status", json()))) +
         "</td><td class=\"value\">" + E(Text(i.value("value", json()))) + "</td></tr>";
  }
  return b + "</table>";
}

std::string Explain(const PageRequest& r) {
  const std::string id = r.Param("id"), period_text = r.Param("period", "2023");
  auto period = ParsePeriod(period_text);
  if (!period) return Layout(r, "/indicators", "Hồ sơ sau một chỉ số", ErrorBox(Status::InvalidInput("/period: không hợp lệ")));
  json req = {{"op", "indicators.explain"}, {"period", *period}, {"id", id}, {"limit", 500}};
  if (!r.Param("unit").empty()) req["unit"] = r.Param("unit");
  auto ex = Op(r, req);
  if (!ex.ok()) return Layout(r, "/indicators", "Hồ sơ sau chỉ số " + id, ErrorBox(ex.status()));
  const json& x = ex.value();
  const json ind = x.value("indicator", json::object());
  std::string b = "<p><a href=\"/indicators?unit=" + E(Text(x.value("unit", json()))) + "&amp;period=" + E(period_text) +
                  "\">← Chỉ số và xếp hạng</a></p><table class=\"kv\" id=\"figure\"><tr><th>Chỉ số</th><td>" +
                  E(Text(ind.value("name", json()))) + "</td></tr><tr><th>Đơn vị</th><td id=\"figure-unit\">" +
                  E(Text(x.value("unit", json()))) + "</td></tr><tr><th>Tử số</th><td id=\"figure-numerator\">" +
                  E(Text(ind.value("numerator", json()))) + "</td></tr><tr><th>Mẫu số</th><td id=\"figure-denominator\">" +
                  E(Text(ind.value("denominator", json()))) + "</td></tr><tr><th>Tỷ lệ</th><td>" +
                  E(Text(ind.value("ratio", json()))) + "</td></tr></table>";
  // A note when the listed values do not simply add up to the numerator (a complement, a count
  // of months); another when they are ages.
  if (x.contains("note")) b += "<p class=\"note\" id=\"figure-note\">" + E(Text(x["note"])) + "</p>";
  if (x.contains("note_age")) b += "<p class=\"note\" id=\"age-note\">" + E(Text(x["note_age"])) + "</p>";
  b += "<h2>Hồ sơ, bản ghi tính vào tử số (<span id=\"numerator-count\">" +
       E(Text(x.value("numerator_record_count", json(0)))) + "</span>)</h2>" +
       RecordTable(x.value("numerator_records", json::array()), "numerator-records");
  if (x.contains("denominator_records"))
    b += "<h2>Hồ sơ, bản ghi tính vào mẫu số (<span id=\"denominator-count\">" +
         E(Text(x.value("denominator_record_count", json(0)))) + "</span>)</h2>" +
         RecordTable(x["denominator_records"], "denominator-records");
  return Layout(r, "/indicators", "Hồ sơ sau chỉ số " + id, b);
}

std::string DeadlineTable(const json& items, const char* id, bool overdue) {
  std::string b = std::string("<table class=\"grid\" id=\"") + id + "\"><tr><th>Mã</th><th>Đơn vị</th><th>Nội dung</th><th>Hạn</th><th>" +
                  (overdue ? "Quá hạn (ngày)" : "Còn (ngày)") + "</th></tr>";
  for (const auto& i : items)
    b += "<tr><td>" + E(Text(i.value("id", json()))) + "</td><td>" + E(Text(i.value("unit", json()))) + "</td><td>" +
         E(Text(i.value("title", json()))) + "</td><td>" + E(Text(i.value("due", json()))) + "</td><td>" +
         E(Text(i.value(overdue ? "overdue_by_days" : "due_in_days", json()))) + "</td></tr>";
  return b + "</table>";
}

std::string Petitions(const PageRequest& r) {
  const std::string unit = r.Param("unit");
  std::string b = PeriodForm(r, "/petitions", unit, "");
  json req = {{"op", "deadlines.list"}, {"kind", "petition"}};
  if (!unit.empty()) req["unit"] = unit;
  auto dl = Op(r, req);
  if (dl.ok()) {
    const json& d = dl.value();
    b += "<p>Tính đến " + E(Text(d.value("as_of", json()))) + "</p>";
    b += "<h2>Quá hạn (" + E(Text(d.value("overdue_count", json(0)))) + ")</h2>" +
         DeadlineTable(d.value("overdue", json::array()), "overdue", true);
    b += "<h2>Sắp đến hạn (" + E(Text(d.value("due_soon_count", json(0)))) + ")</h2>" +
         DeadlineTable(d.value("due_soon", json::array()), "due-soon", false);
  } else {
    b += ErrorBox(dl.status());
  }
  return Layout(r, "/petitions", "Đơn thư quá hạn và sắp đến hạn", b);
}

std::string Review(const PageRequest& r) {
  std::string b;
  auto list = Op(r, {{"op", "tags.review"}, {"action", "list"}, {"limit", 200}});
  if (!list.ok()) return Layout(r, "/review", "Rà soát gắn nhãn", ErrorBox(list.status()));
  const bool admin = r.session.role == Role::kAdmin;
  b += "<p>Thư, đơn mà máy đọc chưa chắc chắn (" + E(Text(list.value().value("pending", json(0)))) +
       "). Xác nhận nếu đúng, sửa nếu sai; quyết định được lưu và áp dụng ngay.</p>";
  b += "<table class=\"grid\" id=\"review\"><tr><th>Hồ sơ</th><th>Tiêu đề</th><th>Máy đọc</th><th>Quyết định chưa chắc</th>" +
       std::string(admin ? "<th>Xác nhận / sửa</th>" : "") + "</tr>";
  for (const auto& item : list.value().value("items", json::array())) {
    const json key = item.value("key", json::object());
    const std::string source = Text(key.value("source", json())), kind = Text(key.value("kind", json())),
                      id = Text(key.value("id", json()));
    b += "<tr data-id=\"" + E(id) + "\"><td>" + E(kind) + " " + E(id) + "<br><small>" + E(source) + " · " +
         E(Text(item.value("unit", json()))) + "</small></td><td>" + E(Text(item.value("title", json()))) + "</td><td>";
    RenderJson(item.value("reading", json()), &b);
    b += "</td><td>";
    RenderJson(item.value("weak", json()), &b);
    b += "</td>";
    if (admin) {
      const std::string keys = Hidden("source", source) + Hidden("kind", kind) + Hidden("id", id);
      b += "<td>" + OpForm("tags.review", Hidden("action", "confirm") + keys +
                                              "<input name=\"why\" placeholder=\"Lý do (không bắt buộc)\">",
                           "Xác nhận", "confirm");
      b += OpForm("tags.review",
                  Hidden("action", "correct") + keys +
                      "<select name=\"set.kind\"><option value=\"complaint\">khiếu nại</option>"
                      "<option value=\"denunciation\">tố cáo</option><option value=\"petition\">kiến nghị</option>"
                      "<option value=\"feedback\">phản ánh</option></select>"
                      "<input name=\"why\" required placeholder=\"Lý do sửa (bắt buộc)\">",
                  "Sửa", "correct") + "</td>";
    }
    b += "</tr>";
  }
  b += "</table><h2>Đã quyết định</h2>";
  auto decided = Op(r, {{"op", "tags.review"}, {"action", "list"}, {"decided", true}, {"limit", 200}});
  if (decided.ok()) {
    b += "<table class=\"grid\" id=\"decided\"><tr><th>Hồ sơ</th><th>Quyết định</th></tr>";
    for (const auto& item : decided.value().value("items", json::array())) {
      const json key = item.value("key", json::object());
      const std::string id = Text(key.value("id", json()));
      b += "<tr data-id=\"" + E(id) + "\"><td>" + E(Text(key.value("kind", json()))) + " " + E(id) + "</td><td>";
      RenderJson(item.value("decision", json()), &b);
      b += "</td></tr>";
    }
    b += "</table>";
  } else {
    b += ErrorBox(decided.status());
  }
  return Layout(r, "/review", "Rà soát gắn nhãn", b);
}

std::string Outbox(const PageRequest& r) {
  std::string b = "<section><h2>Hàng đợi</h2>";
  auto st = Op(r, {{"op", "outbox.status"}});
  if (st.ok()) RenderJson(st.value(), &b); else b += ErrorBox(st.status());
  b += "</section><section><h2>Thư chết</h2>";
  auto dead = Op(r, {{"op", "outbox.dead_letters"}, {"limit", 200}});
  if (dead.ok()) {
    b += "<table class=\"grid\" id=\"dead-letters\"><tr><th>Số</th><th>Hồ sơ</th><th>Thao tác</th><th>Lỗi</th><th>Số lần</th><th>Lúc</th><th>Gửi lại</th></tr>";
    for (const auto& d : dead.value().value("items", json::array())) {
      const std::string id = Text(d.value("id", json()));
      b += "<tr><td>" + E(id) + "</td><td>" + E(Text(d.value("record_id", json()))) + "</td><td>" + E(Text(d.value("op", json()))) +
           "</td><td>" + E(Text(d.value("last_error", json()))) + "</td><td>" + E(Text(d.value("attempts", json()))) +
           "</td><td>" + E(Text(d.value("dead_at", json()))) + "</td><td>";
      if (!d.value("resent_at", json()).is_null()) b += "đã gửi lại " + E(Text(d["resent_at"]));
      else if (r.session.role == Role::kAdmin) b += OpForm("outbox.resend", Hidden("id", id, "int"), "Gửi lại");
      b += "</td></tr>";
    }
    b += "</table>";
  } else {
    b += ErrorBox(dead.status());
  }
  b += "</section>";
  return Layout(r, "/outbox", "Gửi lên Cổng Dịch vụ công quốc gia", b);
}

std::string Mappings(const PageRequest& r) {
  std::string b;
  auto m = Op(r, {{"op", "outbox.mappings.get"}});
  if (m.ok()) RenderJson(m.value(), &b); else b += ErrorBox(m.status());
  if (r.session.role == Role::kAdmin) {
    std::string current = "{\"units\": {}, \"procedures\": {}}";
    if (m.ok() && m.value().contains("mappings")) current = m.value()["mappings"].dump(2);
    b += "<h2>Thay bộ ánh xạ</h2>" +
         OpForm("outbox.mappings.set",
                "<textarea name=\"mappings\" data-type=\"json\" rows=\"12\" cols=\"80\">" + E(current) + "</textarea>",
                "Lưu ánh xạ");
  }
  return Layout(r, "/mappings", "Ánh xạ mã đơn vị và thủ tục", b);
}

std::string Config(const PageRequest& r) {
  if (r.session.role != Role::kAdmin)
    return Layout(r, "/config", "Cấu hình", "<p>Trang này cần vai trò quản trị.</p>");
  // The configuration in force from config.show when the engine has it (it changes with
  // config.reload); otherwise the engine's configuration in force.
  json shown = RedactConfig(r.shared.env.config_in_force());
  std::string since;
  auto live = Op(r, {{"op", "config.show"}});
  if (live.ok() && live.value().contains("config")) {
    shown = RedactConfig(live.value()["config"]);
    since = "Áp dụng từ " + Text(live.value().value("since", json())) + "; SHA-256 " +
            Text(live.value().value("sha256", json())) + ". ";
  }
  std::string b = "<p>" + E(since) + "Các giá trị bí mật được thay bằng ***.</p><pre id=\"config\">" +
                  E(shown.dump(2, ' ', false, json::error_handler_t::replace)) + "</pre>";
  {
    b += "<h2>Kiểm tra và áp dụng cấu hình mới</h2>"
         "<form class=\"validate\" data-endpoint=\"/api/config/validate\"><textarea name=\"document\" rows=\"16\" cols=\"80\" "
         "placeholder=\"Dán toàn bộ tài liệu cấu hình JSON\"></textarea><button type=\"submit\">Kiểm tra</button>"
         "<output class=\"result\"></output></form>" +
         OpForm("config.reload", "<textarea name=\"config\" data-type=\"json\" rows=\"16\" cols=\"80\" "
                                 "placeholder=\"Tài liệu cấu hình JSON sẽ áp dụng (config.reload)\"></textarea>",
                "Áp dụng");
  }
  return Layout(r, "/config", "Cấu hình", b);
}

// The audit trail of administrative ops (audit.list, where the engine has it).
std::string Audit(const PageRequest& r) {
  if (r.session.role != Role::kAdmin)
    return Layout(r, "/audit", "Nhật ký quản trị", "<p>Trang này cần vai trò quản trị.</p>");
  std::string b;
  auto a = Op(r, {{"op", "audit.list"}, {"limit", 200}});
  if (a.ok()) RenderJson(a.value(), &b); else b += ErrorBox(a.status());
  return Layout(r, "/audit", "Nhật ký quản trị", b);
}

std::string Reports(const PageRequest& r) {
  std::string b =
      "<form method=\"get\" action=\"/download/report\" class=\"filter\" id=\"report-form\">"
      "<label>Loại <select name=\"kind\"><option value=\"six_month\">Báo cáo 6 tháng (15/6)</option>"
      "<option value=\"annual\">Báo cáo năm (10/12)</option></select></label>"
      "<label>Năm <input name=\"year\" value=\"2023\" inputmode=\"numeric\"></label>"
      "<label>Định dạng <select name=\"format\"><option value=\"html\">HTML</option><option value=\"xlsx\">Excel (XLSX)</option>"
      "<option value=\"json\">JSON</option><option value=\"docx\">Word (.docx): dự thảo theo Nghị định 30/2020/NĐ-CP</option>"
      "</select></label><button type=\"submit\">Tải về</button></form>"
      "<h2>Tiến độ lập báo cáo</h2>" + JobBars(r, "report");
  return Layout(r, "/reports", "Tải báo cáo", b);
}

}  // namespace

nlohmann::json RedactConfig(const nlohmann::json& config) {
  static const std::regex secret(R"((password|secret|token|passphrase|private|credential|api_key|apikey)(?!_(env|file)$))",
                                 std::regex::icase);
  std::function<json(const json&, int)> walk = [&](const json& j, int depth) -> json {
    if (depth > 32) return "***";
    if (j.is_object()) {
      json out = json::object();
      for (const auto& [k, v] : j.items())
        out[k] = std::regex_search(k, secret) && !v.is_object() && !v.is_array() ? json("***") : walk(v, depth + 1);
      return out;
    }
    if (j.is_array()) {
      json out = json::array();
      for (const auto& v : j) out.push_back(walk(v, depth + 1));
      return out;
    }
    return j;
  };
  return walk(config, 0);
}

std::optional<std::string> RenderPage(const std::string& path, const PageRequest& r) {
  if (path == "/health") return Health(r);
  if (path == "/indicators") return Indicators(r);
  if (path == "/explain") return Explain(r);
  if (path == "/petitions") return Petitions(r);
  if (path == "/review") return Review(r);
  if (path == "/outbox") return Outbox(r);
  if (path == "/mappings") return Mappings(r);
  if (path == "/config") return Config(r);
  if (path == "/reports") return Reports(r);
  if (path == "/audit") return Audit(r);
  return std::nullopt;
}

std::string RenderLogin(const std::string& message, bool https) {
  return "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Đăng nhập — danvan</title>"
         "<link rel=\"stylesheet\" href=\"/static/console.css\"></head><body class=\"login\"><main>"
         "<h1>Bảng điều khiển danvan</h1>" +
         (message.empty() ? "" : "<div class=\"error\" role=\"alert\" id=\"login-error\">" + E(message) + "</div>") +
         "<form method=\"post\" action=\"/login\" id=\"login\"><label>Tên đăng nhập <input name=\"username\" "
         "autocomplete=\"username\" required></label><label>Mật khẩu <input type=\"password\" name=\"password\" "
         "autocomplete=\"current-password\" required></label><button type=\"submit\">Đăng nhập</button></form>" +
         (https ? "" : "<p class=\"note\">Kết nối chỉ trong máy (loopback), không mã hóa.</p>") + "</main></body></html>";
}

}  // namespace danvan::console
