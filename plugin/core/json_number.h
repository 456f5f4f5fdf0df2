// Reading integers out of JSON numbers that came from outside (host events, data files, the
// portal's answers) without undefined behaviour: nlohmann's get<int>() on a float static_casts,
// and a float outside the target's range (1e300 as an error code, a round or a threshold) is
// undefined behaviour (UBSan stops the process).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/arena_json.h"

namespace danvan {

// A float with no fractional part inside +-2^53 (every integer below is a double), else nullopt.
inline std::optional<int64_t> ExactIntOfDouble(double d) {
  constexpr double kExact = 9007199254740992.0;
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > kExact) return std::nullopt;
  return static_cast<int64_t>(d);
}

// The integer a JSON number stands for, when it stands for one exactly and fits int64_t: an
// integer (signed, or unsigned up to INT64_MAX), or a float with no fractional part inside
// +-2^53 (1.0 from a writer that prints every number as a float). nullopt for anything else:
// a string, 1.5, 1e300, NaN, 18446744073709551615.
inline std::optional<int64_t> JsonExactInt(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return ExactIntOfDouble(v.get<double>());
  return std::nullopt;
}

// The same for an arena view (core/arena_json.h).
inline std::optional<int64_t> JsonExactInt(const ArenaJson& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.unsigned_integer();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.integer();
  if (v.is_number_float()) return ExactIntOfDouble(v.number_float());
  return std::nullopt;
}

// The same, narrowed to [lo, hi]; nullopt outside.
inline std::optional<int64_t> JsonIntInRange(const nlohmann::json& v, int64_t lo, int64_t hi) {
  auto n = JsonExactInt(v);
  if (!n || *n < lo || *n > hi) return std::nullopt;
  return n;
}
inline std::optional<int64_t> JsonIntInRange(const ArenaJson& v, int64_t lo, int64_t hi) {
  auto n = JsonExactInt(v);
  if (!n || *n < lo || *n > hi) return std::nullopt;
  return n;
}

}  // namespace danvan
