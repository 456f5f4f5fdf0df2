// Report tests: Vietnamese formats, the model's JSON, golden files for a fixed model (JSON, CSV,
// HTML), CSV BOM and quoting, XLSX read back with python3's zipfile, the HTML opened in
// headless Chromium with no console errors (a screenshot is left in the build directory), and
// the streaming file writers (same bytes, atomic files).
//
// The fixed model is built by the scoring engine from tests/reports/golden/fixture-inputs.json
// with a frozen copy of the default rubric (golden/rubric-danvan-default-2023.1.json), then
// compared with golden/report-six-month.json. To regenerate after an intended change:
//   DANVAN_UPDATE_GOLDEN=1 ./danvan_reports_tests   (and review the diff before committing)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "reports/report_model.h"
#include "reports/tables.h"
#include "reports/vnformat.h"
#include "reports/writers.h"
#include "scoring/rubric.h"
#include "scoring/scoring.h"

namespace danvan::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = fs::path(DANVAN_SOURCE_ROOT) / "tests/reports/golden";
const fs::path kOut = DANVAN_REPORTS_TEST_OUT;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

bool Updating() { return std::getenv("DANVAN_UPDATE_GOLDEN") != nullptr; }

// Compares with a golden file, reporting the first differing line.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const fs::path p = kGolden / name;
  if (Updating()) {
    WriteFile(p, actual);
    return;
  }
  ASSERT_TRUE(fs::exists(p)) << "missing golden file " << p;
  const std::string expected = ReadFile(p);
  if (expected == actual) return;
  std::istringstream a(actual), e(expected);
  std::string la, le;
  int line = 0;
  while (true) {
    ++line;
    const bool ga = static_cast<bool>(std::getline(a, la));
    const bool ge = static_cast<bool>(std::getline(e, le));
    if (!ga && !ge) break;
    if (la != le || ga != ge) {
      ADD_FAILURE() << name << " differs at line " << line << "\n expected: " << le
                    << "\n actual:   " << la;
      return;
    }
  }
  ADD_FAILURE() << name << " differs (line endings?)";
}

// Scores the fixture units with the frozen rubric and assembles the report model.
ReportModel BuildFixtureModel() {
  json in = json::parse(ReadFile(kGolden / "fixture-inputs.json"));
  auto rubric = scoring::Rubric::FromFile((kGolden / "rubric-danvan-default-2023.1.json").string());
  EXPECT_TRUE(rubric.ok()) << rubric.status().ToString();
  std::vector<scoring::UnitScore> scores;
  for (const json& u : in["units"]) {
    json inputs = {{"unit", u["unit"]},
                   {"period", in["meta"]["period"]},
                   {"indicators", u["indicators"]},
                   {"manual", u["manual"]}};
    auto si = scoring::ScoreInputsFromJson(inputs);
    EXPECT_TRUE(si.ok()) << si.status().ToString();
    auto s = scoring::ScoreUnit(*rubric, *si);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    scores.push_back(std::move(s).value());
  }
  auto ranked = scoring::Rank(scores);
  EXPECT_TRUE(ranked.ok()) << ranked.status().ToString();
  json model = {{"meta", in["meta"]},
                {"indicator_tables", in["indicator_tables"]},
                {"actions", in["actions"]},
                {"scores", json::array()}};
  model["meta"]["rubric"] = {{"id", rubric->id()}, {"version", rubric->version()}};
  for (const auto& s : *ranked) model["scores"].push_back(scoring::ToJson(s));
  auto m = ReportModelFromJson(model);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

// The golden model as checked in (what the writers' golden outputs are rendered from).
ReportModel GoldenModel() {
  auto m = ReportModelFromJson(json::parse(ReadFile(kGolden / "report-six-month.json")));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

// ---- Vietnamese formats ----

TEST(VnFormat, NumbersPercentagesDates) {
  EXPECT_EQ(FormatPercentVn(0.955), "95,5%");
  EXPECT_EQ(FormatPercentVn(1.0), "100%");
  EXPECT_EQ(FormatPercentVn(2.0 / 3.0), "66,7%");
  EXPECT_EQ(FormatPercentVn(0.0), "0%");
  EXPECT_EQ(FormatPercentVn(std::nullopt), "—");
  EXPECT_EQ(FormatNumberVn(1234567.25, 1), "1.234.567,3");
  EXPECT_EQ(FormatNumberVn(1000, 0), "1.000");
  EXPECT_EQ(FormatNumberVn(999, 2), "999");
  EXPECT_EQ(FormatNumberVn(95.5, 2), "95,5");
  EXPECT_EQ(FormatNumberVn(2.675, 2), "2,68");
  EXPECT_EQ(FormatNumberVn(-5, 0), "-5");
  EXPECT_EQ(FormatNumberVn(-0.001, 2), "0");
  EXPECT_EQ(FormatNumberVn(-1234.5, 1), "-1.234,5");
  EXPECT_EQ(FormatPointChangeVn(0.025), "+2,5 điểm %");
  EXPECT_EQ(FormatPointChangeVn(-0.01), "-1 điểm %");
  EXPECT_EQ(FormatPointChangeVn(0), "0 điểm %");
  EXPECT_EQ(FormatCountChangeVn(3), "+3");
  EXPECT_EQ(FormatDateVn("2023-06-15"), "15/6/2023");
  EXPECT_EQ(FormatDateVn("2023-12-10"), "10/12/2023");
  EXPECT_EQ(FormatDateVn("2023-03-02T09:15:00+07:00"), "2/3/2023");
  EXPECT_EQ(FormatDateVn("2023-03-01T20:00:00Z"), "2/3/2023");  // 03:00 on 2/3 in Vietnam
  EXPECT_EQ(FormatDateVn("2023-03"), "3/2023");
  EXPECT_EQ(FormatDateVn(""), "");
  EXPECT_EQ(FormatDateVn("sắp tới"), "sắp tới");
}

// ---- Model ----

TEST(Model, RejectsBadInputWithVietnameseMessages) {
  auto bad_kind = ReportModelFromJson(json::parse(
      R"({"meta": {"kind": "quarterly", "period": {"from": "2023-01-01", "to": "2023-03-31"}}})"));
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_NE(bad_kind.status().message().find("six_month"), std::string::npos);
  auto bad_type = ReportModelFromJson(json::parse(
      R"({"meta": {"kind": "annual", "period": {"from": "2023-01-01", "to": "2023-12-10"}},
          "actions": {"overdue_petitions": [{"id": "DT-1", "days_overdue": "nhiều"}]}})"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("days_overdue"), std::string::npos);
  auto no_meta = ReportModelFromJson(json::parse(R"({"scores": []})"));
  EXPECT_FALSE(no_meta.ok());
  auto annual = ReportModelFromJson(json::parse(
      R"({"meta": {"kind": "annual", "period": {"from": "2022-12-11", "to": "2023-12-10"}}})"));
  ASSERT_TRUE(annual.ok()) << annual.status().ToString();
  EXPECT_EQ(ReportTitle(annual->meta), "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN NĂM 2023");
  EXPECT_EQ(annual->meta.cut_off, "2023-12-10");  // defaults to the period's end
}

TEST(Model, SummaryIsBuiltFromTheFigures) {
  ReportModel m = BuildFixtureModel();
  const std::vector<std::string> s = ComposeSummary(m);
  ASSERT_GE(s.size(), 6u);
  // dossier.received 735; on time 700/735 = 95,2%; previous 635/690 = 92,0% → +3,2 points.
  EXPECT_EQ(
      s[0],
      "Từ 1/1/2023 đến 15/6/2023, Sở Giáo dục và Đào tạo Hải Phòng tiếp nhận 735 hồ sơ thủ tục "
      "hành chính; tỷ lệ giải quyết trước và đúng hạn 95,2% (tăng 3,2 điểm % so với kỳ trước); "
      "hồ sơ trực tuyến toàn trình 60% (tăng 12 điểm % so với kỳ trước).");
  EXPECT_EQ(
      s[1],
      "Tiếp nhận 90 đơn thư (30 khiếu nại, 7 tố cáo, 28 kiến nghị, 24 phản ánh, 1 phản ánh về "
      "quy định hành chính); đã giải quyết 79 đơn (87,8%), đúng hạn 91,1%; còn 5 đơn quá hạn "
      "chưa giải quyết.");
  bool has_ranking = false;
  for (const auto& line : s) has_ranking |= line.find("6 đơn vị được chấm điểm") == 0;
  EXPECT_TRUE(has_ranking);
  EXPECT_EQ(s.back(),
            "Cần chỉ đạo xử lý: 2 đơn thư quá hạn; 2 vụ việc phức tạp, kéo dài; 2 nhiệm vụ chậm "
            "tiến độ.");
}

TEST(Model, UnitScopeSummaryStatesScoreRatingAndTiedRank) {
  ReportModel m = GoldenModel();
  m.meta.scope = "unit";
  m.meta.unit = {"SGDDT.TCCB", "Phòng Tổ chức cán bộ", "SGDDT"};
  m.summary.clear();
  // The fixture's indicator tables belong to SGDDT, so no figure sentences for this unit.
  const std::vector<std::string> s = ComposeSummary(m);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0],
            "Kết quả chấm điểm: 96,45/100 điểm, xếp loại Xuất sắc, xếp hạng 1/5 (đồng hạng).");
  m.meta.unit = {"SGDDT.QLCL", "Phòng Quản lý chất lượng, Giáo dục thường xuyên", "SGDDT"};
  EXPECT_EQ(ComposeSummary(m)[0], "Kết quả chấm điểm: 55/100 điểm, xếp loại Không xếp loại.");
}

// ---- Golden files ----

TEST(Golden, FixtureModelIsTheEngineOutput) {
  ExpectGolden("report-six-month.json", RenderJson(BuildFixtureModel()));
}

TEST(Golden, WritersMatchGoldenFilesAndAreDeterministic) {
  ReportModel m = GoldenModel();
  // The checked-in JSON is a fixed point: parsing and rendering it gives it back.
  EXPECT_EQ(RenderJson(m), ReadFile(kGolden / "report-six-month.json"));
  const std::string html = RenderHtml(m);
  EXPECT_EQ(html, RenderHtml(GoldenModel()));
  ExpectGolden("report-six-month.html", html);
  const auto csv = RenderCsv(m);
  ASSERT_EQ(csv.size(),
            12u);  // info, summary, 3 indicator tables, ranking, criteria, 5 action lists
  for (const CsvFile& f : csv) ExpectGolden("csv/" + f.name, f.content);
}

TEST(Golden, RankingInTheFixture) {
  ReportModel m = GoldenModel();
  ASSERT_EQ(m.scores.size(), 6u);
  // Phòng Giáo dục Mầm non and Phòng Tổ chức cán bộ have identical figures: a stated tie.
  const ScoreSummary& a = m.scores[0];
  const ScoreSummary& b = m.scores[1];
  EXPECT_EQ(a.unit.code, "SGDDT.GDMN");
  EXPECT_EQ(b.unit.code, "SGDDT.TCCB");
  EXPECT_EQ(a.rank, 1);
  EXPECT_EQ(b.rank, 1);
  EXPECT_TRUE(a.rank_tied);
  EXPECT_EQ(m.scores[2].rank, 3);
  EXPECT_EQ(m.scores.back().unit.code, "SGDDT.QLCL");
  EXPECT_EQ(m.scores.back().rating, "Không xếp loại");
  EXPECT_FALSE(m.scores.back().rank.has_value());
  const auto tables = BuildTables(m);
  const Table* rank = nullptr;
  for (const auto& t : tables)
    if (t.id == "xep-hang") rank = &t;
  ASSERT_NE(rank, nullptr);
  EXPECT_EQ(rank->rows[0][6].text, "Đồng hạng");
  EXPECT_EQ(rank->rows.back()[0].text, "—");
}

// ---- CSV ----

TEST(Csv, BomCrlfAndRfc4180Quoting) {
  EXPECT_EQ(CsvField("Văn phòng Sở"), "Văn phòng Sở");
  EXPECT_EQ(CsvField("95,5%"), "\"95,5%\"");
  EXPECT_EQ(CsvField("Mô hình \"Dân vận khéo\""), "\"Mô hình \"\"Dân vận khéo\"\"\"");
  EXPECT_EQ(CsvField("dòng 1\ndòng 2"), "\"dòng 1\ndòng 2\"");
  EXPECT_EQ(CsvField(""), "");
  ReportModel m = GoldenModel();
  for (const CsvFile& f : RenderCsv(m)) {
    ASSERT_GE(f.content.size(), 3u);
    EXPECT_EQ(f.content.substr(0, 3), "\xEF\xBB\xBF") << f.name;
    EXPECT_EQ(f.content.substr(f.content.size() - 2), "\r\n") << f.name;
  }
  const auto files = RenderCsv(m);
  auto dvk = std::find_if(files.begin(), files.end(),
                          [](const CsvFile& f) { return f.name == "mo-hinh-dan-van-kheo.csv"; });
  ASSERT_NE(dvk, files.end());
  EXPECT_NE(dvk->content.find(
                "\r\n3,\"Một cửa điện tử, không hẹn lần hai\",Mô hình,Xây dựng hệ thống chính trị,"
                "Phòng Tổ chức cán bộ,20/3/2023,Chưa công nhận,,\r\n"),
            std::string::npos)
      << dvk->content;
  auto idx = std::find_if(files.begin(), files.end(),
                          [](const CsvFile& f) { return f.name == "chi-so-idx766.csv"; });
  ASSERT_NE(idx, files.end());
  // on time: 700/735 this period, 635/690 before.
  EXPECT_NE(idx->content.find("3,idx766.on_time,Hồ sơ giải quyết trước và đúng "
                              "hạn,700,735,\"95,2%\",92%,\"+3,2 điểm %\"\r\n"),
            std::string::npos)
      << idx->content;
  ASSERT_TRUE(WriteCsvFiles(m, (kOut / "csv").string()).ok());
  EXPECT_TRUE(fs::exists(kOut / "csv" / "xep-hang.csv"));
}

// Issue 18: text from records or configuration never starts a formula; computed numbers stay.
TEST(Csv, FormulaCharactersInTextBecomeTextComputedNumbersStay) {
  for (const char* danger : {"=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"})
    EXPECT_EQ(CsvText(danger), std::string("'") + danger);
  EXPECT_EQ(CsvText("Khiếu nại"), "Khiếu nại");
  EXPECT_EQ(CsvText("—"), "—");  // an em dash is not a minus
  EXPECT_EQ(CsvText(""), "");
  EXPECT_EQ(CsvField("Cán bộ;=1+1"), "\"Cán bộ;=1+1\"");
  EXPECT_EQ(CsvField("a\tb"), "\"a\tb\"");

  ReportModel m = GoldenModel();
  ASSERT_FALSE(m.actions.overdue_petitions.empty());
  ASSERT_FALSE(m.scores.empty());
  OverduePetition first = m.actions.overdue_petitions[0];
  first.title = "=HYPERLINK(\"http://evil.example\",\"x\")";
  first.assignee = "-Nguyễn Văn A";
  m.actions.overdue_petitions.Set(0, first);
  UnitScore top = m.scores.Full(0).value();
  top.unit.name = "@Văn phòng";
  m.scores.Set(0, top);
  // A percentage that fell: its change is a negative number the report computed.
  IndicatorRow* fell = nullptr;
  for (auto& t : m.indicator_tables)
    for (auto& r : t.rows)
      if (!fell && r.current && r.previous && r.current->ratio && r.previous->ratio &&
          (r.format.empty() ? DefaultIndicatorFormat(r.indicator_id) : r.format) == "percent")
        fell = &r;
  ASSERT_NE(fell, nullptr);
  fell->previous->ratio = *fell->current->ratio + 0.125;
  std::string all;
  for (const CsvFile& f : RenderCsv(m)) all += f.content;
  EXPECT_NE(all.find(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\","), std::string::npos) << all;
  EXPECT_NE(all.find(",'-Nguyễn Văn A\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find(",'@Văn phòng,"), std::string::npos) << all;
  EXPECT_NE(all.find(",\"-12,5 điểm %\""), std::string::npos) << all;  // no quote prefix
  EXPECT_EQ(all.find("'-12,5"), std::string::npos);
}

// ---- XLSX ----

json DumpXlsx(const fs::path& xlsx) {
  const fs::path out = xlsx.string() + ".json";
  const std::string cmd = "python3 " +
                          (fs::path(DANVAN_SOURCE_ROOT) / "tests/reports/xlsx_dump.py").string() +
                          " '" + xlsx.string() + "' > '" + out.string() + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return json::parse(ReadFile(out));
}

// The XLSX is written in libxlsxwriter's constant_memory mode (each row flushed to a temporary
// file as the next begins; a 10M-event report otherwise holds ~500k cells: bench/RESULTS.md,
// "Reports at 10M"). That mode writes strings inline, so the package has no shared string
// table: its part name, stored uncompressed in the zip's directory, must be absent. The
// mode's temporary file goes beside the report and is gone afterwards.
TEST(Xlsx, WrittenRowByRowWithoutASharedStringTable) {
  ReportModel m = GoldenModel();
  const fs::path dir = kOut / "xlsx-row-by-row";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "report.xlsx";
  ASSERT_TRUE(WriteXlsx(m, path.string()).ok());
  const std::string bytes = ReadFile(path);
  ASSERT_NE(bytes.find("xl/worksheets/sheet1.xml"), std::string::npos);
  EXPECT_EQ(bytes.find("xl/sharedStrings.xml"), std::string::npos);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"report.xlsx"});
}

TEST(Xlsx, SheetsAndCellsReadBack) {
  ReportModel m = GoldenModel();
  fs::create_directories(kOut);
  const fs::path path = kOut / "report-six-month.xlsx";
  ASSERT_TRUE(WriteXlsx(m, path.string()).ok());
  json x = DumpXlsx(path);
  const auto tables = BuildTables(m);
  ASSERT_EQ(x["sheets"].size(), tables.size());
  std::vector<std::string> names;
  for (const auto& s : x["sheets"]) names.push_back(s["name"]);
  EXPECT_EQ(names[0], "Thông tin");
  EXPECT_EQ(names[5], "Xếp hạng");
  EXPECT_EQ(names[6], "Điểm tiêu chí");
  EXPECT_EQ(names[11], "Dân vận khéo");
  const json& info = x["sheets"][0]["cells"];
  EXPECT_EQ(info["A1"], "Thông tin báo cáo");
  EXPECT_EQ(info["A2"], "Mục");
  EXPECT_EQ(info["B3"], "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN 6 THÁNG ĐẦU NĂM 2023");
  const json& idx = x["sheets"][2]["cells"];
  EXPECT_EQ(idx["C2"], "Chỉ số");
  EXPECT_EQ(idx["B5"], "idx766.on_time");
  EXPECT_DOUBLE_EQ(idx["D5"].get<double>(), 700);            // numbers stay numbers
  EXPECT_NEAR(idx["F5"].get<double>(), 700.0 / 735, 1e-12);  // ratio, shown as 0.0%
  const json& rank = x["sheets"][5]["cells"];
  EXPECT_EQ(rank["A3"].get<double>(), 1);
  EXPECT_EQ(rank["C3"], "Phòng Giáo dục Mầm non");
  EXPECT_EQ(rank["F3"], m.scores[0].rating);
  EXPECT_DOUBLE_EQ(rank["D3"].get<double>(), m.scores[0].total);
  // Creation time comes from the model (cut-off 15/6/2023 at 00:00 UTC+7), not from the clock.
  EXPECT_NE(x["core"].get<std::string>().find("2023-06-14T17:00:00Z"), std::string::npos)
      << x["core"];

  auto a = RenderXlsx(m, kOut.string());
  auto b = RenderXlsx(m, kOut.string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->substr(0, 2), "PK");
  EXPECT_EQ(*a, *b);  // deterministic bytes
}

// ---- HTML ----

TEST(Html, SelfContainedAndPrintable) {
  const std::string html = RenderHtml(GoldenModel());
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<svg role=\"img\" aria-label=\"Biểu đồ điểm theo đơn vị\""),
            std::string::npos);
  EXPECT_NE(html.find("Biểu đồ chỉ số Chỉ số phục vụ"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">95,2%</td>"), std::string::npos);
  EXPECT_NE(html.find("Mô hình &quot;Dân vận khéo&quot;"), std::string::npos);  // escaped
}

// Runs headless Chromium on a file; returns its exit code and the console lines it logged.
int RunChromium(const fs::path& html, const fs::path& png, std::vector<std::string>* console) {
  const fs::path profile = kOut / ("chromium-profile-" + png.stem().string());
  fs::remove_all(profile);
  const fs::path log = kOut / (png.stem().string() + ".chromium.log");
  const std::string cmd =
      "timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu "
      "--disable-background-networking "
      "--disable-component-update --disable-sync --no-first-run --hide-scrollbars "
      "--window-size=1200,2400 "
      "--user-data-dir='" +
      profile.string() + "' --screenshot='" + png.string() +
      "' --enable-logging=stderr --v=0 'file://" + html.string() + "' > /dev/null 2> '" +
      log.string() + "'";
  const int rc = std::system(cmd.c_str());
  std::istringstream lines(ReadFile(log));
  std::string line;
  while (std::getline(lines, line))
    if (line.find(":CONSOLE") != std::string::npos) console->push_back(line);
  fs::remove_all(profile);
  return rc;
}

TEST(Html, OpensInHeadlessChromiumWithoutConsoleErrors) {
  if (!fs::exists("/usr/bin/chromium")) {
    std::printf(
        "/usr/bin/chromium is not installed (scripts/install-deps.sh installs it); skipping\n");
    GTEST_SKIP() << "/usr/bin/chromium absent";
  }
  fs::create_directories(kOut);
  // Control: a page that does log errors must be caught by the same check.
  const fs::path bad = kOut / "console-control.html";
  WriteFile(bad,
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>x</title></head><body>"
            "<script>console.error('lỗi kiểm thử');</script></body></html>");
  std::vector<std::string> bad_console;
  ASSERT_EQ(RunChromium(bad, kOut / "console-control.png", &bad_console), 0);
  ASSERT_FALSE(bad_console.empty()) << "the console check cannot see console errors";

  ReportModel m = GoldenModel();
  const fs::path html = kOut / "report-six-month.html";
  WriteFile(html, RenderHtml(m));
  const fs::path png = kOut / "report-six-month.png";
  fs::remove(png);
  std::vector<std::string> console;
  ASSERT_EQ(RunChromium(html, png, &console), 0);
  for (const auto& l : console) ADD_FAILURE() << "console: " << l;
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u);  // a rendered page, not a blank image
  std::printf("screenshot: %s\n", png.c_str());
}

TEST(Writers, WriteAllProducesEveryFormat) {
  const fs::path dir = kOut / "all";
  fs::remove_all(dir);
  ASSERT_TRUE(WriteAll(GoldenModel(), dir.string()).ok());
  for (const char* f : {"report.json", "report.html", "report.xlsx", "csv/tom-tat.csv"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_EQ(WriteAll(GoldenModel(), "/proc/danvan-no-such-dir").code(), Status::Code::kIoError);
}

// ---- Streaming writers (issue 16, reports at city scale) ----
// WriteJson gives the bytes of the document's dump without building it, the row-by-row
// tables give the rows BuildTables gives, and the files appear whole or not at all (a failed
// write keeps the previous report and leaves no temporary file behind). The bound on memory
// is tested in tests/reports/memory/ (its own program).

std::string Streamed(const ReportModel& m) {
  std::ostringstream o;
  Status st = WriteJson(m, o);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return o.str();
}

// Every file under `dir` (relative name -> bytes).
std::map<std::string, std::string> Tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = ReadFile(e.path());
  return files;
}

TEST(StreamingJson, SameBytesAsTheDocumentsDump) {
  const ReportModel m = GoldenModel();
  EXPECT_EQ(Streamed(m), RenderJson(m));
  EXPECT_EQ(Streamed(m), ReadFile(kGolden / "report-six-month.json"));
}

// Empty lists are "[]" on one line, as dump writes them; no scores, no tables, no summary.
TEST(StreamingJson, EmptyListsAndEmptyModel) {
  ReportModel m = GoldenModel();
  m.actions = {};
  m.scores.clear();
  EXPECT_EQ(Streamed(m), RenderJson(m));
  ReportModel bare;
  bare.meta.period = m.meta.period;
  EXPECT_EQ(Streamed(bare), RenderJson(bare));
  bare.summary = {"Một câu."};
  bare.indicator_tables = {{"idx766", "", "", {}}};
  EXPECT_EQ(Streamed(bare), RenderJson(bare));
}

// Text that dump escapes (quotes, backslashes, line breaks, control characters) or keeps as
// UTF-8: a line break inside a string must not be indented as if it were a new line.
TEST(StreamingJson, EscapedTextAndNestedLists) {
  ReportModel m = GoldenModel();
  ASSERT_FALSE(m.actions.overdue_petitions.empty());
  OverduePetition p = m.actions.overdue_petitions[0];
  p.title = "Đơn \"khẩn\"\ndòng 2\r\n\tthụt \\ gạch \x01\x1f cuối";
  p.overdue_steps = {"Thụ lý: hạn 13/4/2023,\nquá 3 ngày", "", "{[\"]}"};
  m.actions.overdue_petitions.Set(0, p);
  CaseItem c0 = m.actions.cases[0], c1 = m.actions.cases[1];
  c0.flags = {};
  c1.note = "\n\n";
  m.actions.cases.Set(0, c0);
  m.actions.cases.Set(1, c1);
  DvkModel d = m.actions.dvk_models[0];
  d.name = "Mô hình \"Dân vận khéo\" — 😀";
  m.actions.dvk_models.Set(0, d);
  m.summary = {"a\nb", ""};
  EXPECT_EQ(Streamed(m), RenderJson(m));
}

// Text that is not UTF-8: an error value (Internal: stored data, not the request), as the
// document's dump would refuse it.
TEST(StreamingJson, InvalidUtf8IsAnErrorValue) {
  ReportModel m = GoldenModel();
  CaseItem last = m.actions.cases.back();
  last.title = "h\xC3\x28ng";
  m.actions.cases.Set(m.actions.cases.size() - 1, last);
  std::ostringstream o;
  EXPECT_EQ(WriteJson(m, o).code(), Status::Code::kInternal);
}

// The tables made row by row are the tables BuildTables returns (which collects them), with
// the row counts the HTML uses to print "Không có." for an empty list.
TEST(TableSourcesTest, RowCountsMatchTheRowsMade) {
  ReportModel m = GoldenModel();
  m.actions.late_plan_tasks.clear();
  const auto sources = TableSources(m);
  const auto tables = BuildTables(m);
  ASSERT_EQ(sources.size(), tables.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    EXPECT_EQ(sources[i].id, tables[i].id);
    EXPECT_EQ(sources[i].row_count, tables[i].rows.size()) << sources[i].id;
    size_t made = 0;
    sources[i].for_each_row([&](const Row&) { return ++made < 2; });  // false stops the rows
    EXPECT_EQ(made, std::min<size_t>(tables[i].rows.size(), 2)) << sources[i].id;
  }
  EXPECT_EQ(CsvFileNames(m).size(), RenderCsv(m).size());
}

// The files are the Render* texts, byte for byte.
TEST(StreamingFiles, WriteAllWritesTheRenderedTexts) {
  const ReportModel m = GoldenModel();
  const fs::path dir = kOut / "streaming-all";
  fs::remove_all(dir);
  ASSERT_TRUE(WriteAll(m, dir.string()).ok());
  auto files = Tree(dir);
  EXPECT_EQ(files["report.json"], RenderJson(m));
  EXPECT_EQ(files["report.html"], RenderHtml(m));
  for (const CsvFile& f : RenderCsv(m)) EXPECT_EQ(files["csv/" + f.name], f.content) << f.name;
  auto xlsx = RenderXlsx(m, kOut.string());
  ASSERT_TRUE(xlsx.ok());
  EXPECT_EQ(files["report.xlsx"], *xlsx);
  EXPECT_EQ(files.size(), 3 + RenderCsv(m).size());  // nothing else: no temporary file
}

// A write that fails half-way (text that is not UTF-8 deep in the action lists, after the
// JSON's first part is written) leaves the previous report.json whole and no temporary file.
TEST(StreamingFiles, FailedWriteKeepsThePreviousFileAndLeavesNoTemporary) {
  const fs::path dir = kOut / "streaming-atomic";
  fs::remove_all(dir);
  ASSERT_TRUE(WriteAll(GoldenModel(), dir.string()).ok());
  const auto before = Tree(dir);
  ReportModel bad = GoldenModel();
  OverduePetition last = bad.actions.overdue_petitions.back();
  last.assignee = "Nguy\xE1\xBB";  // cut UTF-8 sequence
  bad.actions.overdue_petitions.Set(bad.actions.overdue_petitions.size() - 1, last);
  bad.meta.generated_by = "lần hai";
  Status st = WriteAll(bad, dir.string());
  EXPECT_EQ(st.code(), Status::Code::kInternal) << st.ToString();
  EXPECT_EQ(Tree(dir), before);  // same names, same bytes: nothing half-written
}

// A file that cannot be put in place (its name is taken by a directory): IoError naming the
// file, and its temporary file removed.
TEST(StreamingFiles, RenameFailureIsAnIoErrorAndCleansUp) {
  const fs::path dir = kOut / "streaming-rename";
  fs::remove_all(dir);
  fs::create_directories(dir / "report.html" / "occupied");
  Status st = WriteAll(GoldenModel(), dir.string());
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("report.html"), std::string::npos) << st.message();
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_TRUE(fs::exists(dir / "report.json"));  // written before, whole
}

// Two writers replacing the same report at once (two administrators, or a retry while the
// first run still writes), and a reader opening the files meanwhile: every file the reader
// sees, and every file left at the end, is one writer's whole text, never a mix or a part;
// no temporary file is left.
TEST(StreamingFiles, ConcurrentWritersAndAReaderSeeOnlyWholeFiles) {
  const fs::path dir = kOut / "streaming-concurrent";
  fs::remove_all(dir);
  ReportModel a = GoldenModel(), b = GoldenModel();
  b.meta.generated_by = "Văn phòng Sở (lần hai)";
  for (int i = 0; i < 40; ++i) b.actions.cases.push_back(b.actions.cases.front());  // longer
  ASSERT_TRUE(WriteAll(a, dir.string()).ok());
  const std::set<std::string> json_ok = {RenderJson(a), RenderJson(b)};
  const std::set<std::string> html_ok = {RenderHtml(a), RenderHtml(b)};
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0};
  std::thread reader([&] {
    while (!done) {
      const std::string j = ReadFile(dir / "report.json"), h = ReadFile(dir / "report.html");
      torn += !json_ok.count(j) + !html_ok.count(h);
      ++reads;
    }
  });
  std::vector<Status> results(2);
  std::thread wa([&] {
    for (int i = 0; i < 5 && results[0].ok(); ++i) results[0] = WriteAll(a, dir.string());
  });
  std::thread wb([&] {
    for (int i = 0; i < 5 && results[1].ok(); ++i) results[1] = WriteAll(b, dir.string());
  });
  wa.join();
  wb.join();
  done = true;
  reader.join();
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a reader saw a file that is neither writer's whole text";
  const auto files = Tree(dir);
  EXPECT_TRUE(json_ok.count(files.at("report.json")));
  EXPECT_TRUE(html_ok.count(files.at("report.html")));
  for (const auto& [name, bytes] : files) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

}  // namespace
}  // namespace danvan::reports
