// Bounded memory of the score and report ops at city scale (issue 16: at 10M events the score
// op's answer was a ~55 MB document for 10.3 MB of text, and a report held every unit's
// UnitScore, ~29 KB each, and its action lists as structs). The plugin is loaded as a host
// loads it (dlopen, danvan_get_api) and this program replaces the global operator new/delete
// to count the bytes the plugin's C++ code holds (malloc_usable_size of each block; the
// library's operator new calls bind to this program's), so the tests assert on the
// allocation high-water mark of one query, a deterministic figure, not on RSS or time. What
// C code allocates with malloc (SQLite, libxlsxwriter, the answer handed to the host) is not
// counted (tests/counting_new.h).
//
// Data: a units tree of one root and 600 schools (no records: every unit is still scored on
// every criterion; the department's months without a head reception are its action list).
//
// Its own executable: the replaced operators apply to the whole program.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "counting_new.h"
#include "danvan/danvan.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSchools = 600;

struct Plugin {
  void* lib = nullptr;
  const danvan_api* api = nullptr;
  danvan_handle* h = nullptr;
  fs::path dir;

  Plugin() {
    dir = fs::path(DANVAN_REPORT_OPS_MEMORY_TEST_OUT) / "bounded-ops";
    fs::remove_all(dir);
    fs::create_directories(dir / "reports");
    json units = {{"hierarchy_id", "memory-test"}, {"name", "Cây đơn vị thử"}, {"version", "1"},
                  {"source", "tests/report_ops/memory"}, {"units", json::array()}};
    units["units"].push_back({{"code", "SO"}, {"name", "Sở Giáo dục và Đào tạo"}, {"parent", nullptr},
                              {"type", "department"}, {"valid_from", "2008-01-01"}, {"valid_to", nullptr}});
    for (int i = 0; i < kSchools; ++i)
      units["units"].push_back({{"code", "SO.T" + std::to_string(1000 + i)},
                                {"name", "Trường Trung học phổ thông số " + std::to_string(i + 1)},
                                {"parent", "SO"}, {"type", "school"}, {"valid_from", "2008-01-01"},
                                {"valid_to", nullptr}});
    std::ofstream(dir / "units.json") << units.dump(1);
    lib = dlopen(DANVAN_PLUGIN_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw std::runtime_error(dlerror());
    auto get = reinterpret_cast<danvan_get_api_fn>(dlsym(lib, "danvan_get_api"));
    const char* reason = nullptr;
    api = get ? get(DANVAN_ABI_MAJOR, &reason) : nullptr;
    if (!api) throw std::runtime_error(reason ? reason : "danvan_get_api");
    const json config = {{"storage", {{"engine", "sqlite"}, {"path", (dir / "db.sqlite").string()}}},
                         {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
                         {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"},
                         {"indicators", {{"units_file", (dir / "units.json").string()}}},
                         {"reports", {{"dir", (dir / "reports").string()}}},
                         {"log", {{"level", "warn"}}}};
    const std::string text = config.dump();
    danvan_host_services services{};
    services.struct_size = sizeof services;
    char* err = nullptr;
    if (api->open(text.data(), text.size(), &services, &h, &err) != DANVAN_OK)
      throw std::runtime_error(std::string("open: ") + (err ? err : "?"));
  }
  ~Plugin() {
    if (h) api->close(h);
  }

  // The answer's length, and the bytes of C++ heap the query held at most above what was
  // held before it.
  struct Measured {
    size_t answer = 0;
    int64_t held = 0;
    std::string text;
  };
  Measured Query(const json& req) {
    const std::string r = req.dump();
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    const int64_t base = danvan::testing::counting::ResetPeak();
    const danvan_status st = api->query(h, r.data(), r.size(), &out, &len, &err);
    Measured m{len, danvan::testing::counting::Peak() - base, out ? std::string(out, len) : std::string()};
    EXPECT_EQ(st, DANVAN_OK) << r << ": " << (err ? err : "");
    api->free(out);
    api->free(err);
    return m;
  }
};

const json kPeriod = {{"kind", "half_year"}, {"year", 2025}};

// The score op's answer for 600 units (~6 MB) is written as text straight into the buffer the
// host gets: what the C++ code holds at once is the packed scores (~1 KB a unit) and one
// unit's text, under half the answer; with the journal, the journal's body (the answer less the
// ranking) once more. Main before this change held every UnitScore, the answer's document
// (~5x its text) and the text: several times the answer.
TEST(BoundedReportOps, ScoreAnswerWrittenAsTextNotAsADocument) {
  Plugin p;
  const auto dry = p.Query({{"op", "score"}, {"period", kPeriod}, {"journal", false}});
  const auto journaled = p.Query({{"op", "score"}, {"period", kPeriod}});
  std::printf("score answer %zu bytes: held at most %jd bytes (journal: false), %jd (journal: true)\n",
              dry.answer, static_cast<intmax_t>(dry.held), static_cast<intmax_t>(journaled.held));
  ASSERT_GT(dry.answer, size_t{4} << 20);  // ~10 KB of text per unit
  const json answer = json::parse(dry.text);
  ASSERT_EQ(answer["scores"].size(), static_cast<size_t>(kSchools));
  EXPECT_FALSE(answer["journaled"].get<bool>());
  EXPECT_LT(dry.held, static_cast<int64_t>(dry.answer / 2));
  EXPECT_LT(journaled.held, static_cast<int64_t>(journaled.answer + journaled.answer / 4));
}

// A report of the 600 units (every format written to files) holds each unit's score packed and
// its action lists as packed rows; main before this change held every UnitScore (~3x the
// scores' text) while writing.
TEST(BoundedReportOps, ReportModelHoldsPackedScores) {
  Plugin p;
  const auto score = p.Query({{"op", "score"}, {"period", kPeriod}, {"journal", false}});
  const auto report = p.Query({{"op", "report"}, {"kind", "six_month"}, {"year", 2025}, {"format", "all"},
                               {"path", "six_month"}});
  std::printf("report: held at most %jd bytes (the scores' text: %zu bytes)\n",
              static_cast<intmax_t>(report.held), score.answer);
  const json model = json::parse(std::ifstream(p.dir / "reports" / "six_month" / "report.json"));
  ASSERT_EQ(model["scores"].size(), static_cast<size_t>(kSchools));
  ASSERT_FALSE(model["actions"]["missed_head_reception"].empty());  // the department's months
  EXPECT_LT(report.held, static_cast<int64_t>(score.answer / 2));
}

}  // namespace
