#include "engine/query_args.h"

#include <limits>

#include "core/bounded_input.h"

namespace danvan {
namespace {

std::string Path(const char* name) { return std::string("/") + name; }

}  // namespace

std::string ShownValue(const nlohmann::json& value) {
  std::string s = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 80) + "…";
  return s;
}

const nlohmann::json* QueryArgs::Find(const char* name) const {
  if (!req_.is_object()) return nullptr;
  auto it = req_.find(name);
  return it == req_.end() ? nullptr : &*it;
}

Result<std::string> QueryArgs::String(const char* name, std::optional<std::string> def,
                                      size_t max_bytes) const {
  const nlohmann::json* v = Find(name);
  if (!v) {
    if (def) return *def;
    return Status::InvalidInput(Path(name) + ": thiếu tham số bắt buộc (chuỗi)");
  }
  if (!v->is_string())
    return Status::InvalidInput(Path(name) + ": cần chuỗi, nhận được " + ShownValue(*v));
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    return Status::InvalidInput(Path(name) + ": chuỗi quá dài (" + std::to_string(s.size()) +
                                " byte, tối đa " + std::to_string(max_bytes) + ")");
  return s;
}

Result<std::string> QueryArgs::Key(const char* name, std::optional<std::string> def) const {
  auto s = String(name, std::move(def), 256);
  if (!s.ok()) return s;
  if (auto c = FindControlCharacter(s.value()))
    return Status::InvalidInput(Path(name) + ": chứa ký tự điều khiển " + *c + " (không được phép)");
  return s;
}

Result<std::string> QueryArgs::OneOf(const char* name, std::initializer_list<const char*> allowed,
                                     std::optional<std::string> def) const {
  auto s = String(name, std::move(def), 256);
  if (!s.ok()) return s;
  std::string list;
  for (const char* a : allowed) {
    if (s.value() == a) return s;
    list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  }
  return Status::InvalidInput(Path(name) + ": giá trị không hợp lệ " + ShownValue(s.value()) +
                              "; cho phép: " + list);
}

Result<int64_t> QueryArgs::Int(const char* name, std::optional<int64_t> def, int64_t min,
                               int64_t max) const {
  const nlohmann::json* v = Find(name);
  const std::string want = "cần số nguyên " + std::to_string(min) + ".." + std::to_string(max);
  if (!v) {
    if (def) return *def;
    return Status::InvalidInput(Path(name) + ": thiếu tham số bắt buộc (" + want + ")");
  }
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Status::InvalidInput(Path(name) + ": " + want + ", nhận được " + ShownValue(*v));
    n = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else {
    return Status::InvalidInput(Path(name) + ": " + want + ", nhận được " + ShownValue(*v));
  }
  if (n < min || n > max)
    return Status::InvalidInput(Path(name) + ": " + want + ", nhận được " + std::to_string(n));
  return n;
}

Result<nlohmann::json> QueryArgs::Object(const char* name, std::optional<nlohmann::json> def) const {
  const nlohmann::json* v = Find(name);
  if (!v) {
    if (def) return *def;
    return Status::InvalidInput(Path(name) + ": thiếu tham số bắt buộc (đối tượng)");
  }
  if (!v->is_object())
    return Status::InvalidInput(Path(name) + ": cần đối tượng, nhận được " + ShownValue(*v));
  return *v;
}

Result<bool> QueryArgs::Bool(const char* name, bool def) const {
  const nlohmann::json* v = Find(name);
  if (!v) return def;
  if (!v->is_boolean())
    return Status::InvalidInput(Path(name) + ": cần true hoặc false, nhận được " + ShownValue(*v));
  return v->get<bool>();
}

Result<std::vector<std::string>> QueryArgs::Strings(const char* name, size_t max_items) const {
  const nlohmann::json* v = Find(name);
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array())
    return Status::InvalidInput(Path(name) + ": cần mảng chuỗi, nhận được " + ShownValue(*v));
  if (v->size() > max_items)
    return Status::InvalidInput(Path(name) + ": tối đa " + std::to_string(max_items) + " phần tử");
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string())
      return Status::InvalidInput(Path(name) + "/" + std::to_string(i) + ": cần chuỗi, nhận được " +
                                  ShownValue(item));
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace danvan
