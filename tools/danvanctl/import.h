// Bulk import for danvanctl: reading CSV (RFC 4180) and turning its rows into record events
// through a column mapping. Pure functions, no plugin calls (commands.cc submits the events).
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvanctl {

// Reads one CSV record (RFC 4180: quoted fields may hold the delimiter, "" and line breaks).
// A UTF-8 BOM at the start of the stream is skipped by the caller. Returns false at the end of
// the input. *lines: physical lines consumed (for line numbers in messages). The record is
// bounded: a field or record past max_bytes sets *too_long and the rest of it is skipped.
bool ReadCsvRecord(std::istream& in, char delimiter, size_t max_bytes, std::vector<std::string>* fields,
                   int64_t* lines, bool* too_long);

// A target field in the event: a dotted path ("data.people_count") and a type.
struct FieldTarget {
  std::vector<std::string> path;
  enum class Type { kAuto, kString, kInt, kNumber, kBool, kJson } type = Type::kAuto;
};

// "data.people_count:int" -> path and type. Types: string, int, number, bool, json; none = auto
// (string, except "version" which becomes an integer when it is one). nullopt with *error set
// when the path or the type is malformed.
std::optional<FieldTarget> ParseFieldTarget(const std::string& text, std::string* error);

// One column mapping "Column=target" (--map), or a constant "target=value" (--set).
struct ColumnMap {
  std::string column;
  FieldTarget target;
};
struct Constant {
  FieldTarget target;
  std::string value;
};

// Puts `value` (text from the file) at target in *event, converted to the target's type. A value
// that does not convert stays a string, so the plugin rejects it with its JSON path and keeps it
// in quarantine like any bad event. Empty values are left out.
void SetField(nlohmann::json* event, const FieldTarget& target, const std::string& value);

}  // namespace danvanctl
