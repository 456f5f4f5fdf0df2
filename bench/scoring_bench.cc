// Scoring and reports benchmark: score 500 units with the shipped default rubric, rank them,
// and render the department's 6-month and annual reports (JSON, CSV, HTML, XLSX).
// Inputs are generated with a fixed seed; indicator aggregation itself is not measured here
// (plugin/indicators keeps the figures incrementally). Results: bench/RESULTS-scoring.md.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "reports/report_model.h"
#include "reports/writers.h"
#include "scoring/rubric.h"
#include "scoring/scoring.h"

namespace {

using namespace danvan;
using scoring::IndicatorValue;

constexpr int kUnits = 500;

const scoring::Rubric& DefaultRubric() {
  static const scoring::Rubric r = [] {
    auto x =
        scoring::Rubric::FromFile(std::string(DANVAN_SOURCE_ROOT) + "/config/rubric/default.json");
    if (!x.ok()) std::abort();
    return std::move(x).value();
  }();
  return r;
}

IndicatorValue Iv(const std::string& id, double num, double den) {
  IndicatorValue v{id, num, den, std::nullopt, std::nullopt, {}};
  if (den != 0) v.ratio = num / den;
  return v;
}

std::vector<scoring::ScoreInputs> MakeInputs(const scoring::Period& period) {
  std::mt19937 rng(20230615);
  std::uniform_real_distribution<double> share(0.4, 1.0);
  std::uniform_int_distribution<int> small(0, 6);
  std::vector<scoring::ScoreInputs> out;
  for (int u = 0; u < kUnits; ++u) {
    scoring::ScoreInputs in;
    in.unit = {"SGDDT.U" + std::to_string(1000 + u), "Đơn vị số " + std::to_string(u + 1), "SGDDT"};
    in.period = period;
    const double dossiers = 20 + (u * 37) % 400;
    for (const char* id :
         {"idx766.synced", "idx766.on_time", "idx766.online", "idx766.paid_online",
          "idx766.e_result", "idx766.digitised", "idx766.reuse", "idx766.population_data",
          "idx766.pakn_satisfaction", "idx766.dossier_satisfaction", "petition.resolved",
          "petition.resolved_on_time", "plan.tasks_on_track"})
      in.indicators.push_back(Iv(id, std::round(dossiers * share(rng)), dossiers));
    for (const char* id :
         {"petition.overdue_open", "petition.group", "petition.reraised", "petition.protracted",
          "petition.staff_conduct", "dvk.registered", "dvk.recognised"})
      in.indicators.push_back(Iv(id, small(rng), 0));
    in.indicators.push_back(Iv("reception.head_months_held", 6 - small(rng) % 3, 6));
    in.indicators.push_back(Iv("plan.tasks_total", 1 + small(rng), 0));
    in.indicators.push_back(Iv("report.six_month_on_time", u % 7 ? 1 : 0, 1));
    for (const char* c : {"g1.plan_issued", "g2.grassroots_democracy", "g5.workplace_culture",
                          "g7.coordination", "g8.hot_spot_handling"}) {
      const scoring::Criterion* crit = DefaultRubric().FindCriterion(c);
      in.manual.push_back({c, scoring::Assessor::kSuperior,
                           std::round(crit->max_points * share(rng) * 2) / 2, "Biên bản kiểm tra",
                           "", "le.van.minh", "2023-06-12T15:00:00+07:00"});
    }
    out.push_back(std::move(in));
  }
  return out;
}

std::vector<scoring::UnitScore> ScoreAll(const std::vector<scoring::ScoreInputs>& inputs) {
  std::vector<scoring::UnitScore> scores;
  scores.reserve(inputs.size());
  for (const auto& in : inputs)
    scores.push_back(std::move(scoring::ScoreUnit(DefaultRubric(), in)).value());
  return std::move(scoring::Rank(std::move(scores))).value();
}

reports::ReportModel MakeModel(const std::string& kind, const scoring::Period& period,
                               std::vector<scoring::UnitScore> scores) {
  reports::ReportModel m;
  m.meta.kind = kind;
  m.meta.period = period;
  m.meta.cut_off = period.to;
  m.meta.scope = "department";
  m.meta.unit = {"SGDDT", "Sở Giáo dục và Đào tạo Hải Phòng", ""};
  m.meta.rubric_id = DefaultRubric().id();
  m.meta.rubric_version = DefaultRubric().version();
  reports::IndicatorTable t{"idx766", "Chỉ số phục vụ (QĐ 766)", "SGDDT", {}};
  for (const auto& v : scores.front().indicators_used) t.rows.push_back({v.id, "", "", v, v});
  m.indicator_tables.push_back(std::move(t));
  for (int i = 0; i < 200; ++i) {
    m.actions.overdue_petitions.push_back(
        {"DT-2023-" + std::to_string(100000 + i), "Khiếu nại về tuyển sinh đầu cấp", "complaint",
         "SGDDT.U1001", "2023-03-02", "2023-04-14", "Phạm Quốc Hùng", 30 + i % 40});
    m.actions.late_plan_tasks.push_back({"KH-DV-2023", std::to_string(i), "Nhiệm vụ kế hoạch",
                                         "Văn phòng Sở", "2023-03-31", "in_progress", 40});
  }
  for (const auto& s : scores) m.scores.push_back(s);
  reports::FillSummary(&m);
  return m;
}

const scoring::Period kH1{"half_year", "2023-01-01", "2023-06-15", "6 tháng đầu năm 2023"};
const scoring::Period kYear{"year", "2022-12-11", "2023-12-10", "Năm 2023"};

void BM_ScoreAndRank500(benchmark::State& state) {
  const auto inputs = MakeInputs(kH1);
  for (auto _ : state) benchmark::DoNotOptimize(ScoreAll(inputs));
  state.SetItemsProcessed(state.iterations() * kUnits);
}
BENCHMARK(BM_ScoreAndRank500)->Unit(benchmark::kMillisecond);

void BM_RenderFormat(benchmark::State& state) {
  const auto model = MakeModel("six_month", kH1, ScoreAll(MakeInputs(kH1)));
  const std::string tmp = std::filesystem::temp_directory_path().string();
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0:
        benchmark::DoNotOptimize(reports::RenderJson(model));
        break;
      case 1:
        benchmark::DoNotOptimize(reports::RenderCsv(model));
        break;
      case 2:
        benchmark::DoNotOptimize(reports::RenderHtml(model));
        break;
      case 3:
        benchmark::DoNotOptimize(reports::RenderXlsx(model, tmp));
        break;
    }
  }
  static const char* kNames[] = {"json", "csv", "html", "xlsx"};
  state.SetLabel(kNames[state.range(0)]);
  size_t bytes = 0;
  switch (state.range(0)) {
    case 0:
      bytes = reports::RenderJson(model).size();
      break;
    case 1:
      for (const auto& f : reports::RenderCsv(model)) bytes += f.content.size();
      break;
    case 2:
      bytes = reports::RenderHtml(model).size();
      break;
    case 3:
      bytes = reports::RenderXlsx(model, tmp)->size();
      break;
  }
  state.counters["output_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderFormat)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// End to end: score and rank 500 units for both periods and render both reports in all formats.
void BM_ScoreRankAndBothReports(benchmark::State& state) {
  const auto h1 = MakeInputs(kH1);
  const auto year = MakeInputs(kYear);
  const std::string tmp = std::filesystem::temp_directory_path().string();
  for (auto _ : state) {
    for (const auto& [kind, period, inputs] :
         {std::tuple{"six_month", kH1, &h1}, std::tuple{"annual", kYear, &year}}) {
      auto model = MakeModel(kind, period, ScoreAll(*inputs));
      benchmark::DoNotOptimize(reports::RenderJson(model));
      benchmark::DoNotOptimize(reports::RenderCsv(model));
      benchmark::DoNotOptimize(reports::RenderHtml(model));
      benchmark::DoNotOptimize(reports::RenderXlsx(model, tmp));
    }
  }
}
BENCHMARK(BM_ScoreRankAndBothReports)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
