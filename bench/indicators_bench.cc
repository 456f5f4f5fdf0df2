// Indicators at 1M stored records (issue 4, "Measure"): query latency for one unit x period and
// for all units of the department, against the same figures computed by SQL GROUP BY over the
// records table of the same SQLite file; and the cost that keeping the indicators adds to intake.
// Results, machine and commands: bench/RESULTS-indicators.md. Built by tests/indicators/CMakeLists.txt.
//
//   indicators_bench [--db /tmp/ind-bench/1m.sqlite] [--records 1000000] [--intake-events 100000]
//                    [google benchmark flags]
//
// The database is built once (if the file does not exist) through the engine (SubmitBatch): each
// generated record is sent in its final version (one event per record), so that 1M events give
// 1M stored records. Intake cost is measured separately on fresh files with the full stream
// (all versions and progress steps, in order):
//   engine   Engine::SubmitBatch, as shipped (parse, validate, store, deadline classification,
//            contributions, aggregate update, result JSON);
//   storage  the same intake and store calls as Engine::ApplyAll (Intake::Parse, GetRecord,
//            HasStep, GetHistory, PutRecord, AppendHistory, Commit) with no evaluation at all;
//   +deadline storage plus RecordEvaluator::Evaluate (classification and contributions), the
//            contributions and deadline stored with the record, and the watch -- no in-memory
//            aggregate update.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>

#include "core/timeutil.h"
#include "engine/intake.h"
#include "engine/test_support.h"
#include "oracle.h"
#include "sqlite/sqlite_store.h"

namespace di = danvan::indtest;
using Clk = std::chrono::steady_clock;

namespace {

const std::string kRoot = DANVAN_SOURCE_ROOT;
std::string g_db = "/tmp/ind-bench/1m.sqlite";
int64_t g_records = 1000000;
int64_t g_intake_events = 100000;
const int64_t kNow = di::VnMs(2024, 1, 20, 10, 0);

std::unique_ptr<danvan::Engine> g_engine;
std::unique_ptr<di::Oracle> g_oracle;
std::unique_ptr<di::SqlOracle> g_sql;
sqlite3* g_raw = nullptr;  // the same file, for timing plain SQL on one open connection
std::vector<std::string> g_units;  // every unit of the department valid in 2023

double Seconds(Clk::time_point a) { return std::chrono::duration<double>(Clk::now() - a).count(); }

// CPU time of the calling thread (the engine runs intake in the caller's thread): robust against
// the other jobs sharing this machine, unlike wall time.
double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Rate {
  double wall = 0, cpu = 0;  // events per second of wall / thread CPU time
};

std::string ConfigText(const std::string& db) {
  return danvan::testing::ConfigFor(db, {{"storage", {{"synchronous", "full"}}}});
}

di::GenOptions Options(uint64_t seed, int scale) {
  di::GenOptions o;
  o.seed = seed;
  // Mix of the sample data: ~70% dossiers, ~20% petitions.
  o.dossiers = 70 * scale;
  o.petitions = 20 * scale;
  o.receptions = 4 * scale;
  o.dvk_models = 3 * scale;
  o.plan_tasks = 3 * scale;
  o.units = g_units;
  o.procedures = di::ProcedureCodes(kRoot + "/config");
  o.first_ms = di::VnMs(2023, 1, 3);
  o.last_ms = di::VnMs(2023, 12, 20);
  o.now_ms = kNow;
  return o;
}

// Builds the 1M-record database through the engine: final version of every record.
void BuildDatabase() {
  std::filesystem::create_directories(std::filesystem::path(g_db).parent_path());
  std::atomic<int64_t> now{kNow};
  auto clock = std::make_shared<danvan::FunctionClock>([&now] { return now.load(); });
  auto engine = danvan::testing::OpenEngine(ConfigText(g_db), clock);
  const int scale = 100;  // 10,000 records per chunk
  int64_t stored = 0, events = 0;
  double submit_s = 0;
  auto t0 = Clk::now();
  for (uint64_t chunk = 1; stored < g_records; ++chunk) {
    di::GeneratedStream s = di::Generate(Options(1000 + chunk, scale));
    std::map<std::string, size_t> last;  // record id -> its last non-progress event
    for (size_t i = 0; i < s.events.size(); ++i)
      if (!s.events[i]["data"].contains("ThoiDiemXuLy")) last[s.events[i]["id"].get<std::string>()] = i;
    std::vector<size_t> order;
    for (const auto& [id, i] : last) order.push_back(i);
    std::sort(order.begin(), order.end());
    std::string jsonl;
    int in_batch = 0;
    auto flush = [&] {
      auto t = Clk::now();
      auto a = engine->SubmitBatch(jsonl);
      submit_s += Seconds(t);
      if (!a.status.ok() || a.result["summary"]["rejected"] != 0) {
        std::cerr << "bulk load failed: " << a.status.ToString() << " " << a.result["summary"].dump() << "\n";
        std::exit(1);
      }
      jsonl.clear();
      in_batch = 0;
    };
    for (size_t i : order) {
      if (stored >= g_records) break;
      jsonl += s.events[i].dump() + "\n";
      ++stored;
      ++events;
      if (++in_batch == 2000) flush();
    }
    if (in_batch) flush();
    if (chunk % 10 == 0)
      std::cerr << "  " << stored << " records, " << events / submit_s << " events/s in SubmitBatch\n";
  }
  std::cerr << "built " << g_db << ": " << stored << " records in " << Seconds(t0) << " s ("
            << events / submit_s << " events/s in SubmitBatch)\n";
}

// ---------------------------------------------------------------------------------------------
// Intake cost

std::vector<std::string> IntakeStream(int64_t n) {
  std::vector<std::string> lines;
  for (uint64_t chunk = 1; static_cast<int64_t>(lines.size()) < n; ++chunk) {
    di::GeneratedStream s = di::Generate(Options(500000 + chunk, 20));
    for (auto& e : s.events) {
      if (static_cast<int64_t>(lines.size()) >= n) break;
      lines.push_back(e.dump());
    }
  }
  return lines;
}

Rate EngineIntake(const std::vector<std::string>& lines, const std::string& db) {
  std::filesystem::remove(db);
  auto clock = std::make_shared<danvan::FunctionClock>([] { return kNow; });
  auto engine = danvan::testing::OpenEngine(ConfigText(db), clock);
  auto t0 = Clk::now();
  const double c0 = ThreadCpu();
  for (size_t i = 0; i < lines.size(); i += 1000) {
    std::string jsonl;
    for (size_t k = i; k < std::min(lines.size(), i + 1000); ++k) jsonl += lines[k] + "\n";
    auto a = engine->SubmitBatch(jsonl);
    if (!a.status.ok()) std::exit(2);
  }
  return {lines.size() / Seconds(t0), lines.size() / (ThreadCpu() - c0)};
}

// The store calls of Engine::ApplyAll without (mode 0) or with (mode 1) the record evaluation.
Rate ReplicaIntake(const std::vector<std::string>& lines, const std::string& db, int mode) {
  using namespace danvan;
  std::filesystem::remove(db);
  SqliteOptions so;
  so.path = db;
  auto store = std::move(OpenSqliteStore(so)).value();
  auto intake = std::move(Intake::Create(kRoot + "/schemas", IntakeLimits{})).value();
  const RecordEvaluator& evaluator = g_oracle->evaluator();
  const int64_t now = kNow;
  auto t0 = Clk::now();
  const double c0 = ThreadCpu();
  for (size_t i = 0; i < lines.size(); i += 1000) {
    std::vector<IntakeOutcome> outs;
    for (size_t k = i; k < std::min(lines.size(), i + 1000); ++k) outs.push_back(intake->Parse(lines[k]));
    auto tx = std::move(store->Begin()).value();
    auto change = [&](RecordRow& row, HistoryRow entry) {
      std::vector<HistoryRow> history;
      if (row.pk != 0) history = tx->GetHistory(row.pk).value();
      history.push_back(entry);
      Evaluation ev;
      if (mode >= 1 && row.has_item) {
        nlohmann::json data = nlohmann::json::parse(row.data_json);
        nlohmann::json tags = nlohmann::json::parse(row.tags_json);
        ev = evaluator.Evaluate(row.key.kind, data, history, tags, row.event_time_ms, now, row.synced);
        nlohmann::json contrib = nlohmann::json::array();
        for (const auto& c : ev.contributions) contrib.push_back(c.ToJson());
        row.contrib_json = contrib.dump();
        row.deadline_json = ev.deadline.is_null() ? "null" : ev.deadline.dump();
      }
      row.updated_ms = now;
      row.pk = tx->PutRecord(row).value();
      if (mode >= 1) (void)tx->SetWatch(row.pk, ev.next_change_ms, ev.next_class);
      entry.record_pk = row.pk;
      (void)tx->AppendHistory(entry);
    };
    for (auto& o : outs) {
      if (!o.ok) continue;
      ParsedEvent& p = o.parsed;
      auto head = tx->GetRecord(p.key).value();
      if (p.is_progress_step) {
        RecordRow row;
        if (head) {
          row = *head;
        } else {
          row.key = p.key;
          row.unit = p.unit;
          row.event_time = p.event_time;
          row.event_time_ms = p.event_time_ms;
          row.data_json = "{}";
          row.data_hash = Sha256Hex(row.data_json);
          row.first_seen_ms = now;
          row.has_item = false;
        }
        if (head && tx->HasStep(head->pk, p.status, p.step_at_ms).value()) continue;
        change(row, {0, p.order_key, p.status, p.step_at_ms, p.event_time, "step", p.data_json, now});
      } else if (head && head->has_item && p.order_key == head->order_key) {
        continue;
      } else if (head && head->has_item && p.order_key < head->order_key) {
        RecordRow row = *head;
        change(row, {0, p.order_key, p.status, p.event_time_ms, p.event_time, "stale", p.data_json, now});
      } else {
        RecordRow row;
        if (head) row = *head;
        else row.first_seen_ms = now;
        row.key = p.key;
        row.unit = p.unit;
        row.order_basis = p.order_basis;
        row.order_key = p.order_key;
        row.event_time = p.event_time;
        row.event_time_ms = p.event_time_ms;
        row.status = p.status;
        row.data_json = p.data_json;
        row.data_hash = p.data_hash;
        row.has_item = true;
        change(row, {0, p.order_key, p.status, p.event_time_ms, p.event_time, "applied", "", now});
      }
    }
    if (!tx->Commit().ok()) std::exit(3);
  }
  return {lines.size() / Seconds(t0), lines.size() / (ThreadCpu() - c0)};
}

// ---------------------------------------------------------------------------------------------
// Query benchmarks

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(q * (v.size() - 1) + 0.5)))];
}

std::string Ymd(int64_t day) {
  std::string s = danvan::FormatIsoDate(day);
  return s.substr(0, 4) + s.substr(5, 2) + s.substr(8, 2);
}

nlohmann::json MonthSpec(int64_t i) { return {{"kind", "month"}, {"year", 2023}, {"month", 1 + i % 12}}; }

std::atomic<int64_t> g_counter{0};

// One unit x one month, every indicator (the `indicators` op as the host calls it, JSON in/out).
void BM_IndicatorsOneUnit(benchmark::State& state) {
  for (auto _ : state) {
    int64_t i = g_counter++;
    nlohmann::json req = {{"op", "indicators"}, {"unit", g_units[1 + i % (g_units.size() - 1)]},
                          {"period", MonthSpec(i / 7)}};
    auto r = g_engine->Query(req.dump());
    benchmark::DoNotOptimize(r);
  }
}

// The department (root: its own records and every descendant's) x one quarter.
void BM_IndicatorsRootQuarter(benchmark::State& state) {
  for (auto _ : state) {
    int64_t i = g_counter++;
    nlohmann::json req = {{"op", "indicators"}, {"unit", "SGDDT"},
                          {"period", {{"kind", "quarter"}, {"year", 2023}, {"quarter", 1 + i % 4}}}};
    auto r = g_engine->Query(req.dump());
    benchmark::DoNotOptimize(r);
  }
}

// Every unit of the department x one month.
void BM_IndicatorsAllUnits(benchmark::State& state) {
  for (auto _ : state) {
    int64_t i = g_counter++;
    for (const auto& u : g_units) {
      nlohmann::json req = {{"op", "indicators"}, {"unit", u}, {"period", MonthSpec(i)}};
      auto r = g_engine->Query(req.dump());
      benchmark::DoNotOptimize(r);
    }
  }
}

// SQL GROUP BY for the same figures: dossiers received (status not 1/3) for one unit x month,
// and dossiers finished / finished by NgayHenTra.
void BM_SqlOneUnit(benchmark::State& state) {
  for (auto _ : state) {
    int64_t i = g_counter++;
    const std::string unit = g_units[1 + i % (g_units.size() - 1)];
    auto p = g_oracle->catalog().ResolvePeriod(MonthSpec(i / 7)).value();
    auto recv = g_sql->DossiersReceivedByUnit(p.from_day, p.to_day);
    auto fin = g_sql->DossiersFinishedByUnit(p.from_day, p.to_day);
    benchmark::DoNotOptimize(recv[unit]);
    benchmark::DoNotOptimize(fin[unit]);
  }
}

// SQL restricted to the one unit's rows (WHERE unit = ?, uses the (kind, unit) index).
void BM_SqlOneUnitIndexed(benchmark::State& state) {
  for (auto _ : state) {
    int64_t i = g_counter++;
    const std::string unit = g_units[1 + i % (g_units.size() - 1)];
    auto p = g_oracle->catalog().ResolvePeriod(MonthSpec(i / 7)).value();
    auto by_kind = g_sql->PetitionsByKind({unit}, p.from_day, p.to_day);
    benchmark::DoNotOptimize(by_kind);
    // dossiers received and finished on time for this unit only
    char* sql = sqlite3_mprintf(
        "SELECT count(*), sum(json_extract(data,'$.TrangThaiHoSo') IN ('7','8','9','10') AND "
        "(json_extract(data,'$.NgayHenTra') = '' OR json_extract(data,'$.NgayKetThucXuLy') <= "
        "json_extract(data,'$.NgayHenTra'))) FROM records WHERE kind = 'dossier' AND unit = %Q AND "
        "json_extract(data,'$.TrangThaiHoSo') NOT IN ('1','3') AND "
        "substr(json_extract(data,'$.NgayTiepNhan'),1,8) BETWEEN '%s' AND '%s'",
        unit.c_str(), Ymd(p.from_day).c_str(), Ymd(p.to_day).c_str());
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(g_raw, sql, -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) benchmark::DoNotOptimize(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_free(sql);
  }
}

void Register(const std::string& name, void (*fn)(benchmark::State&), int reps) {
  benchmark::RegisterBenchmark(name.c_str(), fn)
      ->Iterations(1)
      ->Repetitions(reps)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMicrosecond)
      ->ComputeStatistics("p99", [](const std::vector<double>& v) { return Percentile(v, 0.99); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--db" && i + 1 < argc) g_db = argv[++i];
    else if (a == "--records" && i + 1 < argc) g_records = std::stoll(argv[++i]);
    else if (a == "--intake-events" && i + 1 < argc) g_intake_events = std::stoll(argv[++i]);
    else rest.push_back(argv[i]);
  }
  int rargc = static_cast<int>(rest.size());
  benchmark::Initialize(&rargc, rest.data());

  g_oracle = di::Oracle::Load(kRoot + "/config", kRoot + "/schemas");
  const int64_t d2023 = danvan::DaysFromCivil(2023, 1, 1);
  g_units = g_oracle->units().Descendants("SGDDT", d2023, d2023 + 364);
  std::cerr << g_units.size() << " units\n";

  if (g_intake_events > 0) {
    auto lines = IntakeStream(g_intake_events);
    const std::string tmp = std::filesystem::path(g_db).parent_path() / "intake.sqlite";
    std::filesystem::create_directories(std::filesystem::path(tmp).parent_path());
    // Interleaved, twice each, to even out the shared machine's load.
    std::map<std::string, std::vector<Rate>> rates;
    for (int round = 0; round < 3; ++round) {
      rates["1 storage only"].push_back(ReplicaIntake(lines, tmp, 0));
      rates["2 storage + deadline + contributions (no aggregates)"].push_back(ReplicaIntake(lines, tmp, 1));
      rates["3 engine as shipped"].push_back(EngineIntake(lines, tmp));
    }
    std::filesystem::remove(tmp);
    std::printf("intake, %lld events (all versions and progress steps, in order), batches of 1000, "
                "synchronous=FULL, fresh file; best of 3 runs (events/s):\n", static_cast<long long>(lines.size()));
    for (const auto& [k, v] : rates) {
      double wall = 0, cpu = 0;
      for (const auto& r : v) wall = std::max(wall, r.wall), cpu = std::max(cpu, r.cpu);
      std::printf("  %-55s wall %7.0f   thread CPU %7.0f   (cpu runs: %.0f %.0f %.0f)\n", k.c_str(), wall, cpu,
                  v[0].cpu, v[1].cpu, v[2].cpu);
    }
    std::fflush(stdout);
  }

  if (!std::filesystem::exists(g_db)) BuildDatabase();
  {
    auto t0 = Clk::now();
    g_engine = danvan::testing::OpenEngine(ConfigText(g_db),
                                           std::make_shared<danvan::FunctionClock>([] { return kNow; }));
    std::printf("engine open (rebuilds the aggregates from records.contrib): %.2f s\n", Seconds(t0));
  }
  g_sql = std::make_unique<di::SqlOracle>(g_db);
  if (sqlite3_open_v2(std::string(g_db).c_str(), &g_raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", std::string(g_db).c_str());
    return 1;
  }
  {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(g_raw, "SELECT kind, count(*) FROM records GROUP BY kind", -1, &st, nullptr);
    std::printf("stored records:");
    while (sqlite3_step(st) == SQLITE_ROW)
      std::printf(" %s=%lld", sqlite3_column_text(st, 0), static_cast<long long>(sqlite3_column_int64(st, 1)));
    std::printf("\n");
    sqlite3_finalize(st);
  }
  // Agreement check before timing: the engine and SQL must give the same received counts.
  {
    auto p = g_oracle->catalog().ResolvePeriod(MonthSpec(2)).value();
    auto recv = g_sql->DossiersReceivedByUnit(p.from_day, p.to_day);
    auto a = g_engine->Query(nlohmann::json({{"op", "indicators"}, {"unit", g_units[3]}, {"period", MonthSpec(2)},
                                             {"ids", {"dossier.received"}}}).dump());
    std::printf("check %s March 2023 dossiers received: engine %s, SQL %lld\n", g_units[3].c_str(),
                a.value()["indicators"][0]["value"].dump().c_str(), static_cast<long long>(recv[g_units[3]]));
  }

  Register("indicators/one_unit_x_month", BM_IndicatorsOneUnit, 2000);
  Register("indicators/department_root_x_quarter", BM_IndicatorsRootQuarter, 500);
  Register("indicators/all_units_x_month", BM_IndicatorsAllUnits, 100);
  Register("sql/group_by_unit_x_month", BM_SqlOneUnit, 20);
  Register("sql/one_unit_x_month_where_unit", BM_SqlOneUnitIndexed, 50);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_engine.reset();
  return 0;
}
