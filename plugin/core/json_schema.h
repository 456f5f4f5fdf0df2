// JSON Schema validation (valijson, draft 7) with errors an administrator can act on:
// each error names the field as a JSON pointer and says in Vietnamese what rule it broke.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan {

class ArenaJson;

struct FieldError {
  std::string path;    // JSON pointer, e.g. "/data/NgayTiepNhan"
  std::string reason;  // Vietnamese, e.g. "sai định dạng: yyyyMMddHHmmss theo giờ Việt Nam"
  // Stable machine code ("schema.required", "date.invalid", ...; docs/integration.md); empty
  // when the producer set none (the ABI then derives one, plugin/abi/abi_errors.h).
  std::string code = {};
  nlohmann::json ToJson() const {
    nlohmann::json j = {{"path", path}, {"reason", reason}};
    if (!code.empty()) j["code"] = code;
    return j;
  }
};

// An immutable compiled schema. Validate() is thread-safe.
class JsonSchema {
 public:
  static Result<std::shared_ptr<const JsonSchema>> FromFile(const std::string& path,
                                                            const JsonReadLimits& limits = {});
  static Result<std::shared_ptr<const JsonSchema>> FromJson(const nlohmann::json& schema,
                                                            const std::string& name);
  ~JsonSchema();

  // Appends the errors of `doc` to `errors`, paths prefixed with `path_prefix` (e.g. "/data").
  // Returns true when valid.
  bool Validate(const nlohmann::json& doc, std::vector<FieldError>* errors,
                const std::string& path_prefix = "") const;
  // The same for an arena view (core/arena_json.h): checked in place when it is valid; a
  // document the compiled checks cannot pass is copied to nlohmann's form for valijson's errors.
  bool ValidateView(const ArenaJson& doc, std::vector<FieldError>* errors,
                const std::string& path_prefix = "") const;
  const std::string& name() const { return name_; }

 private:
  JsonSchema() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

// Every error, one per line, "path: reason".
std::string JoinFieldErrors(const std::vector<FieldError>& errors);

// Reads and parses a JSON file within `limits` (core/bounded_input.h). kIoError when it cannot be
// read or is not a regular file; kInvalidInput naming the file when it is too large, nested
// deeper than limits.max_depth (with the JSON pointer where the limit was passed) or not JSON
// (with the byte offset of the error).
Result<nlohmann::json> ReadJsonFile(const std::string& path, const JsonReadLimits& limits = {});

// Reads `path` and validates it against the schema file `schema_path`; kInvalidInput
// "<path>:\n<pointer: reason>..." listing every violation.
Result<nlohmann::json> LoadValidatedJsonFile(const std::string& path, const std::string& schema_path,
                                             const JsonReadLimits& limits = {});

// "/days/3/date" -> "$.days[3].date" (the notation of the calendar data files' messages).
std::string JsonPointerToDollarPath(const std::string& pointer);

}  // namespace danvan
