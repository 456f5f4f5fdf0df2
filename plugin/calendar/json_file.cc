#include "calendar/json_file.h"

namespace danvan::calendar {

std::string JsonPathChild(std::string_view parent, std::string_view key) {
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string JsonPathIndex(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Status DataError(std::string_view file, std::string_view path, std::string_view message) {
  std::string msg = "Tệp '";
  msg += file;
  msg += "', tại ";
  msg += path;
  msg += ": ";
  msg += message;
  return Status::InvalidInput(std::move(msg));
}

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::Load(
    const std::string& schema_path) {
  auto schema = JsonSchema::FromFile(schema_path);
  if (!schema.ok()) return schema.status();
  return std::shared_ptr<const SchemaValidator>(new SchemaValidator(schema.value()));
}

Status SchemaValidator::Validate(const nlohmann::json& doc, std::string_view file_label) const {
  std::vector<FieldError> errors;
  if (schema_->Validate(doc, &errors)) return Status::Ok();
  std::string msg =
      "Tệp '" + std::string(file_label) + "' không hợp lệ theo lược đồ '" + schema_->name() + "':";
  for (size_t i = 0; i < errors.size() && i < 10; ++i)
    msg += " tại " + JsonPointerToDollarPath(errors[i].path) + ": " + errors[i].reason + ";";
  if (errors.empty()) msg += " tại $: không đúng lược đồ";
  return Status::InvalidInput(std::move(msg));
}

Result<nlohmann::json> LoadValidatedJson(const std::string& path, const std::string& schemas_dir,
                                         const std::string& schema_file,
                                         const JsonReadLimits& limits) {
  auto validator = SchemaValidator::Load(schemas_dir + "/" + schema_file);
  if (!validator.ok()) return validator.status();
  auto doc = ReadJsonFile(path, limits);
  if (!doc.ok()) return doc.status();
  Status s = validator.value()->Validate(doc.value(), path);
  if (!s.ok()) return s;
  return std::move(doc).value();
}

}  // namespace danvan::calendar
