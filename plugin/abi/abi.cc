// The exported C functions: argument checks, exception barrier, Status -> danvan_status.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "abi/abi_errors.h"
#include "core/json_write.h"
#include "core/store_lock.h"
#include "danvan/danvan.h"
#include "engine/engine.h"

#ifndef DANVAN_BUILD_ID
#define DANVAN_BUILD_ID "unknown"
#endif
#ifndef DANVAN_VERSION
#define DANVAN_VERSION "0.0.0"
#endif

struct danvan_handle {
  // Declared before the engine: released only after the engine is gone.
  std::unique_ptr<danvan::StoreLock> lock;
  std::unique_ptr<danvan::Engine> engine;
  danvan_host_services services{};
};

namespace {

using danvan::Status;

char* CopyOut(const std::string& s, size_t* len_out = nullptr) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  if (len_out) *len_out = s.size();
  return p;
}

// *error_out = the ABI error document (abi/abi_errors.h) with one error.
void SetError(char** error_out, danvan_status status, const std::string& code,
              const std::string& message) {
  if (error_out)
    *error_out = CopyOut(danvan::abi::ErrorDocument(
        status, {{code, "", message, danvan::abi::EnglishFor(code)}}));
}

std::string FallbackCode(const Status& s) { return danvan::abi::FallbackErrorCode(s.code()); }

danvan_status ToAbi(const Status& s) { return danvan::abi::ToAbiStatus(s.code()); }

std::string Dump(const nlohmann::json& j) {
  // == j.dump(-1, ' ', false, replace), faster on the large batch results (core/json_write.h).
  return danvan::DumpJson(j, nlohmann::json::error_handler_t::replace);
}

// Runs fn, converting any escaping exception into DANVAN_INTERNAL with a message.
template <typename Fn>
danvan_status Guard(char** error_out, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::exception& e) {
    SetError(error_out, DANVAN_INTERNAL, "internal", std::string("lỗi nội bộ: ") + e.what());
  } catch (...) {
    SetError(error_out, DANVAN_INTERNAL, "internal", "lỗi nội bộ không xác định");
  }
  return DANVAN_INTERNAL;
}

// *error_out = the document listing the errors of a failed Status.
danvan_status Fail(char** error_out, const Status& s, const std::string& fallback_code = "") {
  danvan_status st = ToAbi(s);
  if (error_out)
    *error_out = CopyOut(danvan::abi::ErrorDocument(
        st, danvan::abi::ErrorsFromStatus(s, fallback_code.empty() ? FallbackCode(s) : fallback_code)));
  return st;
}

// An open that failed. A conflict at open is always another owner of the store (the SQLite
// file lock, core/store_lock.h, or PostgreSQL's per-node lock): the documented answer
// DANVAN_BAD_STATE "store.locked" naming the holder, on both engines.
danvan_status FailOpen(char** error_out, const Status& s) {
  if (s.code() != Status::Code::kConflict) return Fail(error_out, s);
  SetError(error_out, DANVAN_BAD_STATE, "store.locked", s.message());
  return DANVAN_BAD_STATE;
}

// The host's secret callback: the value, or nullopt when it does not know `name`. Secrets
// are bounded to 64 KiB; a callback asking for a larger buffer is asked once more.
std::optional<std::string> HostSecret(const danvan_host_services& svc, const std::string& name) {
  if (!svc.secret) return std::nullopt;
  std::string buf(256, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    int64_t n = svc.secret(svc.user_data, name.c_str(), buf.data(), buf.size());
    if (n < 0 || n > (64 << 10)) return std::nullopt;
    if (static_cast<size_t>(n) <= buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.assign(static_cast<size_t>(n), '\0');
  }
  return std::nullopt;
}

void HostLog(void* user, int32_t level, const char* msg, size_t len) {
  auto* h = static_cast<danvan_handle*>(user);
  if (h->services.log) h->services.log(h->services.user_data, level, msg, len);
}

danvan_status BadState(char** error_out) {
  SetError(error_out, DANVAN_BAD_STATE, "state.bad", "handle NULL hoặc đã đóng");
  return DANVAN_BAD_STATE;
}

danvan_status Open(const char* config_json, size_t config_len,
                   const danvan_host_services* services, danvan_handle** handle_out,
                   char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!handle_out || (!config_json && config_len)) {
      SetError(error_out, DANVAN_INVALID_INPUT, "argument.invalid",
               "open: handle_out và config_json là bắt buộc");
      return DANVAN_INVALID_INPUT;
    }
    *handle_out = nullptr;
    auto handle = std::make_unique<danvan_handle>();
    if (services) {
      // Copy only the part of the struct the host knows (older hosts pass a smaller struct).
      size_t n = std::min<size_t>(services->struct_size, sizeof(danvan_host_services));
      std::memcpy(&handle->services, services, n);
      handle->services.struct_size = sizeof(danvan_host_services);
    }
    danvan::SecretLookup secret;
    if (handle->services.secret) {
      danvan_host_services svc = handle->services;
      secret = [svc](const std::string& name) { return HostSecret(svc, name); };
    }
    auto config = danvan::ParseEngineConfig(std::string_view(config_json ? config_json : "", config_len),
                                            secret);
    if (!config.ok()) return Fail(error_out, config.status(), "config.invalid");
    // One owner per store, across processes (core/store_lock.h).
    if (config.value().storage_engine == "sqlite") {
      auto lock = danvan::StoreLock::Acquire(config.value().storage_path, config.value().instance,
                                               config.value().file_mode);
      if (!lock.ok()) return FailOpen(error_out, lock.status());
      handle->lock = std::move(lock).value();
    }
    danvan::HostHooks hooks;
    hooks.secret = secret;
    hooks.logger = danvan::Logger(handle->services.log ? &HostLog : nullptr, handle.get(),
                                  config.value().log_level, config.value().instance);
    if (handle->services.alert) {
      danvan_host_services svc = handle->services;
      hooks.alert = [svc](const std::string& a) { svc.alert(svc.user_data, a.data(), a.size()); };
    }
    if (handle->services.now_ms) {
      danvan_host_services svc = handle->services;
      hooks.clock = std::make_shared<danvan::FunctionClock>([svc] { return svc.now_ms(svc.user_data); });
    }
    auto engine = danvan::Engine::Open(config.value(), std::move(hooks));
    // On PostgreSQL the guard is per node (instance), taken by the store at open.
    if (!engine.ok()) return FailOpen(error_out, engine.status());
    handle->engine = std::move(engine).value();
    *handle_out = handle.release();
    return DANVAN_OK;
  });
}

danvan_status Start(danvan_handle* h, char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return BadState(error_out);
    Status s = h->engine->Start();
    return s.ok() ? DANVAN_OK : Fail(error_out, s);
  });
}

danvan_status Stop(danvan_handle* h, uint32_t timeout_ms, char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return BadState(error_out);
    Status s = h->engine->Stop(timeout_ms);
    return s.ok() ? DANVAN_OK : Fail(error_out, s);
  });
}

void Close(danvan_handle* h) {
  if (!h) return;
  try {
    delete h;
  } catch (...) {
  }
}

danvan_status SubmitImpl(danvan_handle* h, const char* in, size_t len, char** result_out,
                         size_t* result_len, char** error_out, bool batch) {
  if (error_out) *error_out = nullptr;
  if (result_out) *result_out = nullptr;
  if (result_len) *result_len = 0;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return BadState(error_out);
    if (!in && len) {
      SetError(error_out, DANVAN_INVALID_INPUT, "argument.invalid", "đầu vào NULL với độ dài khác 0");
      return DANVAN_INVALID_INPUT;
    }
    std::string_view input(in ? in : "", len);
    // Answered as text, written without a result document (the same bytes as Dump of it).
    danvan::SubmitAnswer a = batch ? h->engine->SubmitBatch(input, &danvan::abi::NormalizeResultErrors)
                                   : h->engine->Submit(input, /*as_text=*/true);
    if (result_out && !a.result_text.empty()) {
      *result_out = CopyOut(a.result_text, result_len);
    } else {
      danvan::abi::NormalizeResultErrors(a.result);
      if (result_out && !a.result.is_null()) *result_out = CopyOut(Dump(a.result), result_len);
    }
    return a.status.ok() ? DANVAN_OK : Fail(error_out, a.status);
  });
}

danvan_status Submit(danvan_handle* h, const char* e, size_t len, char** r, size_t* rl, char** err) {
  return SubmitImpl(h, e, len, r, rl, err, false);
}

danvan_status SubmitBatch(danvan_handle* h, const char* e, size_t len, char** r, size_t* rl,
                          char** err) {
  return SubmitImpl(h, e, len, r, rl, err, true);
}

danvan_status Query(danvan_handle* h, const char* req, size_t len, char** resp_out,
                    size_t* resp_len, char** error_out) {
  if (error_out) *error_out = nullptr;
  if (resp_out) *resp_out = nullptr;
  if (resp_len) *resp_len = 0;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return BadState(error_out);
    // An op with a text writer writes its answer here, in the buffer handed to the host.
    danvan::AnswerText text;
    auto r = h->engine->Query(std::string_view(req ? req : "", req ? len : 0), &text);
    if (!r.ok()) {
      // The response carries the same error document as *error_out.
      const danvan_status st = ToAbi(r.status());
      const std::string doc = danvan::abi::ErrorDocument(
          st, danvan::abi::ErrorsFromStatus(r.status(), FallbackCode(r.status())));
      if (error_out) *error_out = CopyOut(doc);
      if (resp_out) *resp_out = CopyOut(doc, resp_len);
      return st;
    }
    if (resp_out) *resp_out = text.empty() ? CopyOut(Dump(r.value()), resp_len) : text.Release(resp_len);
    return DANVAN_OK;
  });
}

void Free(void* p) { std::free(p); }

const char* StatusName(danvan_status s) { return danvan::abi::StatusName(s); }

const danvan_api kApi = {
    sizeof(danvan_api), DANVAN_ABI_MAJOR, DANVAN_ABI_MINOR, "danvan", DANVAN_VERSION,
    DANVAN_BUILD_ID,    &Open,            &Start,           &Stop,    &Close,
    &Submit,            &SubmitBatch,     &Query,           &Free,    &StatusName,
};

#define DANVAN_STR2(x) #x
#define DANVAN_STR(x) DANVAN_STR2(x)
// String literals: static storage, valid for the life of the process, the same for every
// thread (the header promises a static reason). Host majors 0..9 are named; others get the
// generic line.
#define DANVAN_MISMATCH(n)                                                             \
  "ABI không tương thích: host ABI " #n ", plugin ABI " DANVAN_STR(DANVAN_ABI_MAJOR) \
  " (ABI mismatch: host ABI " #n ", plugin ABI " DANVAN_STR(DANVAN_ABI_MAJOR) ")"
constexpr const char* kMismatchReasons[] = {
    DANVAN_MISMATCH(0), DANVAN_MISMATCH(1), DANVAN_MISMATCH(2), DANVAN_MISMATCH(3),
    DANVAN_MISMATCH(4), DANVAN_MISMATCH(5), DANVAN_MISMATCH(6), DANVAN_MISMATCH(7),
    DANVAN_MISMATCH(8), DANVAN_MISMATCH(9)};
constexpr const char* kMismatchOther =
    "ABI không tương thích: host yêu cầu ABI khác, plugin ABI " DANVAN_STR(DANVAN_ABI_MAJOR)
    " (ABI mismatch: the plugin implements ABI " DANVAN_STR(DANVAN_ABI_MAJOR) ")";

}  // namespace

extern "C" DANVAN_EXPORT const danvan_api* danvan_get_api(uint32_t host_abi_major,
                                                          const char** reason_out) {
  if (host_abi_major != DANVAN_ABI_MAJOR) {
    if (reason_out)
      *reason_out = host_abi_major < 10 ? kMismatchReasons[host_abi_major] : kMismatchOther;
    return nullptr;
  }
  if (reason_out) *reason_out = nullptr;
  return &kApi;
}
