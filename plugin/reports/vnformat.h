// Numbers and dates as Vietnamese administrators write them: 15/6/2023, 95,5%, 1.234.567,5.
// Pure functions; deterministic (no locale, no clock).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace danvan::reports {

// Decimal comma, '.' between thousands, at most `max_decimals` decimals with trailing zeros
// dropped, half away from zero: (1234567.25, 1) -> "1.234.567,3"; (95.5, 2) -> "95,5";
// (-5, 0) -> "-5"; (0.001, 2) -> "0".
std::string FormatNumberVn(double v, int max_decimals = 2);
// Ratio as a percentage: 0.955 -> "95,5%", 1 -> "100%"; nullopt -> "—".
std::string FormatPercentVn(std::optional<double> ratio, int max_decimals = 1);
// A change of a ratio in percentage points: 0.025 -> "+2,5 điểm %", -0.01 -> "-1 điểm %",
// 0 -> "0 điểm %".
std::string FormatPointChangeVn(double delta_ratio, int max_decimals = 1);
// A change of a count: 3 -> "+3", -2 -> "-2", 0 -> "0".
std::string FormatCountChangeVn(double delta, int max_decimals = 1);
// "2023-06-15" or "2023-06-15T09:15:00+07:00" (read at UTC+7) -> "15/6/2023";
// "2023-03" -> "3/2023"; anything else is returned unchanged.
std::string FormatDateVn(std::string_view iso);

}  // namespace danvan::reports
