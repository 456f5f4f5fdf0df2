#include "core/json_schema.h"

#include <regex>

#include "core/arena_json.h"
#include "core/fast_schema.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

namespace danvan {

struct JsonSchema::Impl {
  nlohmann::json source;
  valijson::Schema schema;
  // The same schema compiled into plain checks: a document it finds valid skips valijson.
  std::unique_ptr<const FastSchema> fast;
};

JsonSchema::~JsonSchema() = default;

Result<nlohmann::json> ReadJsonFile(const std::string& path, const JsonReadLimits& limits) {
  auto text = ReadRegularFile(path, limits.max_file_bytes);
  if (!text.ok()) return text.status();
  JsonScanError where;
  auto doc = ParseJsonBounded(text.value(), limits.max_depth, &where);
  if (!doc.ok()) {
    const bool syntax = where.kind == JsonScanError::Kind::kSyntax;
    return Status::InvalidInput("Tệp '" + path + (syntax ? "' không phải JSON hợp lệ, tại " : "' bị từ chối, tại ") +
                                where.path + ": " + where.reason);
  }
  return std::move(doc).value();
}

Result<nlohmann::json> LoadValidatedJsonFile(const std::string& path, const std::string& schema_path,
                                             const JsonReadLimits& limits) {
  auto schema = JsonSchema::FromFile(schema_path, limits);
  if (!schema.ok()) return schema.status();
  auto doc = ReadJsonFile(path, limits);
  if (!doc.ok()) return doc.status();
  std::vector<FieldError> errors;
  if (!schema.value()->Validate(doc.value(), &errors))
    return Status::InvalidInput(path + ":\n" + JoinFieldErrors(errors));
  return std::move(doc).value();
}

std::string JsonPointerToDollarPath(const std::string& pointer) {
  std::string out = "$";
  size_t start = 1;
  while (start <= pointer.size() && !pointer.empty()) {
    size_t end = pointer.find('/', start);
    if (end == std::string::npos) end = pointer.size();
    const std::string part = pointer.substr(start, end - start);
    const bool numeric = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    if (!part.empty()) out += numeric ? "[" + part + "]" : "." + part;
    start = end + 1;
  }
  return out;
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::FromFile(const std::string& path,
                                                                const JsonReadLimits& limits) {
  auto doc = ReadJsonFile(path, limits);
  if (!doc.ok()) return doc.status();
  return FromJson(doc.value(), path);
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::FromJson(const nlohmann::json& doc,
                                                               const std::string& name) {
  std::shared_ptr<JsonSchema> s(new JsonSchema());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->source = doc;
  s->name_ = name;
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(s->impl_->source);
    parser.populateSchema(adapter, s->impl_->schema);
    s->impl_->fast = FastSchema::Compile(s->impl_->source);
  } catch (const std::exception& e) {
    return Status::InvalidInput("lược đồ " + name + " không hợp lệ: " + e.what());
  }
  return std::shared_ptr<const JsonSchema>(std::move(s));
}

namespace {

// The schema node that governs `pointer` (a path in the instance), following
// properties / items only. nullptr when not found.
const nlohmann::json* NodeFor(const nlohmann::json& schema, const std::vector<std::string>& parts) {
  const nlohmann::json* node = &schema;
  for (const auto& p : parts) {
    if (node->contains("properties") && (*node)["properties"].contains(p)) {
      node = &(*node)["properties"][p];
    } else if (node->contains("items") && (*node)["items"].is_object()) {
      node = &(*node)["items"];
    } else {
      return nullptr;
    }
  }
  return node;
}

std::string TypeName(const std::string& t) {
  if (t == "string") return "chuỗi";
  if (t == "integer") return "số nguyên";
  if (t == "number") return "số";
  if (t == "boolean") return "true/false";
  if (t == "object") return "đối tượng";
  if (t == "array") return "mảng";
  return t;
}

std::string Quoted(const std::string& description) {
  // The last quoted name: "... constraints: 'bogus'." -> bogus
  auto b = description.rfind('\'');
  if (b == std::string::npos || b == 0) return "";
  auto a = description.rfind('\'', b - 1);
  if (a == std::string::npos) return "";
  return description.substr(a + 1, b - a - 1);
}

bool IsStructural(const std::string& d) {
  return d.rfind("Failed to validate against schema associated with property", 0) == 0 ||
         d.rfind("Failed to validate item #", 0) == 0 ||
         d.rfind("Failed to validate against child schema", 0) == 0 ||
         d.rfind("Failed to validate against schema associated with", 0) == 0;
}

}  // namespace

bool JsonSchema::ValidateView(const ArenaJson& doc, std::vector<FieldError>* errors,
                          const std::string& path_prefix) const {
  if (impl_->fast->CheckView(doc) == FastSchema::Verdict::kValid) return true;
  return Validate(ToNlohmann(doc), errors, path_prefix);
}

bool JsonSchema::Validate(const nlohmann::json& doc, std::vector<FieldError>* errors,
                          const std::string& prefix) const {
  // The common case, a valid document, without valijson; valijson says what is wrong.
  if (impl_->fast->Check(doc) == FastSchema::Verdict::kValid) return true;
  // The validator caches compiled regexes; one per thread keeps Validate() thread-safe.
  thread_local valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(impl_->schema, target, &results)) return true;
  valijson::ValidationResults::Error err;
  std::vector<FieldError> found;
  while (results.popError(err)) {
    const std::string& d = err.description;
    if (IsStructural(d)) continue;
    std::vector<std::string> parts;
    for (const auto& c : err.context) {
      if (c == "<root>") continue;
      std::string p = c;
      if (p.size() >= 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
      if (p.size() >= 2 && p.front() == '"' && p.back() == '"') p = p.substr(1, p.size() - 2);
      parts.push_back(p);
    }
    std::string path = prefix;
    for (const auto& p : parts) path += "/" + p;
    const nlohmann::json* node = NodeFor(impl_->source, parts);
    std::string reason, code;
    if (d.rfind("Missing required property", 0) == 0) {
      code = "schema.required";
      path += "/" + Quoted(d);
      reason = "thiếu trường bắt buộc";
    } else if (d.find("could not be validated using 'properties' or 'additionalProperties'") !=
               std::string::npos) {
      path += "/" + Quoted(d);
      reason = "trường không có trong lược đồ (không được phép)";
      code = "schema.unknown_field";
    } else if (d.find("'type' constraint") != std::string::npos) {
      reason = "sai kiểu dữ liệu";
      code = "schema.type";
      if (node && node->contains("type") && (*node)["type"].is_string())
        reason += ": cần " + TypeName((*node)["type"].get<std::string>());
    } else if (d.find("no more than") != std::string::npos && d.find("characters") != std::string::npos) {
      reason = "quá dài";
      code = "schema.max_length";
      if (node && node->contains("maxLength"))
        reason += ": tối đa " + std::to_string((*node)["maxLength"].get<int64_t>()) + " ký tự";
    } else if (d.find("no fewer than") != std::string::npos && d.find("characters") != std::string::npos) {
      reason = "quá ngắn hoặc rỗng";
      code = "schema.min_length";
    } else if (d.find("'pattern'") != std::string::npos || d.find("regex") != std::string::npos) {
      reason = "sai định dạng";
      code = "schema.pattern";
      if (node && node->contains("description"))
        reason += ": " + (*node)["description"].get<std::string>();
      else if (node && node->contains("pattern"))
        reason += " (mẫu " + (*node)["pattern"].get<std::string>() + ")";
    } else if (d.find("enum") != std::string::npos) {
      reason = "giá trị không hợp lệ";
      code = "schema.enum";
      if (node && node->contains("enum")) {
        std::string allowed;
        for (const auto& v : (*node)["enum"]) allowed += (allowed.empty() ? "" : ", ") + v.dump();
        reason += "; cho phép: " + allowed;
      }
    } else if (d.find("less than") != std::string::npos || d.find("greater than") != std::string::npos) {
      reason = "ngoài khoảng cho phép";
      code = "schema.range";
      if (node && (node->contains("minimum") || node->contains("maximum")))
        reason += " [" + (node->contains("minimum") ? (*node)["minimum"].dump() : "") + ", " +
                  (node->contains("maximum") ? (*node)["maximum"].dump() : "") + "]";
    } else if (d.find("elements") != std::string::npos || d.find("items") != std::string::npos) {
      reason = "số phần tử của mảng vượt giới hạn";
      code = "schema.items";
      if (node && node->contains("maxItems"))
        reason += ": tối đa " + (*node)["maxItems"].dump();
    } else if (d.find("anyOf") != std::string::npos || d.find("oneOf") != std::string::npos) {
      reason = "không thỏa điều kiện nào của lược đồ";
      code = "schema.any_of";
      if (node && node->contains("anyOf")) {
        std::string alts;
        for (const auto& alt : (*node)["anyOf"])
          if (alt.contains("required")) alts += (alts.empty() ? "" : " hoặc ") + alt["required"][0].get<std::string>();
        if (!alts.empty()) reason = "cần có " + alts;
      }
    } else {
      reason = "không hợp lệ";
      code = "schema.invalid";
    }
    reason += " [" + d + "]";
    if (path.empty()) path = "/";
    found.push_back({path, reason, code});
  }
  if (found.empty())
    found.push_back({prefix.empty() ? "/" : prefix, "không hợp lệ theo lược đồ " + name_, "schema.invalid"});
  errors->insert(errors->end(), found.begin(), found.end());
  return false;
}

std::string JoinFieldErrors(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.path + ": " + e.reason + "\n";
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace danvan
