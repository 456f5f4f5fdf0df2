// Report writers. All render from the ReportModel (report_model.h) through TableSources
// (tables.h) and are deterministic: the same model gives the same bytes (XLSX: the same sheet
// XML; its document properties carry meta.generated_at, or the period's cut-off day, never the
// current time). Thread-safe: no shared state. Errors are Status values, never exceptions.
//
// Memory: the file writers (WriteAll, WriteCsvFiles, WriteXlsx) stream each table row by row
// and the JSON item by item into a buffered file, so beyond the model they hold one row or one
// item, whatever the size of a listing; the Render* functions build the whole text in memory
// (tests, small models). XLSX is the exception: libxlsxwriter keeps every cell until the
// workbook is closed (see WriteXlsx). Every file is written to a temporary file beside it and
// renamed when complete: it appears whole or not at all, and a failed write leaves the
// previous file in place.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "reports/report_model.h"

namespace danvan::reports {

// The report JSON (ToJson(model), summary filled), pretty-printed with 2 spaces and a final
// newline; keys are sorted, so it is byte-stable. The files get the same bytes from WriteJson
// (report_model.h) without the document.
std::string RenderJson(const ReportModel& m);

struct CsvFile {
  std::string name;     // "xep-hang.csv"
  std::string content;  // UTF-8 with BOM, CRLF line ends, RFC 4180 quoting
};
// One file per table (tables.h order). Formula injection (OWASP "CSV injection"): a text cell
// (every cell without a computed number: text from records or configuration, headers) that
// starts with '=', '+', '-', '@', a tab or a CR is written after a single quote (CsvText), so
// Excel and LibreOffice show it as text; cells holding a number the report computed keep their
// text ("-2", "+3,2 điểm %"). XLSX needs no quote: text is written as string cells, never as
// formulas; HTML escapes it.
std::vector<CsvFile> RenderCsv(const ReportModel& m);
// The names RenderCsv and WriteCsvFiles give the files, without rendering them.
std::vector<std::string> CsvFileNames(const ReportModel& m);
// `s` with a leading single quote when it starts with = + - @ tab or CR; otherwise `s`.
std::string CsvText(const std::string& s);
// RFC 4180 field: quoted when it contains ',', ';', '"', a tab, CR or LF (quotes doubled).
// ';' is quoted too: Excel splits on it where it is the list separator (Vietnamese Windows
// settings), and an unquoted ";=..." would start a new cell.
std::string CsvField(const std::string& s);
// Writes RenderCsv(m) into `dir` (created if missing), one file at a time, row by row. IoError
// names the file.
Status WriteCsvFiles(const ReportModel& m, const std::string& dir);

// One sheet per table, Vietnamese headings, numbers stored as numbers with formats. The rows
// are made one at a time, but libxlsxwriter holds every cell (and the shared strings) until
// the file is closed: its constant_memory mode would write strings inline and change the bytes.
Status WriteXlsx(const ReportModel& m, const std::string& path);
// The XLSX bytes (written through a temporary file in `tmp_dir`, default the system's).
Result<std::string> RenderXlsx(const ReportModel& m, const std::string& tmp_dir = "");

// A self-contained printable HTML page: inline CSS (with print rules) and inline SVG charts
// (scores by unit, indicator bars); no scripts, no external resources.
std::string RenderHtml(const ReportModel& m);
// The same page written to `out` a table row at a time; the stream's failure is the caller's
// to check (a failed stream stops the tables' rows).
void WriteHtml(const ReportModel& m, std::ostream& out);

// Writes report.json, report.html, report.xlsx and csv/<table>.csv under `dir`.
Status WriteAll(const ReportModel& m, const std::string& dir);

// Where a `report` request may write: `requested` (the op's `path`; relative to `reports_dir`,
// or absolute) resolved against the configured reports directory. The answer is an absolute
// path inside `reports_dir` (the directory itself or below it); "..", and symbolic links of
// existing components, are resolved before the check, so neither `../../etc` nor a link in
// the reports directory pointing elsewhere gets out. InvalidInput naming `/path` otherwise,
// and for an empty path or one with control characters (a NUL would cut the path the system
// sees). Not a guard against a link created between the check and the write: the reports
// directory belongs to the administrator.
Result<std::string> ConfineReportPath(const std::string& reports_dir, const std::string& requested);

}  // namespace danvan::reports
