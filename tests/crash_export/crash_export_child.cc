// crash_export_child: a host that crash_export_test kills with SIGKILL at random moments while
// it submits dossier lifecycles and the plugin's sender threads export them to the portal
// stand-in.
//
// It loads libdanvan.so with dlopen + danvan_get_api as a one-stop system would, opens the
// database (config file written by the test), starts the plugin's background threads
// (exporters), signals readiness on a pipe, then submits the plan (export_plan.h) from a given
// index on, as submit_batch calls and single submits of seeded random sizes. After each call
// returns DANVAN_OK with every event accepted (or "duplicate"/"stale": already stored by a
// call the previous child made but could not acknowledge), it appends {"from":a,"to":b} (plan indices
// [a, b)) to the acknowledgement log with one write() + fsync().
//
// Mode "run": when the plan is exhausted, keeps exporting until killed.
// Mode "drain": after the plan, polls the outbox.status query op until the queue has no
// pending and no held item, then writes {"drained":..,"status":..,"verify":..} to result_file
// and exits 0 (the test's final, unkilled child).
// Mode "settle" (several nodes on one PostgreSQL database, multinode_crash_test): as "drain",
// then writes 'D' on the ready pipe and waits for one byte on stdin (the test sends it once
// every node has drained the shared queue), then also answers the indicator queries of
// kIndicatorQueries in the result file ("indicators") and exits 0.
//
// DANVAN_PLAN_SHARD=k/n (optional): this child submits only the plan events of dossiers i with
// i % n == k (in plan order), the acknowledgement indices counting within that part.
//
// Usage: crash_export_child <libdanvan.so> <config.json> <ack.log> <start> <seed> <ready_fd>
//                           <plan_seed> <plan_dossiers> <run|drain|settle> [result_file]
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "crash_export/export_plan.h"
#include "danvan/danvan.h"

namespace {

using nlohmann::json;
namespace plan_ns = danvan::crash_export;

constexpr int kUsage = 2, kLoadFailed = 3, kOpenFailed = 4, kCallFailed = 5, kAckFailed = 6,
              kNotDrained = 7;

[[noreturn]] void Die(int code, const std::string& what) {
  std::fprintf(stderr, "crash_export_child: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(code);  // no static destructors under the plugin's running threads
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(kUsage, std::string("cannot read ") + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(int fd, const std::string& text, bool sync) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die(kAckFailed, std::string("write: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (sync && fsync(fd) != 0) Die(kAckFailed, std::string("fsync: ") + std::strerror(errno));
}

json Query(const danvan_api* api, danvan_handle* h, const json& req) {
  std::string text = req.dump();
  char *out = nullptr, *err = nullptr;
  size_t len = 0;
  danvan_status st = api->query(h, text.data(), text.size(), &out, &len, &err);
  if (st != DANVAN_OK)
    Die(kCallFailed, "query " + text + ": " + api->status_name(st) + " " + (err ? err : ""));
  json r = json::parse(out, out + len);
  api->free(out);
  api->free(err);
  return r;
}

void CheckOutcome(const json& r, const std::string& line) {
  // "duplicate" / "stale": already stored by a call of a killed child that could not
  // acknowledge it (resubmitted from the last acknowledged point).
  const std::string o = r.value("outcome", "");
  if (o != "accepted" && o != "duplicate" && o != "stale")
    Die(kCallFailed, "unexpected result " + r.dump() + " for " + line.substr(0, 200));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10 && argc != 11) {
    std::fprintf(stderr,
                 "usage: crash_export_child <libdanvan.so> <config.json> <ack.log> <start> "
                 "<seed> <ready_fd> <plan_seed> <plan_dossiers> <run|drain> [result_file]\n");
    return kUsage;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  if (getppid() == 1) return kUsage;
  const std::string mode = argv[9];
  const bool settle = mode == "settle";
  const bool drain = mode == "drain" || settle;
  if (drain && argc != 11) Die(kUsage, "drain needs a result file");

  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) Die(kLoadFailed, std::string("dlopen: ") + dlerror());
  auto get_api = reinterpret_cast<danvan_get_api_fn>(dlsym(lib, "danvan_get_api"));
  if (!get_api) Die(kLoadFailed, "danvan_get_api not exported");
  const char* reason = nullptr;
  const danvan_api* api = get_api(DANVAN_ABI_MAJOR, &reason);
  if (!api) Die(kLoadFailed, std::string("ABI refused: ") + (reason ? reason : "?"));
  if (api->struct_size < sizeof(danvan_api)) Die(kLoadFailed, "api table too small");

  const std::string config = ReadFile(argv[2]);
  int ack_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ack_fd < 0) Die(kAckFailed, std::string("open ack log: ") + std::strerror(errno));
  size_t pos = std::strtoull(argv[4], nullptr, 10);
  std::mt19937_64 rng(std::strtoull(argv[5], nullptr, 10));
  const int ready_fd = std::atoi(argv[6]);
  auto plan = plan_ns::MakePlan(std::strtoull(argv[7], nullptr, 10), std::atoi(argv[8]), 12);
  if (const char* shard = std::getenv("DANVAN_PLAN_SHARD"); shard && *shard)
    plan = plan_ns::Shard(plan, shard);

  danvan_host_services services{};
  services.struct_size = sizeof(services);
  danvan_handle* handle = nullptr;
  char* error = nullptr;
  danvan_status st = api->open(config.data(), config.size(), &services, &handle, &error);
  if (st != DANVAN_OK)
    Die(kOpenFailed, std::string("open: ") + api->status_name(st) + ": " + (error ? error : ""));
  st = api->start(handle, &error);
  if (st != DANVAN_OK)
    Die(kOpenFailed, std::string("start: ") + api->status_name(st) + ": " + (error ? error : ""));
  const char ready = 'R';
  if (write(ready_fd, &ready, 1) != 1) Die(kUsage, "ready pipe");
  if (!settle) close(ready_fd);

  std::uniform_int_distribution<int> single(0, 3);
  std::uniform_int_distribution<size_t> batch_size(1, 8);
  // Pace (DANVAN_CRASH_EXPORT_PACE_MS, default 8): a random pause of [0, 2*pace] ms after each
  // call spreads the plan over many rounds, so kills land in intake and export alike.
  const char* pace_env = std::getenv("DANVAN_CRASH_EXPORT_PACE_MS");
  std::uniform_int_distribution<int> pause(0, 2 * (pace_env ? std::atoi(pace_env) : 8));
  while (pos < plan.size()) {
    char* result = nullptr;
    size_t result_len = 0;
    size_t n = 1;
    if (single(rng) == 0) {
      const std::string& line = plan[pos].line;
      st = api->submit(handle, line.data(), line.size(), &result, &result_len, &error);
      if (st != DANVAN_OK)
        Die(kCallFailed, std::string("submit: ") + api->status_name(st) + ": " + (error ? error : ""));
      CheckOutcome(json::parse(result, result + result_len), line);
    } else {
      n = std::min(batch_size(rng), plan.size() - pos);
      std::string jsonl;
      for (size_t i = 0; i < n; ++i) jsonl += plan[pos + i].line + "\n";
      st = api->submit_batch(handle, jsonl.data(), jsonl.size(), &result, &result_len, &error);
      if (st != DANVAN_OK)
        Die(kCallFailed, std::string("submit_batch: ") + api->status_name(st) + ": " + (error ? error : ""));
      json r = json::parse(result, result + result_len);
      const json& results = r.at("results");
      if (results.size() != n) Die(kCallFailed, "batch answered " + std::to_string(results.size()));
      for (const json& one : results) CheckOutcome(one, plan[pos + one.at("index").get<size_t>()].line);
    }
    api->free(result);
    api->free(error);
    error = nullptr;
    WriteAll(ack_fd, json{{"from", pos}, {"to", pos + n}}.dump() + "\n", true);
    pos += n;
    if (!drain) std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
  }

  if (!drain) {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // exporting until killed
  }
  // Drain: a safety bound only (the test asserts "drained", never a duration).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(150);
  json status;
  bool drained = false;
  while (std::chrono::steady_clock::now() < until) {
    status = Query(api, handle, {{"op", "outbox.status"}});
    const json& q = status["queue"];
    if (q.value("pending", 0) == 0 && q.value("held", 0) == 0) {
      drained = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  json verify = Query(api, handle, {{"op", "exportlog.verify"}});
  json dead = Query(api, handle, {{"op", "outbox.dead_letters"}});
  json indicators = json::object();
  if (settle && drained) {
    const char done = 'D';
    if (write(ready_fd, &done, 1) != 1) Die(kUsage, "ready pipe");
    char go;
    ssize_t n;
    do n = read(STDIN_FILENO, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) Die(kUsage, "no go signal on stdin");
    // What this node's in-memory aggregates answer now (they follow the other nodes' commits).
    for (const json& q : plan_ns::IndicatorQueries()) indicators[q.dump()] = Query(api, handle, q)["indicators"];
    verify = Query(api, handle, {{"op", "exportlog.verify"}});
    status = Query(api, handle, {{"op", "outbox.status"}});
  }
  if (settle) close(ready_fd);
  st = api->stop(handle, 5000, &error);
  api->free(error);
  api->close(handle);
  int out = open(argv[10], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) Die(kAckFailed, "open result file");
  WriteAll(out,
           json{{"drained", drained}, {"status", status}, {"verify", verify}, {"dead_letters", dead},
                {"indicators", indicators}}
               .dump(-1, ' ', false, json::error_handler_t::replace),
           true);
  close(out);
  return drained ? 0 : kNotDrained;
}
