#include "calendar/procedures.h"

#include <cmath>
#include <cstdlib>

#include "calendar/json_file.h"

namespace danvan::calendar {

const char* TimeUnitName(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kHours:
      return "hours";
    case TimeUnit::kDays:
      return "days";
    case TimeUnit::kWorkingDays:
      return "working_days";
  }
  return "unknown";
}

Result<TimeUnit> ParseTimeUnit(std::string_view name) {
  if (name == "hours") return TimeUnit::kHours;
  if (name == "days") return TimeUnit::kDays;
  if (name == "working_days") return TimeUnit::kWorkingDays;
  return Status::InvalidInput("đơn vị thời gian không hợp lệ '" + std::string(name) + "'");
}

nlohmann::json Procedure::ToJson() const {
  nlohmann::json j = {
      {"code", code},
      {"name", name},
      {"processing_time", {{"value", processing_value}, {"unit", TimeUnitName(processing_unit)}}},
      {"fully_online", fully_online},
      {"paper_result", paper_result},
      {"has_fee", has_fee}};
  if (!field_code.empty()) j["field_code"] = field_code;
  if (!field_name.empty()) j["field_name"] = field_name;
  if (!agency.empty()) j["agency"] = agency;
  if (!level.empty()) j["level"] = level;
  if (!source.empty()) j["source"] = source;
  if (!note.empty()) j["note"] = note;
  if (unconfirmed) j["unconfirmed"] = true;
  return j;
}

Result<std::shared_ptr<const ProcedureCatalogue>> ProcedureCatalogue::Load(
    const std::string& path, const std::string& schemas_dir, const JsonReadLimits& limits) {
  auto doc = LoadValidatedJson(path, schemas_dir, "procedures.schema.json", limits);
  if (!doc.ok()) return doc.status();
  return FromJson(doc.value(), path);
}

std::shared_ptr<const ProcedureCatalogue> ProcedureCatalogue::Empty() {
  return std::make_shared<const ProcedureCatalogue>();
}

Result<std::shared_ptr<const ProcedureCatalogue>> ProcedureCatalogue::FromJson(
    const nlohmann::json& doc, const std::string& label) {
  auto cat = std::make_shared<ProcedureCatalogue>();
  try {
    const auto& items = doc.at("procedures");
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& it = items[i];
      const std::string path = JsonPathIndex("$.procedures", i);
      Procedure p;
      p.code = it.at("code").get<std::string>();
      p.name = it.at("name").get<std::string>();
      p.field_code = it.value("field_code", "");
      p.field_name = it.value("field_name", "");
      p.agency = it.value("agency", "");
      p.level = it.value("level", "");
      p.processing_value = it.at("processing_time").at("value").get<double>();
      if (!(p.processing_value > 0))
        return DataError(label, path + ".processing_time.value", "thời hạn xử lý phải lớn hơn 0");
      auto unit = ParseTimeUnit(it.at("processing_time").at("unit").get<std::string>());
      if (!unit.ok())
        return DataError(label, path + ".processing_time.unit", unit.status().message());
      p.processing_unit = unit.value();
      p.fully_online = it.at("fully_online").get<bool>();
      p.paper_result = it.at("paper_result").get<bool>();
      p.has_fee = it.at("has_fee").get<bool>();
      p.source = it.value("source", "");
      p.note = it.value("note", "");
      p.unconfirmed = it.value("unconfirmed", false);
      if (cat->by_code_.count(p.code))
        return DataError(label, path + ".code", "mã thủ tục '" + p.code + "' bị khai báo hai lần");
      cat->by_code_.emplace(p.code, std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput("Tệp '" + label + "' có cấu trúc không hợp lệ: " + e.what());
  }
  return std::shared_ptr<const ProcedureCatalogue>(std::move(cat));
}

const Procedure* ProcedureCatalogue::Find(std::string_view code) const {
  auto it = by_code_.find(code);
  return it == by_code_.end() ? nullptr : &it->second;
}

std::shared_ptr<const ProcedureCatalogue> ProcedureCatalogue::Upsert(const Procedure& p) const {
  auto copy = std::make_shared<ProcedureCatalogue>(*this);
  copy->by_code_[p.code] = p;
  return copy;
}

nlohmann::json ProcedureCatalogue::ToJson() const {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [code, p] : by_code_) items.push_back(p.ToJson());
  return {{"procedures", std::move(items)}};
}

namespace {

const nlohmann::json* FirstOf(const nlohmann::json& obj, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = obj.find(k);
    if (it != obj.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      return &*it;
  }
  return nullptr;
}

std::string AsString(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// "1", "true", true, 1 -> true.
bool AsFlag(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    return s == "1" || s == "true" || s == "True" || s == "TRUE" || s == "có" || s == "Có";
  }
  return false;
}

// Leading number of a string ("5", "0,5", "5 ngày làm việc"); false if none.
bool LeadingNumber(const std::string& s, double* out, std::string* rest) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t start = i;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == ',')) ++i;
  if (i == start) return false;
  std::string num = s.substr(start, i - start);
  for (char& c : num)
    if (c == ',') c = '.';
  char* end = nullptr;
  *out = std::strtod(num.c_str(), &end);
  if (end == num.c_str()) return false;
  if (rest) *rest = s.substr(i);
  return true;
}

// Vietnamese or English unit words -> unit. "Ngày làm việc" before "Ngày".
Result<TimeUnit> UnitFromWords(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  auto parsed = ParseTimeUnit(s);
  if (parsed.ok()) return parsed;
  auto has = [&](const char* w) { return s.find(w) != std::string::npos; };
  if (has("làm việc") || has("Làm việc") || has("lam viec")) {
    if (has("giờ") || has("Giờ") || has("gio")) return TimeUnit::kHours;
    return TimeUnit::kWorkingDays;
  }
  if (has("giờ") || has("Giờ") || has("Gio") || has("gio") || has("hour")) return TimeUnit::kHours;
  if (has("ngày") || has("Ngày") || has("ngay") || has("Ngay") || has("day"))
    return TimeUnit::kDays;
  return Status::InvalidInput("không nhận ra đơn vị thời gian '" + s + "'");
}

}  // namespace

Result<Procedure> ProcedureFromLayThuTuc(const nlohmann::json& input, const Procedure* previous) {
  const nlohmann::json* item = &input;
  if (input.is_object() && input.contains("result")) {
    const auto& r = input["result"];
    if (r.is_array()) {
      if (r.empty()) return Status::NotFound("LayThuTuc: kết quả rỗng (không có thủ tục)");
      item = &r[0];
    } else if (r.is_object()) {
      item = &r;
    }
  }
  if (!item->is_object())
    return Status::InvalidInput("LayThuTuc: mục thủ tục không phải đối tượng JSON");
  const auto& it = *item;
  Procedure p = previous ? *previous : Procedure{};
  const auto* code = FirstOf(it, {"MaTTHC", "maTTHC", "MaThuTuc", "code"});
  if (!code) return Status::InvalidInput("LayThuTuc: thiếu mã thủ tục (MaTTHC)");
  p.code = AsString(*code);
  if (previous && previous->code != p.code)
    return Status::InvalidInput("LayThuTuc: mã thủ tục '" + p.code +
                                "' khác bản ghi cần cập nhật '" + previous->code + "'");
  if (const auto* v = FirstOf(it, {"TenTTHC", "TenThuTuc", "name"})) p.name = AsString(*v);
  if (p.name.empty())
    return Status::InvalidInput("LayThuTuc: thiếu tên thủ tục (TenTTHC) cho mã " + p.code);
  if (const auto* v = FirstOf(it, {"MaLinhVuc"})) p.field_code = AsString(*v);
  if (const auto* v = FirstOf(it, {"TenLinhVuc"})) p.field_name = AsString(*v);
  if (const auto* v = FirstOf(it, {"CoQuanThucHien", "TenCoQuan"})) p.agency = AsString(*v);

  const auto* time = FirstOf(it, {"ThoiGianGiaiQuyet", "ThoiHanGiaiQuyet"});
  const auto* unit = FirstOf(it, {"DonViTinh", "DonViThoiGian"});
  if (time) {
    double value = 0;
    std::string rest;
    if (time->is_number()) {
      value = time->get<double>();
    } else if (!LeadingNumber(AsString(*time), &value, &rest)) {
      return Status::InvalidInput("LayThuTuc: thời hạn giải quyết không phải số: '" +
                                  AsString(*time) + "'");
    }
    if (!(value > 0))
      return Status::InvalidInput("LayThuTuc: thời hạn giải quyết phải lớn hơn 0 (mã " + p.code +
                                  ")");
    std::string unit_text = unit ? AsString(*unit) : rest;
    auto u = UnitFromWords(unit_text);
    if (!u.ok())
      return Status::InvalidInput("LayThuTuc: " + u.status().message() + " (mã " + p.code + ")");
    p.processing_value = value;
    p.processing_unit = u.value();
  } else if (!previous) {
    return Status::InvalidInput("LayThuTuc: thiếu thời hạn giải quyết (ThoiGianGiaiQuyet) cho mã " +
                                p.code);
  }
  if (const auto* v = FirstOf(it, {"MucDo"})) {
    const std::string s = AsString(*v);
    p.fully_online = s == "4" || s.find("oàn trình") != std::string::npos;
  }
  if (const auto* v = FirstOf(it, {"DVCTrucTuyenToanTrinh"})) p.fully_online = AsFlag(*v);
  if (const auto* v = FirstOf(it, {"KetQuaGiay"})) {
    p.paper_result = AsFlag(*v);
  } else if (!previous) {
    p.paper_result = true;
  }
  if (const auto* v = FirstOf(it, {"CoPhiLePhi"})) {
    p.has_fee = AsFlag(*v);
  } else if (const auto* fees = FirstOf(it, {"DanhSachLePhi", "PhiLePhi"});
             fees && fees->is_array()) {
    bool any = false;
    for (const auto& f : *fees) {
      const auto* g = f.is_object() ? FirstOf(f, {"Gia", "MucPhi"}) : nullptr;
      double amount = 0;
      if (g &&
          (g->is_number() ? (amount = g->get<double>(), true)
                          : LeadingNumber(AsString(*g), &amount, nullptr)) &&
          amount > 0)
        any = true;
    }
    p.has_fee = any;
  }
  p.source = "LayThuTuc (Cổng Dịch vụ công quốc gia)";
  p.unconfirmed = false;
  return p;
}

std::string LayThuTucCode(const nlohmann::json& item) {
  const nlohmann::json* obj = &item;
  if (item.is_object() && item.contains("result") && item["result"].is_array() &&
      !item["result"].empty())
    obj = &item["result"][0];
  if (!obj->is_object()) return "";
  const auto* code = FirstOf(*obj, {"MaTTHC", "maTTHC", "MaThuTuc", "code"});
  return code ? AsString(*code) : "";
}

Result<std::shared_ptr<const ProcedureCatalogue>> UpsertFromLayThuTuc(
    const ProcedureCatalogue& catalogue, const nlohmann::json& item) {
  // Find the code first so that an update merges with the existing entry.
  const std::string code = LayThuTucCode(item);
  const Procedure* previous = code.empty() ? nullptr : catalogue.Find(code);
  auto p = ProcedureFromLayThuTuc(item, previous);
  if (!p.ok()) return p.status();
  return catalogue.Upsert(p.value());
}

}  // namespace danvan::calendar
