// The exported C functions: argument checks, exception barrier, Status -> danvan_status.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "danvan/danvan.h"
#include "engine/engine.h"

#ifndef DANVAN_BUILD_ID
#define DANVAN_BUILD_ID "unknown"
#endif
#ifndef DANVAN_VERSION
#define DANVAN_VERSION "0.0.0"
#endif

struct danvan_handle {
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

void SetError(char** error_out, const std::string& message) {
  if (error_out) *error_out = CopyOut(message);
}

danvan_status ToAbi(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return DANVAN_OK;
    case Status::Code::kRetryLater: return DANVAN_RETRY_LATER;
    case Status::Code::kInvalidInput: return DANVAN_INVALID_INPUT;
    case Status::Code::kNotFound: return DANVAN_NOT_FOUND;
    case Status::Code::kConflict: return DANVAN_CONFLICT;
    case Status::Code::kIoError: return DANVAN_IO_ERROR;
    case Status::Code::kInternal: return DANVAN_INTERNAL;
  }
  return DANVAN_INTERNAL;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Runs fn, converting any escaping exception into DANVAN_INTERNAL with a message.
template <typename Fn>
danvan_status Guard(char** error_out, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::exception& e) {
    SetError(error_out, std::string("lỗi nội bộ: ") + e.what());
  } catch (...) {
    SetError(error_out, "lỗi nội bộ không xác định");
  }
  return DANVAN_INTERNAL;
}

void HostLog(void* user, int32_t level, const char* msg, size_t len) {
  auto* h = static_cast<danvan_handle*>(user);
  if (h->services.log) h->services.log(h->services.user_data, level, msg, len);
}

danvan_status Open(const char* config_json, size_t config_len,
                   const danvan_host_services* services, danvan_handle** handle_out,
                   char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!handle_out || (!config_json && config_len)) {
      SetError(error_out, "open: handle_out và config_json là bắt buộc");
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
    auto config = danvan::ParseEngineConfig(std::string_view(config_json ? config_json : "", config_len));
    if (!config.ok()) {
      SetError(error_out, "cấu hình không hợp lệ:\n" + config.status().message());
      return ToAbi(config.status());
    }
    danvan::HostHooks hooks;
    hooks.logger = danvan::Logger(handle->services.log ? &HostLog : nullptr, handle.get(),
                                  config.value().log_level);
    if (handle->services.alert) {
      danvan_host_services svc = handle->services;
      hooks.alert = [svc](const std::string& a) { svc.alert(svc.user_data, a.data(), a.size()); };
    }
    if (handle->services.now_ms) {
      danvan_host_services svc = handle->services;
      hooks.clock = std::make_shared<danvan::FunctionClock>([svc] { return svc.now_ms(svc.user_data); });
    }
    auto engine = danvan::Engine::Open(config.value(), std::move(hooks));
    if (!engine.ok()) {
      SetError(error_out, engine.status().message());
      return ToAbi(engine.status());
    }
    handle->engine = std::move(engine).value();
    *handle_out = handle.release();
    return DANVAN_OK;
  });
}

danvan_status Start(danvan_handle* h, char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return DANVAN_BAD_STATE;
    Status s = h->engine->Start();
    if (!s.ok()) SetError(error_out, s.message());
    return ToAbi(s);
  });
}

danvan_status Stop(danvan_handle* h, uint32_t timeout_ms, char** error_out) {
  if (error_out) *error_out = nullptr;
  return Guard(error_out, [&]() -> danvan_status {
    if (!h || !h->engine) return DANVAN_BAD_STATE;
    Status s = h->engine->Stop(timeout_ms);
    if (!s.ok()) SetError(error_out, s.message());
    return ToAbi(s);
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
    if (!h || !h->engine) return DANVAN_BAD_STATE;
    if (!in && len) {
      SetError(error_out, "đầu vào NULL với độ dài khác 0");
      return DANVAN_INVALID_INPUT;
    }
    std::string_view input(in ? in : "", len);
    danvan::SubmitAnswer a = batch ? h->engine->SubmitBatch(input) : h->engine->Submit(input);
    if (result_out && !a.result.is_null()) *result_out = CopyOut(Dump(a.result), result_len);
    if (!a.status.ok()) SetError(error_out, a.status.message());
    return ToAbi(a.status);
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
    if (!h || !h->engine) return DANVAN_BAD_STATE;
    auto r = h->engine->Query(std::string_view(req ? req : "", req ? len : 0));
    if (!r.ok()) {
      SetError(error_out, r.status().message());
      if (resp_out)
        *resp_out = CopyOut(Dump({{"error", {{"code", r.status().ToString().substr(0, r.status().ToString().find(':'))},
                                             {"message", r.status().message()}}}}),
                            resp_len);
      return ToAbi(r.status());
    }
    if (resp_out) *resp_out = CopyOut(Dump(r.value()), resp_len);
    return DANVAN_OK;
  });
}

void Free(void* p) { std::free(p); }

const char* StatusName(danvan_status s) {
  switch (s) {
    case DANVAN_OK: return "ok";
    case DANVAN_RETRY_LATER: return "retry_later";
    case DANVAN_INVALID_INPUT: return "invalid_input";
    case DANVAN_NOT_FOUND: return "not_found";
    case DANVAN_CONFLICT: return "conflict";
    case DANVAN_IO_ERROR: return "io_error";
    case DANVAN_INTERNAL: return "internal";
    case DANVAN_ABI_MISMATCH: return "abi_mismatch";
    case DANVAN_BAD_STATE: return "bad_state";
  }
  return "unknown";
}

const danvan_api kApi = {
    sizeof(danvan_api), DANVAN_ABI_MAJOR, DANVAN_ABI_MINOR, "danvan", DANVAN_VERSION,
    DANVAN_BUILD_ID,    &Open,            &Start,           &Stop,    &Close,
    &Submit,            &SubmitBatch,     &Query,           &Free,    &StatusName,
};

// Static so the pointer stays valid; built once (thread-safe static init).
std::string MismatchReason(uint32_t host_major) {
  return "host ABI " + std::to_string(host_major) + ", plugin ABI " +
         std::to_string(DANVAN_ABI_MAJOR) + ": không tương thích";
}

}  // namespace

extern "C" DANVAN_EXPORT const danvan_api* danvan_get_api(uint32_t host_abi_major,
                                                          const char** reason_out) {
  if (host_abi_major != DANVAN_ABI_MAJOR) {
    if (reason_out) {
      static thread_local std::string reason;
      try {
        reason = MismatchReason(host_abi_major);
        *reason_out = reason.c_str();
      } catch (...) {
        *reason_out = "ABI major mismatch";
      }
    }
    return nullptr;
  }
  if (reason_out) *reason_out = nullptr;
  return &kApi;
}
