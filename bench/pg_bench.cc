// pg_bench: intake, indicator-query and export throughput on PostgreSQL against SQLite on the
// same data (issue 17; figures in bench/RESULTS.md, "PostgreSQL against SQLite").
//
//   pg_bench <sqlite|postgres> <nodes> <dossiers> [query_seconds] [--processes]
//
// With --processes (PostgreSQL) each node is a host process of its own (this program run again
// as `pg_bench --node ...`), as on separate application servers: the parent starts the stand-in
// and the nodes, tells them over a pipe when each phase starts and times the phase until the
// last node reports it done; the CPU figure is then the node processes' own (their getrusage).
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
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
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

// One phase of a node: what it did and the CPU it spent (one line on the parent's pipe).
struct PhaseReport {
  double cpu = 0;
  int64_t count = 0, failed = 0, dead = 0;
};

// The intake phase of one node: its shard of the plan in batches of 50 (submit_batch);
// RETRY_LATER is submitted again, as a host does. Returns the batches that failed.
int64_t SubmitShard(danvan::Engine& e, const std::vector<cx::PlanEvent>& part) {
  int64_t failed = 0;
  for (size_t i = 0; i < part.size(); i += 50) {
    std::string jsonl;
    for (size_t j = i; j < std::min(part.size(), i + 50); ++j) jsonl += part[j].line + "\n";
    for (int attempt = 0;; ++attempt) {
      auto a = e.SubmitBatch(jsonl);
      if (a.status.ok()) break;
      if (a.status.code() != danvan::Status::Code::kRetryLater || attempt > 50) {
        std::fprintf(stderr, "submit: %s\n", a.status.ToString().c_str());
        ++failed;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return failed;
}

// Indicator queries of node k until `until`: the number answered, or -1 - n when one failed
// after n.
int64_t QueryUntil(danvan::Engine& e, int k, Clock::time_point until) {
  const auto qs = cx::IndicatorQueries();
  int64_t n = 0;
  for (size_t i = k; Clock::now() < until; ++i) {
    auto r = e.Query(qs[i % qs.size()].dump());
    if (!r.ok()) return -1 - n;
    ++n;
  }
  return n;
}

// Waits until the shared queue is empty; false after 30 minutes.
bool Drain(danvan::Engine& e, json* status) {
  const auto t0 = Clock::now();
  for (;;) {
    *status = e.Query(R"({"op":"outbox.status"})").value();
    if ((*status)["queue"].value("pending", 0) == 0 && (*status)["queue"].value("held", 0) == 0) return true;
    if (Seconds(t0, Clock::now()) > 1800) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// `pg_bench --node CONFIG_FILE K NODES DOSSIERS QUERY_SECONDS`: node K as a process of its own.
// Reads one phase name a line on stdin ("intake", "query", "export", "stop"), runs it and
// answers one line on stdout: "<phase> <count> <failed> <dead letters> <cpu seconds>".
int NodeMain(char** argv) {
  std::ifstream in(argv[2]);
  std::stringstream text;
  text << in.rdbuf();
  const int k = std::atoi(argv[3]), nodes = std::atoi(argv[4]), dossiers = std::atoi(argv[5]);
  const double query_seconds = std::atof(argv[6]);
  auto engine = danvan::testing::OpenEngine(text.str());
  const auto part = cx::Shard(cx::MakePlan(2026, dossiers, 12), std::to_string(k) + "/" + std::to_string(nodes));
  std::printf("ready\n");
  std::fflush(stdout);
  std::string phase;
  while (std::getline(std::cin, phase)) {
    if (phase == "stop") break;
    PhaseReport r;
    const double c0 = CpuSeconds();
    if (phase == "intake") {
      r.failed = SubmitShard(*engine, part);
      r.count = static_cast<int64_t>(part.size());
    } else if (phase == "query") {
      r.count = QueryUntil(*engine, k, Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(query_seconds)));
      if (r.count < 0) {
        r.count = -1 - r.count;
        r.failed = 1;
      }
    } else if (phase == "export") {
      if (!engine->Start().ok()) r.failed = 1;
      json status;
      if (!Drain(*engine, &status)) r.failed = 1;
      r.count = status["queue"].value("done", int64_t{0});
      r.dead = status.value("dead_letters", int64_t{0});
    } else {
      r.failed = 1;
    }
    r.cpu = CpuSeconds() - c0;
    std::printf("%s %lld %lld %lld %.3f\n", phase.c_str(), static_cast<long long>(r.count),
                static_cast<long long>(r.failed), static_cast<long long>(r.dead), r.cpu);
    std::fflush(stdout);
  }
  return engine->Stop(10000).ok() ? 0 : 1;
}

// A node process started by the parent, with a pipe each way.
struct NodeProcess {
  pid_t pid = -1;
  FILE* to = nullptr;    // its stdin
  FILE* from = nullptr;  // its stdout
};

NodeProcess SpawnNode(const std::vector<std::string>& args) {
  int in[2], out[2];
  if (pipe(in) != 0) return {};
  if (pipe(out) != 0) {
    close(in[0]);
    close(in[1]);
    return {};
  }
  NodeProcess n;
  n.pid = fork();
  if (n.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  n.to = fdopen(in[1], "w");
  n.from = fdopen(out[0], "r");
  return n;
}

std::string ReadLine(FILE* f) {
  char buf[512];
  if (!f || !fgets(buf, sizeof buf, f)) return "";
  std::string s(buf);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Sends `phase` to every node at once and waits for each one's answer: the wall time until the
// last answered; the reports summed into *sum (export: the shared queue's count, once).
double RunPhase(std::vector<NodeProcess>& nodes, const std::string& phase, PhaseReport* sum) {
  const auto t0 = Clock::now();
  for (auto& n : nodes) {
    std::fprintf(n.to, "%s\n", phase.c_str());
    std::fflush(n.to);
  }
  for (auto& n : nodes) {
    std::istringstream line(ReadLine(n.from));
    std::string name;
    PhaseReport r;
    if (!(line >> name >> r.count >> r.failed >> r.dead >> r.cpu) || name != phase) {
      ++sum->failed;
      continue;
    }
    sum->failed += r.failed;
    sum->cpu += r.cpu;
    sum->dead = std::max(sum->dead, r.dead);
    sum->count = phase == "export" ? std::max(sum->count, r.count) : sum->count + r.count;
  }
  return Seconds(t0, Clock::now());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::string(argv[1]) == "--node") return NodeMain(argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: pg_bench <sqlite|postgres> <nodes> <dossiers> [query_seconds]\n");
    return 2;
  }
  const std::string engine = argv[1];
  const int nodes = std::atoi(argv[2]);
  const int dossiers = std::atoi(argv[3]);
  const double query_seconds = argc > 4 ? std::atof(argv[4]) : 5.0;
  const bool processes = argc > 5 && std::string(argv[5]) == "--processes";
  if (engine == "postgres") setenv("DANVAN_TEST_ENGINE", "postgres", 1);
  else unsetenv("DANVAN_TEST_ENGINE");
  if (nodes < 1 || (engine != "postgres" && nodes != 1)) {
    std::fprintf(stderr, "SQLite: one node only\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);  // a node process that died is reported, not a reason to die

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
  std::vector<NodeProcess> children;
  for (int k = 0; k < nodes; ++k) {
    json c = cx::EngineConfig(db.string(), standin.url(), pki.ca_cert, {{"senders", 2}, {"claim_batch", 50}});
    const json base = json::parse(danvan::testing::ConfigFor(db));
    c["storage"] = base["storage"];
    if (engine == "sqlite") c["storage"]["synchronous"] = "full";
    c["instance"] = "bench-node-" + std::to_string(k);
    c["reports"] = {{"dir", dir.path().string()}};
    if (!processes) {
      engines.push_back(danvan::testing::OpenEngine(c.dump()));
      continue;
    }
    const auto file = dir.path() / ("node-" + std::to_string(k) + ".json");
    std::ofstream(file) << c.dump();
    children.push_back(SpawnNode({argv[0], "--node", file.string(), std::to_string(k), std::to_string(nodes),
                                  std::to_string(dossiers), std::to_string(query_seconds)}));
    if (children.back().pid < 0 || ReadLine(children.back().from) != "ready") {
      std::fprintf(stderr, "node %d did not open\n", k);
      return 1;
    }
  }
  if (processes) {
    PhaseReport in, q, ex;
    const double intake_s = RunPhase(children, "intake", &in);
    const double query_s = RunPhase(children, "query", &q);
    const double export_s = RunPhase(children, "export", &ex);
    for (auto& n : children) {
      std::fprintf(n.to, "stop\n");
      std::fflush(n.to);
    }
    int exit_failures = 0;
    for (auto& n : children) {
      int wst = 0;
      waitpid(n.pid, &wst, 0);
      exit_failures += !(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    }
    const int64_t failed = in.failed + q.failed + ex.failed + exit_failures;
    std::printf("load average %.1f; intake CPU of the node processes %.2f s\n", LoadAverage(), in.cpu);
    std::printf("%s, %d node processes, %d dossiers: intake %lld events in %.2f s = %.0f events/s; "
                "indicators %lld queries in %.1f s = %.0f queries/s; export %lld items in %.2f s = "
                "%.0f items/s; failures %lld; dead letters %lld\n",
                engine.c_str(), nodes, dossiers, static_cast<long long>(in.count), intake_s, in.count / intake_s,
                static_cast<long long>(q.count), query_s, q.count / query_s, static_cast<long long>(ex.count),
                export_s, ex.count / export_s, static_cast<long long>(failed), static_cast<long long>(ex.dead));
    return failed == 0 ? 0 : 1;
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
    for (int k = 0; k < nodes; ++k) t.emplace_back([&, k] { failed += SubmitShard(*engines[k], parts[k]); });
    for (auto& th : t) th.join();
  }
  const double intake_s = Seconds(t0, Clock::now()), intake_cpu = CpuSeconds() - c0;

  // 2. Indicator queries.
  std::atomic<int64_t> queries{0};
  t0 = Clock::now();
  {
    std::vector<std::thread> t;
    const auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(query_seconds));
    for (int k = 0; k < nodes; ++k)
      t.emplace_back([&, k] {
        const int64_t n = QueryUntil(*engines[k], k, until);
        if (n < 0) ++failed;
        queries += n < 0 ? -1 - n : n;
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
  if (!Drain(*engines[0], &status)) {
    std::fprintf(stderr, "not drained in 30 min: %s\n", status.dump().c_str());
    return 1;
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
