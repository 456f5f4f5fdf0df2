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
  Logger(Sink sink, void* user_data, LogLevel min_level)
      : sink_(sink), user_data_(user_data), min_level_(min_level) {}

  bool Enabled(LogLevel level) const { return sink_ != nullptr && level >= min_level_; }
  // fields is merged into {"level","event"}; every string in it is masked.
  void Log(LogLevel level, const std::string& event, nlohmann::json fields = {}) const;

  static bool ParseLevel(const std::string& name, LogLevel* out);

 private:
  Sink sink_ = nullptr;
  void* user_data_ = nullptr;
  LogLevel min_level_ = LogLevel::kInfo;
};

}  // namespace danvan
