// The scoring and report ops through the engine (plugin/engine/report_ops.cc).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "core/clock.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ConfigFor;
using testing::OpenEngine;
using testing::TempDir;

// Where the reports of this run go: a directory of its own on PostgreSQL, so the SQLite and
// PostgreSQL runs of this program (ctest -j) never write into each other's.
std::string TestOut() {
  return std::string(DANVAN_REPORT_OPS_TEST_OUT) + (testing::UsingPostgres() ? "/postgres" : "");
}

std::shared_ptr<Clock> FixedClock(const char* iso) {
  int64_t ms = *ParseIsoTime(iso);
  return std::make_shared<FunctionClock>([ms] { return ms; });
}

json Q(Engine& e, const json& req) {
  auto r = e.Query(req.dump());
  EXPECT_TRUE(r.ok()) << req.dump() << " -> " << r.status().ToString();
  return r.ok() ? r.value() : json();
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

const json kHalf2023 = {{"kind", "half_year"}, {"year", 2023}};

// A copy of the shipped config dir with an extra rubric "tie" (one manual criterion, no
// eligibility rules) so ties and rubric changes are under the test's control.
json TieRubric(const std::string& version, double max) {
  return {{"schema_version", 1},
          {"id", "tie-test"},
          {"version", version},
          {"title", "Bộ tiêu chí thử"},
          {"max_points", max},
          {"precision", 2},
          {"total_min", 0},
          {"total_max", max},
          {"groups",
           {{{"id", "g1"},
             {"name", "Nhóm 1"},
             {"max_points", max},
             {"criteria",
              {{{"id", "g1.manual"}, {"name", "Tự chấm"}, {"type", "manual"}, {"max_points", max},
                {"use", "superior_else_self"}}}}}}},
          {"rating_bands", {{{"name", "Tốt"}, {"min", max * 0.8}}, {{"name", "Khá"}, {"min", 0}}}}};
}

struct Fixture {
  TempDir dir;
  fs::path config_dir;
  std::unique_ptr<Engine> engine;
  explicit Fixture(const char* now = "2023-07-01T08:00:00+07:00") {
    config_dir = dir.path() / "config";
    fs::copy(std::string(DANVAN_SOURCE_ROOT) + "/config", config_dir, fs::copy_options::recursive);
    WriteAll(config_dir / "rubric" / "tie.json", TieRubric("1", 10).dump(2));
    engine = OpenEngine(ConfigFor(dir.path() / "db.sqlite", {{"config_dir", config_dir.string()}}),
                        FixedClock(now));
  }
  json Manual(const std::string& rubric, const std::string& unit, const std::string& criterion,
              const std::string& assessor, double score, const std::string& by) {
    return {{"op", "score.manual"}, {"rubric", rubric}, {"period", kHalf2023}, {"unit", unit},
            {"criterion", criterion}, {"assessor", assessor}, {"score", score},
            {"evidence_note", "Kế hoạch số 15/KH-SGDĐT ngày 20/1/2023"}, {"entered_by", by}};
  }
};

TEST(ReportOps, ManualEntryAuditTrailAndRangeCheck) {
  Fixture f;
  json a = Q(*f.engine, f.Manual("default", "SGDDT.VP", "g1.plan_issued", "self", 3.5, "vp.nguyenan"));
  EXPECT_GT(a["journal_id"].get<int64_t>(), 0);
  json b = Q(*f.engine, f.Manual("default", "SGDDT.VP", "g1.plan_issued", "superior", 4, "so.tranbinh"));
  EXPECT_GT(b["journal_id"].get<int64_t>(), a["journal_id"].get<int64_t>());

  // Out of range: rejected with the criterion and its range, nothing stored.
  auto bad = f.engine->Query(f.Manual("default", "SGDDT.VP", "g1.plan_issued", "self", 12, "x").dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(bad.status().message().find("g1.plan_issued"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("ngoài khoảng"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("4"), std::string::npos);
  // Unknown criterion and a computed criterion are rejected too.
  EXPECT_FALSE(f.engine->Query(f.Manual("default", "SGDDT.VP", "g9.nope", "self", 1, "x").dump()).ok());
  EXPECT_FALSE(f.engine->Query(f.Manual("default", "SGDDT.VP", "g3.on_time", "self", 1, "x").dump()).ok());
  // Missing evidence.
  json noev = f.Manual("default", "SGDDT.VP", "g1.plan_issued", "self", 1, "x");
  noev.erase("evidence_note");
  EXPECT_FALSE(f.engine->Query(noev.dump()).ok());

  json list = Q(*f.engine, {{"op", "score.manual.list"}, {"rubric", "default"}, {"period", kHalf2023},
                            {"unit", "SGDDT.VP"}});
  ASSERT_EQ(list["entries"].size(), 2u);
  EXPECT_EQ(list["entries"][0]["entry"]["entered_by"], "vp.nguyenan");
  EXPECT_EQ(list["entries"][0]["entry"]["assessor"], "self");
  EXPECT_EQ(list["entries"][0]["entry"]["score"], 3.5);
  EXPECT_EQ(list["entries"][0]["entry"]["entered_at"], "2023-07-01T08:00:00+07:00");
  EXPECT_EQ(list["entries"][1]["entry"]["entered_by"], "so.tranbinh");
  EXPECT_EQ(list["entries"][1]["rubric"]["id"], "danvan-default");

  // The score uses the superior's entry and keeps both in its trail.
  json s = Q(*f.engine, {{"op", "score"}, {"rubric", "default"}, {"period", kHalf2023}});
  bool seen = false;
  for (const auto& us : s["scores"]) {
    if (us["unit"]["code"] != "SGDDT.VP") continue;
    for (const auto& g : us["groups"])
      for (const auto& c : g["criteria"])
        if (c["criterion_id"] == "g1.plan_issued") {
          seen = true;
          EXPECT_EQ(c["source"], "manual");
          EXPECT_EQ(c["points"], 4);
          EXPECT_EQ(c["manual"]["entered_by"], "so.tranbinh");
          EXPECT_EQ(c["manual_entries"].size(), 2u);
        }
  }
  EXPECT_TRUE(seen);
}

TEST(ReportOps, ScoreRanksWithTiesAndStoresResult) {
  Fixture f;
  Q(*f.engine, f.Manual("tie", "SGDDT.VP", "g1.manual", "self", 5, "a"));
  Q(*f.engine, f.Manual("tie", "SGDDT.TTRA", "g1.manual", "self", 5, "b"));
  Q(*f.engine, f.Manual("tie", "SGDDT.KHTC", "g1.manual", "self", 7, "c"));
  Q(*f.engine, f.Manual("tie", "SGDDT.KHTC", "g1.manual", "superior", 6, "d"));  // superior counts
  json s = Q(*f.engine, {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}});
  EXPECT_EQ(s["rubric"]["id"], "tie-test");
  EXPECT_EQ(s["rubric"]["version"], "1");
  EXPECT_EQ(s["as_of"], "2023-06-15");
  ASSERT_EQ(s["ranking"].size(), 42u);  // every unit under the department
  EXPECT_EQ(s["ranking"][0]["unit"], "SGDDT.KHTC");
  EXPECT_EQ(s["ranking"][0]["rank"], 1);
  EXPECT_EQ(s["ranking"][0]["total"], 6);
  EXPECT_EQ(s["ranking"][0]["tied"], false);
  EXPECT_EQ(s["ranking"][1]["unit"], "SGDDT.TTRA");  // ties listed by unit code
  EXPECT_EQ(s["ranking"][2]["unit"], "SGDDT.VP");
  EXPECT_EQ(s["ranking"][1]["rank"], 2);
  EXPECT_EQ(s["ranking"][2]["rank"], 2);
  EXPECT_EQ(s["ranking"][1]["tied"], true);
  EXPECT_EQ(s["ranking"][3]["rank"], 4);  // the next rank skips
  EXPECT_EQ(s["ranking"][3]["total"], 0);
  ASSERT_GE(s["ties"].size(), 2u);
  EXPECT_EQ(s["ties"][0]["rank"], 2);
  EXPECT_EQ(s["ties"][0]["units"], json({"SGDDT.TTRA", "SGDDT.VP"}));
  EXPECT_EQ(s["ties"][1]["rank"], 4);
  EXPECT_EQ(s["ties"][1]["units"].size(), 39u);
  EXPECT_TRUE(s.contains("aggregate"));
  EXPECT_EQ(s["aggregate"]["unit"]["code"], "SGDDT");
  EXPECT_GT(s["journal_id"].get<int64_t>(), 0);

  // Scoring twice stores the rubric once and gives the same scores.
  json s2 = Q(*f.engine, {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}});
  EXPECT_EQ(s2["scores"], s["scores"]);
  EXPECT_NE(s2["journal_id"], s["journal_id"]);
  auto rubrics = f.engine->services().store->ListJournal("rubric", "tie-test|");
  ASSERT_TRUE(rubrics.ok());
  EXPECT_EQ(rubrics->size(), 1u);

  // A unit-scoped request scores that unit alone.
  json one = Q(*f.engine, {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}, {"unit", "SGDDT.VP"}});
  ASSERT_EQ(one["scores"].size(), 1u);
  EXPECT_EQ(one["scores"][0]["total"], 5);
}

// The score op's text answer (Engine::Query with text: what the ABI returns, written without
// a document from the packed scores) is byte for byte the document answer as the ABI
// serialises it, for the whole department, one unit and the default rubric; with the journal,
// both store the same body (ids aside), and errors are the same.
TEST(ReportOps, ScoreTextAnswerIsTheDocumentsBytes) {
  Fixture f;
  Q(*f.engine, f.Manual("tie", "SGDDT.VP", "g1.manual", "self", 5, "Nguyễn \"Văn\" An"));
  Q(*f.engine, f.Manual("tie", "SGDDT.TTRA", "g1.manual", "superior", 5, "b"));
  const json requests[] = {
      {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}, {"journal", false}},
      {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}, {"unit", "SGDDT.VP"}, {"journal", false}},
      {{"op", "score"}, {"period", {{"kind", "year"}, {"year", 2023}}}, {"journal", false}},
      {{"op", "score"}, {"rubric", "nope"}, {"period", kHalf2023}},
      {{"op", "score"}, {"period", kHalf2023}, {"journal", "yes"}},
  };
  for (const json& req : requests) {
    auto dom = f.engine->Query(req.dump());
    AnswerText text;
    auto r = f.engine->Query(req.dump(), &text);
    ASSERT_EQ(dom.ok(), r.ok()) << req.dump();
    if (!dom.ok()) {
      EXPECT_EQ(dom.status().ToString(), r.status().ToString());
      continue;
    }
    EXPECT_TRUE(r->is_null());
    EXPECT_EQ(text.view(), DumpJson(dom.value(), nlohmann::json::error_handler_t::replace)) << req.dump();
  }
  // Journaled: the text's entry is the next one, and its body is the document's.
  const json req = {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}};
  json dom = Q(*f.engine, req);
  AnswerText text;
  ASSERT_TRUE(f.engine->Query(req.dump(), &text).ok());
  json answer = json::parse(text.view());
  EXPECT_EQ(answer["journal_id"], dom["journal_id"].get<int64_t>() + 1);
  answer["journal_id"] = dom["journal_id"];
  EXPECT_EQ(answer.dump(), dom.dump());
  auto rows = f.engine->services().store->ListJournal("score", "");
  ASSERT_TRUE(rows.ok());
  const JournalRow *a = nullptr, *b = nullptr;
  for (const auto& row : rows.value()) {
    if (row.id == dom["journal_id"].get<int64_t>()) a = &row;
    if (row.id == answer["journal_id"].get<int64_t>() + 1) b = &row;
  }
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, b->body);
  EXPECT_EQ(json::parse(b->body)["scores"], dom["scores"]);
}

TEST(ReportOps, ReproducesOldScoreAfterRubricChange) {
  Fixture f;
  Q(*f.engine, f.Manual("tie", "SGDDT.VP", "g1.manual", "self", 8, "a"));
  json old = Q(*f.engine, {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}});
  ASSERT_EQ(old["ranking"][0]["unit"], "SGDDT.VP");
  EXPECT_EQ(old["ranking"][0]["total"], 8);
  EXPECT_EQ(old["ranking"][0]["rating"], "Tốt");

  // The province edits the rubric: new version, 20 points, stricter bands.
  json v2 = TieRubric("2", 20);
  v2["rating_bands"] = {{{"name", "Tốt"}, {"min", 18}}, {{"name", "Khá"}, {"min", 0}}};
  WriteAll(f.config_dir / "rubric" / "tie.json", v2.dump(2));
  Q(*f.engine, f.Manual("tie", "SGDDT.VP", "g1.manual", "superior", 15, "b"));
  json now = Q(*f.engine, {{"op", "score"}, {"rubric", "tie"}, {"period", kHalf2023}});
  EXPECT_EQ(now["rubric"]["version"], "2");
  EXPECT_EQ(now["ranking"][0]["total"], 15);
  EXPECT_EQ(now["ranking"][0]["rating"], "Khá");

  json re = Q(*f.engine, {{"op", "score.reproduce"}, {"journal_id", old["journal_id"]}});
  EXPECT_EQ(re["identical"], true) << re["differing_units"].dump();
  EXPECT_EQ(re["rubric"]["version"], "1");
  EXPECT_EQ(re["scores"], old["scores"]);
  EXPECT_EQ(re["aggregate"], old["aggregate"]);
  json re2 = Q(*f.engine, {{"op", "score.reproduce"}, {"journal_id", now["journal_id"]}});
  EXPECT_EQ(re2["identical"], true);
  EXPECT_EQ(re2["scores"], now["scores"]);
  auto rubrics = f.engine->services().store->ListJournal("rubric", "tie-test|");
  ASSERT_TRUE(rubrics.ok());
  EXPECT_EQ(rubrics->size(), 2u);

  // Also after reopening the engine on the same database.
  f.engine.reset();
  f.engine = OpenEngine(ConfigFor(f.dir.path() / "db.sqlite", {{"config_dir", f.config_dir.string()}}),
                        FixedClock("2023-07-02T08:00:00+07:00"));
  json re3 = Q(*f.engine, {{"op", "score.reproduce"}, {"journal_id", old["journal_id"]}});
  EXPECT_EQ(re3["identical"], true);
  EXPECT_EQ(re3["scores"], old["scores"]);

  auto missing = f.engine->Query(json({{"op", "score.reproduce"}, {"journal_id", 999999}}).dump());
  EXPECT_FALSE(missing.ok());
}

TEST(ReportOps, RejectsBadRequests) {
  Fixture f;
  auto q = [&](const json& j) { return f.engine->Query(j.dump()); };
  EXPECT_FALSE(q({{"op", "score"}, {"rubric", "../../etc/passwd"}, {"period", kHalf2023}}).ok());
  EXPECT_FALSE(q({{"op", "score"}, {"rubric", "khong-co"}, {"period", kHalf2023}}).ok());
  EXPECT_FALSE(q({{"op", "score"}, {"rubric", "default"}}).ok());
  EXPECT_FALSE(q({{"op", "report"}, {"kind", "quarterly"}, {"year", 2023}}).ok());
  EXPECT_FALSE(q({{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"}}).ok());
  EXPECT_FALSE(q({{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"unit", "NOPE"}}).ok());
}

// Issue 10 (path traversal): `report` with format "all" writes only inside reports.dir (by
// default "reports" beside the database). "..", an absolute path elsewhere, a symbolic link in
// the reports directory pointing out of it and control characters are refused with
// INVALID_INPUT naming /path, before anything is written; a relative path is taken inside it.
TEST(ReportOps, ReportPathStaysInsideTheReportsDirectory) {
  Fixture f;
  const fs::path reports = f.dir.path() / "reports";
  const fs::path outside = f.dir.path() / "outside";
  fs::create_directories(reports);
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, reports / "link");
  auto report = [&](const std::string& path) {
    return f.engine->Query(json({{"op", "report"}, {"kind", "annual"}, {"year", 2023},
                                 {"format", "all"}, {"path", path}}).dump());
  };
  for (const std::string& bad :
       {std::string("../outside/a"), std::string("../../../../../../tmp/danvan-escape"),
        (reports / ".." / "outside" / "b").string(), outside.string(), std::string("/etc"),
        std::string("link/c"), (reports / "link").string(), std::string("x/../../outside/d"),
        std::string("ok\0/../../outside", 17), std::string("ok\n")}) {
    auto r = report(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput) << bad << ": " << r.status().ToString();
    EXPECT_EQ(r.status().message().rfind("/path", 0), 0u) << r.status().message();
  }
  EXPECT_TRUE(fs::is_empty(outside)) << "a refused report wrote outside the reports directory";
  EXPECT_FALSE(fs::exists("/tmp/danvan-escape"));

  // Relative: inside reports.dir; absolute inside it is fine too; ".." that stays inside too.
  json rel = Q(*f.engine, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"},
                           {"path", "nam-2023"}});
  EXPECT_EQ(rel["path"], fs::weakly_canonical(reports / "nam-2023").string());
  EXPECT_TRUE(fs::exists(reports / "nam-2023" / "report.html"));
  json abs = Q(*f.engine, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"},
                           {"path", (reports / "a" / ".." / "b").string()}});
  EXPECT_TRUE(fs::exists(reports / "b" / "report.json")) << abs.dump();

  // A configured reports.dir is the one that counts.
  const fs::path own = f.dir.path() / "bao-cao";
  auto e2 = OpenEngine(ConfigFor(f.dir.path() / "db2.sqlite",
                                 {{"config_dir", f.config_dir.string()}, {"reports", {{"dir", own.string()}}}}),
                       FixedClock("2023-07-01T08:00:00+07:00"));
  auto refused = e2->Query(json({{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"},
                                 {"path", (reports / "x").string()}}).dump());
  EXPECT_FALSE(refused.ok());
  Q(*e2, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"}, {"path", "x"}});
  EXPECT_TRUE(fs::exists(own / "x" / "report.xlsx"));
}

// ---- sample data set, golden files ----

class SampleReports : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const fs::path jsonl = dir_->path() / "sample.jsonl";
    std::string cmd = "python3 " + std::string(DANVAN_SOURCE_ROOT) +
                      "/tools/sample-gen/gen_sample.py --seed 2023 --out " + jsonl.string() + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    // A fixed clock after both cut-offs: every figure is judged at the period's end.
    engine_ = OpenEngine(ConfigFor(dir_->path() / "db.sqlite", {{"reports", {{"dir", TestOut()}}}}),
                         FixedClock("2024-01-15T08:00:00+07:00")).release();
    std::ifstream in(jsonl);
    std::string line, batch;
    int n = 0;
    while (std::getline(in, line)) {
      batch += line + "\n";
      if (++n % 1000 == 0) {
        engine_->SubmitBatch(batch);
        batch.clear();
      }
    }
    if (!batch.empty()) engine_->SubmitBatch(batch);
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete dir_;
  }

  // Compares `actual` with golden/<name>, or rewrites it with DANVAN_UPDATE_GOLDEN=1.
  static void Golden(const std::string& name, const std::string& actual) {
    const fs::path p = fs::path(DANVAN_SOURCE_ROOT) / "tests/report_ops/golden" / name;
    if (std::getenv("DANVAN_UPDATE_GOLDEN")) {
      WriteAll(p, actual);
      return;
    }
    ASSERT_TRUE(fs::exists(p)) << p << " missing; run with DANVAN_UPDATE_GOLDEN=1";
    EXPECT_TRUE(ReadAll(p) == actual) << name << " differs from the golden file";
  }

  void CheckReport(const std::string& kind) {
    const fs::path out = fs::path(TestOut()) / (kind + "-2023");
    fs::remove_all(out);
    json w = Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}, {"format", "all"},
                          {"path", out.string()}});
    ASSERT_TRUE(w.contains("files"));
    for (const auto& f : w["files"]) EXPECT_TRUE(fs::exists(out / f.get<std::string>())) << f;
    // In memory and on disk agree; the same data gives the same bytes.
    json mem = Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}});
    const std::string on_disk = ReadAll(out / "report.json");
    EXPECT_EQ(json::parse(on_disk), mem["report"]);
    json mem2 = Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}});
    EXPECT_EQ(mem2["report"], mem["report"]);
    Golden(kind + "-2023/report.json", on_disk);
    for (const auto& e : fs::directory_iterator(out / "csv"))
      Golden(kind + "-2023/csv/" + e.path().filename().string(), ReadAll(e.path()));
    // Every golden CSV is still produced.
    const fs::path gdir = fs::path(DANVAN_SOURCE_ROOT) / "tests/report_ops/golden" / (kind + "-2023/csv");
    if (fs::exists(gdir)) {
      for (const auto& e : fs::directory_iterator(gdir))
        EXPECT_TRUE(fs::exists(out / "csv" / e.path().filename())) << e.path().filename();
    }

    const json& r = mem["report"];
    EXPECT_EQ(r["meta"]["scope"], "department");
    EXPECT_EQ(r["meta"]["unit"]["code"], "SGDDT");
    EXPECT_EQ(r["meta"]["cut_off"], kind == "six_month" ? "2023-06-15" : "2023-12-10");
    EXPECT_EQ(r["meta"]["rubric"]["id"], "danvan-default");
    EXPECT_EQ(r["scores"].size(), 42u);
    EXPECT_FALSE(r["indicator_tables"].empty());
    EXPECT_TRUE(r["indicator_tables"][0]["rows"][0].contains("previous"));
    EXPECT_FALSE(r["summary"].empty());
    EXPECT_FALSE(r["actions"]["dvk_models"].empty());
    EXPECT_FALSE(r["actions"]["cases"].empty());
    // Only units whose head must receive citizens every month (config/indicators.json
    // "head_reception": the department) are listed for the months without a session.
    EXPECT_FALSE(r["actions"]["missed_head_reception"].empty());
    for (const auto& m : r["actions"]["missed_head_reception"]) EXPECT_EQ(m["unit_code"], "SGDDT") << m;

    // The XLSX opens and its cells read back (standard library zipfile).
    const fs::path dump = out / "xlsx.json";
    std::string cmd = "python3 " + std::string(DANVAN_SOURCE_ROOT) + "/tests/reports/xlsx_dump.py " +
                      (out / "report.xlsx").string() + " > " + dump.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    json x = json::parse(ReadAll(dump));
    ASSERT_FALSE(x["sheets"].empty());
    EXPECT_NE(x.dump().find("SGDDT"), std::string::npos);
    // The HTML is self-contained: no scripts, no external fetches.
    const std::string html = ReadAll(out / "report.html");
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_NE(html.find("<svg"), std::string::npos);
  }

  static TempDir* dir_;
  static Engine* engine_;
};
TempDir* SampleReports::dir_ = nullptr;
Engine* SampleReports::engine_ = nullptr;

TEST_F(SampleReports, SixMonthMatchesGolden) { CheckReport("six_month"); }
TEST_F(SampleReports, AnnualMatchesGolden) { CheckReport("annual"); }

// The action lists come from an in-memory per-record index: after a reopen it is rebuilt from
// the stored contributions and gives the same reports as the one maintained during intake.
TEST_F(SampleReports, ReopenedEngineGivesTheSameReports) {
  std::map<std::string, json> before;
  for (const char* kind : {"six_month", "annual"})
    before[kind] = Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}})["report"];
  delete engine_;
  engine_ = OpenEngine(ConfigFor(dir_->path() / "db.sqlite", {{"reports", {{"dir", TestOut()}}}}),
                         FixedClock("2024-01-15T08:00:00+07:00")).release();
  for (const char* kind : {"six_month", "annual"}) {
    json after = Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}})["report"];
    EXPECT_EQ(after["actions"], before[kind]["actions"]) << kind;
    EXPECT_EQ(after, before[kind]) << kind;

  }
}

TEST_F(SampleReports, UnitReportShowsItsRankAmongSiblings) {
  json r = Q(*engine_, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"unit", "SGDDT.TTRA"}});
  EXPECT_EQ(r["report"]["meta"]["scope"], "unit");
  ASSERT_EQ(r["report"]["scores"].size(), 1u);
  EXPECT_EQ(r["report"]["scores"][0]["unit"]["code"], "SGDDT.TTRA");
  for (const auto& p : r["report"]["actions"]["overdue_petitions"]) EXPECT_EQ(p["unit"], "SGDDT.TTRA");
}

// Headless Chromium on a file (as tests/reports does): exit code and the console lines logged.
int RunChromium(const fs::path& html, const fs::path& png, std::vector<std::string>* console) {
  const fs::path profile = png.parent_path() / ("chromium-profile-" + png.stem().string());
  fs::remove_all(profile);
  const fs::path log = png.parent_path() / (png.stem().string() + ".chromium.log");
  const std::string cmd =
      "timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu "
      "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
      "--hide-scrollbars --window-size=1200,2400 --user-data-dir='" + profile.string() +
      "' --screenshot='" + png.string() + "' --enable-logging=stderr --v=0 'file://" +
      html.string() + "' > /dev/null 2> '" + log.string() + "'";
  const int rc = std::system(cmd.c_str());
  std::istringstream lines(ReadAll(log));
  std::string line;
  while (std::getline(lines, line))
    if (line.find(":CONSOLE") != std::string::npos) console->push_back(line);
  fs::remove_all(profile);
  return rc;
}

TEST_F(SampleReports, HtmlOpensInHeadlessChromiumWithoutConsoleErrors) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium absent";
  const fs::path out = fs::path(TestOut()) / "chromium";
  fs::remove_all(out);
  fs::create_directories(out);
  // Control: a page that logs an error must be caught by the same check.
  WriteAll(out / "control.html",
           "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>x</title></head><body>"
           "<script>console.error('lỗi kiểm thử');</script></body></html>");
  std::vector<std::string> control;
  ASSERT_EQ(RunChromium(out / "control.html", out / "control.png", &control), 0);
  ASSERT_FALSE(control.empty()) << "the console check cannot see console errors";
  for (const char* kind : {"six_month", "annual"}) {
    const fs::path dir = out / kind;
    Q(*engine_, {{"op", "report"}, {"kind", kind}, {"year", 2023}, {"format", "all"}, {"path", dir.string()}});
    const fs::path png = out / (std::string(kind) + ".png");
    std::vector<std::string> console;
    ASSERT_EQ(RunChromium(dir / "report.html", png, &console), 0);
    for (const auto& l : console) ADD_FAILURE() << kind << " console: " << l;
    ASSERT_TRUE(fs::exists(png));
    EXPECT_GT(fs::file_size(png), 20000u);  // a rendered page, not a blank image
    std::printf("screenshot: %s\n", png.c_str());
  }
}

}  // namespace
}  // namespace danvan
