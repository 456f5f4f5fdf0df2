// City-scale benchmark stages (issue 16), driven by bench/city_bench.py. A host that loads
// libdanvan.so through dlopen, as a one-stop system does; each subcommand prints one JSON
// object on stdout with its figures (wall and CPU seconds from getrusage of this process,
// peak RSS = ru_maxrss, steady RSS = VmRSS at the end).
//
//   city_tool intake   LIB CONFIG EVENTS.jsonl BATCH [LIMIT]   submit_batch, BATCH lines per call
//   city_tool submit8  LIB CONFIG EVENTS.jsonl THREADS LIMIT   single submits from THREADS threads,
//                                                              lines dealt by record key
//   city_tool open     LIB CONFIG                              open (timed), stats, close
//   city_tool queries  LIB CONFIG YEAR_FROM YEAR_TO N          indicators: one leaf unit x month
//                                                              (N queries), all units x month,
//                                                              root x year, drill-down (explain)
//   city_tool reports  LIB CONFIG YEAR [phases][,noscore][,nojournal][,counters] [SCORE_OUT]
//                                                              score + both reports;
//                                                              SCORE_OUT: the score answer's bytes;
//                                                              phases: each stage's own peak RSS;
//                                                              counters: each op's minor page
//                                                              faults (this thread)
//   city_tool answers  LIB CONFIG YEAR_FROM YEAR_TO N OUT      N indicators answers, one a line
//                                                              (to compare two libraries)
//   city_tool retag    LIB CONFIG [RULES]                      tagging.reload, wait until done;
//                                                              one-unit queries timed beside it
//   city_tool tagsample EVENTS MOD OUT                         the event lines of 1/MOD of the
//                                                              records (by key hash)
//   city_tool tagcheck LIB CONFIG FRESH_CONFIG SAMPLE          the sample's tags in CONFIG's
//                                                              database = a fresh intake's
//   city_tool insert   EVENTS.jsonl DB [LIMIT]                 baseline: plain prepared INSERT
//   city_tool groupby  DB UNIT YEAR MONTH                      baseline: SQL GROUP BY on the
//                                                              plugin's own database
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "danvan/danvan.h"

using nlohmann::json;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Minor page faults of the calling thread (pages touched for the first time, or again after
// malloc gave them back to the system).
int64_t ThreadMinorFaults() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

int64_t PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int64_t StatusKb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') return std::atoll(line.c_str() + n + 1);
  return -1;
}

int64_t RssKb() { return StatusKb("VmRSS"); }

// Where the resident memory is (issue 16): anonymous pages (the heap: the plugin's structures,
// and freed memory malloc has not given back) and file pages (the mapped libraries' code), and
// malloc's own view of the heap: bytes in use and bytes free but kept.
json MemoryBreakdown() {
  const struct mallinfo2 mi = mallinfo2();
  return {{"rss_kb", RssKb()}, {"rss_anon_kb", StatusKb("RssAnon")}, {"rss_file_kb", StatusKb("RssFile")},
          {"malloc_in_use_kb", static_cast<int64_t>((mi.uordblks + mi.hblkhd) / 1024)},
          {"malloc_free_kept_kb", static_cast<int64_t>(mi.fordblks / 1024)}};
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "city_tool: %s\n", msg.c_str());
  std::exit(1);
}

struct Plugin {
  const danvan_api* api = nullptr;
  danvan_handle* h = nullptr;
  double open_seconds = 0;

  Plugin(const std::string& lib, const std::string& config_path, bool start) {
    void* so = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!so) Die(std::string("dlopen: ") + dlerror());
    auto get = reinterpret_cast<danvan_get_api_fn>(dlsym(so, "danvan_get_api"));
    const char* reason = nullptr;
    api = get ? get(DANVAN_ABI_MAJOR, &reason) : nullptr;
    if (!api) Die(std::string("danvan_get_api: ") + (reason ? reason : "missing"));
    std::ifstream f(config_path);
    std::string config((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    danvan_host_services services{};
    services.struct_size = sizeof(services);
    char* err = nullptr;
    const double t0 = Now();
    danvan_status st = api->open(config.data(), config.size(), &services, &h, &err);
    open_seconds = Now() - t0;
    if (st != DANVAN_OK) Die(std::string("open: ") + api->status_name(st) + " " + (err ? err : ""));
    if (start) {
      st = api->start(h, &err);
      if (st != DANVAN_OK) Die(std::string("start: ") + (err ? err : ""));
    }
  }
  void Close() {
    char* err = nullptr;
    api->stop(h, 600000, &err);
    api->free(err);
    api->close(h);
    h = nullptr;
  }
  // The call alone, as a host that forwards the answer: the answer is not parsed (parsing a
  // 20 KB answer costs the host more than the plugin's work).
  // Returns the answer's size in bytes.
  // The answer's length; with `to`, its bytes are also written there.
  size_t QueryRaw(const json& req, bool must = true, std::ostream* to = nullptr) {
    const std::string r = req.dump();
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    danvan_status st = api->query(h, r.data(), r.size(), &out, &len, &err);
    if (to && out) to->write(out, static_cast<std::streamsize>(len));
    const std::string e = err ? err : "";
    api->free(out);
    api->free(err);
    if (st != DANVAN_OK && must) Die("query " + r + ": " + api->status_name(st) + " " + e);
    return len;
  }
  json Query(const json& req, bool must = true) {
    const std::string r = req.dump();
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    danvan_status st = api->query(h, r.data(), r.size(), &out, &len, &err);
    json answer = out ? json::parse(out, out + len, nullptr, false) : json();
    std::string e = err ? err : "";
    api->free(out);
    api->free(err);
    if (st != DANVAN_OK && must) Die("query " + r + ": " + api->status_name(st) + " " + e);
    return answer;
  }
};

// Reads lines of a JSONL file (at most limit; 0 = all) in chunks.
class Lines {
 public:
  explicit Lines(const std::string& path) : f_(path) {
    if (!f_) Die("cannot read " + path);
  }
  bool Next(std::string* line) {
    while (std::getline(f_, *line))
      if (!line->empty()) return true;
    return false;
  }

 private:
  std::ifstream f_;
};

json Percentiles(std::vector<double> us) {
  if (us.empty()) return json::object();
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  double sum = 0;
  for (double v : us) sum += v;
  return {{"n", us.size()}, {"median_us", at(0.5)}, {"p99_us", at(0.99)}, {"max_us", us.back()},
          {"mean_us", sum / us.size()}};
}

int Intake(int argc, char** argv) {
  if (argc < 6) Die("intake LIB CONFIG EVENTS BATCH [LIMIT]");
  const int64_t batch = std::atoll(argv[5]);
  const int64_t limit = argc > 6 ? std::atoll(argv[6]) : 0;
  Plugin p(argv[2], argv[3], true);
  Lines lines(argv[4]);
  std::string line, buf;
  int64_t events = 0, in_batch = 0;
  json summary = {{"accepted", 0}, {"duplicate", 0}, {"stale", 0}, {"rejected", 0}};
  const double t0 = Now(), c0 = CpuSeconds();
  double last_report = t0;
  auto flush = [&]() {
    if (buf.empty()) return;
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    for (int attempt = 0;; ++attempt) {
      danvan_status st = p.api->submit_batch(p.h, buf.data(), buf.size(), &out, &len, &err);
      if (st == DANVAN_RETRY_LATER && attempt < 100) {
        p.api->free(out);
        p.api->free(err);
        out = err = nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      if (st != DANVAN_OK) Die(std::string("submit_batch: ") + p.api->status_name(st) + " " + (err ? err : ""));
      break;
    }
    // Only the summary is read: parsing every result would cost the host, not the plugin.
    std::string_view view(out, len);
    const size_t at = view.rfind("\"summary\"");
    if (at != std::string_view::npos) {
      json s = json::parse(view.substr(at + 10, view.size() - at - 11), nullptr, false);
      if (s.is_object())
        for (auto& [k, v] : summary.items())
          if (s.contains(k) && s[k].is_number()) v = v.get<int64_t>() + s[k].get<int64_t>();
    }
    p.api->free(out);
    p.api->free(err);
    buf.clear();
    in_batch = 0;
  };
  while ((limit == 0 || events < limit) && lines.Next(&line)) {
    buf += line;
    buf += '\n';
    ++events;
    if (++in_batch == batch) flush();
    if (Now() - last_report > 30) {
      last_report = Now();
      std::fprintf(stderr, "intake: %lld events, %.0f s, %.0f events/s, rss %lld MB\n",
                   static_cast<long long>(events), last_report - t0, events / (last_report - t0),
                   static_cast<long long>(RssKb() / 1024));
    }
  }
  flush();
  const double wall = Now() - t0, cpu = CpuSeconds() - c0;
  const int64_t rss_before_close = RssKb();
  json stats = p.Query({{"op", "stats"}});
  p.Close();
  json out = {{"events", events}, {"batch", batch}, {"wall_s", wall}, {"cpu_s", cpu},
              {"events_per_cpu_s", events / cpu}, {"events_per_wall_s", events / wall},
              {"peak_rss_kb", PeakRssKb()}, {"rss_end_kb", rss_before_close},
              {"summary", summary}, {"indicators_index", stats["indicators_index"]},
              {"records", stats["records"]}};
  std::cout << out.dump() << std::endl;
  return 0;
}

int Submit8(int argc, char** argv) {
  if (argc < 7) Die("submit8 LIB CONFIG EVENTS THREADS LIMIT [ID_SUFFIX]");
  const int threads = std::atoi(argv[5]);
  const int64_t limit = std::atoll(argv[6]);
  const int64_t rss_process = RssKb();
  Plugin p(argv[2], argv[3], true);
  const int64_t rss_open = RssKb();
  // ID_SUFFIX: every occurrence of a record's id in its lines gets this suffix (the id, the
  // dossier's MaHoSo, file paths), so events already in a database (the city's own file)
  // become new records in it: single submits into a full database, not duplicates.
  const std::string suffix = argc > 7 ? argv[7] : "";
  // Lines dealt to threads by record key, so each record's events stay in order.
  std::vector<std::vector<std::string>> work(threads);
  Lines lines(argv[4]);
  std::string line;
  int64_t events = 0;
  while (events < limit && lines.Next(&line)) {
    json e = json::parse(line, nullptr, false);
    std::string key = e.is_object() ? e.value("source", "") + "|" + e.value("kind", "") + "|" +
                                          (e.contains("id") ? e["id"].dump() : "")
                                    : line;
    if (!suffix.empty() && e.is_object() && e.contains("id") && e["id"].is_string()) {
      const std::string id = e["id"].get<std::string>();
      for (size_t at = line.find(id); !id.empty() && at != std::string::npos; at = line.find(id, at + id.size() + suffix.size()))
        line.insert(at + id.size(), suffix);
    }
    work[std::hash<std::string>()(key) % threads].push_back(line);
    ++events;
  }
  const int64_t rss_lines = RssKb();
  // Outcomes, from each answer's "outcome" (accepted, duplicate, stale, rejected, ...).
  std::mutex outcomes_mu;
  std::map<std::string, int64_t> outcomes;
  std::atomic<int64_t> failed{0};
  const double t0 = Now(), c0 = CpuSeconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (const auto& ev : work[t]) {
        char *out = nullptr, *err = nullptr;
        size_t len = 0;
        danvan_status st;
        do {
          p.api->free(out);
          p.api->free(err);
          out = err = nullptr;
          st = p.api->submit(p.h, ev.data(), ev.size(), &out, &len, &err);
        } while (st == DANVAN_RETRY_LATER);
        if (st != DANVAN_OK && st != DANVAN_INVALID_INPUT && st != DANVAN_CONFLICT) ++failed;
        std::string outcome = "status:" + std::string(p.api->status_name(st));
        if (out) {
          const std::string_view a(out, len);
          const size_t at = a.find("\"outcome\":\"");
          if (at != std::string_view::npos) {
            const size_t b = at + 11, e = a.find('"', b);
            if (e != std::string_view::npos) outcome = std::string(a.substr(b, e - b));
          }
        }
        {
          std::lock_guard lock(outcomes_mu);
          ++outcomes[outcome];
        }
        p.api->free(out);
        p.api->free(err);
      }
    });
  for (auto& th : pool) th.join();
  const double wall = Now() - t0, cpu = CpuSeconds() - c0;
  const int64_t rss_end = RssKb();
  p.Close();
  json out = {{"events", events}, {"threads", threads}, {"wall_s", wall}, {"cpu_s", cpu},
              {"events_per_cpu_s", events / cpu}, {"events_per_wall_s", events / wall},
              {"failed", failed.load()}, {"peak_rss_kb", PeakRssKb()}, {"rss_process_before_open_kb", rss_process},
              {"rss_after_open_kb", rss_open}, {"rss_after_reading_lines_kb", rss_lines}, {"rss_end_kb", rss_end},
              {"id_suffix", suffix}, {"outcomes", outcomes}};
  std::cout << out.dump() << std::endl;
  return failed == 0 ? 0 : 1;
}

int Open(int argc, char** argv) {
  if (argc < 4) Die("open LIB CONFIG");
  const int64_t rss0 = RssKb();
  const double c0 = CpuSeconds();
  Plugin p(argv[2], argv[3], false);
  const double cpu = CpuSeconds() - c0;
  const int64_t rss_open = RssKb();
  const json memory_open = MemoryBreakdown();
  json stats = p.Query({{"op", "stats"}});
  p.Close();
  json out = {{"open_s", p.open_seconds}, {"open_cpu_s", cpu}, {"rss_before_kb", rss0},
              {"rss_after_open_kb", rss_open}, {"peak_rss_kb", PeakRssKb()},
              {"records", stats["records"]}, {"indicators_index", stats["indicators_index"]},
              {"memory_after_open", memory_open}};
  std::cout << out.dump() << std::endl;
  return 0;
}

json MonthPeriod(int year, int month) { return {{"kind", "month"}, {"year", year}, {"month", month}}; }

// The leaf units (units no other unit names as parent) and the root, from the units op.
struct UnitTree {
  std::vector<std::string> all, leaves;
  std::string root;
};

UnitTree Units(Plugin& p) {
  UnitTree t;
  json units = p.Query({{"op", "units"}});
  std::vector<std::string> parents;
  const json& list = units.contains("units") ? units["units"] : units;
  for (const auto& u : list) {
    const std::string code = u.value("code", "");
    t.all.push_back(code);
    const std::string parent = u.contains("parent") && u["parent"].is_string() ? u["parent"].get<std::string>() : "";
    if (!parent.empty()) parents.push_back(parent);
    else t.root = code;
  }
  std::sort(parents.begin(), parents.end());
  for (const auto& c : t.all)
    if (!std::binary_search(parents.begin(), parents.end(), c)) t.leaves.push_back(c);
  if (t.leaves.empty()) Die("no units");
  return t;
}

int Queries(int argc, char** argv) {
  if (argc < 7) Die("queries LIB CONFIG YEAR_FROM YEAR_TO N");
  const int y0 = std::atoi(argv[4]), y1 = std::atoi(argv[5]);
  const int n = std::atoi(argv[6]);
  const int64_t rss0 = RssKb();
  Plugin p(argv[2], argv[3], false);
  const json memory_open = MemoryBreakdown();
  const UnitTree tree = Units(p);
  const std::vector<std::string>& all = tree.all;
  const std::vector<std::string>& leaves = tree.leaves;
  const std::string& root = tree.root;
  const int months = (y1 - y0 + 1) * 12;
  auto period_of = [&](int i) { return MonthPeriod(y0 + (i % months) / 12, 1 + (i % months) % 12); };
  // Warm-up (first touches of the code and the index).
  for (int i = 0; i < 50; ++i) p.Query({{"op", "indicators"}, {"unit", leaves[i % leaves.size()]}, {"period", period_of(i)}});
  std::vector<double> one, cpu_one;
  const double c0 = CpuSeconds();
  for (int i = 0; i < n; ++i) {
    const std::string req =
        json({{"op", "indicators"}, {"unit", leaves[(i * 7919) % leaves.size()]}, {"period", period_of(i / 3)}}).dump();
    const double t = Now();
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    if (p.api->query(p.h, req.data(), req.size(), &out, &len, &err) != DANVAN_OK) Die("query " + req);
    p.api->free(out);
    p.api->free(err);
    one.push_back((Now() - t) * 1e6);
  }
  const double one_cpu = CpuSeconds() - c0;
  const json memory_queries = MemoryBreakdown();
  // Every unit x one month.
  std::vector<double> all_units;
  const int rounds = std::max(1, std::min(20, n / 100));
  const double c1 = CpuSeconds();
  for (int r = 0; r < rounds; ++r) {
    const double t = Now();
    for (const auto& u : all) p.QueryRaw({{"op", "indicators"}, {"unit", u}, {"period", period_of(r * 5)}});
    all_units.push_back((Now() - t) * 1e6);
  }
  const double all_cpu = CpuSeconds() - c1;
  // The city root x one year.
  std::vector<double> root_year;
  for (int r = 0; r < std::max(1, rounds); ++r) {
    const double t = Now();
    p.QueryRaw({{"op", "indicators"}, {"unit", root}, {"period", {{"kind", "year"}, {"year", y0 + r % (y1 - y0 + 1)}}}});
    root_year.push_back((Now() - t) * 1e6);
  }
  // Drill-down: the records behind one figure (indicators.explain) for leaf units x months.
  json first = p.Query({{"op", "indicators"}, {"unit", leaves[0]}, {"period", period_of(0)}});
  std::string indicator_id;
  if (first.contains("indicators") && first["indicators"].is_array() && !first["indicators"].empty())
    indicator_id = first["indicators"][0].value("id", "");
  std::vector<double> drill;
  if (!indicator_id.empty())
    for (int i = 0; i < std::max(10, n / 20); ++i) {
      const double t = Now();
      p.QueryRaw({{"op", "indicators.explain"}, {"unit", leaves[(i * 31) % leaves.size()]}, {"id", indicator_id},
                  {"period", period_of(i)}}, false);
      drill.push_back((Now() - t) * 1e6);
    }
  const int64_t rss_steady = RssKb();
  const json memory_steady = MemoryBreakdown();
  json stats = p.Query({{"op", "stats"}});
  p.Close();
  json out = {{"units", all.size()}, {"leaf_units", leaves.size()}, {"root", root},
              {"one_unit_month", Percentiles(one)}, {"one_unit_month_cpu_us_mean", one_cpu / n * 1e6},
              {"all_units_month", Percentiles(all_units)}, {"all_units_month_cpu_us_mean", all_cpu / rounds * 1e6},
              {"root_year", Percentiles(root_year)}, {"drill_down", Percentiles(drill)},
              {"drill_down_indicator", indicator_id},
              {"rss_before_open_kb", rss0}, {"rss_steady_kb", rss_steady}, {"peak_rss_kb", PeakRssKb()},
              {"open_s", p.open_seconds}, {"indicators_index", stats["indicators_index"]},
              {"memory_after_open", memory_open}, {"memory_after_one_unit_queries", memory_queries},
              {"memory_steady", memory_steady}};
  std::cout << out.dump() << std::endl;
  return 0;
}

// Writes the indicators answers of N cells (leaf and inner units x months, quarters, years,
// with and without an ids filter; a fixed list) to OUT, one per line, as the ABI returned them:
// two libraries' files compared with cmp show whether the answers are byte-identical.
int Answers(int argc, char** argv) {
  if (argc < 8) Die("answers LIB CONFIG YEAR_FROM YEAR_TO N OUT");
  const int y0 = std::atoi(argv[4]), y1 = std::atoi(argv[5]);
  const int n = std::atoi(argv[6]);
  Plugin p(argv[2], argv[3], false);
  json units = p.Query({{"op", "units"}});
  std::vector<std::string> all;
  for (const auto& u : units.contains("units") ? units["units"] : units) all.push_back(u.value("code", ""));
  if (all.empty()) Die("no units");
  std::ofstream out(argv[7], std::ios::binary);
  const json ids_sets[] = {json(nullptr), json{"idx766.pakn_on_time", "dossier.received"},
                           json{"petition.backlog_age_days", "reception.head_months_held", "plan.tasks_on_track"}};
  for (int i = 0; i < n; ++i) {
    const int year = y0 + i % (y1 - y0 + 1);
    json period;
    switch (i % 4) {
      case 0: case 1: period = MonthPeriod(year, 1 + (i / 4) % 12); break;
      case 2: period = {{"kind", "quarter"}, {"year", year}, {"quarter", 1 + (i / 4) % 4}}; break;
      default: period = {{"kind", "year"}, {"year", year}};
    }
    json req = {{"op", "indicators"}, {"unit", all[(static_cast<size_t>(i) * 7919) % all.size()]}, {"period", period}};
    if (!ids_sets[i % 3].is_null()) req["ids"] = ids_sets[i % 3];
    const std::string r = req.dump();
    char *answer = nullptr, *err = nullptr;
    size_t len = 0;
    if (p.api->query(p.h, r.data(), r.size(), &answer, &len, &err) != DANVAN_OK) Die("query " + r);
    out.write(answer, static_cast<std::streamsize>(len));
    out.put('\n');
    p.api->free(answer);
    p.api->free(err);
  }
  p.Close();
  std::cout << json({{"answers", n}, {"file", argv[7]}}).dump() << std::endl;
  return 0;
}

// Sets the process's resident high-water mark (VmHWM) back to the current RSS, so the next
// stage's peak is its own. Also lowers what ru_maxrss and /usr/bin/time report afterwards.
bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  return static_cast<bool>(f);
}

// OPTIONS, comma-separated (issue 16, bounded report memory): "phases": each stage's own peak
// resident memory (VmHWM after a reset at its start) and the malloc breakdown after it; the
// score answer is not parsed (a host that forwards it), so the figures are the plugin's. The
// process peak is then the largest stage peak (the resets lower ru_maxrss too). "noscore":
// the reports alone, without the score op before them. "nojournal": the score op with
// "journal": false (computes the same answer, writes nothing: a database read only to the run).
// The score answer is never parsed (a host that forwards it): the figures are the plugin's.
int Reports(int argc, char** argv) {
  if (argc < 5) Die("reports LIB CONFIG YEAR [phases][,noscore][,nojournal][,counters] [SCORE_OUT]");
  const int year = std::atoi(argv[4]);
  const std::string options = argc > 5 ? argv[5] : "";
  const bool phases = options.find("phases") != std::string::npos;
  const bool score_first = options.find("noscore") == std::string::npos;
  const bool journal = options.find("nojournal") == std::string::npos;
  // "counters": each op's minor page faults on this thread (pages malloc gave back to the
  // system and the op touched again show here).
  const bool counters = options.find("counters") != std::string::npos;
  int64_t f0 = 0;
  auto count_start = [&] { f0 = ThreadMinorFaults(); };
  json out;
  auto count_end = [&](const std::string& name) {
    if (!counters) return;
    out[name + "_minor_faults"] = ThreadMinorFaults() - f0;
  };
  int64_t peak = 0;
  auto stage_end = [&](const std::string& name) {
    if (!phases) return;
    const int64_t hwm = StatusKb("VmHWM");
    peak = std::max(peak, hwm);
    out[name + "_peak_rss_kb"] = hwm;
    out[name + "_after"] = MemoryBreakdown();
    if (!ResetPeakRss()) Die("cannot reset the peak RSS (/proc/self/clear_refs)");
  };
  if (phases && !ResetPeakRss()) Die("cannot reset the peak RSS (/proc/self/clear_refs)");
  Plugin p(argv[2], argv[3], false);
  stage_end("open");
  double t = Now(), c = CpuSeconds();
  count_start();
  if (score_first) {
    const json score = {{"op", "score"},
                        {"rubric", "default"},
                        {"period", {{"kind", "year"}, {"year", year}}},
                        {"journal", journal}};
    std::ofstream answer;
    if (argc > 6) answer.open(argv[6], std::ios::binary);
    if (argc > 6 && !answer) Die(std::string("cannot write ") + argv[6]);
    out["score_answer_bytes"] = p.QueryRaw(score, true, argc > 6 ? &answer : nullptr);
    out["score_s"] = Now() - t;
    out["score_cpu_s"] = CpuSeconds() - c;
    count_end("score");
    stage_end("score");
  }
  for (const char* kind : {"six_month", "annual"}) {
    t = Now();
    c = CpuSeconds();
    count_start();
    p.Query({{"op", "report"}, {"kind", kind}, {"year", year}, {"format", "all"},
             {"path", std::string("city-bench/") + kind}});
    out[std::string(kind) + "_all_formats_s"] = Now() - t;
    out[std::string(kind) + "_all_formats_cpu_s"] = CpuSeconds() - c;
    count_end(kind);
    stage_end(kind);
  }
  out["peak_rss_kb"] = phases ? peak : PeakRssKb();
  p.Close();
  std::cout << out.dump() << std::endl;
  return 0;
}

// Times one-unit indicator queries (leaf unit x month, all indicators) paced every interval_ms
// from its own thread, as a host's console would call while a background job runs, until
// stop is set. Threading: p's handle is shared with the caller's thread (the ABI allows calls
// from any thread).
class PacedQueries {
 public:
  PacedQueries(Plugin& p, const UnitTree& units, int interval_ms) : p_(p), units_(units), interval_ms_(interval_ms) {}
  // Runs n queries on the calling thread (the idle figure, before the job starts).
  std::vector<double> RunN(int n) {
    std::vector<double> us;
    for (int i = 0; i < n; ++i) us.push_back(One(i));
    return us;
  }
  void Start() {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_.load(); ++i) during_.push_back(One(i));
    });
  }
  std::vector<double> Stop() {
    stop_ = true;
    thread_.join();
    return during_;
  }

 private:
  double One(int i) {
    const int month = i % 60;
    const std::string req = json({{"op", "indicators"}, {"unit", units_.leaves[(i * 7919) % units_.leaves.size()]},
                                  {"period", MonthPeriod(2023 + month / 12, 1 + month % 12)}})
                                .dump();
    const double t = Now();
    char *out = nullptr, *err = nullptr;
    size_t len = 0;
    if (p_.api->query(p_.h, req.data(), req.size(), &out, &len, &err) != DANVAN_OK) Die("query " + req);
    const double us = (Now() - t) * 1e6;
    p_.api->free(out);
    p_.api->free(err);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    return us;
  }
  Plugin& p_;
  const UnitTree& units_;
  const int interval_ms_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<double> during_;
};

// RULES (optional): the rule pack tagging.reload loads (default: the configured one).
// While the re-tagging runs, a second thread times one-unit queries every 5 ms (the host's
// calls beside the background job); the same queries before it are the idle figure.
int Retag(int argc, char** argv) {
  if (argc < 4) Die("retag LIB CONFIG [RULES]");
  const int64_t rss_process = RssKb();
  Plugin p(argv[2], argv[3], true);
  const UnitTree units = Units(p);
  PacedQueries paced(p, units, 5);
  paced.RunN(50);  // warm-up
  const json idle = Percentiles(paced.RunN(400));
  const int64_t rss_before = RssKb(), peak_before = PeakRssKb();
  const double t0 = Now(), c0 = CpuSeconds();
  json reload = {{"op", "tagging.reload"}, {"actor", "city-bench"}};
  if (argc > 4) reload["path"] = argv[4];
  const json reloaded = p.Query(reload);
  paced.Start();
  json status;
  int64_t rss_max_sampled = 0;
  // [seconds, records processed, RSS kB, malloc in use kB] about every 2 s: where memory grows.
  json series = json::array();
  for (int tick = 0;; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rss_max_sampled = std::max(rss_max_sampled, RssKb());
    status = p.Query({{"op", "tagging.status"}});
    if (tick % 10 == 0) {
      const struct mallinfo2 mi = mallinfo2();
      series.push_back({std::round(Now() - t0), status.value("processed", int64_t{0}), RssKb(),
                        static_cast<int64_t>((mi.uordblks + mi.hblkhd) / 1024)});
    }
    if (!status.value("running", false)) break;
  }
  const double wall = Now() - t0, cpu = CpuSeconds() - c0;
  const json during = Percentiles(paced.Stop());
  const int64_t rss_after = RssKb();
  const json memory_after = MemoryBreakdown();
  // Diagnostic: what of the RSS is free heap malloc keeps (given back by malloc_trim).
  malloc_trim(0);
  const json memory_after_trim = MemoryBreakdown();
  p.Close();
  // peak_rss_kb is the process's high-water mark (ru_maxrss), open included; the plugin's share
  // is that minus the process before open (the tool and the loader). cpu_s includes the paced
  // queries' thread (~400 queries a second of ~50 us: about 2% of the re-tagging's CPU).
  json out = {{"wall_s", wall}, {"cpu_s", cpu}, {"processed", status.value("processed", int64_t{0})},
              {"changed", status.value("changed", int64_t{0})}, {"state", status.value("state", json())},
              {"rules", reloaded}, {"peak_rss_kb", PeakRssKb()},
              {"peak_rss_before_retag_kb", peak_before}, {"rss_process_before_open_kb", rss_process},
              {"rss_before_retag_kb", rss_before}, {"rss_max_sampled_kb", rss_max_sampled},
              {"rss_after_retag_kb", rss_after}, {"memory_after_retag", memory_after},
              {"memory_after_retag_and_malloc_trim", memory_after_trim},
              {"query_idle", idle}, {"query_during_retag", during}, {"memory_series", series}};
  std::cout << out.dump() << std::endl;
  return 0;
}

// A record's key from an event line: the generator writes kind, source and id first; other
// lines are parsed.
std::string KeyOfLine(const std::string& line) {
  auto field = [&](const char* name, size_t from, size_t* end) -> std::string {
    const std::string pat = std::string("\"") + name + "\":\"";
    const size_t at = line.find(pat, from);
    if (at == std::string::npos || at > 400) return "";
    const size_t b = at + pat.size(), e = line.find('"', b);
    if (e == std::string::npos) return "";
    *end = e;
    return line.substr(b, e - b);
  };
  size_t e = 0;
  const std::string kind = field("kind", 0, &e), source = field("source", 0, &e), id = field("id", 0, &e);
  if (!kind.empty() && !source.empty() && !id.empty() && line.find('\\', 0) > e) return source + "|" + kind + "|" + id;
  json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return "";
  return j.value("source", "") + "|" + j.value("kind", "") + "|" + j["id"].get<std::string>();
}

// Writes to OUT every event line of the records whose key hashes to 0 modulo MOD (in file
// order, so each record's events keep their order): the sample tagcheck re-takes.
int TagSample(int argc, char** argv) {
  if (argc < 5) Die("tagsample EVENTS MOD OUT");
  const uint64_t mod = std::strtoull(argv[3], nullptr, 10);
  Lines lines(argv[2]);
  std::ofstream out(argv[4], std::ios::binary);
  std::string line;
  int64_t events = 0, kept = 0;
  while (lines.Next(&line)) {
    ++events;
    const std::string key = KeyOfLine(line);
    if (key.empty() || std::hash<std::string>()(key) % mod != 0) continue;
    out << line << '\n';
    ++kept;
  }
  std::cout << json({{"events", events}, {"sample_events", kept}, {"mod", mod}}).dump() << std::endl;
  return 0;
}

// The tags of the sample's records in a database (tags.explain), by key; absent records are
// left out.
std::map<std::string, json> SampleTags(Plugin& p, const std::vector<std::string>& keys) {
  std::map<std::string, json> tags;
  for (const auto& k : keys) {
    const size_t a = k.find('|'), b = k.find('|', a + 1);
    json t = p.Query({{"op", "tags.explain"}, {"source", k.substr(0, a)}, {"kind", k.substr(a + 1, b - a - 1)},
                      {"id", k.substr(b + 1)}}, false);
    if (t.is_object() && t.contains("tags")) tags[k] = t["tags"];
  }
  return tags;
}

// The sample check of a re-tagging: the sample's events taken into a fresh database
// (FRESH_CONFIG, its storage path removed first; the rule pack of CONFIG's re-tagging) give
// each record the tags a fresh tagging gives; the re-tagged database (CONFIG) must hold the
// same tags for every sampled record.
int TagCheck(int argc, char** argv) {
  if (argc < 6) Die("tagcheck LIB CONFIG FRESH_CONFIG SAMPLE.jsonl");
  std::vector<std::string> keys;
  std::string batch;
  {
    Lines lines(argv[5]);
    std::string line;
    while (lines.Next(&line)) {
      keys.push_back(KeyOfLine(line));
      batch += line;
      batch += '\n';
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::map<std::string, json> fresh, retagged;
  {
    Plugin p(argv[2], argv[4], true);
    // One batch per 1,000 lines, in file order.
    size_t at = 0;
    while (at < batch.size()) {
      size_t end = at;
      for (int n = 0; n < 1000 && end < batch.size(); ++n) end = batch.find('\n', end) + 1;
      char *out = nullptr, *err = nullptr;
      size_t len = 0;
      danvan_status st = p.api->submit_batch(p.h, batch.data() + at, end - at, &out, &len, &err);
      const std::string e = err ? err : "";
      p.api->free(out);
      p.api->free(err);
      if (st != DANVAN_OK) Die("submit_batch: " + e);
      at = end;
    }
    fresh = SampleTags(p, keys);
    p.Close();
  }
  {
    Plugin p(argv[2], argv[3], false);
    retagged = SampleTags(p, keys);
    p.Close();
  }
  int64_t equal = 0, different = 0, only_one = 0, tagged = 0;
  json examples = json::array();
  for (const auto& [k, t] : fresh) {
    auto it = retagged.find(k);
    if (it == retagged.end()) {
      ++only_one;
      continue;
    }
    if (!t.empty()) ++tagged;
    if (it->second == t) {
      ++equal;
    } else {
      ++different;
      if (examples.size() < 5) examples.push_back({{"key", k}, {"fresh", t}, {"database", it->second}});
    }
  }
  only_one += static_cast<int64_t>(retagged.size()) - (equal + different);
  json out = {{"sample_records", keys.size()}, {"compared", equal + different}, {"with_tags", tagged},
              {"equal", equal}, {"different", different}, {"in_one_database_only", only_one},
              {"examples", examples}};
  std::cout << out.dump() << std::endl;
  return different == 0 && only_one == 0 ? 0 : 2;
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) Die(std::string(sql) + ": " + (err ? err : ""));
}

int Insert(int argc, char** argv) {
  if (argc < 4) Die("insert EVENTS DB [LIMIT]");
  const int64_t limit = argc > 4 ? std::atoll(argv[4]) : 0;
  sqlite3* db = nullptr;
  if (sqlite3_open(argv[3], &db) != SQLITE_OK) Die("open db");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA synchronous=FULL");
  Exec(db, "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, line TEXT NOT NULL, received_ms INTEGER NOT NULL)");
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO events (line, received_ms) VALUES (?, ?)", -1, &ins, nullptr);
  Lines lines(argv[2]);
  std::string line;
  int64_t events = 0;
  const double t0 = Now(), c0 = CpuSeconds();
  Exec(db, "BEGIN");
  while ((limit == 0 || events < limit) && lines.Next(&line)) {
    sqlite3_bind_text(ins, 1, line.data(), static_cast<int>(line.size()), SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, static_cast<int64_t>(Now() * 1000));
    if (sqlite3_step(ins) != SQLITE_DONE) Die("insert");
    sqlite3_reset(ins);
    if (++events % 1000 == 0) {
      Exec(db, "COMMIT");
      Exec(db, "BEGIN");
    }
  }
  Exec(db, "COMMIT");
  const double wall = Now() - t0, cpu = CpuSeconds() - c0;
  sqlite3_finalize(ins);
  sqlite3_close(db);
  json out = {{"events", events}, {"wall_s", wall}, {"cpu_s", cpu}, {"events_per_cpu_s", events / cpu},
              {"events_per_wall_s", events / wall}, {"peak_rss_kb", PeakRssKb()}};
  std::cout << out.dump() << std::endl;
  return 0;
}

// The SQL a reporting clerk would write for one figure (dossiers received in a month) on the
// plugin's own records table: one unit (index records_kind_unit), then every unit (GROUP BY).
int GroupBy(int argc, char** argv) {
  if (argc < 6) Die("groupby DB UNIT YEAR MONTH");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) Die("open db");
  char from[16], to[16];
  std::snprintf(from, sizeof from, "%04d%02d01", std::atoi(argv[4]), std::atoi(argv[5]));
  std::snprintf(to, sizeof to, "%04d%02d31", std::atoi(argv[4]), std::atoi(argv[5]));
  const char* where =
      "kind = 'dossier' AND has_item = 1 AND json_extract(data, '$.TrangThaiHoSo') NOT IN ('1', '3') "
      "AND substr(json_extract(data, '$.NgayTiepNhan'), 1, 8) BETWEEN ?1 AND ?2";
  std::string unit = argv[3];
  if (unit == "auto") {
    // The unit with the most dossiers (a fair case for SQL's index on (kind, unit)), untimed.
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT unit FROM records WHERE kind = 'dossier' GROUP BY unit ORDER BY count(*) DESC LIMIT 1",
                       -1, &st, nullptr);
    if (sqlite3_step(st) == SQLITE_ROW) unit = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  auto run = [&](const std::string& sql, bool bind_unit, int64_t* rows) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    if (bind_unit) sqlite3_bind_text(st, 3, unit.c_str(), -1, SQLITE_STATIC);
    const double t = Now(), c = CpuSeconds();
    int64_t sum = 0;
    while (sqlite3_step(st) == SQLITE_ROW) sum += sqlite3_column_int64(st, bind_unit ? 0 : 1);
    *rows = sum;
    sqlite3_finalize(st);
    return std::make_pair(Now() - t, CpuSeconds() - c);
  };
  int64_t one_count = 0, all_count = 0;
  // One unit: the first (cold) run, then the median of five warm ones (the fair comparison
  // with the plugin's warm index).
  const std::string one_sql = std::string("SELECT count(*) FROM records WHERE ") + where + " AND unit = ?3";
  auto first = run(one_sql, true, &one_count);
  std::vector<std::pair<double, double>> warm;
  for (int i = 0; i < 5; ++i) warm.push_back(run(one_sql, true, &one_count));
  std::sort(warm.begin(), warm.end());
  const auto one = warm[warm.size() / 2];
  auto all = run(std::string("SELECT unit, count(*) FROM records WHERE ") + where + " GROUP BY unit", false, &all_count);
  sqlite3_close(db);
  json out = {{"unit", unit}, {"one_unit_s", one.first}, {"one_unit_cpu_s", one.second}, {"one_unit_count", one_count},
              {"one_unit_first_s", first.first}, {"one_unit_first_cpu_s", first.second}, {"one_unit_runs", 1 + warm.size()},
              {"all_units_s", all.first}, {"all_units_cpu_s", all.second}, {"all_units_total", all_count}};
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: city_tool intake|submit8|open|queries|reports|answers|retag|insert|groupby ...");
  const std::string cmd = argv[1];
  if (cmd == "intake") return Intake(argc, argv);
  if (cmd == "submit8") return Submit8(argc, argv);
  if (cmd == "open") return Open(argc, argv);
  if (cmd == "queries") return Queries(argc, argv);
  if (cmd == "reports") return Reports(argc, argv);
  if (cmd == "answers") return Answers(argc, argv);
  if (cmd == "retag") return Retag(argc, argv);
  if (cmd == "tagsample") return TagSample(argc, argv);
  if (cmd == "tagcheck") return TagCheck(argc, argv);
  if (cmd == "insert") return Insert(argc, argv);
  if (cmd == "groupby") return GroupBy(argc, argv);
  Die("unknown command " + cmd);
}
