#include "abi/abi_errors.h"

#include <map>
#include <utility>

namespace danvan::abi {
namespace {

// code -> English message. Codes are part of the ABI contract: never renamed, only added.
const std::map<std::string, std::string>& EnglishTable() {
  static const std::map<std::string, std::string> t = {
      {"schema.required", "required field is missing"},
      {"schema.unknown_field", "field not allowed by the schema"},
      {"schema.type", "wrong type"},
      {"schema.max_length", "too long"},
      {"schema.min_length", "too short or empty"},
      {"schema.pattern", "wrong format"},
      {"schema.enum", "value not allowed"},
      {"schema.range", "out of the allowed range"},
      {"schema.items", "wrong number of array items"},
      {"schema.any_of", "matches none of the allowed forms"},
      {"schema.invalid", "invalid according to the schema"},
      {"date.invalid", "date/time does not exist or has the wrong format"},
      {"limit.size", "too large"},
      {"limit.depth", "nested too deeply"},
      {"limit.batch", "batch too large"},
      {"encoding.utf8", "not valid UTF-8"},
      {"encoding.undecodable", "text in a legacy encoding that cannot be decoded with confidence"},
      {"encoding.control", "control character not allowed"},
      {"json.syntax", "malformed JSON"},
      {"json.not_object", "not a JSON object"},
      {"key.mismatch", "does not match the record's id"},
      {"version.conflict", "another event with the same version and different content"},
      {"config.invalid", "invalid configuration"},
      {"config.data_dir", "data directory not found"},
      {"config.secret", "secret not available"},
      {"config.not_live", "this setting cannot change while the plugin runs; the running configuration is kept (close and open again)"},
      {"store.locked", "the store is already open in another handle (this or another process)"},
      {"argument.invalid", "invalid argument"},
      {"op.unknown", "unknown query operation"},
      {"not_found", "not found"},
      {"conflict", "conflict"},
      {"retry_later", "temporarily unable to accept; retry later"},
      {"io.error", "storage error"},
      {"internal", "internal error"},
      {"state.bad", "the handle is closed or in the wrong state"},
      {"input.invalid", "invalid input"},
  };
  return t;
}

// Specific codes win over generic ones for the same field.
int Rank(const std::string& code) {
  if (code.rfind("schema.", 0) == 0) return 0;
  if (code == "input.invalid") return -1;
  return 1;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

nlohmann::json AbiError::ToJson() const {
  return {{"code", code}, {"path", path}, {"message", message}, {"message_en", message_en}};
}

std::string EnglishFor(const std::string& code) {
  auto it = EnglishTable().find(code);
  return it == EnglishTable().end() ? "" : it->second;
}

std::string CodeForReason(const std::string& r, const std::string& fallback) {
  // Prefixes of the Vietnamese reasons of plugin/core/json_schema.cc and the intake.
  static const std::pair<const char*, const char*> kPrefixes[] = {
      {"thiếu trường bắt buộc", "schema.required"},
      {"trường không có trong lược đồ", "schema.unknown_field"},
      {"sai kiểu dữ liệu", "schema.type"},
      {"quá dài", "schema.max_length"},
      {"quá ngắn", "schema.min_length"},
      {"sai định dạng", "schema.pattern"},
      {"giá trị không hợp lệ", "schema.enum"},
      {"ngoài khoảng", "schema.range"},
      {"số phần tử", "schema.items"},
      {"không thỏa điều kiện", "schema.any_of"},
      {"cần có ", "schema.any_of"},
      {"ngày giờ", "date.invalid"},
      {"không tìm thấy thư mục", "config.data_dir"},
      {"JSON không hợp lệ", "json.syntax"},
      {"lô quá lớn", "limit.batch"},
      {"lô có quá nhiều", "limit.batch"},
      {"thao tác không được hỗ trợ", "op.unknown"},
  };
  for (const auto& [prefix, code] : kPrefixes)
    if (r.rfind(prefix, 0) == 0) return code;
  if (Contains(r, "UTF-8")) return "encoding.utf8";
  if (Contains(r, "ký tự điều khiển") || Contains(r, "control char")) return "encoding.control";
  if (Contains(r, "lồng") || Contains(r, "độ sâu") || Contains(r, "depth")) return "limit.depth";
  if (Contains(r, "giải mã")) return "encoding.undecodable";
  if (Contains(r, "(xung đột)")) return "version.conflict";
  if (Contains(r, "quá lớn") || Contains(r, "quá nhiều")) return "limit.size";
  if (Contains(r, "sai kiểu") || Contains(r, "expected a") || Contains(r, "cần chuỗi") ||
      Contains(r, "cần số"))
    return "schema.type";
  return fallback;
}

const char* StatusName(danvan_status s) {
  switch (s) {
    case DANVAN_OK: return "ok";
    case DANVAN_RETRY_LATER: return "retry_later";
    case DANVAN_INVALID_INPUT: return "invalid_input";
    case DANVAN_NOT_FOUND: return "not_found";
    case DANVAN_CONFLICT: return "conflict";
    case DANVAN_IO_ERROR: return "io_error";
    case DANVAN_INTERNAL: return "internal";
    case DANVAN_ABI_MISMATCH: return "abi_mismatch";
    case DANVAN_BAD_STATE: return "bad_state";
  }
  return "unknown";
}

std::string ErrorDocument(danvan_status status, const std::vector<AbiError>& errors) {
  // StatusName here rather than through danvan_get_api: the admin console (plugin/console)
  // writes the same documents and its tests link without the exported table.
  nlohmann::json doc = {{"status", StatusName(status)},
                        {"errors", nlohmann::json::array()}};
  for (const auto& e : errors) doc["errors"].push_back(e.ToJson());
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<AbiError> ErrorsFromFieldErrors(const nlohmann::json& arr) {
  std::vector<AbiError> out;
  if (!arr.is_array()) return out;
  for (const auto& e : arr) {
    if (!e.is_object()) continue;
    AbiError a;
    a.path = e.value("path", "");
    a.message = e.value("reason", e.value("message", ""));
    a.code = e.value("code", "");
    if (a.code.empty()) a.code = CodeForReason(a.message, "input.invalid");
    a.message_en = EnglishFor(a.code);
    out.push_back(std::move(a));
  }
  // One error per field when a specific one explains a generic one (a bad date is both a
  // pattern mismatch and a non-existent date: keep date.invalid).
  std::map<std::string, int> best;
  for (const auto& a : out) {
    auto [it, fresh] = best.emplace(a.path, Rank(a.code));
    if (!fresh && Rank(a.code) > it->second) it->second = Rank(a.code);
  }
  std::vector<AbiError> kept;
  for (auto& a : out)
    if (Rank(a.code) >= best[a.path]) kept.push_back(std::move(a));
  return kept;
}

std::vector<AbiError> ErrorsFromStatus(const Status& s, const std::string& fallback_code) {
  const std::string& m = s.message();
  if (!m.empty() && m.front() == '[') {
    auto j = nlohmann::json::parse(m, nullptr, false);
    if (j.is_array() && !j.empty()) return ErrorsFromFieldErrors(j);
  }
  nlohmann::json fields = nlohmann::json::array();
  std::vector<AbiError> plain;
  size_t start = 0;
  // A leading line without a path (a file name followed by its errors) belongs to the next ones.
  std::string context;
  while (start <= m.size()) {
    size_t end = m.find('\n', start);
    if (end == std::string::npos) end = m.size();
    std::string line = m.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    size_t colon = line.find(": ");
    if (line.front() == '/' && colon != std::string::npos) {
      std::string reason = line.substr(colon + 2);
      if (!context.empty()) reason = context + " " + reason;
      fields.push_back({{"path", line.substr(0, colon)}, {"reason", reason}});
    } else if (!line.empty() && line.back() == ':' && start < m.size()) {
      context = line;
    } else {
      AbiError a;
      a.message = line;
      a.code = CodeForReason(line, fallback_code);
      a.message_en = EnglishFor(a.code);
      plain.push_back(std::move(a));
    }
  }
  std::vector<AbiError> out;
  for (auto& e : fields) {
    e["code"] = CodeForReason(e["reason"].get<std::string>(), fallback_code);
  }
  out = ErrorsFromFieldErrors(fields);
  out.insert(out.end(), plain.begin(), plain.end());
  if (out.empty()) out.push_back({fallback_code, "", m, EnglishFor(fallback_code)});
  return out;
}

void NormalizeResultErrors(nlohmann::json& result) {
  if (!result.is_object()) return;
  if (auto it = result.find("errors"); it != result.end() && it->is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : ErrorsFromFieldErrors(*it)) {
      nlohmann::json e = a.ToJson();
      e["reason"] = a.message;
      out.push_back(std::move(e));
    }
    *it = std::move(out);
  }
  if (auto it = result.find("results"); it != result.end() && it->is_array())
    for (auto& r : *it) NormalizeResultErrors(r);
}

danvan_status ToAbiStatus(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return DANVAN_OK;
    case Status::Code::kRetryLater: return DANVAN_RETRY_LATER;
    case Status::Code::kInvalidInput: return DANVAN_INVALID_INPUT;
    case Status::Code::kNotFound: return DANVAN_NOT_FOUND;
    case Status::Code::kConflict: return DANVAN_CONFLICT;
    case Status::Code::kIoError: return DANVAN_IO_ERROR;
    case Status::Code::kInternal: return DANVAN_INTERNAL;
  }
  return DANVAN_INTERNAL;
}

std::string FallbackErrorCode(Status::Code code) {
  switch (code) {
    case Status::Code::kRetryLater: return "retry_later";
    case Status::Code::kInvalidInput: return "input.invalid";
    case Status::Code::kNotFound: return "not_found";
    case Status::Code::kConflict: return "conflict";
    case Status::Code::kIoError: return "io.error";
    default: return "internal";
  }
}

}  // namespace danvan::abi
