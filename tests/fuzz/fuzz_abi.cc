// libFuzzer target: record events, batches and query requests through the real C ABI, the way
// a host hands them over. One engine per process on a temporary SQLite file (synchronous=normal:
// durability is not what is fuzzed); the first input byte picks submit, submit_batch or query.
// Any crash, sanitizer report, hang (libFuzzer -timeout) or leak is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "danvan/danvan.h"

namespace {

const danvan_api* g_api = nullptr;
danvan_handle* g_handle = nullptr;

void QuietLog(void*, int32_t, const char*, size_t) {}

void CloseEngine() {
  if (g_handle != nullptr) g_api->close(g_handle);
  g_handle = nullptr;
}

bool OpenEngine() {
  const char* reason = nullptr;
  g_api = danvan_get_api(DANVAN_ABI_MAJOR, &reason);
  if (g_api == nullptr) return false;
  char dir_template[] = "/tmp/danvan-fuzz-abi-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return false;
  const std::string config = std::string("{\"storage\":{\"engine\":\"sqlite\",\"path\":\"") + dir +
                             "/fuzz.sqlite\",\"synchronous\":\"normal\"},\"schemas_dir\":\"" +
                             DANVAN_SOURCE_ROOT "/schemas\",\"config_dir\":\"" DANVAN_SOURCE_ROOT
                             "/config\",\"log\":{\"level\":\"error\"}}";
  static danvan_host_services services = {sizeof(danvan_host_services), nullptr, QuietLog,
                                          nullptr, nullptr, nullptr};
  char* error = nullptr;
  if (g_api->open(config.data(), config.size(), &services, &g_handle, &error) != DANVAN_OK) {
    if (error != nullptr) fprintf(stderr, "open: %s\n", error);
    g_api->free(error);
    return false;
  }
  atexit(CloseEngine);
  return true;
}

bool LooksLikeFileOp(const char* body, size_t size) {
  const std::string text(body, size);
  return text.find("path") != std::string::npos || text.find("\\u") != std::string::npos ||
         text.find("report") != std::string::npos || text.find("reload") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_handle == nullptr && !OpenEngine()) abort();
  if (size == 0) return 0;
  const char* body = reinterpret_cast<const char*>(data + 1);
  const size_t body_size = size - 1;
  char* result = nullptr;
  size_t result_len = 0;
  char* error = nullptr;
  danvan_status status;
  switch (data[0] % 3) {
    case 0:
      status = g_api->submit(g_handle, body, body_size, &result, &result_len, &error);
      break;
    case 1:
      status = g_api->submit_batch(g_handle, body, body_size, &result, &result_len, &error);
      break;
    default:
      // Ops that touch host files by path (reports written to a directory, rules reloaded from
      // a file) are exercised by the hostile-input suite with safe paths, not with fuzzed ones
      // that could write anywhere on the CI machine.
      if (LooksLikeFileOp(body, body_size)) return 0;
      status = g_api->query(g_handle, body, body_size, &result, &result_len, &error);
      break;
  }
  // The ABI promises one of its codes, and INTERNAL is never the answer to bad input.
  if (status < DANVAN_OK || status > DANVAN_BAD_STATE) abort();
  if (status == DANVAN_INTERNAL) {
    fprintf(stderr, "INTERNAL for input: %s\n", error != nullptr ? error : "");
    abort();
  }
  g_api->free(result);
  g_api->free(error);
  return 0;
}
