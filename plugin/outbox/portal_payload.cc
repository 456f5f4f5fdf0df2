#include "outbox/portal_payload.h"

#include "core/arena_json.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/json_schema.h"
#include "core/timeutil.h"
#include "outbox/portal_client.h"

namespace danvan {
namespace {

using nlohmann::json;

// Top-level fields of the dossier item (DongBoHoSoMC), domain.md §1.
const std::vector<std::string>& DossierStringFields() {
  static const std::vector<std::string> k = {
      "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "ChuHoSo",
      "SoGiayToChuHoSo", "LoaiDoiTuong", "MaDoiTuong", "Email", "Fax", "SoDienThoai",
      "ThongTinKhac", "TrichYeuHoSo", "NgayTiepNhan", "NgayHenTra", "TrangThaiHoSo",
      "NgayKetThucXuLy", "NgayTra", "ThongTinTra", "HinhThuc", "DonViXuLy", "GhiChu",
      "HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID", "DuocThanhToanTrucTuyen"};
  return k;
}
const std::vector<std::string>& DossierArrayFields() {
  static const std::vector<std::string> k = {"TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung",
                                             "DanhSachGiayToKetQua", "DinhDanhCHS"};
  return k;
}
// Fields of the portal's dossier item beyond domain.md §1's table that the portal accepts
// (issue 11: a strict portal modelled on the published clients takes them): sent when the host
// gives them, left out otherwise.
const std::vector<std::string>& DossierOptionalStringFields() {
  static const std::vector<std::string> k = {"SoBienNhan", "NgayNopHoSo", "NoiNopHoSo", "NgayTuChoi"};
  return k;
}
const std::vector<std::string>& DossierOptionalArrayFields() {
  static const std::vector<std::string> k = {"DanhSachTepDinhKemKhac", "DSKetNoiCSDL"};
  return k;
}
// Progress item (CapNhatTienDoHoSoMC), domain.md §1.
const std::vector<std::string>& ProgressStringFields() {
  static const std::vector<std::string> k = {
      "MaHoSo", "NguoiXuLy", "ChucDanh", "ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy",
      "TrangThai", "NgayBatDau", "NgayKetThucTheoQuyDinh"};
  return k;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Cuts a UTF-8 string to at most max_chars code points.
std::string CutUtf8(const std::string& s, size_t max_chars) {
  if (max_chars == 0) return s;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return s.substr(0, i);
      ++chars;
    }
  }
  return s;
}

// Converts one field value; dates normalised. Objects are converted member-wise; arrays
// element-wise.
Result<json> ToWire(const std::string& name, const json& value, const PayloadOptions& opt) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto r = ToWire(it.key(), it.value(), opt);
      if (!r.ok()) return r.status();
      out[it.key()] = std::move(r.value());
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& el : value) {
      auto r = ToWire(name, el, opt);
      if (!r.ok()) return r.status();
      out.push_back(std::move(r.value()));
    }
    return out;
  }
  if (IsPortalDateField(name)) {
    auto d = PortalDate(value, opt.utc_offset_minutes);
    if (!d.ok()) return Status::InvalidInput(name + ": " + d.status().message());
    return json(d.value());
  }
  return json(PortalString(value));
}

Status CheckStatusCode(const json& item, const std::string& field, std::string_view record_id) {
  const std::string& v = item[field].get_ref<const std::string&>();
  int code = 0;
  bool digits = !v.empty() && v.size() <= 2;
  for (char c : v) digits = digits && c >= '0' && c <= '9';
  if (digits) code = std::stoi(v);
  if (!digits || code < 1 || code > 10) {
    return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": " + field + " " + Quote(v) +
                                " không phải mã trạng thái 1–10");
  }
  return Status::Ok();
}

Status Require(const json& item, const std::string& field, std::string_view record_id) {
  if (item[field].get_ref<const std::string&>().empty()) {
    return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": thiếu trường bắt buộc " + field);
  }
  return Status::Ok();
}

// Copies the scalar field `field` of `data` to `item` in the portal's wire form; a missing field
// becomes "", an array or object is refused (the portal takes a single value there).
Status CopyScalarToWire(const json& data, const std::string& field, std::string_view record_id,
                        const PayloadOptions& options, json* item) {
  auto it = data.find(field);
  json v = it == data.end() ? json("") : *it;
  if (v.is_array() || v.is_object()) {
    return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": trường " + field +
                                " phải là giá trị đơn");
  }
  auto r = ToWire(field, v, options);
  if (!r.ok()) return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": " + r.status().message());
  (*item)[field] = std::move(r.value());
  return Status::Ok();
}

Result<std::string> MapUnit(std::string_view record_id, std::string_view unit,
                            const PortalMappings& m) {
  auto it = m.units.find(std::string(unit));
  if (it == m.units.end() || it->second.empty()) {
    return Status::NotFound("Hồ sơ " + Quote(record_id) + ": chưa có ánh xạ mã đơn vị " +
                            Quote(unit) + " sang mã đơn vị trên Cổng DVC quốc gia");
  }
  return it->second;
}

}  // namespace

const char* PortalOutcomeName(PortalOutcome outcome) {
  switch (outcome) {
    case PortalOutcome::kSuccess: return "success";
    case PortalOutcome::kAlreadyExists: return "already_exists";
    case PortalOutcome::kRetryable: return "retryable";
    case PortalOutcome::kPermanent: return "permanent";
  }
  return "unknown";
}

Result<PortalMappings> PortalMappings::FromJson(const json& j) {
  PortalMappings m;
  if (!j.is_object()) return Status::InvalidInput("portal mappings: expected an object");
  for (const char* section : {"units", "procedures"}) {
    auto it = j.find(section);
    if (it == j.end()) continue;
    if (!it->is_object()) {
      return Status::InvalidInput(std::string("portal mappings: ") + section +
                                  " must be an object of strings");
    }
    auto& target = std::string(section) == "units" ? m.units : m.procedures;
    for (auto e = it->begin(); e != it->end(); ++e) {
      if (!e.value().is_string()) {
        return Status::InvalidInput(std::string("portal mappings: ") + section + "." + e.key() +
                                    " must be a string");
      }
      target[e.key()] = e.value().get<std::string>();
    }
  }
  return m;
}

Result<PortalFieldLimits> PortalFieldLimits::Load(const std::string& path,
                                                  const std::string& schemas_dir) {
  auto doc = LoadValidatedJsonFile(path, schemas_dir + "/portal-field-limits.schema.json");
  if (!doc.ok()) return doc.status();
  PortalFieldLimits l;
  l.version = doc.value().value("version", "");
  for (const char* part : {"dossier", "progress"}) {
    auto& target = std::string(part) == "dossier" ? l.dossier : l.progress;
    for (const auto& [field, limit] : doc.value()[part].items())
      target[field] = limit["max_chars"].get<size_t>();
  }
  return l;
}

void PortalFieldLimits::Check(const json& data, bool progress_item, const std::string& prefix,
                              std::vector<std::pair<std::string, std::string>>* errors) const {
  if (!data.is_object()) return;
  for (const auto& [field, max] : progress_item ? progress : dossier) {
    auto it = data.find(field);
    if (it == data.end() || !it->is_string()) continue;
    CheckOne(it->get_ref<const std::string&>(), field, max, prefix, errors);
  }
}

void PortalFieldLimits::CheckView(const ArenaJson& data, bool progress_item, const std::string& prefix,
                              std::vector<std::pair<std::string, std::string>>* errors) const {
  for (const auto& [field, max] : progress_item ? progress : dossier)
    if (const ArenaJson* v = data.FindString(field)) CheckOne(v->string(), field, max, prefix, errors);
}

void PortalFieldLimits::CheckOne(std::string_view text, const std::string& field, size_t max,
                                 const std::string& prefix, std::vector<std::pair<std::string, std::string>>* errors) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  if (chars > max)
    errors->emplace_back(prefix + "/" + field,
                         "dài " + std::to_string(chars) + " ký tự, Cổng DVC quốc gia nhận tối đa " +
                             std::to_string(max) + " (config/portal/field-limits.json)");
}

bool IsPortalDateField(std::string_view name) {
  return name.starts_with("Ngay") || name.starts_with("ThoiDiem");
}

std::string PortalString(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "";
    case json::value_t::string: return v.get<std::string>();
    case json::value_t::boolean: return v.get<bool>() ? "1" : "0";
    case json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        return std::to_string(static_cast<int64_t>(d));
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return buf;
    }
    default: return v.dump();
  }
}

Result<std::string> PortalDate(const json& v, int utc_offset_minutes) {
  if (v.is_null()) return std::string();
  if (v.is_number_integer() || v.is_number_unsigned()) {
    return FormatPortalTime(v.get<int64_t>(), utc_offset_minutes);
  }
  if (!v.is_string()) return Status::InvalidInput("ngày không hợp lệ: " + v.dump());
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) return std::string();
  if (s.size() == 14 && ParsePortalTime(s, utc_offset_minutes)) return s;
  if (auto ms = ParseIsoTime(s, utc_offset_minutes)) {
    return FormatPortalTime(*ms, utc_offset_minutes);
  }
  return Status::InvalidInput("ngày không hợp lệ " + Quote(s) +
                              " (cần yyyyMMddHHmmss hoặc ISO 8601)");
}

Result<WireItem> MapDossierItem(std::string_view record_id, std::string_view unit,
                                const json& data, const PortalMappings& mappings,
                                const PayloadOptions& options) {
  if (!data.is_object()) {
    return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": dữ liệu không phải đối tượng JSON");
  }
  WireItem out;
  json item = json::object();
  std::vector<std::string> string_fields = DossierStringFields();
  for (const auto& f : DossierOptionalStringFields())
    if (data.contains(f)) string_fields.push_back(f);
  std::vector<std::string> array_fields = DossierArrayFields();
  for (const auto& f : DossierOptionalArrayFields())
    if (data.contains(f)) array_fields.push_back(f);
  for (const auto& f : string_fields) {
    if (Status st = CopyScalarToWire(data, f, record_id, options, &item); !st.ok()) return st;
  }
  for (const auto& f : array_fields) {
    auto it = data.find(f);
    if (it == data.end() || it->is_null()) {
      item[f] = json::array();
      continue;
    }
    if (!it->is_array()) {
      return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": trường " + f + " phải là mảng");
    }
    for (const auto& el : *it) {
      if (!el.is_object()) {
        return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": phần tử của " + f +
                                    " phải là đối tượng");
      }
    }
    auto r = ToWire(f, *it, options);
    if (!r.ok()) return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": " + r.status().message());
    item[f] = std::move(r.value());
  }
  for (const char* f : {"MaHoSo", "MaTTHC", "NgayTiepNhan"}) {
    if (Status s = Require(item, f, record_id); !s.ok()) return s;
  }
  if (Status s = CheckStatusCode(item, "TrangThaiHoSo", record_id); !s.ok()) return s;

  auto unit_code = MapUnit(record_id, unit, mappings);
  if (!unit_code.ok()) return unit_code.status();
  out.madonvi = unit_code.value();

  const std::string host_tthc = item["MaTTHC"].get<std::string>();
  auto p = mappings.procedures.find(host_tthc);
  if (p == mappings.procedures.end() || p->second.empty()) {
    return Status::NotFound("Hồ sơ " + Quote(record_id) + ": chưa có ánh xạ mã thủ tục " +
                            Quote(host_tthc) + " sang mã TTHC quốc gia");
  }
  item["MaTTHC"] = p->second;
  item["TrichYeuHoSo"] = CutUtf8(item["TrichYeuHoSo"].get<std::string>(), options.summary_max_chars);
  out.item = std::move(item);
  return out;
}

Result<WireItem> MapProgressItem(std::string_view record_id, std::string_view unit,
                                 const json& data, const PortalMappings& mappings,
                                 const PayloadOptions& options) {
  if (!data.is_object()) {
    return Status::InvalidInput("Hồ sơ " + Quote(record_id) + ": dữ liệu không phải đối tượng JSON");
  }
  json item = json::object();
  for (const auto& f : ProgressStringFields()) {
    if (Status st = CopyScalarToWire(data, f, record_id, options, &item); !st.ok()) return st;
  }
  for (const char* f : {"MaHoSo", "ThoiDiemXuLy"}) {
    if (Status s = Require(item, f, record_id); !s.ok()) return s;
  }
  if (Status s = CheckStatusCode(item, "TrangThai", record_id); !s.ok()) return s;
  auto unit_code = MapUnit(record_id, unit, mappings);
  if (!unit_code.ok()) return unit_code.status();
  WireItem out;
  out.madonvi = unit_code.value();
  out.item = std::move(item);
  return out;
}

}  // namespace danvan
