// Structured logs through the host's log callback: one JSON object per line, personal data
// masked. Thread-safe; never blocks on anything but the host's callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace danvan {

enum class LogLevel : int32_t { kTrace = 0, kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  using Sink = void (*)(void* user_data, int32_t level, const char* message, size_t len);
  Logger() = default;
  // `instance` (the configuration's "instance") is written into every line.
  Logger(Sink sink, void* user_data, LogLevel min_level, std::string instance = "")
      : sink_(sink),
        user_data_(user_data),
        min_level_(std::make_shared<std::atomic<int32_t>>(static_cast<int32_t>(min_level))),
        instance_(std::move(instance)) {}

  bool Enabled(LogLevel level) const {
    return sink_ != nullptr && static_cast<int32_t>(level) >= min_level_->load(std::memory_order_relaxed);
  }
  // Changes the minimum level of this logger and of every copy made from it (the engine hands
  // copies to the store and the outbox): a configuration reload's log.level. Thread-safe.
  void SetMinLevel(LogLevel level) const {
    min_level_->store(static_cast<int32_t>(level), std::memory_order_relaxed);
  }
  // fields is merged into {"ts","level","instance","event"} (ts: UTC wall-clock time,
  // ISO 8601 with milliseconds); every string in fields is masked.
  void Log(LogLevel level, const std::string& event, nlohmann::json fields = {}) const;

  static bool ParseLevel(const std::string& name, LogLevel* out);

 private:
  Sink sink_ = nullptr;
  void* user_data_ = nullptr;
  // Shared by copies (see SetMinLevel); never null.
  std::shared_ptr<std::atomic<int32_t>> min_level_ =
      std::make_shared<std::atomic<int32_t>>(static_cast<int32_t>(LogLevel::kInfo));
  std::string instance_;
};

}  // namespace danvan
