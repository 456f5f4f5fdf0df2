#include "core/logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/mask.h"

namespace danvan {
namespace {

void MaskStrings(nlohmann::json& j) {
  if (j.is_string()) {
    j = MaskPersonalData(j.get_ref<const std::string&>());
  } else if (j.is_structured()) {
    for (auto& v : j) MaskStrings(v);
  }
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// "2024-05-01T03:04:05.678Z" (the system clock: a log line's time is when it was written).
std::string NowIso8601() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const int64_t ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

void Logger::Log(LogLevel level, const std::string& event, nlohmann::json fields) const {
  if (!Enabled(level)) return;
  nlohmann::json line = {{"ts", NowIso8601()}, {"level", LevelName(level)},
                         {"instance", instance_}, {"event", event}};
  if (fields.is_object()) {
    MaskStrings(fields);
    line.update(fields);
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  sink_(user_data_, static_cast<int32_t>(level), text.c_str(), text.size());
}

bool Logger::ParseLevel(const std::string& name, LogLevel* out) {
  static const std::pair<const char*, LogLevel> kNames[] = {
      {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},   {"error", LogLevel::kError}};
  for (const auto& [n, l] : kNames) {
    if (name == n) {
      *out = l;
      return true;
    }
  }
  return false;
}

}  // namespace danvan
