// danvan.hpp — header-only C++17 RAII wrapper over the C ABI of libdanvan (danvan.h).
//
//   danvan::Library lib("/usr/lib/x86_64-linux-gnu/libdanvan.so.1");   // dlopen + ABI check
//   danvan::Plugin p(lib, config_json, {.log = [](int lvl, std::string_view line) {...}});
//   p.Start();
//   danvan::SubmitResult r = p.Submit(event_json);   // throws danvan::InvalidInput, RetryLater...
//
// Strings are std::string_view of UTF-8 bytes; lengths are byte counts. Every call takes the
// handle's lifecycle guard (shared); Close() (and the destructor) takes it exclusively, so no
// call races close and calls after Close() throw BadState. Callbacks (std::function) live in the
// Plugin for its whole life; an exception thrown inside one is caught and counted
// (callback_errors()), never propagated into the plugin. Results are returned as JSON text;
// parse them with the JSON library of your choice.
#pragma once

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include <danvan/danvan.h>

namespace danvan {

// A failed call: the status, and the ABI's JSON error document (danvan.h "Errors").
class Error : public std::runtime_error {
 public:
  Error(danvan_status status, std::string document, std::string result = {})
      : std::runtime_error(std::to_string(status) + ": " + document),
        status_(status), document_(std::move(document)), result_(std::move(result)) {}
  danvan_status status() const { return status_; }
  // {"status":"...","errors":[{"code","path","message","message_en"}]}
  const std::string& document() const { return document_; }
  // For a rejected submit: the submit result JSON (with the per-event errors).
  const std::string& result() const { return result_; }
  // True when the document names this machine code (e.g. "schema.required").
  bool HasCode(std::string_view code) const {
    return document_.find("\"code\":\"" + std::string(code) + "\"") != std::string::npos;
  }

 private:
  danvan_status status_;
  std::string document_;
  std::string result_;
};
struct RetryLater : Error { using Error::Error; };
struct InvalidInput : Error { using Error::Error; };
struct NotFound : Error { using Error::Error; };
struct Conflict : Error { using Error::Error; };
struct StorageError : Error { using Error::Error; };
struct InternalError : Error { using Error::Error; };
struct AbiMismatch : Error { using Error::Error; };
struct BadState : Error { using Error::Error; };

[[noreturn]] inline void Throw(danvan_status s, std::string doc, std::string result = {}) {
  switch (s) {
    case DANVAN_RETRY_LATER: throw RetryLater(s, std::move(doc), std::move(result));
    case DANVAN_INVALID_INPUT: throw InvalidInput(s, std::move(doc), std::move(result));
    case DANVAN_NOT_FOUND: throw NotFound(s, std::move(doc), std::move(result));
    case DANVAN_CONFLICT: throw Conflict(s, std::move(doc), std::move(result));
    case DANVAN_IO_ERROR: throw StorageError(s, std::move(doc), std::move(result));
    case DANVAN_ABI_MISMATCH: throw AbiMismatch(s, std::move(doc), std::move(result));
    case DANVAN_BAD_STATE: throw BadState(s, std::move(doc), std::move(result));
    default: throw InternalError(s, std::move(doc), std::move(result));
  }
}

inline std::string ErrorDoc(std::string_view code, std::string_view message) {
  return "{\"errors\":[{\"code\":\"" + std::string(code) + "\",\"message\":\"" +
         std::string(message) + "\",\"message_en\":\"" + std::string(message) +
         "\",\"path\":\"\"}],\"status\":\"error\"}";
}

// libdanvan.so loaded with dlopen; ABI major and function-table size checked.
class Library {
 public:
  explicit Library(const std::string& path, uint32_t abi_major = DANVAN_ABI_MAJOR) {
    lib_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) Throw(DANVAN_ABI_MISMATCH, ErrorDoc("abi.load", ::dlerror()));
    auto get = reinterpret_cast<danvan_get_api_fn>(::dlsym(lib_, "danvan_get_api"));
    if (!get) {
      ::dlclose(lib_);
      Throw(DANVAN_ABI_MISMATCH, ErrorDoc("abi.load", "danvan_get_api not found"));
    }
    const char* reason = nullptr;
    api_ = get(abi_major, &reason);
    if (!api_) {
      std::string r = reason ? reason : "ABI mismatch";
      ::dlclose(lib_);
      Throw(DANVAN_ABI_MISMATCH, ErrorDoc("abi.mismatch", r));
    }
    if (api_->struct_size < sizeof(danvan_api)) {
      ::dlclose(lib_);
      Throw(DANVAN_ABI_MISMATCH, ErrorDoc("abi.table_size", "function table smaller than danvan.h's"));
    }
  }
  ~Library() { if (lib_) ::dlclose(lib_); }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  const danvan_api& api() const { return *api_; }

 private:
  void* lib_ = nullptr;
  const danvan_api* api_ = nullptr;
};

struct Callbacks {
  std::function<void(int level, std::string_view json_line)> log;
  std::function<void(std::string_view alert_json)> alert;
  std::function<std::optional<std::string>(std::string_view name)> secret;
};

struct SubmitResult {
  danvan_status status;
  std::string json;  // {"outcome":...,"key":...,"errors":[...]} or {"results":[...],"summary":...}
};

// One handle. Thread-safe: any number of threads may Submit/Query at once.
class Plugin {
 public:
  // The Library must outlive the Plugin.
  Plugin(const Library& lib, std::string_view config_json, Callbacks cb = {})
      : api_(lib.api()), cb_(std::make_unique<State>()) {
    cb_->cb = std::move(cb);
    danvan_host_services hs{};
    hs.struct_size = sizeof hs;
    hs.user_data = cb_.get();
    if (cb_->cb.log) hs.log = &State::Log;
    if (cb_->cb.alert) hs.alert = &State::Alert;
    if (cb_->cb.secret) hs.secret = &State::Secret;
    char* err = nullptr;
    danvan_status s = api_.open(config_json.data(), config_json.size(), &hs, &handle_, &err);
    if (s != DANVAN_OK) Throw(s, Take(err));
  }
  ~Plugin() { Close(); }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  void Start() { Simple([&](char** e) { return api_.start(handle_, e); }); }
  void Stop(uint32_t timeout_ms) { Simple([&](char** e) { return api_.stop(handle_, timeout_ms, e); }); }

  // Waits for the calls under way, then closes; later calls throw BadState. Idempotent.
  void Close() noexcept {
    // New calls are refused first: a reader-preferring rwlock would otherwise let a steady
    // stream of calls starve Close() forever.
    closing_.store(true);
    std::unique_lock lock(mu_);
    if (!handle_) return;
    api_.close(handle_);
    handle_ = nullptr;
  }

  // Throws InvalidInput (result() holds the per-event errors) or RetryLater.
  SubmitResult Submit(std::string_view event) { return Out(api_.submit, event); }
  // Per-line outcomes are in the result; throws only when the batch itself is refused.
  SubmitResult SubmitBatch(std::string_view jsonl) { return Out(api_.submit_batch, jsonl); }
  std::string Query(std::string_view request) { return Out(api_.query, request).json; }

  int callback_errors() const { return cb_->errors.load(); }

 private:
  struct State {
    Callbacks cb;
    std::atomic<int> errors{0};
    static void Log(void* u, int32_t level, const char* m, size_t n) {
      auto* s = static_cast<State*>(u);
      try { s->cb.log(level, std::string_view(m, n)); } catch (...) { s->errors++; }
    }
    static void Alert(void* u, const char* a, size_t n) {
      auto* s = static_cast<State*>(u);
      try { s->cb.alert(std::string_view(a, n)); } catch (...) { s->errors++; }
    }
    static int64_t Secret(void* u, const char* name, char* buf, size_t len) {
      auto* s = static_cast<State*>(u);
      try {
        auto v = s->cb.secret(name);
        if (!v) return -1;
        std::memcpy(buf, v->data(), v->size() < len ? v->size() : len);
        return static_cast<int64_t>(v->size());
      } catch (...) {
        s->errors++;
        return -1;
      }
    }
  };

  std::string Take(char* p) const {
    std::string s = p ? std::string(p) : std::string();
    api_.free(p);
    return s;
  }
  template <typename Fn>
  void Simple(Fn&& fn) {
    if (closing_.load()) Throw(DANVAN_BAD_STATE, ErrorDoc("state.bad", "the handle is closed"));
    std::shared_lock lock(mu_);
    if (!handle_) Throw(DANVAN_BAD_STATE, ErrorDoc("state.bad", "the handle is closed"));
    char* err = nullptr;
    danvan_status s = fn(&err);
    if (s != DANVAN_OK) Throw(s, Take(err));
    api_.free(err);
  }
  using OutFn = danvan_status (*)(danvan_handle*, const char*, size_t, char**, size_t*, char**);
  SubmitResult Out(OutFn fn, std::string_view in) {
    if (closing_.load()) Throw(DANVAN_BAD_STATE, ErrorDoc("state.bad", "the handle is closed"));
    std::shared_lock lock(mu_);
    if (!handle_) Throw(DANVAN_BAD_STATE, ErrorDoc("state.bad", "the handle is closed"));
    char* out = nullptr;
    char* err = nullptr;
    size_t n = 0;
    danvan_status s = fn(handle_, in.data(), in.size(), &out, &n, &err);
    std::string result = out ? std::string(out, n) : std::string();
    api_.free(out);
    if (s != DANVAN_OK) Throw(s, Take(err), std::move(result));
    api_.free(err);
    return {s, std::move(result)};
  }

  const danvan_api& api_;
  std::unique_ptr<State> cb_;
  mutable std::shared_mutex mu_;
  std::atomic<bool> closing_{false};
  danvan_handle* handle_ = nullptr;
};

}  // namespace danvan
