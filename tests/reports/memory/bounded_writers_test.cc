// Bounded memory of the report files (issue 16: reports at 10M events were built whole in
// memory, 118 MB of output). This program replaces the global operator new/delete to count
// the bytes the C++ code holds (malloc_usable_size of each block), so the test asserts on the
// allocation high-water mark of WriteAll, a deterministic figure, not on RSS or time. A model
// whose listings are large is written; the bytes held at once must stay far below the size of
// the files. libxlsxwriter allocates with malloc (C), so its cells are not counted here: the
// XLSX is the format still held whole (writers.h).
//
// Its own executable: the replaced operators apply to the whole program.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "counting_new.h"
#include "reports/report_model.h"
#include "reports/writers.h"

namespace danvan::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The golden report's model with every action list and the units repeated `copies` times (ids
// and unit codes numbered), as a city's report has tens of thousands of rows.
ReportModel LargeModel(int copies) {
  auto g = ReportModelFromJson(json::parse(
      Slurp(fs::path(DANVAN_SOURCE_ROOT) / "tests/reports/golden/report-six-month.json")));
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  ReportModel m = std::move(g).value();
  // Appends `copies - 1` numbered copies of the list's items (`tag` numbers one item).
  auto grow = [copies](auto* list, auto tag) {
    const auto one = *list;
    for (int i = 1; i < copies; ++i)
      for (auto item : one) {
        tag(item) += "." + std::to_string(i);
        list->push_back(std::move(item));
      }
  };
  grow(&m.actions.overdue_petitions, [](OverduePetition& p) -> std::string& { return p.id; });
  grow(&m.actions.cases, [](CaseItem& c) -> std::string& { return c.id; });
  grow(&m.actions.dvk_models, [](DvkModel& d) -> std::string& { return d.name; });
  grow(&m.actions.late_plan_tasks, [](LateTask& t) -> std::string& { return t.task_no; });
  grow(&m.actions.missed_head_reception,
       [](MissedReception& r) -> std::string& { return r.unit_code; });
  grow(&m.scores, [](UnitScore& s) -> std::string& { return s.unit.code; });
  return m;
}

uintmax_t TreeBytes(const fs::path& dir) {
  uintmax_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

TEST(BoundedWriters, WriteAllHoldsARowNotTheListing) {
  const ReportModel m = LargeModel(200);  // 1,200 units, 400 overdue petitions, ...
  const fs::path dir = fs::path(DANVAN_REPORTS_TEST_OUT) / "bounded-writers";
  fs::remove_all(dir);
  fs::create_directories(dir);

  const int64_t base = testing::counting::ResetPeak();
  Status st = WriteAll(m, dir.string());
  const int64_t held = testing::counting::Peak() - base;
  ASSERT_TRUE(st.ok()) << st.ToString();

  const uintmax_t json_bytes = fs::file_size(dir / "report.json");
  const uintmax_t html_bytes = fs::file_size(dir / "report.html");
  const uintmax_t all = TreeBytes(dir);
  std::printf(
      "files: %ju bytes (report.json %ju, report.html %ju); C++ heap high-water above "
      "the model: %jd bytes\n",
      all, json_bytes, html_bytes, static_cast<intmax_t>(held));
  ASSERT_GT(json_bytes, 16u << 20);  // the listing is large...
  ASSERT_GT(html_bytes, 8u << 20);
  // ...and what is held at once is not: a few documents of one item, one row, the file
  // buffers, the table sources and the SVG chart's scale. Building any one file whole (main
  // before this change: the JSON document, then each text) holds more than the file's size.
  EXPECT_LT(held, 1 << 20) << "bytes held at once while writing " << all << " bytes";
}

// The same bound for each writer on its own (the public streaming entry points).
TEST(BoundedWriters, EachStreamingWriterHoldsARow) {
  const ReportModel m = LargeModel(100);
  const fs::path dir = fs::path(DANVAN_REPORTS_TEST_OUT) / "bounded-writers-each";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto measure = [&](const char* what, const std::function<void()>& write) {
    const int64_t base = testing::counting::ResetPeak();
    write();
    const int64_t held = testing::counting::Peak() - base;
    EXPECT_LT(held, 1 << 20) << what;
    std::printf("%s: %jd bytes held at most\n", what, static_cast<intmax_t>(held));
  };
  measure("WriteJson", [&] {
    std::ofstream out(dir / "report.json", std::ios::binary);
    EXPECT_TRUE(WriteJson(m, out).ok());
  });
  measure("WriteHtml", [&] {
    std::ofstream out(dir / "report.html", std::ios::binary);
    WriteHtml(m, out);
    EXPECT_TRUE(out.good());
  });
  measure("WriteCsvFiles", [&] { EXPECT_TRUE(WriteCsvFiles(m, (dir / "csv").string()).ok()); });
  EXPECT_GT(TreeBytes(dir), 16u << 20);
}

}  // namespace
}  // namespace danvan::reports
