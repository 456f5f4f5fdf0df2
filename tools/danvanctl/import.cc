#include "import.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace danvanctl {

bool ReadCsvRecord(std::istream& in, char delimiter, size_t max_bytes, std::vector<std::string>* fields,
                   int64_t* lines, bool* too_long) {
  fields->clear();
  *lines = 0;
  *too_long = false;
  std::string field;
  size_t total = 0;
  bool quoted = false, any = false, field_started = false;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    const char ch = static_cast<char>(c);
    if (quoted) {
      if (ch == '"') {
        if (in.peek() == '"') {
          in.get();
          field += '"';
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++*lines;
        field += ch;
      }
    } else if (ch == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (ch == delimiter) {
      fields->push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (ch == '\r' && in.peek() == '\n') {
      continue;
    } else if (ch == '\n') {
      ++*lines;
      fields->push_back(std::move(field));
      return true;
    } else {
      field += ch;
      field_started = true;
    }
    if (++total > max_bytes) {
      *too_long = true;
      field.clear();
      // Skip to the end of the physical line (a runaway quote would otherwise eat the file).
      while ((c = in.get()) != EOF && c != '\n') {
      }
      ++*lines;
      fields->clear();
      return true;
    }
  }
  if (!any) return false;
  ++*lines;
  fields->push_back(std::move(field));
  return true;
}

std::optional<FieldTarget> ParseFieldTarget(const std::string& text, std::string* error) {
  FieldTarget t;
  std::string path = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    const std::string type = text.substr(colon + 1);
    path = text.substr(0, colon);
    if (type == "string") t.type = FieldTarget::Type::kString;
    else if (type == "int") t.type = FieldTarget::Type::kInt;
    else if (type == "number") t.type = FieldTarget::Type::kNumber;
    else if (type == "bool") t.type = FieldTarget::Type::kBool;
    else if (type == "json") t.type = FieldTarget::Type::kJson;
    else {
      *error = "\"" + type + "\"";
      return std::nullopt;
    }
  }
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) {
      *error = "\"" + path + "\"";
      return std::nullopt;
    }
    t.path.push_back(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (t.path.size() > 8) {
    *error = "\"" + path + "\"";
    return std::nullopt;
  }
  return t;
}

namespace {

std::optional<int64_t> AsInt(const std::string& v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno || *end) return std::nullopt;
  return n;
}

// Deepest nesting of [ and { outside strings; the JSON is not validated here.
size_t NestingDepth(const std::string& v) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

void SetField(nlohmann::json* event, const FieldTarget& target, const std::string& value) {
  if (value.empty()) return;
  nlohmann::json* node = event;
  for (size_t i = 0; i + 1 < target.path.size(); ++i) {
    nlohmann::json& next = (*node)[target.path[i]];
    if (!next.is_object()) next = nlohmann::json::object();
    node = &next;
  }
  nlohmann::json v = value;
  using T = FieldTarget::Type;
  switch (target.type) {
    case T::kAuto:
      if (target.path.size() == 1 && target.path[0] == "version")
        if (auto n = AsInt(value)) v = *n;
      break;
    case T::kString:
      break;
    case T::kInt:
      if (auto n = AsInt(value)) v = *n;
      break;
    case T::kNumber: {
      if (auto n = AsInt(value)) {
        v = *n;
        break;
      }
      std::string s = value;
      for (char& c : s)
        if (c == ',') c = '.';  // Vietnamese decimal comma
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (!errno && *end == '\0' && end != s.c_str()) v = d;
      break;
    }
    case T::kBool:
      if (value == "true" || value == "1" || value == "có" || value == "yes") v = true;
      else if (value == "false" || value == "0" || value == "không" || value == "no") v = false;
      break;
    case T::kJson: {
      // Nesting is bounded before parsing (the plugin checks limits.max_json_depth again); a
      // value that is not JSON stays a string.
      if (NestingDepth(value) > 64) break;
      nlohmann::json parsed = nlohmann::json::parse(value, nullptr, false);
      if (!parsed.is_discarded()) v = std::move(parsed);
      break;
    }
  }
  (*node)[target.path.back()] = std::move(v);
}

}  // namespace danvanctl
