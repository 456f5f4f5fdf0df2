// danvan-host: the reference host. Loads libdanvan.so with dlopen exactly as a third-party
// one-stop system would (only danvan.h and dlopen/dlsym; the plugin is never linked), feeds it
// JSON Lines record events in batches and prints what happened.
//
//   danvan-host --lib build/plugin/libdanvan.so --config var/danvan.json
//               [--input FILE.jsonl | -] [--batch 1000] [--query JSON]... [--quiet]
//
// Exit codes: 0 done (rejected events are reported, not a failure), 1 usage, 2 open failed
// (bad configuration, storage), 3 library not loadable or ABI refused, 4 intake failed (storage
// error, back-pressure that never cleared), 5 a --query failed.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "danvan/danvan.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string lib;
  std::string config;
  std::string input;  // "" = none, "-" = stdin
  size_t batch = 1000;
  std::vector<std::string> queries;
  bool quiet = false;
  int log_level = DANVAN_LOG_WARN;
  uint32_t host_abi_major = DANVAN_ABI_MAJOR;
  uint32_t stop_timeout_ms = 10000;
  double max_retry_seconds = 300;
  std::string summary_json;
  size_t examples = 3;
  double drain_export_seconds = 0;  // wait for the plugin's exporters to empty their queue
};

void Usage(FILE* out) {
  std::fprintf(out,
      "usage: danvan-host --lib PATH/libdanvan.so --config CONFIG.json [--input FILE.jsonl | -]\n"
      "                   [--batch N] [--query JSON]... [--quiet] [--log-level LEVEL]\n"
      "                   [--summary-json FILE] [--stop-timeout-ms N] [--max-retry-seconds S]\n"
      "                   [--examples N] [--host-abi-major N] [--drain-export S]\n"
      "\n"
      "  --lib            the plugin (loaded with dlopen RTLD_NOW|RTLD_LOCAL)\n"
      "  --config         the plugin configuration (JSON, schemas/config.schema.json)\n"
      "  --input          JSON Lines record events; '-' reads standard input\n"
      "  --batch          events per submit_batch call (default 1000)\n"
      "  --query          a query request, e.g. '{\"op\":\"stats\"}' (repeatable)\n"
      "  --quiet          no progress output, plugin logs only at error level\n"
      "  --log-level      trace|debug|info|warn|error: plugin log lines shown (default warn)\n"
      "  --summary-json   also write the summary as JSON to FILE\n"
      "  --host-abi-major ABI major to ask for (testing the refusal path; default %d)\n",
      DANVAN_ABI_MAJOR);
}

std::optional<int> ParseLevel(const std::string& s) {
  static const std::map<std::string, int> kLevels = {
      {"trace", DANVAN_LOG_TRACE}, {"debug", DANVAN_LOG_DEBUG}, {"info", DANVAN_LOG_INFO},
      {"warn", DANVAN_LOG_WARN},   {"error", DANVAN_LOG_ERROR}};
  auto it = kLevels.find(s);
  if (it == kLevels.end()) return std::nullopt;
  return it->second;
}

const char* LevelName(int32_t level) {
  switch (level) {
    case DANVAN_LOG_TRACE: return "TRACE";
    case DANVAN_LOG_DEBUG: return "DEBUG";
    case DANVAN_LOG_INFO: return "INFO";
    case DANVAN_LOG_WARN: return "WARN";
    case DANVAN_LOG_ERROR: return "ERROR";
    default: return "?";
  }
}

bool ParseUnsigned(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}

// Everything the plugin's callbacks touch. The callbacks run on any thread.
struct HostContext {
  std::mutex mu;  // guards stderr output and the fields below
  int min_level = DANVAN_LOG_WARN;
  bool tty = false;
  bool progress_shown = false;  // a progress bar is on the current stderr line
  std::map<std::string, int64_t> alerts_by_type;
  std::map<int32_t, int64_t> logs_by_level;

  void ClearProgressLocked() {
    if (progress_shown) {
      std::fputs("\r\033[K", stderr);
      progress_shown = false;
    }
  }
};

extern "C" void HostLog(void* user_data, int32_t level, const char* message, size_t len) {
  auto* ctx = static_cast<HostContext*>(user_data);
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->logs_by_level[level]++;
  if (level < ctx->min_level) return;
  ctx->ClearProgressLocked();
  std::fprintf(stderr, "[danvan %s] %.*s\n", LevelName(level), static_cast<int>(len), message);
}

extern "C" void HostAlert(void* user_data, const char* alert, size_t len) {
  auto* ctx = static_cast<HostContext*>(user_data);
  std::string text(alert, len);
  Json j = Json::parse(text, nullptr, false);
  std::string type = "?";
  if (j.is_object() && j.contains("type") && j["type"].is_string()) type = j["type"];
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->alerts_by_type[type]++;
  ctx->ClearProgressLocked();
  std::fprintf(stderr, "[danvan ALERT %s] %s\n", type.c_str(), text.c_str());
}

// Owns a string the plugin allocated; releases it with the plugin's free.
class PluginString {
 public:
  explicit PluginString(const danvan_api* api) : api_(api) {}
  ~PluginString() { api_->free(ptr_); }
  PluginString(const PluginString&) = delete;
  PluginString& operator=(const PluginString&) = delete;
  char** out() { return &ptr_; }
  size_t* len_out() { return &len_; }
  bool empty() const { return ptr_ == nullptr; }
  std::string str() const {
    if (!ptr_) return {};
    return len_ ? std::string(ptr_, len_) : std::string(ptr_);
  }

 private:
  const danvan_api* api_;
  char* ptr_ = nullptr;
  size_t len_ = 0;
};

std::string StatusName(const danvan_api* api, danvan_status st) {
  const char* n = api->status_name ? api->status_name(st) : nullptr;
  return n ? n : ("status " + std::to_string(st));
}

struct Example {
  uint64_t line;
  std::string key;
  std::string reason;  // the exact reason when it differs from the group's
};

// Reasons that differ only in numbers ("invalid UTF-8 at byte 342" / "at byte 265") form one
// group: every run of digits becomes "#".
std::string NormaliseReason(const std::string& reason) {
  std::string out;
  out.reserve(reason.size());
  for (size_t i = 0; i < reason.size();) {
    if (reason[i] >= '0' && reason[i] <= '9') {
      while (i < reason.size() && reason[i] >= '0' && reason[i] <= '9') ++i;
      out += '#';
    } else {
      out += reason[i++];
    }
  }
  return out;
}

struct ReasonGroup {
  std::string first_reason;  // shown as the group's reason
  bool variants = false;     // other reasons with different numbers fell in this group
  int64_t count = 0;
  std::vector<Example> examples;
};

struct Summary {
  int64_t lines = 0;    // events sent (non-blank lines)
  int64_t blank = 0;    // blank lines skipped
  int64_t batches = 0;
  int64_t retries = 0;  // DANVAN_RETRY_LATER answers
  int64_t split_batches = 0;
  std::map<std::string, int64_t> outcomes;
  std::map<std::string, int64_t> accepted_by_kind;
  std::map<std::string, int64_t> accepted_by_unit;
  std::map<std::string, std::map<std::string, int64_t>> accepted_by_unit_kind;
  std::map<std::pair<std::string, std::string>, ReasonGroup> rejected;  // (path, reason)
  double seconds = 0;
};

std::string KeyText(const Json& key) {
  if (!key.is_object()) return "";
  auto part = [&](const char* f) {
    return key.contains(f) && key[f].is_string() ? key[f].get<std::string>() : std::string();
  };
  std::string s = part("source") + "/" + part("kind") + "/" + part("id");
  return s == "//" ? "" : s;
}

class Host {
 public:
  Host(Options opt, HostContext* ctx) : opt_(std::move(opt)), ctx_(ctx) {}
  ~Host() {
    if (handle_) api_->close(handle_);
    if (lib_) dlclose(lib_);
  }

  int Run();

 private:
  int Load();
  int Open();
  int Feed();
  bool SubmitLines(const std::vector<std::string>& lines, const std::vector<uint64_t>& numbers);
  bool SubmitOne(const std::string& line, uint64_t number);
  void Record(const Json& result, uint64_t line_number);
  void RecordRejectedWithoutResult(uint64_t line_number, const std::string& reason);
  void Progress(uint64_t bytes_done, uint64_t bytes_total, bool final);
  int RunQueries();
  void DrainExport();
  std::optional<Json> Query(const std::string& request, danvan_status* st, std::string* raw,
                            std::string* error);
  void PrintSummary(const std::optional<Json>& stats);
  void WriteSummaryJson(const std::optional<Json>& stats, const std::string& sqlite_path);
  std::string SqlitePath(const std::optional<Json>& stats);

  template <typename Fn>
  danvan_status WithBackoff(Fn&& call, const char* what);

  Options opt_;
  HostContext* ctx_;
  void* lib_ = nullptr;
  const danvan_api* api_ = nullptr;
  danvan_host_services services_{};
  danvan_handle* handle_ = nullptr;
  Json config_;
  Summary sum_;
  Clock::time_point start_;
  Clock::time_point last_progress_;
  bool feed_failed_ = false;
};

int Host::Load() {
  lib_ = dlopen(opt_.lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib_) {
    std::fprintf(stderr, "danvan-host: cannot load %s: %s\n", opt_.lib.c_str(), dlerror());
    return 3;
  }
  dlerror();
  void* sym = dlsym(lib_, "danvan_get_api");
  const char* err = dlerror();
  if (err || !sym) {
    std::fprintf(stderr, "danvan-host: %s is not a danvan plugin (no danvan_get_api: %s)\n",
                 opt_.lib.c_str(), err ? err : "null symbol");
    return 3;
  }
  auto get_api = reinterpret_cast<danvan_get_api_fn>(sym);
  const char* reason = nullptr;
  api_ = get_api(opt_.host_abi_major, &reason);
  if (!api_) {
    std::fprintf(stderr,
                 "danvan-host: the plugin refused this host: %s (host ABI %u, plugin %s)\n",
                 reason ? reason : "no reason given", opt_.host_abi_major, opt_.lib.c_str());
    return 3;
  }
  // Fields this host uses: everything up to and including status_name (ABI 1.0).
  const size_t needed = offsetof(danvan_api, status_name) + sizeof(api_->status_name);
  if (api_->abi_major != opt_.host_abi_major) {
    std::fprintf(stderr, "danvan-host: ABI mismatch: host ABI %u, plugin ABI %u.%u; refusing\n",
                 opt_.host_abi_major, api_->abi_major, api_->abi_minor);
    api_ = nullptr;
    return 3;
  }
  if (api_->struct_size < needed) {
    std::fprintf(stderr,
                 "danvan-host: plugin function table too small (%u bytes, host needs %zu); "
                 "refusing\n",
                 api_->struct_size, needed);
    api_ = nullptr;
    return 3;
  }
  if (!opt_.quiet)
    std::fprintf(stderr, "danvan-host: loaded %s %s (ABI %u.%u, build %s) from %s\n",
                 api_->plugin_name ? api_->plugin_name : "?",
                 api_->plugin_version ? api_->plugin_version : "?", api_->abi_major,
                 api_->abi_minor, api_->build_id ? api_->build_id : "?", opt_.lib.c_str());
  return 0;
}

int Host::Open() {
  std::ifstream in(opt_.config, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "danvan-host: cannot read config %s: %s\n", opt_.config.c_str(),
                 std::strerror(errno));
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  config_ = Json::parse(text, nullptr, false);  // only for the summary; the plugin validates

  services_.struct_size = sizeof(services_);
  services_.user_data = ctx_;
  services_.log = HostLog;
  services_.alert = HostAlert;
  services_.now_ms = nullptr;
  services_.secret = nullptr;
  PluginString err(api_);
  danvan_status st = api_->open(text.data(), text.size(), &services_, &handle_, err.out());
  if (st != DANVAN_OK) {
    std::fprintf(stderr, "danvan-host: open failed (%s) with config %s:\n%s\n",
                 StatusName(api_, st).c_str(), opt_.config.c_str(),
                 err.empty() ? "(no message)" : err.str().c_str());
    handle_ = nullptr;
    return 2;
  }
  PluginString err2(api_);
  st = api_->start(handle_, err2.out());
  if (st != DANVAN_OK) {
    std::fprintf(stderr, "danvan-host: start failed (%s): %s\n", StatusName(api_, st).c_str(),
                 err2.str().c_str());
    return 2;
  }
  return 0;
}

// Calls `call` until it returns something other than DANVAN_RETRY_LATER, sleeping with
// exponential backoff (50 ms doubling to 5 s) in between, for at most max_retry_seconds.
template <typename Fn>
danvan_status Host::WithBackoff(Fn&& call, const char* what) {
  auto delay = std::chrono::milliseconds(50);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opt_.max_retry_seconds * 1000));
  for (;;) {
    danvan_status st = call();
    if (st != DANVAN_RETRY_LATER) return st;
    sum_.retries++;
    if (Clock::now() + delay > deadline) {
      std::fprintf(stderr, "danvan-host: %s: plugin still busy (retry_later) after %.0f s\n", what,
                   opt_.max_retry_seconds);
      return st;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

void Host::Record(const Json& r, uint64_t line_number) {
  const std::string outcome = r.value("outcome", std::string("?"));
  sum_.outcomes[outcome]++;
  const Json key = r.contains("key") ? r["key"] : Json();
  if (outcome == "accepted") {
    std::string kind = key.is_object() ? key.value("kind", std::string("?")) : "?";
    std::string unit = r.value("unit", std::string("?"));
    sum_.accepted_by_kind[kind]++;
    sum_.accepted_by_unit[unit]++;
    sum_.accepted_by_unit_kind[unit][kind]++;
  } else if (outcome == "rejected") {
    const Json errors = r.contains("errors") && r["errors"].is_array() ? r["errors"] : Json::array();
    if (errors.empty()) {
      RecordRejectedWithoutResult(line_number, "(rejected without a reason)");
      sum_.outcomes[outcome]--;  // counted again in RecordRejectedWithoutResult
      return;
    }
    // One event may break several rules; each (path, reason) is a group.
    for (const auto& e : errors) {
      std::string path = e.is_object() ? e.value("path", std::string()) : std::string();
      std::string reason = e.is_object() ? e.value("reason", std::string()) : e.dump();
      const std::string group = NormaliseReason(reason);
      ReasonGroup& g = sum_.rejected[{path, group}];
      if (g.count == 0) g.first_reason = reason;
      if (reason != g.first_reason) g.variants = true;
      g.count++;
      if (g.examples.size() < opt_.examples)
        g.examples.push_back({line_number, KeyText(key), reason == g.first_reason ? "" : reason});
    }
  }
}

void Host::RecordRejectedWithoutResult(uint64_t line_number, const std::string& reason) {
  sum_.outcomes["rejected"]++;
  ReasonGroup& g = sum_.rejected[{"", NormaliseReason(reason)}];
  if (g.count == 0) g.first_reason = reason;
  if (reason != g.first_reason) g.variants = true;
  g.count++;
  if (g.examples.size() < opt_.examples) g.examples.push_back({line_number, "", ""});
}

bool Host::SubmitOne(const std::string& line, uint64_t number) {
  PluginString result(api_), err(api_);
  danvan_status st = WithBackoff(
      [&] {
        api_->free(*result.out());
        api_->free(*err.out());
        *result.out() = nullptr;
        *err.out() = nullptr;
        return api_->submit(handle_, line.data(), line.size(), result.out(), result.len_out(),
                            err.out());
      },
      "submit");
  if (st == DANVAN_OK || st == DANVAN_INVALID_INPUT || st == DANVAN_CONFLICT) {
    Json r = Json::parse(result.str(), nullptr, false);
    if (r.is_object() && r.contains("outcome")) {
      Record(r, number);
    } else {
      RecordRejectedWithoutResult(number, err.empty() ? "(no result)" : err.str());
    }
    return true;
  }
  std::fprintf(stderr, "danvan-host: submit of line %" PRIu64 " failed (%s): %s\n", number,
               StatusName(api_, st).c_str(), err.empty() ? "(no message)" : err.str().c_str());
  return false;
}

// Submits lines as one batch. A batch the plugin refuses as a whole (too many lines, too many
// bytes) is split in halves down to single events, so every event still gets its own answer.
bool Host::SubmitLines(const std::vector<std::string>& lines, const std::vector<uint64_t>& numbers) {
  if (lines.empty()) return true;
  std::string jsonl;
  size_t total = 0;
  for (const auto& l : lines) total += l.size() + 1;
  jsonl.reserve(total);
  for (const auto& l : lines) {
    jsonl += l;
    jsonl += '\n';
  }
  PluginString result(api_), err(api_);
  danvan_status st = WithBackoff(
      [&] {
        api_->free(*result.out());
        api_->free(*err.out());
        *result.out() = nullptr;
        *err.out() = nullptr;
        return api_->submit_batch(handle_, jsonl.data(), jsonl.size(), result.out(),
                                  result.len_out(), err.out());
      },
      "submit_batch");
  sum_.batches++;
  Json r;
  if (st == DANVAN_OK || st == DANVAN_INVALID_INPUT) r = Json::parse(result.str(), nullptr, false);
  if ((st == DANVAN_OK || st == DANVAN_INVALID_INPUT) && r.is_object() && r.contains("results") &&
      r["results"].is_array()) {
    const Json& results = r["results"];
    if (results.size() != lines.size()) {
      std::lock_guard<std::mutex> lock(ctx_->mu);
      ctx_->ClearProgressLocked();
      std::fprintf(stderr,
                   "danvan-host: warning: batch of %zu events answered with %zu results\n",
                   lines.size(), results.size());
    }
    for (size_t i = 0; i < results.size(); ++i) {
      const Json& one = results[i];
      size_t idx = i;
      if (one.contains("index") && one["index"].is_number_unsigned() &&
          one["index"].get<size_t>() < numbers.size())
        idx = one["index"].get<size_t>();
      Record(one, numbers[std::min(idx, numbers.size() - 1)]);
    }
    return true;
  }
  if (st == DANVAN_INVALID_INPUT) {
    // The batch itself was unacceptable.
    if (lines.size() == 1) return SubmitOne(lines[0], numbers[0]);
    {
      std::lock_guard<std::mutex> lock(ctx_->mu);
      if (!opt_.quiet) {
        ctx_->ClearProgressLocked();
        std::fprintf(stderr, "danvan-host: batch of %zu refused (%s); splitting it\n", lines.size(),
                     err.empty() ? "no message" : err.str().c_str());
      }
    }
    sum_.split_batches++;
    size_t half = lines.size() / 2;
    std::vector<std::string> a(lines.begin(), lines.begin() + half), b(lines.begin() + half, lines.end());
    std::vector<uint64_t> na(numbers.begin(), numbers.begin() + half),
        nb(numbers.begin() + half, numbers.end());
    return SubmitLines(a, na) && SubmitLines(b, nb);
  }
  std::fprintf(stderr, "danvan-host: submit_batch of lines %" PRIu64 "..%" PRIu64 " failed (%s): %s\n",
               numbers.front(), numbers.back(), StatusName(api_, st).c_str(),
               err.empty() ? "(no message)" : err.str().c_str());
  return false;
}

void Host::Progress(uint64_t done, uint64_t total, bool final) {
  if (opt_.quiet) return;
  const auto now = Clock::now();
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(sum_.lines) / secs : 0;
  std::lock_guard<std::mutex> lock(ctx_->mu);
  if (ctx_->tty) {
    if (!final && now - last_progress_ < std::chrono::milliseconds(100)) return;
    last_progress_ = now;
    std::fputs("\r\033[K", stderr);
    if (total > 0) {
      const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
      const int width = 30, filled = static_cast<int>(frac * width);
      std::fprintf(stderr, "[%s%s] %5.1f%%  %" PRId64 " events  %.0f ev/s",
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                   frac * 100, sum_.lines, rate);
    } else {
      std::fprintf(stderr, "%" PRId64 " events  %.0f ev/s", sum_.lines, rate);
    }
    ctx_->progress_shown = true;
    if (final) {
      std::fputs("\n", stderr);
      ctx_->progress_shown = false;
    }
  } else {
    // Not a terminal (CI logs): one line every 5 seconds and one at the end.
    if (!final && now - last_progress_ < std::chrono::seconds(5)) return;
    last_progress_ = now;
    if (total > 0)
      std::fprintf(stderr, "danvan-host: progress %.1f%%: %" PRId64 " events, %.0f ev/s\n",
                   100.0 * static_cast<double>(done) / static_cast<double>(total), sum_.lines, rate);
    else
      std::fprintf(stderr, "danvan-host: progress: %" PRId64 " events, %.0f ev/s\n", sum_.lines, rate);
  }
  std::fflush(stderr);
}

int Host::Feed() {
  std::ifstream file;
  std::istream* in = &std::cin;
  uint64_t total_bytes = 0;
  if (opt_.input != "-") {
    file.open(opt_.input, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "danvan-host: cannot read %s: %s\n", opt_.input.c_str(),
                   std::strerror(errno));
      return 4;
    }
    file.seekg(0, std::ios::end);
    total_bytes = static_cast<uint64_t>(file.tellg());
    file.seekg(0, std::ios::beg);
    in = &file;
  } else {
    std::ios::sync_with_stdio(false);
  }
  start_ = Clock::now();
  last_progress_ = start_;
  std::vector<std::string> lines;
  std::vector<uint64_t> numbers;
  lines.reserve(opt_.batch);
  numbers.reserve(opt_.batch);
  uint64_t line_no = 0, bytes = 0;
  std::string line;
  while (std::getline(*in, line)) {
    ++line_no;
    bytes += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      sum_.blank++;
      continue;
    }
    sum_.lines++;
    lines.push_back(std::move(line));
    line.clear();
    numbers.push_back(line_no);
    if (lines.size() >= opt_.batch) {
      if (!SubmitLines(lines, numbers)) return 4;
      lines.clear();
      numbers.clear();
      Progress(bytes, total_bytes, false);
    }
  }
  if (in->bad()) {
    std::fprintf(stderr, "danvan-host: read error on %s\n", opt_.input.c_str());
    return 4;
  }
  if (!SubmitLines(lines, numbers)) return 4;
  sum_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  Progress(total_bytes ? total_bytes : bytes, total_bytes, true);
  return 0;
}

std::optional<Json> Host::Query(const std::string& request, danvan_status* st, std::string* raw,
                                std::string* error) {
  PluginString resp(api_), err(api_);
  *st = WithBackoff(
      [&] {
        api_->free(*resp.out());
        api_->free(*err.out());
        *resp.out() = nullptr;
        *err.out() = nullptr;
        return api_->query(handle_, request.data(), request.size(), resp.out(), resp.len_out(),
                           err.out());
      },
      "query");
  *raw = resp.str();
  *error = err.str();
  if (*st != DANVAN_OK) return std::nullopt;
  Json j = Json::parse(*raw, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Polls the plugin's export status until nothing is pending or held (the exporters run on the
// plugin's own threads; the host only watches), at most --drain-export seconds.
void Host::DrainExport() {
  auto until = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(static_cast<int64_t>(opt_.drain_export_seconds * 1000));
  Json last;
  int64_t last_done = -1;
  auto last_progress = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    danvan_status st;
    std::string raw, error;
    auto j = Query("{\"op\":\"outbox.status\"}", &st, &raw, &error);
    if (!j) break;
    last = *j;
    const Json& q = (*j)["queue"];
    int64_t pending = q.value("pending", int64_t{0});
    int64_t done = q.value("done", int64_t{0}) + (*j).value("dead_letters", int64_t{0});
    if (!(*j).value("enabled", false) || pending == 0) break;
    if (done != last_done) {
      last_done = done;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(10)) {
      // What is left waits for an administrator (held for a missing mapping, or queued behind
      // one in the same dossier): the exporters keep it, the host need not wait.
      break;
    }
    std::fprintf(stderr, "\rdanvan-host: exporting to the portal, %lld items left   ",
                 static_cast<long long>(pending));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (last.is_object() && last.value("enabled", false)) {
    const Json& q = last["queue"];
    std::printf("\nexport to the portal (%s): done %lld, pending %lld, held %lld, dead letters %lld\n",
                last.value("destination", "").c_str(),
                static_cast<long long>(q.value("done", int64_t{0})),
                static_cast<long long>(q.value("pending", int64_t{0})),
                static_cast<long long>(q.value("held", int64_t{0})),
                static_cast<long long>(last.value("dead_letters", int64_t{0})));
    if (last.contains("last_error") && last["last_error"].is_object())
      std::printf("last export error: %s\n", last["last_error"].value("message", "").c_str());
  }
}

int Host::RunQueries() {
  int rc = 0;
  for (const auto& q : opt_.queries) {
    danvan_status st;
    std::string raw, error;
    auto j = Query(q, &st, &raw, &error);
    std::printf("\n== query %s -> %s\n", q.c_str(), StatusName(api_, st).c_str());
    if (st != DANVAN_OK) {
      std::printf("%s\n", error.empty() ? "(no message)" : error.c_str());
      rc = 5;
      continue;
    }
    std::printf("%s\n", j ? j->dump(2).c_str() : raw.c_str());
  }
  return rc;
}

// The storage file as the plugin reports it in "stats" (storage.path), else from the config.
std::string Host::SqlitePath(const std::optional<Json>& stats) {
  if (stats && stats->contains("storage") && (*stats)["storage"].is_object()) {
    const Json& s = (*stats)["storage"];
    for (const char* k : {"path", "file", "location"})
      if (s.contains(k) && s[k].is_string()) return s[k];
  }
  if (config_.is_object() && config_.contains("storage") && config_["storage"].is_object() &&
      config_["storage"].contains("path") && config_["storage"]["path"].is_string())
    return config_["storage"]["path"].get<std::string>() + " (from the configuration)";
  return "(unknown)";
}

void Host::PrintSummary(const std::optional<Json>& stats) {
  auto n = [&](const char* o) {
    auto it = sum_.outcomes.find(o);
    return it == sum_.outcomes.end() ? int64_t{0} : it->second;
  };
  std::printf("danvan-host summary\n");
  if (!opt_.input.empty()) {
    std::printf("  input            %s\n", opt_.input == "-" ? "(stdin)" : opt_.input.c_str());
    std::printf("  events           %" PRId64 " (blank lines skipped: %" PRId64 ") in %" PRId64
                " batches of up to %zu, %.2f s, %.0f events/s\n",
                sum_.lines, sum_.blank, sum_.batches, opt_.batch, sum_.seconds,
                sum_.seconds > 0 ? static_cast<double>(sum_.lines) / sum_.seconds : 0.0);
    if (sum_.retries || sum_.split_batches)
      std::printf("  back-pressure    %" PRId64 " retry_later answers; %" PRId64 " batches split\n",
                  sum_.retries, sum_.split_batches);
    std::printf("  accepted         %" PRId64 "\n", n("accepted"));
    std::printf("  duplicate        %" PRId64 "\n", n("duplicate"));
    std::printf("  stale            %" PRId64 "\n", n("stale"));
    std::printf("  rejected         %" PRId64 "\n", n("rejected"));
    for (const auto& [o, c] : sum_.outcomes)
      if (o != "accepted" && o != "duplicate" && o != "stale" && o != "rejected")
        std::printf("  %-16s %" PRId64 " (unknown outcome)\n", o.c_str(), c);

    std::printf("\naccepted by kind\n");
    for (const auto& [k, c] : sum_.accepted_by_kind) std::printf("  %-12s %8" PRId64 "\n", k.c_str(), c);
    std::printf("\naccepted by unit\n");
    for (const auto& [u, c] : sum_.accepted_by_unit) {
      std::string kinds;
      for (const auto& [k, kc] : sum_.accepted_by_unit_kind[u])
        kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(kc);
      std::printf("  %-30s %8" PRId64 "  (%s)\n", u.c_str(), c, kinds.c_str());
    }
    if (!sum_.rejected.empty()) {
      std::vector<std::pair<std::pair<std::string, std::string>, ReasonGroup>> groups(
          sum_.rejected.begin(), sum_.rejected.end());
      std::stable_sort(groups.begin(), groups.end(),
                       [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
      std::printf("\nrejected, by field and reason (%zu groups; an event breaking several rules is "
                  "in each of its groups)\n", groups.size());
      for (const auto& [pr, g] : groups) {
        std::printf("  %6" PRId64 "  %s  %s%s\n", g.count, pr.first.empty() ? "(event)" : pr.first.c_str(),
                    g.first_reason.c_str(), g.variants ? "  (and the same with other numbers)" : "");
        for (const auto& ex : g.examples)
          std::printf("          e.g. line %" PRIu64 "%s%s%s%s\n", ex.line, ex.key.empty() ? "" : "  ",
                      ex.key.c_str(), ex.reason.empty() ? "" : ": ", ex.reason.c_str());
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(ctx_->mu);
    if (!ctx_->alerts_by_type.empty()) {
      std::printf("\nalerts\n");
      for (const auto& [t, c] : ctx_->alerts_by_type) std::printf("  %-16s %" PRId64 "\n", t.c_str(), c);
    }
  }
  if (stats) {
    std::printf("\nstored (stats)\n");
    if (stats->contains("records")) std::printf("  records          %s\n", (*stats)["records"].dump().c_str());
    if (stats->contains("records_by_kind"))
      std::printf("  by kind          %s\n", (*stats)["records_by_kind"].dump().c_str());
    if (stats->contains("quarantined"))
      std::printf("  quarantined      %s\n", (*stats)["quarantined"].dump().c_str());
  }
  std::printf("\nSQLite file: %s\n", SqlitePath(stats).c_str());
}

void Host::WriteSummaryJson(const std::optional<Json>& stats, const std::string& sqlite_path) {
  Json rejected = Json::array();
  for (const auto& [pr, g] : sum_.rejected) {
    Json ex = Json::array();
    for (const auto& e : g.examples) {
      Json one = {{"line", e.line}, {"key", e.key}};
      if (!e.reason.empty()) one["reason"] = e.reason;
      ex.push_back(std::move(one));
    }
    rejected.push_back({{"path", pr.first}, {"reason", g.first_reason}, {"pattern", pr.second},
                        {"count", g.count}, {"examples", ex}});
  }
  Json alerts = Json::object();
  {
    std::lock_guard<std::mutex> lock(ctx_->mu);
    for (const auto& [t, c] : ctx_->alerts_by_type) alerts[t] = c;
  }
  Json j = {{"input", opt_.input},
            {"events", sum_.lines},
            {"blank_lines", sum_.blank},
            {"batches", sum_.batches},
            {"retries", sum_.retries},
            {"seconds", sum_.seconds},
            {"outcomes", sum_.outcomes},
            {"accepted_by_kind", sum_.accepted_by_kind},
            {"accepted_by_unit", sum_.accepted_by_unit},
            {"rejected_reasons", rejected},
            {"alerts", alerts},
            {"sqlite_path", sqlite_path},
            {"stats", stats ? *stats : Json()}};
  std::ofstream out(opt_.summary_json, std::ios::binary | std::ios::trunc);
  out << j.dump(1) << "\n";
  if (!out) std::fprintf(stderr, "danvan-host: cannot write %s\n", opt_.summary_json.c_str());
}

int Host::Run() {
  if (int rc = Load()) return rc;
  if (int rc = Open()) return rc;
  int rc = 0;
  if (!opt_.input.empty()) {
    rc = Feed();
    if (rc) feed_failed_ = true;
  }
  danvan_status st;
  std::string raw, error;
  auto stats = Query("{\"op\":\"stats\"}", &st, &raw, &error);
  if (!stats)
    std::fprintf(stderr, "danvan-host: stats query failed (%s): %s\n", StatusName(api_, st).c_str(),
                 error.c_str());
  PrintSummary(stats);
  if (!opt_.summary_json.empty()) WriteSummaryJson(stats, SqlitePath(stats));
  if (opt_.drain_export_seconds > 0) DrainExport();
  int qrc = RunQueries();
  if (!rc) rc = qrc;
  std::fflush(stdout);

  PluginString err(api_);
  st = api_->stop(handle_, opt_.stop_timeout_ms, err.out());
  if (st == DANVAN_RETRY_LATER)
    std::fprintf(stderr, "danvan-host: stop: background threads still finishing after %u ms\n",
                 opt_.stop_timeout_ms);
  else if (st != DANVAN_OK)
    std::fprintf(stderr, "danvan-host: stop failed (%s): %s\n", StatusName(api_, st).c_str(),
                 err.str().c_str());
  api_->close(handle_);
  handle_ = nullptr;
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "danvan-host: %s needs a value\n", name);
        std::exit(1);
      }
      return argv[++i];
    };
    uint64_t u = 0;
    if (a == "--lib") {
      opt.lib = value("--lib");
    } else if (a == "--config") {
      opt.config = value("--config");
    } else if (a == "--input") {
      opt.input = value("--input");
    } else if (a == "--batch") {
      if (!ParseUnsigned(value("--batch"), &u) || u == 0 || u > 1000000) {
        std::fprintf(stderr, "danvan-host: --batch must be 1..1000000\n");
        return 1;
      }
      opt.batch = u;
    } else if (a == "--drain-export") {
      opt.drain_export_seconds = std::atof(value("--drain-export"));
    } else if (a == "--query") {
      opt.queries.push_back(value("--query"));
    } else if (a == "--quiet") {
      opt.quiet = true;
    } else if (a == "--log-level") {
      auto l = ParseLevel(value("--log-level"));
      if (!l) {
        std::fprintf(stderr, "danvan-host: --log-level must be trace|debug|info|warn|error\n");
        return 1;
      }
      opt.log_level = *l;
    } else if (a == "--summary-json") {
      opt.summary_json = value("--summary-json");
    } else if (a == "--stop-timeout-ms") {
      if (!ParseUnsigned(value("--stop-timeout-ms"), &u) || u > 600000) return Usage(stderr), 1;
      opt.stop_timeout_ms = static_cast<uint32_t>(u);
    } else if (a == "--max-retry-seconds") {
      if (!ParseUnsigned(value("--max-retry-seconds"), &u)) return Usage(stderr), 1;
      opt.max_retry_seconds = static_cast<double>(u);
    } else if (a == "--examples") {
      if (!ParseUnsigned(value("--examples"), &u) || u > 100) return Usage(stderr), 1;
      opt.examples = u;
    } else if (a == "--host-abi-major") {
      if (!ParseUnsigned(value("--host-abi-major"), &u) || u > UINT32_MAX) return Usage(stderr), 1;
      opt.host_abi_major = static_cast<uint32_t>(u);
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "danvan-host: unknown argument %s\n", a.c_str());
      Usage(stderr);
      return 1;
    }
  }
  if (opt.lib.empty() || opt.config.empty()) {
    Usage(stderr);
    return 1;
  }
  HostContext ctx;
  ctx.min_level = opt.quiet ? std::max(opt.log_level, static_cast<int>(DANVAN_LOG_ERROR)) : opt.log_level;
  ctx.tty = isatty(STDERR_FILENO) == 1;
  int rc;
  {
    Host host(std::move(opt), &ctx);
    rc = host.Run();
  }
  std::fflush(stdout);
  return rc;
}
