// Pure mapping from a stored dossier / progress item (the portal item as the host sent it, see
// docs/architecture.md "dossier" kind) to the exact wire item of domain.md §1:
//   * every value a string (numbers as decimal text, booleans "1"/"0", null -> "");
//   * every date field (name starting with "Ngay" or "ThoiDiem", at any depth) as
//     yyyyMMddHHmmss in Vietnam time (utc_offset_minutes, default UTC+7); accepted inputs are
//     that format already, ISO 8601 (offset honoured, none = local time), or epoch ms numbers;
//     "" / null / missing -> "";
//   * every documented top-level field present ("" or [] when the host gave none), plus the
//     portal's further fields SoBienNhan, NgayNopHoSo, NoiNopHoSo, NgayTuChoi,
//     DanhSachTepDinhKemKhac, DSKetNoiCSDL when the host gives them; other fields are dropped;
//   * the host unit code mapped to the portal unit code (madonvi / MaDinhDanhDV) and, for
//     dossiers, the host procedure code (MaTTHC) mapped to the national MaTTHC through the
//     admin-configured tables.
// Errors (per record, never a silent skip):
//   NotFound      a mapping is missing; the message names the record and the missing code.
//                 The outbox should hold the record back and retry once the mapping is added.
//   InvalidInput  the record itself is unusable (missing MaHoSo / MaTTHC / NgayTiepNhan /
//                 TrangThai / ThoiDiemXuLy, a status outside 1..10, an unparseable date).
// Thread-safety: all functions are pure; PortalMappings is immutable after construction and
// may be shared by threads.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

class ArenaJson;

struct PortalMappings {
  std::map<std::string, std::string> units;       // host unit code -> portal unit code
  std::map<std::string, std::string> procedures;  // host procedure code -> national MaTTHC

  // {"units": {"SGDDT.TTRA": "000.00.20.H26"}, "procedures": {"1.001234": "1.001234"}}
  static Result<PortalMappings> FromJson(const nlohmann::json& j);
};

struct PayloadOptions {
  int utc_offset_minutes = 420;  // Vietnam, domain.md §1
  // One real client cuts TrichYeuHoSo at 1000 characters [unconfirmed as a portal limit].
  // Counted in Unicode code points; 0 = no limit.
  size_t summary_max_chars = 1000;
};

struct WireItem {
  std::string madonvi;  // portal unit code for the call (PortalCallOptions::madonvi)
  nlohmann::json item;  // the exact wire object
};

// record_id and unit come from the record envelope (id, unit); data is the envelope's data.
Result<WireItem> MapDossierItem(std::string_view record_id, std::string_view unit,
                                const nlohmann::json& data, const PortalMappings& mappings,
                                const PayloadOptions& options = {});
Result<WireItem> MapProgressItem(std::string_view record_id, std::string_view unit,
                                 const nlohmann::json& data, const PortalMappings& mappings,
                                 const PayloadOptions& options = {});

// Length limits the portal enforces on its items (config/portal/field-limits.json, validated by
// schemas/portal-field-limits.schema.json; each limit cites its source there). Checked at
// intake when export is enabled, so a too-long field is refused with its path instead of
// refusing a whole portal call later.
struct PortalFieldLimits {
  std::map<std::string, size_t> dossier, progress;  // field -> max characters (code points)
  std::string version;

  static Result<PortalFieldLimits> Load(const std::string& path, const std::string& schemas_dir);
  // Appends {"<prefix>/<field>", reason} for every limited field of `data` that is too long.
  void Check(const nlohmann::json& data, bool progress_item, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* errors) const;
  // The same for an arena view of the data (core/arena_json.h).
  void CheckView(const ArenaJson& data, bool progress_item, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* errors) const;
  // The error for `text` of field `field` (limit `max`), when it is longer.
  static void CheckOne(std::string_view text, const std::string& field, size_t max, const std::string& prefix,
                       std::vector<std::pair<std::string, std::string>>* errors);
};

// Exposed for tests and the stand-in.
bool IsPortalDateField(std::string_view name);
// A value to its wire string (dates are not special-cased here).
std::string PortalString(const nlohmann::json& value);
// Normalises a date value to yyyyMMddHHmmss at utc_offset_minutes ("" stays "").
Result<std::string> PortalDate(const nlohmann::json& value, int utc_offset_minutes = 420);

}  // namespace danvan
