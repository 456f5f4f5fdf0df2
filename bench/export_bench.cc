// export_bench: export throughput, backlog drain time and memory of the portal export
// pipeline (engine -> outbox -> HTTPS -> local portal stand-in with a test CA made at run
// time). One-shot measurements (each run once, figures in bench/RESULTS-export.md):
//
//   export_bench run <dossiers> '<outbox json>' [error_rate]
//       fresh database; submits <dossiers> lifecycles (6 dossier versions 2-4-5-4-9-10 each,
//       host progress items for one in three; 7 outbox items per dossier) with the exporters
//       NOT started (the outage), then starts them and times the drain until the stand-in has
//       every dossier and every step. error_rate: injected 503s during the drain.
//   export_bench outage <dossiers> '<outbox json>'
//       the same, but the exporters run during the fill while the stand-in answers 503 to
//       everything; then the stand-in recovers and the drain is timed.
//   export_bench fill <db> <dossiers>
//       only fills a database file with a backlog (exporters not started): intake rate and
//       peak RSS of the filling process.
//   export_bench fillstore <db> <dossiers>
//       bench-only fast fill: writes each dossier's record (its final version) and its 7 outbox
//       items (the dossier item, then 6 progress steps, with the keys Outbox::Enqueue* make)
//       straight through the Store transaction API, 1,000 dossiers per transaction. It skips
//       intake (validation, tagging, indicators, history), so it says nothing about intake; it
//       only makes backlogs of 100k dossiers / 1M items possible in minutes.
//   export_bench drain <db> '<outbox json>' <seconds>
//       opens a filled database, starts the exporters for at most <seconds> (or until
//       drained): export rate and peak RSS (ru_maxrss) of a process holding that backlog.
//
// '<outbox json>' is merged into the "outbox" section (senders, claim_batch, ...).
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/logger.h"
#include "crash_export/export_plan.h"
#include "engine/test_support.h"
#include "outbox/outbox.h"
#include "sqlite/sqlite_store.h"
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

long MaxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// CPU seconds (user + system) used so far by this process and by its stand-in child (found
// in /proc by parent pid and name): the load-independent cost of the export, since the
// machine's other users make wall-clock rates vary.
double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double StandinCpuSeconds() {
  const long ticks = sysconf(_SC_CLK_TCK);
  double total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || stat.find("(danvan-portal-s") == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid != getpid()) continue;
    std::string skip;
    for (int i = 0; i < 9; ++i) rest >> skip;  // pgrp .. cmajflt
    unsigned long long utime = 0, stime = 0;
    rest >> utime >> stime;
    total += static_cast<double>(utime + stime) / ticks;
  }
  return total;
}

struct CpuMark {
  double self = SelfCpuSeconds(), standin = StandinCpuSeconds();
};

void PrintCpu(const CpuMark& from, int64_t dossiers) {
  CpuMark to;
  const double self = to.self - from.self, standin = to.standin - from.standin;
  std::printf("  CPU during the drain: exporter process %.2f s, stand-in %.2f s = %.3f ms CPU per "
              "dossier (%.3f + %.3f)\n",
              self, standin, 1000 * (self + standin) / dossiers, 1000 * self / dossiers,
              1000 * standin / dossiers);
}

std::unique_ptr<StandinProcess> StartStandin() {
  const auto& pki = GetTestPki();
  auto s = std::make_unique<StandinProcess>(
      pki.server_cert, pki.server_key,
      std::vector<std::string>{"--style", "envelope", "--username", "danvan", "--dstcode",
                               "VN:GOV:H26"},
      std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + cx::kPassword});
  if (!s->started()) {
    std::fprintf(stderr, "stand-in did not start: %s\n", s->stderr_text().c_str());
    std::exit(1);
  }
  return s;
}

json OutboxExtra(const char* text) {
  json o = json::parse(text);
  // A backlog of 1M items must not be refused by back-pressure in these runs.
  if (!o.contains("max_queued")) o["max_queued"] = 100000000;
  return o;
}

std::unique_ptr<danvan::Engine> Open(const std::string& db, const std::string& url,
                                     const json& outbox) {
  setenv(cx::kPasswordEnv, cx::kPassword, 1);
  return danvan::testing::OpenEngine(
      cx::EngineConfig(db, url, GetTestPki().ca_cert, outbox, "normal").dump());
}

// Submits dossiers [from, to) in batches of 50 lifecycles; returns events submitted.
int64_t Fill(danvan::Engine& e, int from, int to) {
  int64_t events = 0;
  std::string jsonl;
  for (int i = from; i < to; i += 50) {
    jsonl.clear();
    for (int d = i; d < std::min(to, i + 50); ++d) {
      for (int k = 0; k < 6; ++k) {
        if (cx::UsesHostSteps(d)) {
          jsonl += cx::Envelope(d, k, cx::ProgressItem(d, k)).dump() + "\n";
          ++events;
        }
        jsonl += cx::Envelope(d, k, cx::DossierItem(d, k)).dump() + "\n";
        ++events;
      }
    }
    auto a = e.SubmitBatch(jsonl);
    if (!a.status.ok()) {
      std::fprintf(stderr, "submit_batch: %s\n", a.status.ToString().c_str());
      std::exit(1);
    }
    for (const auto& r : a.result["results"]) {
      if (r.value("outcome", "") != "accepted") {
        std::fprintf(stderr, "unexpected %s\n", r.dump().c_str());
        std::exit(1);
      }
    }
  }
  return events;
}

// Waits until the stand-in has `dossiers` dossiers and 6 steps each (or the time is up);
// prints progress every 10 s. Returns the seconds taken.
double WaitExported(StandinProcess& s, int64_t dossiers, double max_seconds, json* stats) {
  const auto t0 = Clock::now();
  auto last_print = t0;
  for (;;) {
    *stats = s.Stats();
    const int64_t d = stats->value("dossiers", int64_t{0}), p = stats->value("progress_steps", int64_t{0});
    const auto now = Clock::now();
    if ((d >= dossiers && p >= 6 * dossiers) || Seconds(t0, now) > max_seconds) return Seconds(t0, now);
    if (Seconds(last_print, now) >= 10) {
      std::printf("  ... %.0f s: %lld dossiers, %lld steps at the stand-in, rss %ld MB\n",
                  Seconds(t0, now), static_cast<long long>(d), static_cast<long long>(p),
                  MaxRssKb() / 1024);
      std::fflush(stdout);
      last_print = now;
    }
    // Every poll is an HTTPS request (a new TLS connection) to the stand-in on the same 2
    // cores: 200 ms keeps the harness's own load small; the figures carry a +-0.2 s granularity.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void Report(const char* what, int64_t dossiers, double secs, const json& stats,
            danvan::Engine& e) {
  json st = e.Query(R"({"op":"outbox.status"})").value();
  const int64_t d = stats.value("dossiers", int64_t{0}), p = stats.value("progress_steps", int64_t{0});
  std::printf("%s: %lld/%lld dossiers and %lld steps exported in %.2f s = %.0f dossiers/s "
              "(%.0f steps/s); duplicate_steps %lld, out_of_order %lld; queue %s, dead %lld; "
              "ru_maxrss %ld MB\n",
              what, static_cast<long long>(d), static_cast<long long>(dossiers),
              static_cast<long long>(p), secs, d / secs, p / secs,
              static_cast<long long>(stats.value("duplicate_steps", int64_t{-1})),
              static_cast<long long>(stats.value("out_of_order_steps", int64_t{-1})),
              st["queue"].dump().c_str(), static_cast<long long>(st.value("dead_letters", int64_t{-1})),
              MaxRssKb() / 1024);
  std::printf("  stand-in requests: %s\n", stats["requests"].dump().c_str());
}

// See "fillstore" above. Returns items enqueued.
int64_t FillStore(const std::string& db, int n) {
  danvan::SqliteOptions options;
  options.path = db;
  options.synchronous_full = false;
  auto store_or = danvan::OpenSqliteStore(options);
  if (!store_or.ok()) {
    std::fprintf(stderr, "open store: %s\n", store_or.status().ToString().c_str());
    std::exit(1);
  }
  auto store = std::move(store_or).value();
  danvan::OutboxConfig oc;
  oc.enabled = true;
  danvan::Outbox outbox(oc, store.get(), std::make_shared<danvan::SystemClock>(), danvan::Logger(),
                        nullptr, nullptr, nullptr);
  const auto t0 = Clock::now();
  int64_t items = 0;
  for (int i = 0; i < n; i += 1000) {
    auto tx_or = store->Begin();
    if (!tx_or.ok()) std::exit(1);
    auto& tx = *tx_or.value();
    const int64_t now = danvan::SystemClock().NowMs();
    for (int d = i; d < std::min(n, i + 1000); ++d) {
      danvan::RecordRow row;
      row.key = {cx::kSource, "dossier", cx::DossierId(d)};
      row.unit = cx::kUnit;
      row.order_basis = "version";
      row.order_key = 6;
      row.event_time = cx::IsoTime(cx::TransitionTime(d, 5));
      row.event_time_ms = cx::TransitionTime(d, 5) * 1000;
      row.status = cx::kStatuses[5];
      row.data_json = cx::DossierItem(d, 5).dump();
      row.data_hash = danvan::Sha256HexOpenSsl(row.data_json);
      row.first_seen_ms = row.updated_ms = now;
      auto pk = tx.PutRecord(row);
      if (!pk.ok()) {
        std::fprintf(stderr, "put record: %s\n", pk.status().ToString().c_str());
        std::exit(1);
      }
      row.pk = pk.value();
      danvan::Status st = outbox.EnqueueDossier(tx, row, now);
      for (int k = 0; k < 6 && st.ok(); ++k) st = outbox.EnqueueProgress(tx, row, cx::ProgressItem(d, k), now);
      if (!st.ok()) {
        std::fprintf(stderr, "enqueue: %s\n", st.ToString().c_str());
        std::exit(1);
      }
      items += 7;
    }
    if (!tx.Commit().ok()) std::exit(1);
    if ((i + 1000) % 10000 == 0 || i + 1000 >= n) {
      std::printf("  ... %d dossiers, %lld items, %.0f s, rss %ld MB\n", std::min(n, i + 1000),
                  static_cast<long long>(items), Seconds(t0, Clock::now()), MaxRssKb() / 1024);
      std::fflush(stdout);
    }
  }
  const double secs = Seconds(t0, Clock::now());
  std::printf("fillstore: %d dossiers, %lld outbox items in %.1f s (%.0f items/s); ru_maxrss %ld MB\n",
              n, static_cast<long long>(items), secs, items / secs, MaxRssKb() / 1024);
  return items;
}

int Usage() {
  std::fprintf(stderr,
               "usage: export_bench run <dossiers> '<outbox json>' [error_rate]\n"
               "       export_bench outage <dossiers> '<outbox json>'\n"
               "       export_bench fill <db> <dossiers>\n"
               "       export_bench fillstore <db> <dossiers>\n"
               "       export_bench drain <db> '<outbox json>' <seconds>\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string mode = argv[1];
  if (mode == "run" || mode == "outage") {
    if (argc < 4) return Usage();
    const int n = std::atoi(argv[2]);
    const json outbox = OutboxExtra(argv[3]);
    const double error_rate = argc > 4 ? std::atof(argv[4]) : 0.0;
    auto standin = StartStandin();
    danvan::testing::TempDir dir;
    auto e = Open((dir.path() / "bench.sqlite").string(), standin->url(), outbox);
    if (mode == "outage") {
      standin->Faults({{"error_rate", 1.0}, {"error_status", 503}});
      if (!e->Start().ok()) return 1;
    }
    auto t0 = Clock::now();
    const int64_t events = Fill(*e, 0, n);
    auto t1 = Clock::now();
    std::printf("fill: %lld events (%d dossiers) in %.2f s = %.0f events/s, exporters %s\n",
                static_cast<long long>(events), n, Seconds(t0, t1), events / Seconds(t0, t1),
                mode == "outage" ? "running against a portal answering 503" : "not started");
    standin->Faults({{"error_rate", error_rate}, {"error_status", 503}});
    const CpuMark cpu0;
    if (mode == "run" && !e->Start().ok()) return 1;
    json stats;
    const double secs = WaitExported(*standin, n, 1800, &stats);
    Report(mode == "run" ? (error_rate > 0 ? "drain with injected errors" : "drain")
                         : "drain after the outage",
           n, secs, stats, *e);
    PrintCpu(cpu0, n);
    (void)e->Stop(5000);
    return 0;
  }
  if (mode == "fill") {
    if (argc < 4) return Usage();
    const int n = std::atoi(argv[3]);
    auto e = Open(argv[2], "https://localhost:9", json{{"max_queued", 100000000}});
    auto t0 = Clock::now();
    int64_t events = 0;
    for (int i = 0; i < n; i += 10000) {
      events += Fill(*e, i, std::min(n, i + 10000));
      std::printf("  ... %d dossiers, %.0f s, rss %ld MB\n", std::min(n, i + 10000),
                  Seconds(t0, Clock::now()), MaxRssKb() / 1024);
      std::fflush(stdout);
    }
    const double s = Seconds(t0, Clock::now());
    json st = e->Query(R"({"op":"outbox.status"})").value();
    std::printf("fill: %lld events (%d dossiers) in %.1f s = %.0f events/s; outbox %s; "
                "ru_maxrss %ld MB\n",
                static_cast<long long>(events), n, s, events / s, st["queue"].dump().c_str(),
                MaxRssKb() / 1024);
    return 0;
  }
  if (mode == "fillstore") {
    if (argc < 4) return Usage();
    FillStore(argv[2], std::atoi(argv[3]));
    return 0;
  }
  if (mode == "drain") {
    if (argc < 5) return Usage();
    auto standin = StartStandin();
    auto e = Open(argv[2], standin->url(), OutboxExtra(argv[3]));
    json st0 = e->Query(R"({"op":"outbox.status"})").value();
    std::printf("backlog: %s, ru_maxrss after open %ld MB\n", st0["queue"].dump().c_str(),
                MaxRssKb() / 1024);
    const int64_t pending = st0["queue"].value("pending", int64_t{0});
    const CpuMark cpu0;
    if (!e->Start().ok()) return 1;
    json stats;
    const double secs = WaitExported(*standin, pending / 7, std::atof(argv[4]), &stats);
    Report("drain of a filled backlog", pending / 7, secs, stats, *e);
    PrintCpu(cpu0, stats.value("dossiers", int64_t{1}));
    (void)e->Stop(5000);
    return 0;
  }
  return Usage();
}
