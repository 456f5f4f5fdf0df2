// The streaming writers (issue 16, reports at city scale): WriteJson gives the bytes of the
// document's dump without building it, the row-by-row tables give the rows BuildTables gives,
// and the files appear whole or not at all (a failed write keeps the previous report and
// leaves no temporary file behind).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/report_model.h"
#include "reports/tables.h"
#include "reports/writers.h"

namespace danvan::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = fs::path(DANVAN_SOURCE_ROOT) / "tests/reports/golden";
const fs::path kOut = DANVAN_REPORTS_TEST_OUT;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ReportModel Golden() {
  auto m = ReportModelFromJson(json::parse(Slurp(kGolden / "report-six-month.json")));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

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
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = Slurp(e.path());
  return files;
}

TEST(StreamingJson, SameBytesAsTheDocumentsDump) {
  const ReportModel m = Golden();
  EXPECT_EQ(Streamed(m), RenderJson(m));
  EXPECT_EQ(Streamed(m), Slurp(kGolden / "report-six-month.json"));
}

// Empty lists are "[]" on one line, as dump writes them; no scores, no tables, no summary.
TEST(StreamingJson, EmptyListsAndEmptyModel) {
  ReportModel m = Golden();
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
  ReportModel m = Golden();
  ASSERT_FALSE(m.actions.overdue_petitions.empty());
  auto& p = m.actions.overdue_petitions[0];
  p.title = "Đơn \"khẩn\"\ndòng 2\r\n\tthụt \\ gạch \x01\x1f cuối";
  p.overdue_steps = {"Thụ lý: hạn 13/4/2023,\nquá 3 ngày", "", "{[\"]}"};
  m.actions.cases[0].flags = {};
  m.actions.cases[1].note = "\n\n";
  m.actions.dvk_models[0].name = "Mô hình \"Dân vận khéo\" — 😀";
  m.summary = {"a\nb", ""};
  EXPECT_EQ(Streamed(m), RenderJson(m));
}

// Text that is not UTF-8: an error value, as the document's dump would refuse it.
TEST(StreamingJson, InvalidUtf8IsAnErrorValue) {
  ReportModel m = Golden();
  m.actions.cases.back().title = "h\xC3\x28ng";
  std::ostringstream o;
  EXPECT_EQ(WriteJson(m, o).code(), Status::Code::kInvalidInput);
}

// The tables made row by row are the tables BuildTables returns (which collects them), with
// the row counts the HTML uses to print "Không có." for an empty list.
TEST(TableSourcesTest, RowCountsMatchTheRowsMade) {
  ReportModel m = Golden();
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
  const ReportModel m = Golden();
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
  ASSERT_TRUE(WriteAll(Golden(), dir.string()).ok());
  const auto before = Tree(dir);
  ReportModel bad = Golden();
  bad.actions.overdue_petitions.back().assignee = "Nguy\xE1\xBB";  // cut UTF-8 sequence
  bad.meta.generated_by = "lần hai";
  Status st = WriteAll(bad, dir.string());
  EXPECT_EQ(st.code(), Status::Code::kInvalidInput) << st.ToString();
  EXPECT_EQ(Tree(dir), before);  // same names, same bytes: nothing half-written
}

// A file that cannot be put in place (its name is taken by a directory): IoError naming the
// file, and its temporary file removed.
TEST(StreamingFiles, RenameFailureIsAnIoErrorAndCleansUp) {
  const fs::path dir = kOut / "streaming-rename";
  fs::remove_all(dir);
  fs::create_directories(dir / "report.html" / "occupied");
  Status st = WriteAll(Golden(), dir.string());
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("report.html"), std::string::npos) << st.message();
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_TRUE(fs::exists(dir / "report.json"));  // written before, whole
}

}  // namespace
}  // namespace danvan::reports
