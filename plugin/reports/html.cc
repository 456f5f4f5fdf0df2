// Printable HTML report: one self-contained page (inline CSS and SVG, no scripts, no URLs).
#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <sstream>

#include "reports/tables.h"
#include "reports/vnformat.h"
#include "reports/writers.h"

namespace danvan::reports {
namespace {

std::string Esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// SVG coordinates with one decimal, '.' as SVG requires.
std::string F(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// At most `max_chars` UTF-8 characters, with "…" when cut.
std::string Shorten(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars) return s.substr(0, i) + "…";
    ++chars;
  }
  return s;
}

const char* RatingColor(const std::string& rating) {
  static const std::map<std::string, const char*> colors = {{"Xuất sắc", "#1b7a3d"},
                                                            {"Tốt", "#3d8fd1"},
                                                            {"Khá", "#e0a526"},
                                                            {"Trung bình", "#e07b26"},
                                                            {"Yếu", "#c0392b"}};
  auto it = colors.find(rating);
  return it == colors.end() ? "#9aa3ad" : it->second;
}

constexpr const char* kCss = R"CSS(
:root { --ink: #1d2733; --line: #c9d1da; --head: #dce6f1; }
* { box-sizing: border-box; }
body { font-family: "Times New Roman", "DejaVu Serif", serif; color: var(--ink); margin: 24px auto; max-width: 1100px; padding: 0 16px; font-size: 14px; line-height: 1.45; }
header { text-align: center; border-bottom: 2px solid var(--ink); padding-bottom: 8px; margin-bottom: 16px; }
header .org { margin: 0; font-weight: bold; text-transform: uppercase; }
h1 { font-size: 20px; margin: 8px 0; }
h2 { font-size: 17px; margin: 22px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.sub { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: var(--head); }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.empty { font-style: italic; color: #56606b; }
ul.summary li { margin: 3px 0; }
svg { display: block; margin: 6px 0 12px; max-width: 100%; height: auto; }
svg text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 12px; fill: var(--ink); }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
footer { margin-top: 24px; border-top: 1px solid var(--line); padding-top: 6px; font-size: 12px; color: #56606b; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 12px; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  tr, svg { break-inside: avoid; }
  thead { display: table-header-group; }
  section { break-inside: auto; }
}
)CSS";

// Writes the table row by row: one row's text is held at a time.
void WriteTable(std::ostream& o, const TableSource& t, bool with_title) {
  if (with_title) o << "<h3>" << Esc(t.title) << "</h3>\n";
  if (t.row_count == 0) {
    o << "<p class=\"empty\">Không có.</p>\n";
    return;
  }
  o << "<table>\n<thead><tr>";
  for (const std::string& h : t.headers) o << "<th>" << Esc(h) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  std::string line;
  t.for_each_row([&](const Row& row) {
    line = "<tr>";
    for (const Cell& c : row) {
      const bool numeric = c.number.has_value() || c.text == "—";
      line += numeric ? "<td class=\"n\">" : "<td>";
      line += Esc(c.text) + "</td>";
    }
    line += "</tr>\n";
    o << line;
    return static_cast<bool>(o);
  });
  o << "</tbody>\n</table>\n";
}

// Horizontal bars: total score per unit, coloured by rating, gridlines at quarters of the max.
void WriteScoreChart(std::ostream& out, const PackedScores& scores) {
  if (scores.empty()) return;
  double max_points = 0;
  for (const ScoreSummary& s : scores) max_points = std::max(max_points, s.max_points);
  if (max_points <= 0) max_points = 100;
  const double label_w = 330, bar_w = 420, row_h = 22, top = 22;
  const double width = label_w + bar_w + 170;
  const double height = top + row_h * scores.size() + 8;
  std::string o = "<svg role=\"img\" aria-label=\"Biểu đồ điểm theo đơn vị\" width=\"" + F(width) +
                  "\" height=\"" + F(height) + "\" viewBox=\"0 0 " + F(width) + " " + F(height) +
                  "\">\n";
  for (int q = 0; q <= 4; ++q) {
    const double x = label_w + bar_w * q / 4.0;
    o += "<line x1=\"" + F(x) + "\" y1=\"" + F(top - 4) + "\" x2=\"" + F(x) + "\" y2=\"" +
         F(height - 6) + "\" stroke=\"#c9d1da\" stroke-width=\"1\"/>";
    o += "<text x=\"" + F(x) + "\" y=\"" + F(top - 8) + "\" text-anchor=\"middle\">" +
         Esc(FormatNumberVn(max_points * q / 4.0, 1)) + "</text>\n";
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    out << o;  // one unit's bar at a time
    o.clear();
    const ScoreSummary& s = scores[i];
    const double y = top + row_h * i;
    const double w = bar_w * std::clamp(s.total / max_points, 0.0, 1.0);
    std::string label = (s.rank ? std::to_string(*s.rank) + ". " : "– ") +
                        Shorten(s.unit.name.empty() ? s.unit.code : s.unit.name, 44);
    o += "<text x=\"" + F(label_w - 8) + "\" y=\"" + F(y + 15) + "\" text-anchor=\"end\">" +
         Esc(label) + "</text>";
    o += "<rect x=\"" + F(label_w) + "\" y=\"" + F(y + 3) + "\" width=\"" + F(w) + "\" height=\"" +
         F(row_h - 6) + "\" fill=\"" + RatingColor(s.rating) + "\"" +
         (s.eligible ? "" : " fill-opacity=\"0.5\"") + "/>";
    o += "<text x=\"" + F(label_w + w + 6) + "\" y=\"" + F(y + 15) + "\">" +
         Esc(FormatNumberVn(s.total, 2)) + " – " + Esc(s.rating) + "</text>\n";
  }
  o += "</svg>\n<p class=\"legend\">";
  for (const char* r : {"Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"})
    o += "<span><i style=\"background:" + std::string(RatingColor(r)) + "\"></i>" + r + "</span>";
  o += "<span><i style=\"background:" + std::string(RatingColor("")) +
       "\"></i>Khác (Không xếp loại)</span>";
  out << o << "</p>\n";
}

// Percentage indicators of one table: this period (full bar) and the previous (thin bar).
std::string IndicatorChart(const IndicatorTable& t) {
  std::vector<const IndicatorRow*> rows;
  for (const IndicatorRow& r : t.rows) {
    const std::string fmt = r.format.empty() ? DefaultIndicatorFormat(r.indicator_id) : r.format;
    if (fmt == "percent" && r.current && r.current->ratio) rows.push_back(&r);
  }
  if (rows.empty()) return "";
  const double label_w = 300, bar_w = 400, row_h = 26, top = 22;
  const double width = label_w + bar_w + 80;
  const double height = top + row_h * rows.size() + 8;
  std::string o = "<svg role=\"img\" aria-label=\"Biểu đồ chỉ số " + Esc(t.title) + "\" width=\"" +
                  F(width) + "\" height=\"" + F(height) + "\" viewBox=\"0 0 " + F(width) + " " +
                  F(height) + "\">\n";
  for (int q = 0; q <= 4; ++q) {
    const double x = label_w + bar_w * q / 4.0;
    o += "<line x1=\"" + F(x) + "\" y1=\"" + F(top - 4) + "\" x2=\"" + F(x) + "\" y2=\"" +
         F(height - 6) + "\" stroke=\"#c9d1da\" stroke-width=\"1\"/>";
    o += "<text x=\"" + F(x) + "\" y=\"" + F(top - 8) + "\" text-anchor=\"middle\">" +
         std::to_string(q * 25) + "%</text>\n";
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const IndicatorRow& r = *rows[i];
    const double y = top + row_h * i;
    const double cur = std::clamp(*r.current->ratio, 0.0, 1.0);
    const std::string label = r.label.empty() ? DefaultIndicatorLabel(r.indicator_id) : r.label;
    o += "<text x=\"" + F(label_w - 8) + "\" y=\"" + F(y + 15) + "\" text-anchor=\"end\">" +
         Esc(label) + "</text>";
    o += "<rect x=\"" + F(label_w) + "\" y=\"" + F(y + 3) + "\" width=\"" + F(bar_w * cur) +
         "\" height=\"14\" fill=\"#3d8fd1\"/>";
    if (r.previous && r.previous->ratio) {
      const double prev = std::clamp(*r.previous->ratio, 0.0, 1.0);
      o += "<rect x=\"" + F(label_w) + "\" y=\"" + F(y + 19) + "\" width=\"" + F(bar_w * prev) +
           "\" height=\"4\" fill=\"#9aa3ad\"/>";
    }
    o += "<text x=\"" + F(label_w + bar_w * cur + 6) + "\" y=\"" + F(y + 15) + "\">" +
         Esc(FormatPercentVn(r.current->ratio)) + "</text>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace

void WriteHtml(const ReportModel& m, std::ostream& o) {
  const std::vector<TableSource> tables = TableSources(m);
  auto find = [&](const std::string& id) -> const TableSource* {
    for (const TableSource& t : tables)
      if (t.id == id) return &t;
    return nullptr;
  };
  const std::string title = ReportTitle(m.meta);
  o << "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
    << Esc(title) << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n<header>\n";
  if (!m.meta.unit.name.empty()) o << "<p class=\"org\">" + Esc(m.meta.unit.name) + "</p>\n";
  o << "<h1>" + Esc(title) + "</h1>\n";
  o << "<p class=\"sub\">Kỳ báo cáo: " +
           Esc(m.meta.period.label.empty() ? "" : m.meta.period.label + ", ") + "từ " +
           Esc(FormatDateVn(m.meta.period.from)) + " đến " + Esc(FormatDateVn(m.meta.period.to)) +
           " · Ngày chốt số liệu: " + Esc(FormatDateVn(m.meta.cut_off)) + "</p>\n";
  if (!m.meta.due.empty())
    o << "<p class=\"sub\">Hạn gửi báo cáo: " + Esc(FormatDateVn(m.meta.due)) + "</p>\n";
  o << "</header>\n";

  o << "<section>\n<h2>I. Tóm tắt kết quả</h2>\n<ul class=\"summary\">\n";
  const std::vector<std::string> summary = m.summary.empty() ? ComposeSummary(m) : m.summary;
  for (const std::string& s : summary) o << "<li>" + Esc(s) + "</li>\n";
  if (summary.empty()) o << "<li class=\"empty\">Chưa có số liệu.</li>\n";
  o << "</ul>\n</section>\n";

  o << "<section>\n<h2>II. Điểm, xếp loại và xếp hạng</h2>\n";
  if (!m.meta.rubric_id.empty())
    o << "<p>Bộ tiêu chí: " + Esc(m.meta.rubric_id) + ", phiên bản " + Esc(m.meta.rubric_version) +
             ".</p>\n";
  WriteScoreChart(o, m.scores);
  if (const TableSource* t = find("xep-hang")) WriteTable(o, *t, false);
  o << "<p>Quy tắc xếp hạng: đơn vị bằng điểm được xếp đồng hạng, hạng kế tiếp bỏ qua số hạng "
       "tương ứng (1, 2, 2, 4); "
       "đơn vị không đủ điều kiện được ghi \"Không xếp loại\" và không xếp hạng.</p>\n</section>\n";

  o << "<section>\n<h2>III. Các chỉ số</h2>\n";
  for (const IndicatorTable& it : m.indicator_tables) {
    const TableSource* t = find("chi-so-" + it.id);
    if (!t) continue;
    o << "<h3>" + Esc(t->title) + "</h3>\n" + IndicatorChart(it);
    WriteTable(o, *t, false);
  }
  if (m.indicator_tables.empty()) o << "<p class=\"empty\">Không có.</p>\n";
  o << "</section>\n";

  o << "<section>\n<h2>IV. Điểm theo từng tiêu chí</h2>\n";
  if (const TableSource* t = find("diem-tieu-chi")) WriteTable(o, *t, false);
  o << "</section>\n";

  o << "<section>\n<h2>V. Các việc cần chỉ đạo</h2>\n";
  for (const char* id : {"don-qua-han", "vu-viec-phuc-tap", "thang-chua-tiep-dan", "nhiem-vu-cham",
                         "mo-hinh-dan-van-kheo"})
    if (const TableSource* t = find(id)) WriteTable(o, *t, true);
  o << "</section>\n<footer>";
  o << "Báo cáo do danvan lập từ số liệu đến hết ngày " + Esc(FormatDateVn(m.meta.cut_off));
  if (!m.meta.generated_by.empty()) o << " · Người lập: " + Esc(m.meta.generated_by);
  if (!m.meta.generated_at.empty()) o << " · Lập ngày " + Esc(FormatDateVn(m.meta.generated_at));
  o << ".</footer>\n</body>\n</html>\n";
}

std::string RenderHtml(const ReportModel& m) {
  std::ostringstream o;
  WriteHtml(m, o);
  return std::move(o).str();
}

}  // namespace danvan::reports
