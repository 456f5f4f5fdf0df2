// pg_bench: intake, indicator-query and export throughput on PostgreSQL against SQLite on the
// same data (issue 17; figures in bench/RESULTS.md, "PostgreSQL against SQLite").
//
//   pg_bench <sqlite|postgres> <nodes> <dossiers> [query_seconds]
//
// The data: export_plan.h's dossier lifecycles (6 versions 2-4-5-4-9-10 each, realistic portal
// items, host progress items for one dossier in three: 8 events per dossier in three, 6
// otherwise; 7 outbox items per dossier). `nodes` engines open the same store (on SQLite only
// 1: one owner per file), each with its own instance name, in this process, each on its own
// connections, as separate host processes would be (nodes share no memory but this process's
// CPU). Three phases, each timed on its own:
//   1. intake: node k submits the events of dossiers i % nodes == k in plan order, batches of 50
//      (submit_batch), all nodes at once; exporters not started;
//   2. queries: every node's thread asks `indicators` (unit SGDDT.VP or SGDDT, month 3 or 4 of
//      2023, in turn) for query_seconds (default 5); queries/s over all nodes;
//   3. export: every node's exporters start against the portal stand-in (default mode, real
//      HTTPS, test CA), timed until the shared queue is empty; items/s.
// PostgreSQL: the server of scripts/pg-test-server.sh named by DANVAN_TEST_PG_STATE (start it
// with PG_TEST_DURABLE=1 for fsync and synchronous commit on, as in production; SQLite runs
// with synchronous "full").
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crash_export/export_plan.h"
#include "engine/test_support.h"
#include "standin_process.h"
#include "test_pki.h"

namespace {

using nlohmann::json;
using danvan::testing::GetTestPki;
using danvan::testing::StandinProcess;
namespace cx = danvan::crash_export;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds (user + system) of this process so far (the nodes and the stand-in's client side;
// not the PostgreSQL server's backends, nor the stand-in process).
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double LoadAverage() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: pg_bench <sqlite|postgres> <nodes> <dossiers> [query_seconds]\n");
    return 2;
  }
  const std::string engine = argv[1];
  const int nodes = std::atoi(argv[2]);
  const int dossiers = std::atoi(argv[3]);
  const double query_seconds = argc > 4 ? std::atof(argv[4]) : 5.0;
  if (engine == "postgres") setenv("DANVAN_TEST_ENGINE", "postgres", 1);
  else unsetenv("DANVAN_TEST_ENGINE");
  if (nodes < 1 || (engine != "postgres" && nodes != 1)) {
    std::fprintf(stderr, "SQLite: one node only\n");
    return 2;
  }

  const auto& pki = GetTestPki();
  StandinProcess standin(pki.server_cert, pki.server_key,
                         {"--style", "envelope", "--username", "danvan", "--dstcode", "VN:GOV:H26"},
                         {std::string("DANVAN_STANDIN_PASSWORD=") + cx::kPassword});
  if (!standin.started()) {
    std::fprintf(stderr, "stand-in: %s\n", standin.stderr_text().c_str());
    return 1;
  }
  setenv(cx::kPasswordEnv, cx::kPassword, 1);
  danvan::testing::TempDir dir;
  // A store named after a fresh path: a fresh database on PostgreSQL too.
  const auto db = dir.path() / ("bench-" + std::to_string(getpid()) + ".sqlite");
  std::vector<std::unique_ptr<danvan::Engine>> engines;
  for (int k = 0; k < nodes; ++k) {
    json c = cx::EngineConfig(db.string(), standin.url(), pki.ca_cert, {{"senders", 2}, {"claim_batch", 50}});
    const json base = json::parse(danvan::testing::ConfigFor(db));
    c["storage"] = base["storage"];
    if (engine == "sqlite") c["storage"]["synchronous"] = "full";
    c["instance"] = "bench-node-" + std::to_string(k);
    c["reports"] = {{"dir", dir.path().string()}};
    engines.push_back(danvan::testing::OpenEngine(c.dump()));
  }

  const auto plan = cx::MakePlan(2026, dossiers, 12);
  std::vector<std::vector<cx::PlanEvent>> parts;
  for (int k = 0; k < nodes; ++k) parts.push_back(cx::Shard(plan, std::to_string(k) + "/" + std::to_string(nodes)));

  // 1. Intake.
  std::atomic<int64_t> failed{0};
  auto t0 = Clock::now();
  double c0 = CpuSeconds();
  {
    std::vector<std::thread> t;
    for (int k = 0; k < nodes; ++k)
      t.emplace_back([&, k] {
        const auto& part = parts[k];
        for (size_t i = 0; i < part.size(); i += 50) {
          std::string jsonl;
          for (size_t j = i; j < std::min(part.size(), i + 50); ++j) jsonl += part[j].line + "\n";
          for (int attempt = 0;; ++attempt) {
            auto a = engines[k]->SubmitBatch(jsonl);
            if (a.status.ok()) break;
            if (a.status.code() != danvan::Status::Code::kRetryLater || attempt > 50) {
              std::fprintf(stderr, "submit: %s\n", a.status.ToString().c_str());
              ++failed;
              break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    for (auto& th : t) th.join();
  }
  const double intake_s = Seconds(t0, Clock::now()), intake_cpu = CpuSeconds() - c0;

  // 2. Indicator queries.
  std::atomic<int64_t> queries{0};
  const auto qs = cx::IndicatorQueries();
  t0 = Clock::now();
  {
    std::vector<std::thread> t;
    for (int k = 0; k < nodes; ++k)
      t.emplace_back([&, k] {
        const auto until = t0 + std::chrono::duration<double>(query_seconds);
        for (size_t i = k; Clock::now() < until; ++i) {
          auto r = engines[k]->Query(qs[i % qs.size()].dump());
          if (!r.ok()) {
            ++failed;
            return;
          }
          ++queries;
        }
      });
    for (auto& th : t) th.join();
  }
  const double query_s = Seconds(t0, Clock::now());

  // 3. Export.
  t0 = Clock::now();
  for (auto& e : engines) {
    auto st = e->Start();
    if (!st.ok()) {
      std::fprintf(stderr, "start: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  json status;
  for (;;) {
    status = engines[0]->Query(R"({"op":"outbox.status"})").value();
    if (status["queue"].value("pending", 0) == 0 && status["queue"].value("held", 0) == 0) break;
    if (Seconds(t0, Clock::now()) > 1800) {
      std::fprintf(stderr, "not drained in 30 min: %s\n", status.dump().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double export_s = Seconds(t0, Clock::now());
  const int64_t items = status["queue"].value("done", int64_t{0});
  for (auto& e : engines) (void)e->Stop(10000);

  std::printf("load average %.1f; intake CPU of this process %.2f s\n", LoadAverage(), intake_cpu);
  std::printf("%s, %d node(s), %d dossiers: intake %zu events in %.2f s = %.0f events/s; "
              "indicators %lld queries in %.1f s = %.0f queries/s; export %lld items in %.2f s = "
              "%.0f items/s; failures %lld; dead letters %lld\n",
              engine.c_str(), nodes, dossiers, plan.size(), intake_s, plan.size() / intake_s,
              static_cast<long long>(queries.load()), query_s, queries.load() / query_s,
              static_cast<long long>(items), export_s, items / export_s,
              static_cast<long long>(failed.load()),
              static_cast<long long>(status.value("dead_letters", int64_t{0})));
  return failed.load() == 0 ? 0 : 1;
}
