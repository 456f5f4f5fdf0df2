#include "core/logger.h"

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

}  // namespace

void Logger::Log(LogLevel level, const std::string& event, nlohmann::json fields) const {
  if (!Enabled(level)) return;
  nlohmann::json line = {{"level", LevelName(level)}, {"event", event}};
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
