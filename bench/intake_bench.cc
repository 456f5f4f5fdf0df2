// Intake benchmark: record events validated and durably stored, in batches of 1,000, through
// the real C ABI (libdanvan.so loaded with dlopen, as a host does), at 100k and 1M events, with
// synchronous=FULL and NORMAL; the same raw lines through plain sqlite3 INSERTs (no validation,
// no upsert) as the simple alternative; and, in-process, the parse and parse+validate costs per
// event for a breakdown.
//
// Sample data: tools/sample-gen/gen_sample.py (seed 2023), generated on first use into
// $DANVAN_BENCH_DIR (default /tmp/danvan-bench) as sample-<N>.jsonl (first N lines of a run
// with a count scale large enough) and reused afterwards. It holds the generator's realistic mix:
// dossiers with progress steps, petitions, receptions, models, plan tasks, ~3% bad events.
//
// Each intake run executes in a fresh process (fork + exec of this binary with --intake-child)
// so that its peak RSS (getrusage ru_maxrss, and VmHWM) is that of a host doing only intake;
// it streams the sample file batch by batch, so the sample itself is never all in memory.
// Time counted: the submit calls (or INSERT transactions) only, not reading the file.
#include <dlfcn.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "danvan/danvan.h"
#include "engine/intake.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 1000;
constexpr double kEventsPerScale = 13000.0;  // gen_sample.py: 1.0 ≈ 13-14k events

fs::path BenchDir() {
  const char* d = std::getenv("DANVAN_BENCH_DIR");
  fs::path dir = d ? d : "/tmp/danvan-bench";
  fs::create_directories(dir);
  return dir;
}

// The first n lines of a gen_sample.py run (seed 2023), generated once and cached.
fs::path SampleFile(int64_t n) {
  fs::path out = BenchDir() / ("sample-" + std::to_string(n) + ".jsonl");
  if (fs::exists(out)) return out;
  fs::path full = BenchDir() / ("sample-" + std::to_string(n) + ".full.jsonl");
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.2f", static_cast<double>(n) / kEventsPerScale * 1.05);
  std::string cmd = std::string("python3 '") + DANVAN_SOURCE_ROOT +
                    "/tools/sample-gen/gen_sample.py' --seed 2023 --count-scale " + scale +
                    " --out '" + full.string() + "' >&2";
  std::fprintf(stderr, "generating sample: %s\n", cmd.c_str());
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "sample generation failed\n");
    std::exit(1);
  }
  std::ifstream in(full, std::ios::binary);
  fs::path tmp = out.string() + ".tmp";
  std::ofstream o(tmp, std::ios::binary);
  std::string line;
  int64_t count = 0;
  while (count < n && std::getline(in, line)) {
    o << line << '\n';
    ++count;
  }
  o.close();
  if (count < n) {
    std::fprintf(stderr, "sample has only %lld events\n", static_cast<long long>(count));
    std::exit(1);
  }
  fs::rename(tmp, out);
  fs::remove(full);
  return out;
}

// Reads up to kBatch lines as one JSON Lines string; returns the number of lines.
int NextBatch(std::ifstream& in, std::string* jsonl) {
  jsonl->clear();
  std::string line;
  int n = 0;
  while (n < kBatch && std::getline(in, line)) {
    if (line.empty()) continue;
    *jsonl += line;
    *jsonl += '\n';
    ++n;
  }
  return n;
}

long VmHwmKb() {
  std::ifstream s("/proc/self/status");
  std::string line;
  while (std::getline(s, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

long MaxRssKb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// User + system CPU seconds of this process so far (all its threads).
double CpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct RunResult {
  double seconds = 0;       // time inside submit calls / insert transactions
  double wall_seconds = 0;  // including reading the sample file
  double cpu_seconds = 0;   // user + system CPU of the whole intake (incl. reading the file)
  long maxrss_kb = 0;
  long hwm_kb = 0;
  long rss_after_open_kb = 0;
  int64_t events = 0;
  int64_t accepted = 0, duplicate = 0, stale = 0, rejected = 0;
  int64_t db_bytes = 0;
};

std::string ResultLine(const RunResult& r) {
  return nlohmann::json{{"seconds", r.seconds},     {"wall_seconds", r.wall_seconds},
                        {"cpu_seconds", r.cpu_seconds},
                        {"maxrss_kb", r.maxrss_kb}, {"hwm_kb", r.hwm_kb},
                        {"rss_open_kb", r.rss_after_open_kb},
                        {"events", r.events},       {"accepted", r.accepted},
                        {"duplicate", r.duplicate}, {"stale", r.stale},
                        {"rejected", r.rejected},   {"db_bytes", r.db_bytes}}
      .dump();
}

int64_t DbBytes(const fs::path& db) {
  int64_t total = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto s = fs::file_size(db.string() + suffix, ec);
    if (!ec) total += static_cast<int64_t>(s);
  }
  return total;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "intake_bench child: %s\n", what.c_str());
  std::_Exit(1);
}

// The library under test: this build's, or (mode "baseline") the one named by
// $DANVAN_BENCH_BASELINE_LIB, e.g. a copy of libdanvan.so built from main, so that before and
// after run in the same process tree, on the same data, under the same load.
const danvan_api* LoadApi(bool baseline) {
  const char* path = DANVAN_LIB_PATH;
  if (baseline) {
    path = std::getenv("DANVAN_BENCH_BASELINE_LIB");
    if (!path) Fail("DANVAN_BENCH_BASELINE_LIB is not set");
  }
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) Fail(std::string("dlopen: ") + dlerror());
  auto get_api = reinterpret_cast<danvan_get_api_fn>(dlsym(lib, "danvan_get_api"));
  const char* reason = nullptr;
  const danvan_api* api = get_api ? get_api(DANVAN_ABI_MAJOR, &reason) : nullptr;
  if (!api) Fail(std::string("danvan_get_api: ") + (reason ? reason : "missing"));
  return api;
}

danvan_handle* OpenPlugin(const danvan_api* api, const fs::path& db, bool full) {
  const std::string config =
      nlohmann::json{{"storage",
                      {{"engine", "sqlite"},
                       {"path", db.string()},
                       {"synchronous", full ? "full" : "normal"}}},
                     {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
                     {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"},
                     {"log", {{"level", "error"}}}}
          .dump();
  danvan_host_services services{};
  services.struct_size = sizeof services;
  // DANVAN_BENCH_NOW_MS: the plugin's clock stands still at this instant, so that two
  // libraries' results (DANVAN_BENCH_RESULTS_OUT) can be compared byte for byte.
  static int64_t fixed_now = 0;
  if (const char* now = std::getenv("DANVAN_BENCH_NOW_MS"); now && *now) {
    fixed_now = std::strtoll(now, nullptr, 10);
    services.now_ms = [](void*) -> int64_t { return fixed_now; };
  }
  danvan_handle* h = nullptr;
  char* err = nullptr;
  if (api->open(config.data(), config.size(), &services, &h, &err) != DANVAN_OK)
    Fail(std::string("open: ") + (err ? err : ""));
  return h;
}

// Child: the plugin through the ABI, batches of kBatch.
RunResult RunPlugin(const fs::path& sample, const fs::path& db, bool full, bool baseline) {
  const danvan_api* api = LoadApi(baseline);
  danvan_handle* h = OpenPlugin(api, db, full);
  char* err = nullptr;
  RunResult r;
  r.rss_after_open_kb = VmHwmKb();
  std::ifstream in(sample, std::ios::binary);
  std::string jsonl;
  std::unique_ptr<std::ofstream> results_out;
  if (const char* path = std::getenv("DANVAN_BENCH_RESULTS_OUT"))
    results_out = std::make_unique<std::ofstream>(path, std::ios::binary);
  Clock::duration in_calls{};
  const auto wall0 = Clock::now();
  const double cpu0 = CpuSeconds();
  // DANVAN_BENCH_SINGLE_SUBMIT (with DANVAN_BENCH_RESULTS_OUT): every line through
  // api->submit instead, each answer (result, then error document) written on its own line.
  const bool single = std::getenv("DANVAN_BENCH_SINGLE_SUBMIT") != nullptr;
  while (int n = NextBatch(in, &jsonl)) {
    if (single) {
      size_t pos = 0;
      while (pos < jsonl.size()) {
        size_t end = jsonl.find('\n', pos);
        if (end == std::string::npos) end = jsonl.size();
        char* out = nullptr;
        size_t out_len = 0;
        char* e = nullptr;
        const danvan_status st = api->submit(h, jsonl.data() + pos, end - pos, &out, &out_len, &e);
        if (results_out) {
          *results_out << api->status_name(st) << '\t';
          if (out) results_out->write(out, static_cast<std::streamsize>(out_len));
          *results_out << '\t' << (e ? e : "") << '\n';
        }
        if (out) api->free(out);
        if (e) api->free(e);
        pos = end + 1;
      }
      r.events += n;
      continue;
    }
    char* out = nullptr;
    size_t out_len = 0;
    const auto t0 = Clock::now();
    danvan_status st = api->submit_batch(h, jsonl.data(), jsonl.size(), &out, &out_len, &err);
    in_calls += Clock::now() - t0;
    if (st != DANVAN_OK) Fail(std::string("submit_batch: ") + (err ? err : ""));
    // Only the summary is needed here; a host would read every result.
    const std::string_view text(out, out_len);
    // DANVAN_BENCH_RESULTS_OUT: every batch's result, one per line (to compare libraries).
    if (results_out) results_out->write(out, static_cast<std::streamsize>(out_len)).put('\n');
    const size_t at = text.rfind("\"summary\":");
    auto s = at == std::string_view::npos
                 ? nlohmann::json()
                 : nlohmann::json::parse(text.substr(at + 10, text.size() - at - 11), nullptr,
                                         false);
    if (s.is_object()) {
      r.accepted += s.value("accepted", 0);
      r.duplicate += s.value("duplicate", 0);
      r.stale += s.value("stale", 0);
      r.rejected += s.value("rejected", 0);
    }
    r.events += n;
    api->free(out);
  }
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - wall0).count();
  r.cpu_seconds = CpuSeconds() - cpu0;
  r.seconds = std::chrono::duration<double>(in_calls).count();
  r.maxrss_kb = MaxRssKb();
  r.hwm_kb = VmHwmKb();
  api->close(h);
  r.db_bytes = DbBytes(db);
  return r;
}

// Child: kThreads host threads each submitting single events (api->submit), every call
// durable before it returns. Events are dealt to threads by record key, so each record's events
// keep their order; the lines are read and dealt before the clock starts.
constexpr int kThreads = 8;
RunResult RunPluginThreads(const fs::path& sample, const fs::path& db, bool full, bool baseline) {
  const danvan_api* api = LoadApi(baseline);
  danvan_handle* h = OpenPlugin(api, db, full);
  RunResult r;
  r.rss_after_open_kb = VmHwmKb();
  std::vector<std::vector<std::string>> lines(kThreads);
  {
    std::ifstream in(sample, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      std::string key = j.is_object() ? j.value("source", "") + "|" + j.value("kind", "") + "|" +
                                            (j.contains("id") ? j["id"].dump() : "")
                                      : line;
      lines[std::hash<std::string>{}(key) % kThreads].push_back(std::move(line));
      ++r.events;
    }
  }
  std::atomic<int64_t> counts[4] = {};  // accepted, duplicate, stale, rejected
  std::atomic<int64_t> errors{0};
  const auto wall0 = Clock::now();
  const double cpu0 = CpuSeconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const auto& l : lines[t]) {
        char* out = nullptr;
        size_t out_len = 0;
        char* err = nullptr;
        const danvan_status st = api->submit(h, l.data(), l.size(), &out, &out_len, &err);
        if (st != DANVAN_OK && st != DANVAN_INVALID_INPUT && st != DANVAN_CONFLICT) ++errors;
        const std::string_view text = out ? std::string_view(out, out_len) : std::string_view();
        int k = text.find("\"outcome\":\"accepted\"") != std::string_view::npos    ? 0
                : text.find("\"outcome\":\"duplicate\"") != std::string_view::npos ? 1
                : text.find("\"outcome\":\"stale\"") != std::string_view::npos     ? 2
                                                                                  : 3;
        ++counts[k];
        if (out) api->free(out);
        if (err) api->free(err);
      }
    });
  }
  for (auto& th : threads) th.join();
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - wall0).count();
  r.seconds = r.wall_seconds;
  r.cpu_seconds = CpuSeconds() - cpu0;
  r.accepted = counts[0];
  r.duplicate = counts[1];
  r.stale = counts[2];
  r.rejected = counts[3];
  if (errors > 0) Fail("submit failed " + std::to_string(errors.load()) + " times");
  r.maxrss_kb = MaxRssKb();
  r.hwm_kb = VmHwmKb();
  api->close(h);
  r.db_bytes = DbBytes(db);
  return r;
}

// Child: the straightforward Python alternative (bench/python_upsert.py: parse each line,
// upsert it into SQLite, 1,000 per transaction, WAL); it reports its own figures.
RunResult RunPython(const fs::path& sample, const fs::path& db, bool full) {
  const std::string cmd = std::string("python3 '") + DANVAN_SOURCE_ROOT + "/bench/python_upsert.py' '" +
                          sample.string() + "' '" + db.string() + "' " + (full ? "full" : "normal");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) Fail("popen python");
  std::string text;
  char buf[4096];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, k);
  if (pclose(p) != 0) Fail("python_upsert.py failed");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) Fail("python_upsert.py: " + text);
  RunResult r;
  r.seconds = j["seconds"];
  r.wall_seconds = j["seconds"];
  r.cpu_seconds = j["cpu_seconds"];
  r.events = j["events"];
  r.accepted = j["upserted"];
  r.rejected = j["rejected"];
  r.maxrss_kb = j["maxrss_kb"];
  r.db_bytes = DbBytes(db);
  return r;
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK)
    Fail(std::string(sql) + ": " + (err ? err : ""));
}

// Child: the simple alternative, raw lines into one table, no validation.
RunResult RunPlainSqlite(const fs::path& sample, const fs::path& path, bool full) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Fail("sqlite3_open");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  Exec(db, "CREATE TABLE events (id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, "
           "raw BLOB NOT NULL)");
  sqlite3_stmt* ins = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO events (received_ms, raw) VALUES (?, ?)", -1, &ins,
                         nullptr) != SQLITE_OK)
    Fail("prepare");
  RunResult r;
  r.rss_after_open_kb = VmHwmKb();
  std::ifstream in(sample, std::ios::binary);
  std::string line;
  std::vector<std::string> batch;
  Clock::duration in_calls{};
  const auto wall0 = Clock::now();
  const double cpu0 = CpuSeconds();
  for (;;) {
    batch.clear();
    while (static_cast<int>(batch.size()) < kBatch && std::getline(in, line))
      if (!line.empty()) batch.push_back(line);
    if (batch.empty()) break;
    const auto t0 = Clock::now();
    Exec(db, "BEGIN");
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const auto& l : batch) {
      sqlite3_bind_int64(ins, 1, now_ms);
      sqlite3_bind_blob(ins, 2, l.data(), static_cast<int>(l.size()), SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) Fail("insert");
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
    in_calls += Clock::now() - t0;
    r.events += static_cast<int64_t>(batch.size());
  }
  r.accepted = r.events;
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - wall0).count();
  r.cpu_seconds = CpuSeconds() - cpu0;
  r.seconds = std::chrono::duration<double>(in_calls).count();
  r.maxrss_kb = MaxRssKb();
  r.hwm_kb = VmHwmKb();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  r.db_bytes = DbBytes(path);
  return r;
}

// Runs one intake in a fresh process and reports it on `state`.
void RunInChild(benchmark::State& state, const char* mode) {
  const int64_t n = state.range(0);
  const bool full = state.range(1) != 0;
  const fs::path sample = SampleFile(n);
  char dir_tmpl[] = "/tmp/danvan-bench-db-XXXXXX";
  if (!mkdtemp(dir_tmpl)) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const fs::path db = fs::path(dir_tmpl) / "bench.db";
  for (auto _ : state) {
    fs::remove(db);
    fs::remove(db.string() + "-wal");
    fs::remove(db.string() + "-shm");
    int fds[2];
    if (pipe(fds) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 3);
      execl("/proc/self/exe", "intake_bench", "--intake-child", mode, sample.c_str(), db.c_str(),
            full ? "full" : "normal", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    ssize_t k;
    while ((k = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(k));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !j.is_object()) {
      state.SkipWithError("intake child failed");
      return;
    }
    const double secs = j["seconds"];
    state.SetIterationTime(secs);
    const double events = j["events"];
    state.counters["events_per_s"] = events / secs;
    state.counters["wall_events_per_s"] = events / j["wall_seconds"].get<double>();
    // Throughput per CPU-second: what one dedicated core would do, fairer on a shared machine.
    state.counters["events_per_cpu_s"] = events / j["cpu_seconds"].get<double>();
    state.counters["peak_rss_MiB"] = j["maxrss_kb"].get<double>() / 1024.0;
    state.counters["rss_after_open_MiB"] = j["rss_open_kb"].get<double>() / 1024.0;
    state.counters["db_MiB"] = j["db_bytes"].get<double>() / (1024.0 * 1024.0);
    state.counters["accepted"] = j["accepted"].get<double>();
    state.counters["dup_or_stale"] = j["duplicate"].get<double>() + j["stale"].get<double>();
    state.counters["rejected"] = j["rejected"].get<double>();
  }
  fs::remove_all(dir_tmpl);
}

void BM_IntakeAbi(benchmark::State& state) { RunInChild(state, "plugin"); }
void BM_IntakeAbiBaseline(benchmark::State& state) {
  if (!std::getenv("DANVAN_BENCH_BASELINE_LIB")) {
    state.SkipWithError("DANVAN_BENCH_BASELINE_LIB not set");
    return;
  }
  RunInChild(state, "baseline");
}
void BM_PlainSqliteInsert(benchmark::State& state) { RunInChild(state, "sqlite"); }
void BM_PythonUpsert(benchmark::State& state) { RunInChild(state, "python"); }
void BM_Submit8Threads(benchmark::State& state) { RunInChild(state, "threads"); }
void BM_Submit8ThreadsBaseline(benchmark::State& state) {
  if (!std::getenv("DANVAN_BENCH_BASELINE_LIB")) {
    state.SkipWithError("DANVAN_BENCH_BASELINE_LIB not set");
    return;
  }
  RunInChild(state, "threads-baseline");
}

// Args: events, synchronous (1 = FULL, 0 = NORMAL). One iteration each: a 1M run takes
// minutes and fills a fresh database.
void IntakeArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"events", "sync_full"});
  for (int64_t n : {100000, 1000000})
    for (int full : {1, 0}) b->Args({n, full});
  b->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
}
BENCHMARK(BM_IntakeAbi)->Apply(IntakeArgs);
BENCHMARK(BM_IntakeAbiBaseline)->Apply(IntakeArgs);
BENCHMARK(BM_PlainSqliteInsert)->Apply(IntakeArgs);
BENCHMARK(BM_PythonUpsert)->Apply(IntakeArgs);

// 8 host threads, single submits, FULL (every call durable): the first 20,000 events.
void ThreadArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"events", "sync_full"});
  b->Args({20000, 1});
  b->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
}
BENCHMARK(BM_Submit8Threads)->Apply(ThreadArgs);
BENCHMARK(BM_Submit8ThreadsBaseline)->Apply(ThreadArgs);

// Breakdown, in-process on the first 20,000 events of the 100k sample (registered after the
// intake runs so that this process is still small when it forks them).
const std::vector<std::string>& BreakdownLines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> v;
    std::ifstream in(SampleFile(100000), std::ios::binary);
    std::string line;
    while (v.size() < 20000 && std::getline(in, line))
      if (!line.empty()) v.push_back(line);
    return v;
  }();
  return lines;
}

// JSON parse only (nlohmann::json), the floor of any validating intake.
void BM_JsonParse(benchmark::State& state) {
  const auto& lines = BreakdownLines();
  for (auto _ : state) {
    for (const auto& l : lines) benchmark::DoNotOptimize(nlohmann::json::parse(l, nullptr, false));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines.size()));
}
BENCHMARK(BM_JsonParse)->Unit(benchmark::kMillisecond);

// danvan::Intake::Parse: UTF-8 check, parse, envelope + kind schema validation (valijson),
// date checks, canonical dump of data, SHA-256 — everything before the store.
void BM_IntakeParseValidate(benchmark::State& state) {
  const auto& lines = BreakdownLines();
  auto intake = danvan::Intake::Create(std::string(DANVAN_SOURCE_ROOT) + "/schemas", {});
  if (!intake.ok()) {
    state.SkipWithError(intake.status().message().c_str());
    return;
  }
  int64_t ok = 0;
  for (auto _ : state) {
    for (const auto& l : lines) ok += intake.value()->Parse(l).ok;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines.size()));
  state.counters["valid_share"] =
      static_cast<double>(ok) / static_cast<double>(state.iterations() * lines.size());
}
BENCHMARK(BM_IntakeParseValidate)->Unit(benchmark::kMillisecond);

int IntakeChildMain(int argc, char** argv) {
  if (argc != 6) return 2;
  const std::string mode = argv[2];
  const bool full = std::string(argv[5]) == "full";
  RunResult r = mode == "plugin"             ? RunPlugin(argv[3], argv[4], full, false)
                : mode == "baseline"         ? RunPlugin(argv[3], argv[4], full, true)
                : mode == "threads"          ? RunPluginThreads(argv[3], argv[4], full, false)
                : mode == "threads-baseline" ? RunPluginThreads(argv[3], argv[4], full, true)
                : mode == "python"           ? RunPython(argv[3], argv[4], full)
                                             : RunPlainSqlite(argv[3], argv[4], full);
  const std::string line = ResultLine(r);
  if (write(3, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--intake-child") == 0) return IntakeChildMain(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
