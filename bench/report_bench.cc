// Scoring, ranking and both reports for the whole department through the engine's query ops
// (plugin/engine/report_ops.cc). Data: the sample generator at DANVAN_BENCH_SCALE (default 1.0,
// about 14k events; 73 is about 1M), loaded once with a fixed clock into a temporary SQLite
// database, or an existing database given by DANVAN_BENCH_DB (opened as is).
// Results: bench/RESULTS-reports.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using nlohmann::json;

struct Loaded {
  testing::TempDir dir;
  std::unique_ptr<Engine> engine;
  int64_t events = 0;
};

Loaded& Data() {
  static Loaded* d = [] {
    auto* l = new Loaded();
    int64_t ms = *ParseIsoTime("2024-01-15T08:00:00+07:00");
    auto clock = std::make_shared<FunctionClock>([ms] { return ms; });
    // DANVAN_BENCH_DB: an existing database is opened as is; a missing one is loaded from the
    // generator at DANVAN_BENCH_SCALE and kept (the 1M-record figures reuse one load).
    const char* keep = std::getenv("DANVAN_BENCH_DB");
    if (keep && std::filesystem::exists(keep)) {
      l->engine = testing::OpenEngine(testing::ConfigFor(keep), clock);
      return l;
    }
    const char* scale = std::getenv("DANVAN_BENCH_SCALE");
    const std::string jsonl = (l->dir.path() / "sample.jsonl").string();
    std::string cmd = "python3 " + std::string(DANVAN_SOURCE_ROOT) +
                      "/tools/sample-gen/gen_sample.py --seed 2023 --count-scale " +
                      (scale ? scale : "1.0") + " --out " + jsonl + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) std::abort();
    l->engine = testing::OpenEngine(
        testing::ConfigFor(keep ? std::filesystem::path(keep) : l->dir.path() / "db.sqlite",
                           {{"storage", {{"synchronous", "normal"}}}}),
        clock);
    std::ifstream in(jsonl);
    std::string line, batch;
    while (std::getline(in, line)) {
      batch += line + "\n";
      if (++l->events % 5000 == 0) {
        l->engine->SubmitBatch(batch);
        batch.clear();
      }
    }
    if (!batch.empty()) l->engine->SubmitBatch(batch);
    return l;
  }();
  return *d;
}

void Run(benchmark::State& state, const json& req) {
  Loaded& d = Data();
  const std::string text = req.dump();
  json last;
  for (auto _ : state) {
    auto r = d.engine->Query(text);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    last = std::move(r).value();
    benchmark::DoNotOptimize(last);
  }
  state.counters["events_loaded"] = static_cast<double>(d.events);
  // The sizes of the action lists, to cross-check against SQL over the stored records.
  if (last.contains("report"))
    for (const auto& [name, list] : last["report"]["actions"].items())
      if (list.is_array()) state.counters[name] = static_cast<double>(list.size());
}

void BM_ScoreAndRank(benchmark::State& state) {
  Run(state, {{"op", "score"}, {"rubric", "default"}, {"period", {{"kind", "year"}, {"year", 2023}}}});
}
void BM_ReportSixMonthJson(benchmark::State& state) {
  Run(state, {{"op", "report"}, {"kind", "six_month"}, {"year", 2023}});
}
void BM_ReportAnnualJson(benchmark::State& state) {
  Run(state, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}});
}
// Score + rank + both reports written in every format (JSON, HTML, XLSX, CSV).
void BM_BothReportsAllFormats(benchmark::State& state) {
  Loaded& d = Data();
  // Relative to reports.dir ("reports" beside the database): the op writes nowhere else.
  const std::string base = "bench-out";
  for (auto _ : state) {
    for (const char* kind : {"six_month", "annual"}) {
      json req = {{"op", "report"}, {"kind", kind}, {"year", 2023}, {"format", "all"},
                  {"path", base + "/" + kind}};
      auto r = d.engine->Query(req.dump());
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
    }
  }
  state.counters["events_loaded"] = static_cast<double>(d.events);
}

BENCHMARK(BM_ScoreAndRank)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_ReportSixMonthJson)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_ReportAnnualJson)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_BothReportsAllFormats)->Unit(benchmark::kMillisecond)->MinTime(2);

}  // namespace
}  // namespace danvan

BENCHMARK_MAIN();
