// Reading a query's arguments. Every op reads its arguments through QueryArgs, so a wrong type,
// a value out of range or a missing argument is always kInvalidInput naming the argument
// ("/limit: cần số nguyên 1..10000, nhận được \"x\""), never an exception from nlohmann/json
// (which the ABI would report as INTERNAL).
//
// Thread-safety: a QueryArgs only reads the request it was given; the request must outlive it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

class QueryArgs {
 public:
  explicit QueryArgs(const nlohmann::json& request) : req_(request) {}

  bool Has(const char* name) const { return req_.is_object() && req_.contains(name); }

  // A string. Absent: `def`, or an error when def is nullopt (the argument is required).
  // Strings longer than max_bytes are refused.
  Result<std::string> String(const char* name, std::optional<std::string> def = std::nullopt,
                             size_t max_bytes = 4096) const;
  // A record key part (source, kind, id, unit): a string with no control character.
  Result<std::string> Key(const char* name, std::optional<std::string> def = std::nullopt) const;
  // One of `allowed`.
  Result<std::string> OneOf(const char* name, std::initializer_list<const char*> allowed,
                            std::optional<std::string> def = std::nullopt) const;
  // An integer in [min, max] (1.0 or 1e3 are not integers; 2^64-1 is out of range).
  Result<int64_t> Int(const char* name, std::optional<int64_t> def, int64_t min, int64_t max) const;
  // An object (e.g. "period", "mappings").
  Result<nlohmann::json> Object(const char* name, std::optional<nlohmann::json> def = std::nullopt) const;
  // A boolean (absent: def).
  Result<bool> Bool(const char* name, bool def) const;
  // An array of strings of at most max_items items.
  Result<std::vector<std::string>> Strings(const char* name, size_t max_items) const;

 private:
  const nlohmann::json* Find(const char* name) const;
  const nlohmann::json& req_;
};

// A short, printable rendering of a received value for an error message.
std::string ShownValue(const nlohmann::json& value);

}  // namespace danvan
