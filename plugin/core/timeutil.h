// Time formats used by the portal and the record envelope.
// Vietnam has had a fixed offset of UTC+7 with no daylight saving since 1975; the offset is
// still taken from configuration (portal.utc_offset_minutes) where it reaches the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace danvan {

constexpr int64_t kMsPerDay = 86'400'000;

// "yyyyMMddHHmmss" (local time at utc_offset_minutes) -> ms since epoch. "" or malformed -> nullopt.
std::optional<int64_t> ParsePortalTime(std::string_view text, int utc_offset_minutes = 420);
std::string FormatPortalTime(int64_t epoch_ms, int utc_offset_minutes = 420);

// ISO 8601: "2023-01-15", "2023-01-15T08:30:00", with optional fraction and "Z" or "+07:00".
// A date or time without offset is read at default_offset_minutes.
std::optional<int64_t> ParseIsoTime(std::string_view text, int default_offset_minutes = 420);
// "2023-01-15T08:30:00+07:00"
std::string FormatIsoTime(int64_t epoch_ms, int utc_offset_minutes = 420);

// Civil dates as days since 1970-01-01 (proleptic Gregorian).
int64_t DaysFromCivil(int year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int* year, unsigned* month, unsigned* day);
// Local civil day number of an instant at the given offset.
int64_t LocalDay(int64_t epoch_ms, int utc_offset_minutes = 420);
// "2023-01-15" <-> day number.
std::optional<int64_t> ParseIsoDate(std::string_view text);
std::string FormatIsoDate(int64_t day);
// 0 = Monday ... 6 = Sunday.
int Weekday(int64_t day);

}  // namespace danvan
