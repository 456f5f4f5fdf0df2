#include "reports/writers.h"

#include <unistd.h>
#include <xlsxwriter.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "core/timeutil.h"
#include "reports/tables.h"

namespace danvan::reports {
namespace {

namespace fs = std::filesystem;

Status WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IoError("không ghi được tệp " + path.string());
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return Status::IoError("không ghi được tệp " + path.string());
  return Status::Ok();
}

// Display width of a UTF-8 string in characters (for column widths).
size_t Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string RenderJson(const ReportModel& m) { return ToJson(m).dump(2) + "\n"; }

std::string CsvText(const std::string& s) {
  if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos) return "'" + s;
  return s;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",;\"\t\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<CsvFile> RenderCsv(const ReportModel& m) {
  std::vector<CsvFile> files;
  for (const Table& t : BuildTables(m)) {
    std::string s = "\xEF\xBB\xBF";  // UTF-8 BOM: Excel then reads the diacritics correctly
    for (size_t i = 0; i < t.headers.size(); ++i) s += (i ? "," : "") + CsvField(CsvText(t.headers[i]));
    s += "\r\n";
    for (const auto& row : t.rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        const Cell& c = row[i];
        // A computed number stays as written; any other text cannot start a formula.
        s += (i ? "," : "") + CsvField(c.number ? c.text : CsvText(c.text));
      }
      s += "\r\n";
    }
    files.push_back({t.id + ".csv", std::move(s)});
  }
  return files;
}

Status WriteCsvFiles(const ReportModel& m, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("không tạo được thư mục " + dir + ": " + ec.message());
  for (const CsvFile& f : RenderCsv(m)) {
    Status st = WriteFile(fs::path(dir) / f.name, f.content);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status WriteXlsx(const ReportModel& m, const std::string& path) {
  lxw_workbook_options options = {};
  options.constant_memory = LXW_FALSE;
  lxw_workbook* wb = workbook_new_opt(path.c_str(), &options);
  if (!wb) return Status::IoError("không tạo được tệp XLSX " + path);
  // Document properties: fixed creation time from the model, so output does not depend on now.
  const std::string when = !m.meta.generated_at.empty() ? m.meta.generated_at : m.meta.cut_off;
  lxw_doc_properties props = {};
  const std::string title = ReportTitle(m.meta);
  props.title = const_cast<char*>(title.c_str());
  props.author = const_cast<char*>("danvan");
  if (auto t = ParseIsoTime(when, 420))
    props.created = static_cast<time_t>(*t / 1000);
  else
    props.created = 315532800;  // 1980-01-01, the ZIP epoch
  workbook_set_properties(wb, &props);

  lxw_format* head = workbook_add_format(wb);
  format_set_bold(head);
  format_set_bg_color(head, 0xDCE6F1);
  format_set_border(head, LXW_BORDER_THIN);
  format_set_text_wrap(head);
  format_set_align(head, LXW_ALIGN_VERTICAL_CENTER);
  lxw_format* title_fmt = workbook_add_format(wb);
  format_set_bold(title_fmt);
  format_set_font_size(title_fmt, 13);
  lxw_format* text = workbook_add_format(wb);
  format_set_border(text, LXW_BORDER_THIN);
  format_set_text_wrap(text);
  format_set_align(text, LXW_ALIGN_VERTICAL_TOP);
  std::map<std::string, lxw_format*> num_formats;
  auto num_fmt = [&](const std::string& f) {
    auto it = num_formats.find(f);
    if (it != num_formats.end()) return it->second;
    lxw_format* nf = workbook_add_format(wb);
    format_set_num_format(nf, f.c_str());
    format_set_border(nf, LXW_BORDER_THIN);
    format_set_align(nf, LXW_ALIGN_VERTICAL_TOP);
    num_formats[f] = nf;
    return nf;
  };

  for (const Table& t : BuildTables(m)) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, t.sheet.c_str());
    if (!ws) {
      workbook_close(wb);
      return Status::Internal("không tạo được trang tính '" + t.sheet + "'");
    }
    worksheet_write_string(ws, 0, 0, t.title.c_str(), title_fmt);
    std::vector<size_t> width(t.headers.size(), 6);
    for (size_t c = 0; c < t.headers.size(); ++c) {
      worksheet_write_string(ws, 1, static_cast<lxw_col_t>(c), t.headers[c].c_str(), head);
      width[c] = std::max(width[c], Chars(t.headers[c]) + 2);
    }
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto row_no = static_cast<lxw_row_t>(r + 2);
      for (size_t c = 0; c < t.rows[r].size(); ++c) {
        const Cell& cell = t.rows[r][c];
        const auto col = static_cast<lxw_col_t>(c);
        if (cell.number) {
          worksheet_write_number(ws, row_no, col, *cell.number, num_fmt(cell.num_format));
        } else {
          worksheet_write_string(ws, row_no, col, cell.text.c_str(), text);
        }
        if (c < width.size())
          width[c] = std::max(width[c], std::min<size_t>(Chars(cell.text) + 2, 60));
      }
    }
    for (size_t c = 0; c < width.size(); ++c)
      worksheet_set_column(ws, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c),
                           static_cast<double>(width[c]), nullptr);
    worksheet_freeze_panes(ws, 2, 0);
    worksheet_set_landscape(ws);
    worksheet_set_paper(ws, 9);  // A4
    worksheet_fit_to_pages(ws, 1, 0);
  }
  lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR)
    return Status::IoError("lỗi ghi tệp XLSX " + path + ": " + lxw_strerror(err));
  return Status::Ok();
}

Result<std::string> RenderXlsx(const ReportModel& m, const std::string& tmp_dir) {
  std::error_code ec;
  fs::path dir = tmp_dir.empty() ? fs::temp_directory_path(ec) : fs::path(tmp_dir);
  if (ec) return Status::IoError("không tìm được thư mục tạm: " + ec.message());
  std::string tmpl = (dir / "danvan-report-XXXXXX").string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return Status::IoError("không tạo được tệp tạm trong " + dir.string());
  close(fd);
  Status st = WriteXlsx(m, tmpl);
  std::string bytes;
  if (st.ok()) {
    std::ifstream in(tmpl, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  fs::remove(tmpl, ec);
  if (!st.ok()) return st;
  return bytes;
}

Status WriteAll(const ReportModel& m, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("không tạo được thư mục " + dir + ": " + ec.message());
  Status st = WriteFile(fs::path(dir) / "report.json", RenderJson(m));
  if (st.ok()) st = WriteFile(fs::path(dir) / "report.html", RenderHtml(m));
  if (st.ok()) st = WriteXlsx(m, (fs::path(dir) / "report.xlsx").string());
  if (st.ok()) st = WriteCsvFiles(m, (fs::path(dir) / "csv").string());
  return st;
}

Result<std::string> ConfineReportPath(const std::string& reports_dir, const std::string& requested) {
  if (requested.empty()) return Status::InvalidInput("/path: cần thư mục để ghi báo cáo");
  for (unsigned char ch : requested)
    if (ch < 0x20 || ch == 0x7f)
      return Status::InvalidInput("/path: đường dẫn chứa ký tự điều khiển");
  std::error_code ec;
  // weakly_canonical: symbolic links of the components that exist are followed, "." and ".."
  // of the rest are folded lexically.
  // Without a trailing separator (a directory that does not exist yet keeps it).
  auto tidy = [](fs::path p) {
    p = p.lexically_normal();
    return p.has_filename() || !p.has_relative_path() ? p : p.parent_path();
  };
  const fs::path base = tidy(fs::weakly_canonical(fs::absolute(reports_dir, ec), ec));
  if (ec || base.empty())
    return Status::IoError("không xác định được thư mục báo cáo (reports.dir) " + reports_dir + ": " +
                           ec.message());
  const fs::path asked(requested);
  const fs::path target = tidy(fs::weakly_canonical(asked.is_absolute() ? asked : base / asked, ec));
  if (ec) return Status::InvalidInput("/path: không xác định được đường dẫn " + requested + ": " + ec.message());
  const fs::path rel = target.lexically_relative(base);
  const bool inside = !rel.empty() && rel.is_relative() && *rel.begin() != "..";
  if (!inside)
    return Status::InvalidInput("/path: báo cáo chỉ được ghi trong thư mục báo cáo đã cấu hình (reports.dir: " +
                                base.string() + "); " + requested + " nằm ngoài thư mục đó");
  return target.string();
}

}  // namespace danvan::reports
