#include "calendar/json_file.h"

#include <fstream>
#include <sstream>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace danvan::calendar {

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("Không đọc được tệp '" + path + "'");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError("Lỗi khi đọc tệp '" + path + "'");
  try {
    return nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidInput("Tệp '" + path + "' không phải JSON hợp lệ (vị trí byte " +
                                std::to_string(e.byte) + "): " + e.what());
  }
}

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

SchemaValidator::~SchemaValidator() = default;

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::Load(
    const std::string& schema_path) {
  auto doc = ReadJsonFile(schema_path);
  if (!doc.ok()) return doc.status();
  std::shared_ptr<SchemaValidator> v(new SchemaValidator());
  v->schema_path_ = schema_path;
  v->schema_ = std::make_unique<valijson::Schema>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc.value());
    parser.populateSchema(adapter, *v->schema_);
  } catch (const std::exception& e) {
    return Status::InvalidInput("Lược đồ '" + schema_path + "' không hợp lệ: " + e.what());
  }
  return std::shared_ptr<const SchemaValidator>(std::move(v));
}

namespace {

// valijson context: {"<root>", "[days]", "[3]", "[date]"} -> "$.days[3].date".
std::string ContextToPath(const std::vector<std::string>& context) {
  std::string out = "$";
  for (size_t i = 0; i < context.size(); ++i) {
    const std::string& c = context[i];
    if (i == 0 && c == "<root>") continue;
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
      std::string inner = c.substr(1, c.size() - 2);
      bool numeric = !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) {
        out += c;
      } else {
        if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"')
          inner = inner.substr(1, inner.size() - 2);
        out += "." + inner;
      }
    } else {
      out += "." + c;
    }
  }
  return out;
}

}  // namespace

Status SchemaValidator::Validate(const nlohmann::json& doc, std::string_view file_label) const {
  valijson::ValidationResults results;
  try {
    valijson::Validator validator;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    if (validator.validate(*schema_, adapter, &results)) return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal("Lỗi khi kiểm tra tệp '" + std::string(file_label) + "': " + e.what());
  }
  std::string msg =
      "Tệp '" + std::string(file_label) + "' không hợp lệ theo lược đồ '" + schema_path_ + "':";
  valijson::ValidationResults::Error err;
  // valijson reports the failing node and then each enclosing node ("Failed to validate item
  // #3 in array"); keep the deepest reports, which name the real problem.
  std::vector<std::pair<std::string, std::string>> errors;
  while (results.popError(err)) errors.emplace_back(ContextToPath(err.context), err.description);
  size_t shown = 0;
  for (size_t i = 0; i < errors.size() && shown < 10; ++i) {
    bool is_prefix_of_other = false;
    for (size_t j = 0; j < errors.size(); ++j) {
      if (j != i && errors[j].first.size() > errors[i].first.size() &&
          errors[j].first.compare(0, errors[i].first.size(), errors[i].first) == 0) {
        is_prefix_of_other = true;
        break;
      }
    }
    if (is_prefix_of_other) continue;
    msg += " tại " + errors[i].first + ": " + errors[i].second + ";";
    ++shown;
  }
  if (shown == 0 && !errors.empty()) msg += " tại " + errors[0].first + ": " + errors[0].second;
  return Status::InvalidInput(std::move(msg));
}

Result<nlohmann::json> LoadValidatedJson(const std::string& path, const std::string& schemas_dir,
                                         const std::string& schema_file) {
  auto validator = SchemaValidator::Load(schemas_dir + "/" + schema_file);
  if (!validator.ok()) return validator.status();
  auto doc = ReadJsonFile(path);
  if (!doc.ok()) return doc.status();
  Status s = validator.value()->Validate(doc.value(), path);
  if (!s.ok()) return s;
  return std::move(doc).value();
}

}  // namespace danvan::calendar
