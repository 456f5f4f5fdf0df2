// Structured logs through the host's log callback: one JSON object per line, personal data
// masked. Thread-safe; never blocks on anything but the host's callback.
#pragma once

#include <atomic>
#include <cstdint>
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
      : sink_(sink), user_data_(user_data), min_level_(min_level), instance_(std::move(instance)) {}

  bool Enabled(LogLevel level) const { return sink_ != nullptr && level >= min_level_; }
  // fields is merged into {"ts","level","instance","event"} (ts: UTC wall-clock time,
  // ISO 8601 with milliseconds); every string in fields is masked.
  void Log(LogLevel level, const std::string& event, nlohmann::json fields = {}) const;

  static bool ParseLevel(const std::string& name, LogLevel* out);

 private:
  Sink sink_ = nullptr;
  void* user_data_ = nullptr;
  LogLevel min_level_ = LogLevel::kInfo;
  std::string instance_;
};

}  // namespace danvan
