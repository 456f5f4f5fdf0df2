// Reading a JSON document the same way whether it is nlohmann's DOM or an arena view
// (core/arena_json.h), so that one template serves both: intake reads events and stored
// records as arena views (issue 16: no nlohmann copy per event), re-tagging and the other
// paths keep nlohmann's documents.
//
// Each accessor behaves as the nlohmann expression named beside it, exceptions included
// (an arena view that nlohmann would refuse is converted and handed to nlohmann's own getter,
// which throws its own exception with its own message: the rare path, so its cost is moot).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/arena_json.h"

namespace danvan::jview {

// The member `key` of an object, nullptr when absent or `o` is not an object (o.find(key)).
inline const nlohmann::json* Find(const nlohmann::json& o, std::string_view key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}
inline const ArenaJson* Find(const ArenaJson& o, std::string_view key) { return o.Find(key); }

// A string's text. Precondition: v.is_string().
inline std::string_view Text(const nlohmann::json& v) { return v.get_ref<const std::string&>(); }
inline std::string_view Text(const ArenaJson& v) { return v.string(); }

// A number as a double (v.get<double>()). Precondition: v.is_number().
inline double Number(const nlohmann::json& v) { return v.get<double>(); }
inline double Number(const ArenaJson& v) { return v.number(); }

// An integer as v.get<int64_t>() converts it. Precondition: v.is_number().
inline int64_t Int(const nlohmann::json& v) { return v.get<int64_t>(); }
inline int64_t Int(const ArenaJson& v) {
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.unsigned_integer());
  if (v.is_number_integer()) return v.integer();
  return static_cast<int64_t>(v.number_float());
}

// A boolean. Precondition: v.is_boolean().
inline bool Bool(const nlohmann::json& v) { return v.get<bool>(); }
inline bool Bool(const ArenaJson& v) { return v.boolean(); }

// An array's elements (empty for anything else): for (const auto& e : Elements(a)).
inline std::span<const nlohmann::json> Elements(const nlohmann::json& a) {
  if (!a.is_array()) return {};
  const auto& arr = a.get_ref<const nlohmann::json::array_t&>();
  return {arr.data(), arr.size()};
}
inline std::span<const ArenaJson> Elements(const ArenaJson& a) { return a.elements(); }

// v.size(): elements or members, 0 for null, 1 for any other scalar (nlohmann's).
inline size_t Size(const nlohmann::json& v) { return v.size(); }
inline size_t Size(const ArenaJson& v) { return v.is_structured() ? v.size() : v.is_null() ? 0 : 1; }

// v.dump() (strict).
inline std::string Dump(const nlohmann::json& v) { return v.dump(); }
inline std::string Dump(const ArenaJson& v) {
  std::string out;
  AppendArenaJson(v, &out);
  return out;
}

// The node as nlohmann's document: the node itself, or a copy of the view.
inline const nlohmann::json& AsNlohmann(const nlohmann::json& v) { return v; }
inline nlohmann::json AsNlohmann(const ArenaJson& v) { return ToNlohmann(v); }

// The member's text, "" when absent or not a string (find + is_string).
template <typename J>
std::string_view StringOr(const J& o, std::string_view key) {
  const J* v = Find(o, key);
  return v && v->is_string() ? Text(*v) : std::string_view();
}

// o.value(key, std::string(fallback)): the fallback when absent; nlohmann's type_error when
// `o` is not an object or the member is not a string.
inline std::string ValueString(const nlohmann::json& o, const char* key, const char* fallback) {
  return o.value(key, std::string(fallback));
}
inline std::string ValueString(const ArenaJson& o, const char* key, const char* fallback) {
  if (!o.is_object()) return ToNlohmann(o).value(key, std::string(fallback));  // throws
  const ArenaJson* v = o.Find(key);
  if (!v) return fallback;
  if (v->is_string()) return std::string(v->string());
  return ToNlohmann(*v).get<std::string>();  // throws nlohmann's type_error
}

}  // namespace danvan::jview
