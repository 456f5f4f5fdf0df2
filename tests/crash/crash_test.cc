// crash_test: kills a host process (crash_child) with SIGKILL at random moments while it
// submits record events, and checks after each kill that
//   1. the plugin opens the database again (through the C ABI, as the host would restart),
//   2. every event whose submit/submit_batch had returned (and been acknowledged in the ack
//      log, after the call) is there: the record at >= the acknowledged version (or
//      updated_at), each acknowledged progress step in its history, the quarantine at least
//      as long as the acknowledged rejections,
//   3. SQLite's PRAGMA integrity_check answers "ok".
// The kill moments come from a seeded generator (DANVAN_CRASH_SEED, default 2023; the seed is
// printed so a failure can be replayed). Some kills land while the child is still loading or
// opening the database (first open: migrations), the rest at random points of its intake.
//
// Usage: crash_test <libdanvan.so> <crash_child> <sample.jsonl> [kills] [threads]
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "crash/ack_log.h"
#include "danvan/danvan.h"
#include "pg_test_db.h"

namespace {

using nlohmann::json;
namespace crash = danvan::crash;
namespace fs = std::filesystem;

int g_failures = 0;

#define CHECK_OR_FAIL(cond, msg)                                          \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__,      \
                   std::string(msg).c_str());                             \
      ++g_failures;                                                       \
    }                                                                     \
  } while (0)

using Key = std::tuple<std::string, std::string, std::string>;  // source, kind, id

std::string KeyText(const Key& k) {
  return std::get<0>(k) + "/" + std::get<1>(k) + "/" + std::get<2>(k);
}

constexpr int64_t kBadTime = INT64_MIN;

// ISO 8601 as the envelope carries it ("2023-03-02", "2023-03-02T09:15:00+07:00",
// fractional seconds, "Z") to ms since the epoch; kBadTime when unreadable.
int64_t IsoToMs(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return kBadTime;
  size_t pos = static_cast<size_t>(n);
  int64_t frac_ms = 0, offset_min = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3) return kBadTime;
    pos += 1 + static_cast<size_t>(n);
    if (pos < s.size() && s[pos] == '.') {
      int64_t scale = 100;
      for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
        frac_ms += (s[pos] - '0') * scale;
        scale /= 10;
      }
    }
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return kBadTime;
      offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    }
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return (static_cast<int64_t>(timegm(&tm)) - offset_min * 60) * 1000 + frac_ms;
}

// What the child acknowledged so far.
struct Expectations {
  std::map<Key, int64_t> min_version;                                  // "v" acks
  std::map<Key, std::set<std::pair<std::string, std::string>>> steps;  // "s": (status, time)
  std::map<Key, int64_t> min_updated_ms;                               // "t" acks
  int64_t quarantined = 0;
  int64_t events = 0;  // acknowledged events of any outcome
  int64_t calls = 0;
  size_t next_line = 0;
};

// Reads the ack log from offset, drops a torn last line (it acknowledges nothing) by truncating
// the file, and folds complete lines into exp. Returns the keys acknowledged in this part.
std::set<Key> ReadAcks(const fs::path& path, size_t* offset, Expectations* exp) {
  std::set<Key> touched;
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return touched;  // the child was killed before creating it
    in.seekg(static_cast<std::streamoff>(*offset));
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  size_t complete = text.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  if (complete < text.size()) fs::resize_file(path, *offset + complete);
  size_t pos = 0;
  while (pos < complete) {
    size_t end = text.find('\n', pos);
    json a = json::parse(text.begin() + pos, text.begin() + end);
    pos = end + 1;
    const std::string type = a.at("a");
    if (type == crash::kAckNext) {
      exp->next_line = a.at("line");
      ++exp->calls;
      continue;
    }
    ++exp->events;
    if (type == crash::kAckQuarantine) {
      ++exp->quarantined;
      continue;
    }
    Key k{a.at("source"), a.at("kind"), a.at("id")};
    touched.insert(k);
    if (type == crash::kAckVersion) {
      int64_t v = a.at("version");
      auto [it, fresh] = exp->min_version.emplace(k, v);
      if (!fresh && it->second < v) it->second = v;
    } else if (type == crash::kAckStep) {
      exp->steps[k].emplace(a.at("status"), a.at("ThoiDiemXuLy"));
    } else if (type == crash::kAckUpdatedAt) {
      const int64_t ms = IsoToMs(a.at("updated_at").get<std::string>());
      CHECK_OR_FAIL(ms != kBadTime, "unreadable updated_at in ack " + a.dump());
      auto [it, fresh] = exp->min_updated_ms.emplace(k, ms);
      if (!fresh && it->second < ms) it->second = ms;
    } else {
      CHECK_OR_FAIL(false, "unknown ack " + a.dump());
    }
  }
  *offset += complete;
  return touched;
}

int64_t g_cells_seen = 0;  // the most checkpoint cells seen in a round

class Plugin {
 public:
  explicit Plugin(const std::string& path) {
    lib_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) {
      std::fprintf(stderr, "dlopen %s: %s\n", path.c_str(), dlerror());
      std::exit(1);
    }
    auto get_api = reinterpret_cast<danvan_get_api_fn>(dlsym(lib_, "danvan_get_api"));
    const char* reason = nullptr;
    api_ = get_api ? get_api(DANVAN_ABI_MAJOR, &reason) : nullptr;
    if (!api_) {
      std::fprintf(stderr, "danvan_get_api: %s\n", reason ? reason : "missing");
      std::exit(1);
    }
  }
  const danvan_api* api() const { return api_; }

 private:
  void* lib_ = nullptr;
  const danvan_api* api_ = nullptr;
};

// A query through the ABI; returns the status and fills *response.
danvan_status Query(const danvan_api* api, danvan_handle* h, const json& request, json* response,
                    std::string* error_text) {
  std::string req = request.dump();
  char *out = nullptr, *err = nullptr;
  size_t out_len = 0;
  danvan_status st = api->query(h, req.data(), req.size(), &out, &out_len, &err);
  if (out) *response = json::parse(out, out + out_len, nullptr, false);
  if (err && error_text) *error_text = err;
  api->free(out);
  api->free(err);
  return st;
}

void VerifyKey(const danvan_api* api, danvan_handle* h, const Key& k, const Expectations& exp,
               const std::string& when) {
  json resp;
  std::string err;
  danvan_status st = Query(api, h,
                           {{"op", "record.get"},
                            {"source", std::get<0>(k)},
                            {"kind", std::get<1>(k)},
                            {"id", std::get<2>(k)}},
                           &resp, &err);
  if (st != DANVAN_OK) {
    CHECK_OR_FAIL(false, when + ": acknowledged record " + KeyText(k) + " lost: " +
                             api->status_name(st) + " " + err);
    return;
  }
  const json& rec = resp.at("record");
  if (auto it = exp.min_version.find(k); it != exp.min_version.end()) {
    int64_t have = rec.value("version", int64_t{-1});
    CHECK_OR_FAIL(have >= it->second, when + ": " + KeyText(k) + " at version " +
                                          std::to_string(have) + ", acknowledged " +
                                          std::to_string(it->second));
  }
  if (auto it = exp.min_updated_ms.find(k); it != exp.min_updated_ms.end()) {
    int64_t have = rec.value("updated_at_ms", int64_t{-1});
    CHECK_OR_FAIL(have >= it->second, when + ": " + KeyText(k) + " at updated_at_ms " +
                                          std::to_string(have) + ", acknowledged " +
                                          std::to_string(it->second));
  }
  if (auto it = exp.steps.find(k); it != exp.steps.end()) {
    std::set<std::pair<std::string, std::string>> have;
    for (const json& item : resp.at("history")) {
      if (item.value("outcome", "") != "step" || !item.contains("step")) continue;
      const json& s = item["step"];
      if (s.is_object() && s.contains("TrangThai") && s.contains("ThoiDiemXuLy"))
        have.emplace(s["TrangThai"], s["ThoiDiemXuLy"]);
    }
    for (const auto& want : it->second) {
      CHECK_OR_FAIL(have.count(want), when + ": " + KeyText(k) + " lost acknowledged step " +
                                          want.first + " at " + want.second);
    }
  }
}

// Opens the database through the ABI (the restart), checks the acknowledged keys in `keys`
// and the quarantine count, closes.
void VerifyThroughAbi(const danvan_api* api, const std::string& config, const std::vector<Key>& keys,
                      const Expectations& exp, const std::string& when) {
  danvan_host_services services{};
  services.struct_size = sizeof(services);
  danvan_handle* h = nullptr;
  char* err = nullptr;
  danvan_status st = api->open(config.data(), config.size(), &services, &h, &err);
  if (st != DANVAN_OK) {
    CHECK_OR_FAIL(false, when + ": reopen failed: " + api->status_name(st) + " " +
                             (err ? err : ""));
    api->free(err);
    return;
  }
  for (const Key& k : keys) VerifyKey(api, h, k, exp, when);
  json stats;
  std::string qerr;
  st = Query(api, h, {{"op", "stats"}}, &stats, &qerr);
  CHECK_OR_FAIL(st == DANVAN_OK, when + ": stats failed: " + qerr);
  if (st == DANVAN_OK) {
    int64_t q = stats.value("quarantined", int64_t{-1});
    CHECK_OR_FAIL(q >= exp.quarantined, when + ": quarantine holds " + std::to_string(q) +
                                            " events, " + std::to_string(exp.quarantined) +
                                            " rejections were acknowledged");
  }
  api->close(h);
}

// What the indicator aggregates answer through the ABI: every unit's indicators for 2023 and
// each of its months, and the annual report (its action lists come from the per-record index).
// Fields that depend on the moment of the call are left out.
bool IndicatorSnapshot(const danvan_api* api, const std::string& config, std::string* out,
                       std::string* error) {
  danvan_host_services services{};
  services.struct_size = sizeof(services);
  danvan_handle* h = nullptr;
  char* err = nullptr;
  danvan_status st = api->open(config.data(), config.size(), &services, &h, &err);
  if (st != DANVAN_OK) {
    *error = std::string("open: ") + api->status_name(st) + " " + (err ? err : "");
    api->free(err);
    return false;
  }
  std::function<void(json&)> strip = [&](json& j) {
    if (j.is_object()) {
      for (const char* k : {"as_of", "elapsed_ms", "computed_at", "generated_at", "generated"}) j.erase(k);
      for (auto& [k, v] : j.items()) strip(v);
    } else if (j.is_array()) {
      for (auto& v : j) strip(v);
    }
  };
  json units;
  std::string qerr;
  bool ok = Query(api, h, {{"op", "units"}}, &units, &qerr) == DANVAN_OK;
  std::vector<json> requests;
  for (const auto& u : units.value("units", json::array())) {
    requests.push_back({{"op", "indicators"}, {"unit", u["code"]}, {"period", {{"kind", "year"}, {"year", 2023}}}});
    for (int m = 1; m <= 12; ++m)
      requests.push_back({{"op", "indicators"}, {"unit", u["code"]},
                          {"period", {{"kind", "month"}, {"year", 2023}, {"month", m}}}});
  }
  requests.push_back({{"op", "report"}, {"kind", "annual"}, {"year", 2023}});
  for (const auto& req : requests) {
    json answer;
    if (!ok) break;
    ok = Query(api, h, req, &answer, &qerr) == DANVAN_OK;
    strip(answer);
    *out += answer.dump() + "\n";
  }
  if (!ok) *error = "query: " + qerr;
  api->close(h);
  return ok;
}

// The aggregates a restart loads (checkpoint cells + the records changed after the last fold)
// equal a full recomputation from every record: the same database copied, its checkpoint
// dropped (the settings key), opened again.
void CheckIndicatorsAgainstRecomputation(const danvan_api* api, const std::string& config,
                                         const fs::path& db, const std::string& when) {
  std::string restarted, recomputed, error;
  CHECK_OR_FAIL(IndicatorSnapshot(api, config, &restarted, &error), when + ": indicators: " + error);
  const fs::path copy = db.parent_path() / "recompute.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(copy.string() + suffix);
  fs::copy_file(db, copy);
  if (fs::exists(db.string() + "-wal")) fs::copy_file(db.string() + "-wal", copy.string() + "-wal");
  sqlite3* conn = nullptr;
  int rc = sqlite3_open_v2(copy.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr);
  int64_t cells = 0;
  if (rc == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn, "SELECT count(*) FROM index_cells", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      cells = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    rc = sqlite3_exec(conn, "DELETE FROM settings WHERE key = 'index_checkpoint'", nullptr, nullptr, nullptr);
  }
  sqlite3_close(conn);
  CHECK_OR_FAIL(rc == SQLITE_OK, when + ": cannot prepare the recomputation copy");
  json cfg = json::parse(config);
  cfg["storage"]["path"] = copy.string();
  CHECK_OR_FAIL(IndicatorSnapshot(api, cfg.dump(), &recomputed, &error), when + ": recomputation: " + error);
  CHECK_OR_FAIL(restarted == recomputed,
                when + ": the indicators after the restart differ from a full recomputation (" +
                    std::to_string(cells) + " checkpoint cells)");
  if (g_cells_seen < cells) g_cells_seen = cells;
}

void CheckIntegrity(const fs::path& db, const std::string& when) {
  sqlite3* conn = nullptr;
  int rc = sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) {
    CHECK_OR_FAIL(false, when + ": sqlite3_open: " + sqlite3_errstr(rc));
    sqlite3_close(conn);
    return;
  }
  sqlite3_stmt* stmt = nullptr;
  rc = sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &stmt, nullptr);
  std::string answer;
  while (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    if (!answer.empty()) answer += "; ";
    answer += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  if (rc != SQLITE_OK) answer = sqlite3_errmsg(conn);
  sqlite3_finalize(stmt);
  sqlite3_close(conn);
  CHECK_OR_FAIL(answer == "ok", when + ": integrity_check: " + answer);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: crash_test <libdanvan.so> <crash_child> <sample.jsonl> [kills] [threads]\n");
    return 2;
  }
  const std::string lib_path = argv[1], child_path = argv[2], sample_path = argv[3];
  const int kills = argc > 4 ? std::atoi(argv[4]) : 40;
  // More than one: the child submits single events from that many threads (group commits).
  const std::string threads = argc > 5 ? argv[5] : "1";
  const char* seed_env = std::getenv("DANVAN_CRASH_SEED");
  const uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : 2023;
  std::printf("crash_test: seed %llu (set DANVAN_CRASH_SEED to replay), %d kills\n",
              static_cast<unsigned long long>(seed), kills);
  std::mt19937_64 rng(seed);

  char tmpl[] = "/tmp/danvan-crash-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path dir = tmpl;
  const fs::path db = dir / "danvan.db", acks = dir / "ack.log", config_path = dir / "config.json";
  // ctest -L postgres (DANVAN_TEST_ENGINE=postgres): the same kills on a fresh database of the
  // test server; the host is killed, the server stays up.
  const bool pg = danvan::testing::PgTestEngine();
  json cfg = {{"storage", {{"engine", "sqlite"}, {"path", db.string()}, {"synchronous", "full"}}},
              {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
              {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"},
              // Folds of the indicator checkpoint as often as can be (every 10 ms, from one
              // pending change), so kills land between commits and folds and inside folds.
              {"indicators", {{"checkpoint_fold_rows", 1}}},
              {"deadlines", {{"scan_interval_ms", 10}}}};
  if (pg) {
    cfg["storage"] = danvan::testing::PgStorageFor(dir.string());
    cfg["reports"] = {{"dir", dir.string()}};
  }
  const std::string config = cfg.dump();
  std::ofstream(config_path) << config;

  Plugin plugin(lib_path);
  const danvan_api* api = plugin.api();
  Expectations exp;
  size_t ack_offset = 0;
  int early_kills = 0, intake_kills = 0;

  for (int round = 1; round <= kills && g_failures == 0; ++round) {
    int ready_pipe[2];
    if (pipe2(ready_pipe, O_CLOEXEC) != 0) {
      std::perror("pipe");
      return 1;
    }
    const std::string start = std::to_string(exp.next_line);
    const std::string child_seed = std::to_string(rng());
    const std::string ready_fd = std::to_string(ready_pipe[1]);
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      fcntl(ready_pipe[1], F_SETFD, 0);  // the write end survives exec
      execl(child_path.c_str(), child_path.c_str(), lib_path.c_str(), config_path.c_str(),
            sample_path.c_str(), acks.c_str(), start.c_str(), child_seed.c_str(),
            ready_fd.c_str(), threads.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(ready_pipe[1]);
    // One kill in five lands while the child loads the library or opens the database (the
    // first round's open applies the migrations); the others after it is ready, during intake.
    const bool early = std::uniform_int_distribution<int>(0, 4)(rng) == 0;
    int delay_us;
    if (early) {
      delay_us = std::uniform_int_distribution<int>(0, 80000)(rng);
      ++early_kills;
    } else {
      char byte;
      ssize_t n;
      do n = read(ready_pipe[0], &byte, 1);
      while (n < 0 && errno == EINTR);
      // n == 0: the child died before it was ready; waitpid below tells why.
      // Mostly short runs (many kills), sometimes long ones (larger databases, checkpoints).
      delay_us = std::uniform_int_distribution<int>(0, 4)(rng) == 0
                     ? std::uniform_int_distribution<int>(200000, 1200000)(rng)
                     : std::uniform_int_distribution<int>(0, 250000)(rng);
      ++intake_kills;
    }
    close(ready_pipe[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    kill(pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    const std::string when = "round " + std::to_string(round) + " (" +
                             (early ? "early" : "intake") + " kill after " +
                             std::to_string(delay_us / 1000) + " ms)";
    if (!(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)) {
      CHECK_OR_FAIL(false, when + ": the child ended on its own, exit status " +
                               std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) +
                               " (see its stderr above)");
      break;
    }
    std::set<Key> touched = ReadAcks(acks, &ack_offset, &exp);
    // The keys of this round, and a sample of those acknowledged before (all at the end).
    std::vector<Key> keys(touched.begin(), touched.end());
    std::vector<Key> older;
    for (const auto& [k, v] : exp.min_version)
      if (!touched.count(k)) older.push_back(k);
    for (const auto& [k, v] : exp.min_updated_ms)
      if (!touched.count(k)) older.push_back(k);
    std::shuffle(older.begin(), older.end(), rng);
    if (older.size() > 100) older.resize(100);
    keys.insert(keys.end(), older.begin(), older.end());
    const auto verify_start = std::chrono::steady_clock::now();
    VerifyThroughAbi(api, config, keys, exp, when);
    if (!pg) CheckIntegrity(db, when);  // SQLite's own check of its file
    // The recomputation works on a copy of the SQLite file.
    if (!pg) CheckIndicatorsAgainstRecomputation(api, config, db, when);
    const auto verify_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - verify_start)
                               .count();
    std::printf("%s: %zu keys checked in %lld ms; %lld events in %lld calls acknowledged so far\n",
                when.c_str(), keys.size(), static_cast<long long>(verify_ms),
                static_cast<long long>(exp.events), static_cast<long long>(exp.calls));
    std::fflush(stdout);
  }

  if (g_failures == 0) {
    std::set<Key> unique;
    for (const auto& [k, v] : exp.min_version) unique.insert(k);
    for (const auto& [k, v] : exp.min_updated_ms) unique.insert(k);
    for (const auto& [k, v] : exp.steps) unique.insert(k);
    std::vector<Key> all(unique.begin(), unique.end());
    VerifyThroughAbi(api, config, all, exp, "final check");
    if (!pg) CheckIntegrity(db, "final check");
    std::printf("final check: %zu distinct records verified\n", all.size());
  }
  // A run that acknowledged nothing proved nothing.
  CHECK_OR_FAIL(exp.events >= kills, "only " + std::to_string(exp.events) +
                                         " events acknowledged in " + std::to_string(kills) +
                                         " rounds: the child never got to work");
  // The checkpoint was folded at least once (else the comparison above proved little).
  CHECK_OR_FAIL(pg || g_cells_seen > 0, "no fold of the indicator checkpoint happened in any round");
  std::printf("crash_test: %d early kills, %d intake kills, %lld events acknowledged, %s\n",
              early_kills, intake_kills, static_cast<long long>(exp.events),
              g_failures ? "FAILED" : "passed");
  if (g_failures == 0) fs::remove_all(dir);
  else std::printf("database and ack log kept in %s\n", dir.c_str());
  return g_failures == 0 ? 0 : 1;
}
