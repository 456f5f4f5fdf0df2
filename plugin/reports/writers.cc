#include "reports/writers.h"

#include <fcntl.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string_view>
#include <system_error>

#include "core/timeutil.h"
#include "reports/tables.h"

namespace danvan::reports {
namespace {

namespace fs = std::filesystem;

std::string WriteError(const fs::path& path) { return "không ghi được tệp " + path.string(); }
std::string WriteError(const fs::path& path, int err) {
  return WriteError(path) + ": " + std::generic_category().message(err);
}

// Writes `path` so that it appears whole or not at all: `write` fills a new file beside it,
// "<dir>/.<name>.tmp-<pid>-<n>" (created exclusively, default permissions), which is synced
// and renamed over `path`. On any failure the temporary file is removed and whatever was at
// `path` stays as it was. Thread-safe (the counter is atomic; each call has its own file).
Status ReplaceFile(const fs::path& path,
                   const std::function<Status(const std::string& tmp)>& write) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  for (;;) {
    tmp = (path.parent_path() / ("." + path.filename().string() + ".tmp-" +
                                 std::to_string(getpid()) + "-" + std::to_string(counter++)))
              .string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    if (errno != EEXIST) return Status::IoError(WriteError(path, errno));
  }
  Status st = write(tmp);
  if (st.ok()) {
    // The data reaches the disk before the name does: after a crash the file is the old one
    // or the whole new one.
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) st = Status::IoError(WriteError(path, errno));
    if (fd >= 0) ::close(fd);
  }
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
    st = Status::IoError(WriteError(path, errno));
  if (!st.ok()) {
    std::error_code ec;
    fs::remove(tmp, ec);
  }
  return st;
}

// ReplaceFile through a buffered stream: `write` streams the content, one piece at a time.
Status WriteStreamed(const fs::path& path, const std::function<Status(std::ostream&)>& write) {
  return ReplaceFile(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(WriteError(path));
    Status st = write(out);
    out.close();
    if (!st.ok()) return st;
    if (!out) return Status::IoError(WriteError(path));
    return Status::Ok();
  });
}

// Display width of a UTF-8 string in characters (for column widths).
size_t Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// One CSV file: BOM, header line, then the rows as they are made.
void WriteCsvTable(const TableSource& t, std::ostream& o) {
  o << "\xEF\xBB\xBF";  // UTF-8 BOM: Excel then reads the diacritics correctly
  std::string line;
  for (size_t i = 0; i < t.headers.size(); ++i)
    line += (i ? "," : "") + CsvField(CsvText(t.headers[i]));
  o << line << "\r\n";
  t.for_each_row([&](const Row& row) {
    line.clear();
    for (size_t i = 0; i < row.size(); ++i) {
      const Cell& c = row[i];
      // A computed number stays as written; any other text cannot start a formula.
      line += (i ? "," : "") + CsvField(c.number ? c.text : CsvText(c.text));
    }
    line += "\r\n";
    o << line;
    return static_cast<bool>(o);
  });
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
  for (const TableSource& t : TableSources(m)) {
    std::ostringstream o;
    WriteCsvTable(t, o);
    files.push_back({t.id + ".csv", std::move(o).str()});
  }
  return files;
}

std::vector<std::string> CsvFileNames(const ReportModel& m) {
  std::vector<std::string> names;
  for (const TableSource& t : TableSources(m)) names.push_back(t.id + ".csv");
  return names;
}

Status WriteCsvFiles(const ReportModel& m, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("không tạo được thư mục " + dir + ": " + ec.message());
  for (const TableSource& t : TableSources(m)) {
    Status st = WriteStreamed(fs::path(dir) / (t.id + ".csv"), [&](std::ostream& o) {
      WriteCsvTable(t, o);
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

namespace {

// The workbook written by libxlsxwriter at `path` (not atomic by itself: see WriteXlsx);
// errors name `shown`, the file the caller asked for.
Status WriteXlsxAt(const ReportModel& m, const std::string& path, const std::string& shown) {
  lxw_workbook_options options = {};
  // constant_memory: libxlsxwriter flushes each row to a temporary file once the next row is
  // begun, so a 10M-event report holds one row, not every cell (+54 MiB at 10M otherwise;
  // RESULTS.md). Precondition of that mode: rows are written in increasing order (they are:
  // title, headers, then the table's rows), and strings are written inline (t="inlineStr")
  // instead of in the shared string table: the same cells, read by Excel and LibreOffice alike.
  // The temporary file goes beside the report (the report directory's permissions), not to /tmp.
  options.constant_memory = LXW_TRUE;
  const std::string tmpdir = fs::path(path).parent_path().string();
  options.tmpdir = const_cast<char*>(tmpdir.empty() ? "." : tmpdir.c_str());
  lxw_workbook* wb = workbook_new_opt(path.c_str(), &options);
  if (!wb) return Status::IoError("không tạo được tệp XLSX " + shown);
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

  for (const TableSource& t : TableSources(m)) {
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
    lxw_row_t row_no = 2;
    t.for_each_row([&](const Row& row) {
      for (size_t c = 0; c < row.size(); ++c) {
        const Cell& cell = row[c];
        const auto col = static_cast<lxw_col_t>(c);
        if (cell.number) {
          worksheet_write_number(ws, row_no, col, *cell.number, num_fmt(cell.num_format));
        } else {
          worksheet_write_string(ws, row_no, col, cell.text.c_str(), text);
        }
        if (c < width.size())
          width[c] = std::max(width[c], std::min<size_t>(Chars(cell.text) + 2, 60));
      }
      ++row_no;
      return true;
    });
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
    return Status::IoError("lỗi ghi tệp XLSX " + shown + ": " + lxw_strerror(err));
  return Status::Ok();
}

Status WriteHtmlFile(const ReportModel& m, const std::string& path) {
  return WriteStreamed(path, [&](std::ostream& o) {
    WriteHtml(m, o);
    return Status::Ok();
  });
}

Status WriteJsonFile(const ReportModel& m, const std::string& path) {
  return WriteStreamed(path, [&](std::ostream& o) { return WriteJson(m, o); });
}

}  // namespace

Status WriteXlsx(const ReportModel& m, const std::string& path) {
  return ReplaceFile(path, [&](const std::string& tmp) { return WriteXlsxAt(m, tmp, path); });
}

Result<std::string> RenderXlsx(const ReportModel& m, const std::string& tmp_dir) {
  std::error_code ec;
  fs::path dir = tmp_dir.empty() ? fs::temp_directory_path(ec) : fs::path(tmp_dir);
  if (ec) return Status::IoError("không tìm được thư mục tạm: " + ec.message());
  std::string tmpl = (dir / "danvan-report-XXXXXX").string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return Status::IoError("không tạo được tệp tạm trong " + dir.string());
  close(fd);
  Status st = WriteXlsxAt(m, tmpl, tmpl);
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
  Status st = WriteJsonFile(m, (fs::path(dir) / "report.json").string());
  if (st.ok()) st = WriteHtmlFile(m, (fs::path(dir) / "report.html").string());
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
