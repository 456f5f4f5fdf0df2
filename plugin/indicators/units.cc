#include "indicators/units.h"

#include <set>

#include "core/json_schema.h"
#include "core/timeutil.h"

namespace danvan::indicators {

Result<std::shared_ptr<const UnitTree>> UnitTree::LoadFile(const std::string& path,
                                                           const std::string& schemas_dir,
                                                           const JsonReadLimits& limits) {
  auto doc = LoadValidatedJsonFile(path, schemas_dir + "/units.schema.json", limits);
  if (!doc.ok()) return doc.status();
  return FromJson(doc.value(), path);
}

Result<std::shared_ptr<const UnitTree>> UnitTree::FromJson(const nlohmann::json& doc,
                                                           const std::string& label) {
  auto tree = std::make_shared<UnitTree>();
  tree->id_ = doc.value("hierarchy_id", "");
  std::vector<FieldError> errors;
  const auto& units = doc["units"];
  for (size_t i = 0; i < units.size(); ++i) {
    const auto& u = units[i];
    std::string code = u["code"];
    Unit& unit = tree->units_[code];
    if (unit.code.empty()) {
      unit.code = code;
      tree->order_.push_back(code);
    }
    unit.name = u["name"];
    unit.short_name = u.value("short_name", "");
    unit.type = u.value("type", "");
    unit.portal_code = u.value("portal_code", "");
    Unit::Span span;
    span.parent = u["parent"].is_string() ? u["parent"].get<std::string>() : "";
    auto from = ParseIsoDate(u["valid_from"].get<std::string>());
    if (!from) errors.push_back({"/units/" + std::to_string(i) + "/valid_from", "ngày không tồn tại"});
    else span.from_day = *from;
    if (u["valid_to"].is_string()) {
      auto to = ParseIsoDate(u["valid_to"].get<std::string>());
      if (!to) errors.push_back({"/units/" + std::to_string(i) + "/valid_to", "ngày không tồn tại"});
      else span.to_day = *to;
    }
    if (span.to_day < span.from_day)
      errors.push_back({"/units/" + std::to_string(i), "valid_to trước valid_from"});
    unit.spans.push_back(span);
  }
  for (size_t i = 0; i < units.size(); ++i) {
    if (units[i]["parent"].is_string() && !tree->units_.count(units[i]["parent"].get<std::string>()))
      errors.push_back({"/units/" + std::to_string(i) + "/parent",
                        "đơn vị cha \"" + units[i]["parent"].get<std::string>() + "\" không có trong tệp"});
  }
  // No cycles: every chain must end at a root within the number of units.
  for (const auto& code : tree->order_) {
    for (const auto& span : tree->units_[code].spans) {
      int64_t day = span.from_day == INT64_MIN ? 0 : span.from_day;
      if (tree->Chain(code, day).size() > tree->units_.size())
        errors.push_back({"/units", "quan hệ cha - con tạo vòng tại đơn vị " + code});
    }
  }
  if (!errors.empty()) return Status::InvalidInput(label + ":\n" + JoinFieldErrors(errors));
  return std::shared_ptr<const UnitTree>(std::move(tree));
}

const Unit* UnitTree::Find(const std::string& code) const {
  auto it = units_.find(code);
  return it == units_.end() ? nullptr : &it->second;
}

std::vector<std::string> UnitTree::Chain(const std::string& code, int64_t day) const {
  std::vector<std::string> chain{code};
  std::string current = code;
  while (chain.size() <= units_.size()) {
    const Unit* u = Find(current);
    if (!u) break;
    const Unit::Span* valid = nullptr;
    for (const auto& s : u->spans)
      if (day >= s.from_day && day <= s.to_day) valid = &s;
    if (!valid) valid = &u->spans.back();  // outside validity: keep its last known parent
    if (valid->parent.empty()) break;
    current = valid->parent;
    chain.push_back(current);
  }
  return chain;
}

std::vector<std::string> UnitTree::Descendants(const std::string& root, int64_t from_day,
                                               int64_t to_day) const {
  std::vector<std::string> out;
  for (const auto& code : order_) {
    const Unit& u = units_.at(code);
    bool in = false;
    for (const auto& s : u.spans) {
      if (s.to_day < from_day || s.from_day > to_day) continue;
      int64_t day = std::max(s.from_day, from_day);
      for (const auto& c : Chain(code, day))
        if (c == root) in = true;
    }
    if (in) out.push_back(code);
  }
  return out;
}

std::vector<std::string> UnitTree::Roots() const {
  std::vector<std::string> out;
  for (const auto& code : order_) {
    const Unit& u = units_.at(code);
    if (u.spans.back().parent.empty()) out.push_back(code);
  }
  return out;
}

}  // namespace danvan::indicators
