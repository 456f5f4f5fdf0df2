// Loading shipped data files (calendar, deadlines, procedures): read, parse, validate against
// the JSON Schema in schemas/, with administrator-facing Vietnamese error messages that name the
// file and the JSON path ("$.days[3].date").
//
// Thread-safety: SchemaValidator is immutable after Load and may be shared across threads.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/json_schema.h"
#include "core/status.h"

namespace danvan::calendar {

// Reads and parses a JSON file (core/json_schema.h).
using danvan::ReadJsonFile;

// "$", "$.days[3].date": the path notation used in every error message of this library.
std::string JsonPathChild(std::string_view parent, std::string_view key);
std::string JsonPathIndex(std::string_view parent, size_t index);

// The project's JSON Schema validator (core/json_schema.h) with this library's message format.
class SchemaValidator {
 public:
  // Loads a draft-07 JSON Schema (one of schemas/*.schema.json).
  static Result<std::shared_ptr<const SchemaValidator>> Load(const std::string& schema_path);

  // OK, or kInvalidInput "Tệp '<label>' không hợp lệ theo lược đồ '<schema>': tại $.a[1].b: ..."
  // listing the violations found (at most 10).
  Status Validate(const nlohmann::json& doc, std::string_view file_label) const;

 private:
  explicit SchemaValidator(std::shared_ptr<const JsonSchema> schema) : schema_(std::move(schema)) {}
  std::shared_ptr<const JsonSchema> schema_;
};

// Loads `path` within `limits`, validates it with `schemas_dir`/`schema_file`.
Result<nlohmann::json> LoadValidatedJson(const std::string& path, const std::string& schemas_dir,
                                         const std::string& schema_file,
                                         const JsonReadLimits& limits = {});

// Error with file and path, in the library's message format:
// "Tệp '<file>', tại <path>: <message>".
Status DataError(std::string_view file, std::string_view path, std::string_view message);

}  // namespace danvan::calendar
