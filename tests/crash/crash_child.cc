// crash_child: a host that crash_test kills with SIGKILL at random moments.
//
// It loads libdanvan.so with dlopen + danvan_get_api exactly as a one-stop system would, opens
// the database, signals readiness on a pipe, then submits the sample's lines from a given line
// on, forever (wrapping around), as batches (submit_batch) and single events (submit) of
// seeded random sizes. After each call returns, it appends what the call acknowledged to the
// acknowledgement log (ack_log.h) with one write() + fsync().
// With [threads] > 1, that many host threads submit single events at once (each from its own
// place in the sample), so kills land inside group commits (several submits, one transaction).
//
// Usage: crash_child <libdanvan.so> <config.json> <sample.jsonl> <ack.log> <start_line> <seed>
//                    <ready_fd> [threads]
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crash/ack_log.h"
#include "danvan/danvan.h"

namespace {

using nlohmann::json;
namespace crash = danvan::crash;

[[noreturn]] void Die(int code, const std::string& what) {
  std::fprintf(stderr, "crash_child: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(code);  // other threads may still be inside the plugin: no exit handlers
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(crash::kChildUsage, std::string("cannot read ") + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const char* path) {
  std::string all = ReadFile(path);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    if (end > pos) lines.emplace_back(all, pos, end - pos);
    pos = end + 1;
  }
  return lines;
}

// Appends the acknowledgement of one event (its input line and its result object).
void AckResult(const json& r, const std::string& line, std::string* out) {
  const std::string outcome = r.value("outcome", "");
  if (outcome == "rejected") {
    *out += json{{"a", crash::kAckQuarantine}}.dump() + "\n";
    return;
  }
  if (outcome != "accepted" && outcome != "duplicate" && outcome != "stale")
    Die(crash::kChildCallFailed, "unexpected result " + r.dump());
  const json& key = r.at("key");
  json a = {{"source", key.at("source")}, {"kind", key.at("kind")}, {"id", key.at("id")}};
  // A progress step (portal progress item) is acknowledged as a step of the record's history,
  // whether it was accepted now or answered "duplicate" (already there): the record's own
  // version is the dossier item's, not the step event's.
  const json event = json::parse(line, nullptr, false);
  const json* data = event.is_object() && event.contains("data") ? &event["data"] : nullptr;
  if (key.at("kind") == "dossier" && data && data->is_object() && data->contains("ThoiDiemXuLy") &&
      !data->contains("TrangThaiHoSo")) {
    a["a"] = crash::kAckStep;
    a["status"] = data->at("TrangThai");
    a["ThoiDiemXuLy"] = data->at("ThoiDiemXuLy");
  } else if (r.contains("version")) {
    a["a"] = crash::kAckVersion;
    a["version"] = r["version"];
  } else if (r.contains("updated_at")) {
    a["a"] = crash::kAckUpdatedAt;
    a["updated_at"] = r["updated_at"];
  } else {
    Die(crash::kChildCallFailed, "result without version " + r.dump());
  }
  *out += a.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

void WriteAck(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die(crash::kChildAckFailed, std::string("ack write: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) Die(crash::kChildAckFailed, std::string("ack fsync: ") + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8 && argc != 9) {
    std::fprintf(stderr,
                 "usage: crash_child <libdanvan.so> <config.json> <sample.jsonl> <ack.log> "
                 "<start_line> <seed> <ready_fd> [threads]\n");
    return crash::kChildUsage;
  }
  // Never outlive the test that drives us.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return crash::kChildUsage;

  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) Die(crash::kChildLoadFailed, std::string("dlopen: ") + dlerror());
  auto get_api = reinterpret_cast<danvan_get_api_fn>(dlsym(lib, "danvan_get_api"));
  if (!get_api) Die(crash::kChildLoadFailed, "danvan_get_api not exported");
  const char* reason = nullptr;
  const danvan_api* api = get_api(DANVAN_ABI_MAJOR, &reason);
  if (!api) Die(crash::kChildLoadFailed, std::string("ABI refused: ") + (reason ? reason : "?"));
  if (api->struct_size < sizeof(danvan_api)) Die(crash::kChildLoadFailed, "api table too small");

  const std::string config = ReadFile(argv[2]);
  const std::vector<std::string> lines = ReadLines(argv[3]);
  if (lines.empty()) Die(crash::kChildUsage, "empty sample");
  int ack_fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ack_fd < 0) Die(crash::kChildAckFailed, std::string("open ack log: ") + std::strerror(errno));
  const size_t start = std::strtoull(argv[5], nullptr, 10) % lines.size();
  const uint64_t seed = std::strtoull(argv[6], nullptr, 10);
  const int ready_fd = std::atoi(argv[7]);
  const int threads = argc == 9 ? std::max(1, std::atoi(argv[8])) : 1;

  danvan_host_services services{};
  services.struct_size = sizeof(services);
  danvan_handle* handle = nullptr;
  char* error = nullptr;
  danvan_status st = api->open(config.data(), config.size(), &services, &handle, &error);
  if (st != DANVAN_OK) {
    Die(crash::kChildOpenFailed,
        std::string("open: ") + api->status_name(st) + ": " + (error ? error : ""));
  }
  // The plugin's own threads run too (deadline scans, folds of the indicator checkpoint), so
  // kills also land inside them.
  st = api->start(handle, &error);
  if (st != DANVAN_OK)
    Die(crash::kChildOpenFailed, std::string("start: ") + api->status_name(st) + ": " + (error ? error : ""));
  const char ready = 'R';
  if (write(ready_fd, &ready, 1) != 1) Die(crash::kChildUsage, "ready pipe");
  close(ready_fd);

  std::mutex ack_mu;  // one acknowledgement write at a time
  auto loop = [&](size_t pos, uint64_t thread_seed, bool singles_only) {
    std::mt19937_64 rng(thread_seed);
    std::uniform_int_distribution<int> mode(0, 3);
    // Small batches: many commits per run, so kills land at every stage of a commit.
    std::uniform_int_distribution<size_t> batch_size(1, 64);
    for (;;) {
      char* result = nullptr;
      size_t result_len = 0;
      char* call_error = nullptr;
      std::string ack;
      danvan_status st;
      if (singles_only || mode(rng) == 0) {
        const std::string& line = lines[pos];
        st = api->submit(handle, line.data(), line.size(), &result, &result_len, &call_error);
        pos = (pos + 1) % lines.size();
        // A rejected event is quarantined and committed before INVALID_INPUT is returned.
        if (st != DANVAN_OK && st != DANVAN_INVALID_INPUT)
          Die(crash::kChildCallFailed, std::string("submit: ") + api->status_name(st) + ": " +
                                           (call_error ? call_error : ""));
        json r = json::parse(result, result + result_len);
        if ((st == DANVAN_INVALID_INPUT) != (r.value("outcome", "") == "rejected"))
          Die(crash::kChildCallFailed, "submit status disagrees with result " + r.dump());
        AckResult(r, line, &ack);
      } else {
        const size_t n = std::min(batch_size(rng), lines.size() - pos);
        std::string jsonl;
        for (size_t i = 0; i < n; ++i) jsonl += lines[pos + i] + "\n";
        st = api->submit_batch(handle, jsonl.data(), jsonl.size(), &result, &result_len, &call_error);
        if (st != DANVAN_OK)
          Die(crash::kChildCallFailed, std::string("submit_batch: ") + api->status_name(st) + ": " +
                                           (call_error ? call_error : ""));
        json r = json::parse(result, result + result_len);
        const json& results = r.at("results");
        if (results.size() != n)
          Die(crash::kChildCallFailed, "batch of " + std::to_string(n) + " lines answered " +
                                           std::to_string(results.size()) + " results");
        for (const json& one : results) {
          const size_t index = one.at("index").get<size_t>();
          if (index >= n) Die(crash::kChildCallFailed, "result index out of range " + one.dump());
          AckResult(one, lines[pos + index], &ack);
        }
        pos = (pos + n) % lines.size();
      }
      api->free(result);
      api->free(call_error);
      ack += json{{"a", crash::kAckNext}, {"line", pos}}.dump() + "\n";
      std::lock_guard lock(ack_mu);
      WriteAck(ack_fd, ack);
    }
  };
  if (threads == 1) loop(start, seed, false);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(loop, (start + t * (lines.size() / threads)) % lines.size(), seed + t, true);
  for (auto& th : pool) th.join();  // never returns: killed
  return 0;
}
