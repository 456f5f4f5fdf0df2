// Administrative procedure catalogue (thủ tục hành chính), loaded from config/procedures.json
// (schema schemas/procedures.schema.json) and merged with the national portal's LayThuTuc
// answers. The on-time rule uses a procedure's processing time when a dossier has no due date.
//
// Thread-safety: a ProcedureCatalogue is immutable; Upsert returns a new catalogue (copy on
// write) so readers holding the old shared_ptr are unaffected. The engine swaps its pointer
// atomically (std::atomic<std::shared_ptr<const ProcedureCatalogue>> or under a mutex).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::calendar {

// Unit of a procedure's processing time (domain.md §2): "hours" are working hours, "days" are
// calendar days, "working_days" are working days of the calendar's hours_per_day length.
enum class TimeUnit { kHours, kDays, kWorkingDays };
const char* TimeUnitName(TimeUnit unit);
Result<TimeUnit> ParseTimeUnit(std::string_view name);

struct Procedure {
  std::string code;  // MaTTHC, e.g. "1.005090"
  std::string name;
  std::string field_code, field_name, agency, level;
  double processing_value = 0;  // > 0
  TimeUnit processing_unit = TimeUnit::kWorkingDays;
  bool fully_online = false;  // offered fully online (dịch vụ công trực tuyến toàn trình)
  bool paper_result = false;  // issues a paper result (for the electronic-result indicator)
  bool has_fee = false;
  std::string source, note;
  bool unconfirmed = false;

  nlohmann::json ToJson() const;  // in the procedures.schema.json item shape
};

class ProcedureCatalogue {
 public:
  // The file is read within `limits` (core/bounded_input.h).
  static Result<std::shared_ptr<const ProcedureCatalogue>> Load(const std::string& path,
                                                                const std::string& schemas_dir,
                                                                const JsonReadLimits& limits = {});
  // From a parsed, schema-valid document; `label` names it in errors.
  static Result<std::shared_ptr<const ProcedureCatalogue>> FromJson(const nlohmann::json& doc,
                                                                    const std::string& label);
  static std::shared_ptr<const ProcedureCatalogue> Empty();

  // nullptr when unknown.
  const Procedure* Find(std::string_view code) const;
  size_t size() const { return by_code_.size(); }
  const std::map<std::string, Procedure, std::less<>>& all() const { return by_code_; }

  // A new catalogue with `p` inserted or replacing the entry with the same code.
  std::shared_ptr<const ProcedureCatalogue> Upsert(const Procedure& p) const;
  // The whole catalogue in the procedures.schema.json shape (to persist merged data).
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, Procedure, std::less<>> by_code_;
};

// Maps one procedure item of the portal's LayThuTuc answer (or the whole answer
// {"error_code":0,"result":[item]}) to a Procedure. LayThuTuc has no public specification; the
// accepted field names are those seen in one-stop systems [unconfirmed]:
//   code: MaTTHC | maTTHC | MaThuTuc;  name: TenTTHC | TenThuTuc;
//   field: MaLinhVuc, TenLinhVuc;  agency: CoQuanThucHien | TenCoQuan;
//   processing time: ThoiGianGiaiQuyet | ThoiHanGiaiQuyet (number or numeric string, "," or "."
//     decimal) with DonViTinh | DonViThoiGian ("Ngày", "Ngày làm việc", "Giờ", "Giờ làm việc",
//     or "hours"/"days"/"working_days"); when absent, "KetQua ... 5 ngày làm việc"-style free
//     text in ThoiGianGiaiQuyet is parsed ("<number> <unit words>").
//   fully online: MucDo ("4" or "Toàn trình") | DVCTrucTuyenToanTrinh ("1"/true);
//   paper result: KetQuaGiay ("1"/true; default true);  fee: CoPhiLePhi ("1"/true) or a
//   non-empty DanhSachLePhi/PhiLePhi with a non-zero Gia/MucPhi.
// Fields absent from the item keep the values of `previous` when given (merge), else defaults.
Result<Procedure> ProcedureFromLayThuTuc(const nlohmann::json& item,
                                         const Procedure* previous = nullptr);

// The procedure code of a LayThuTuc item or answer ("" when it names none).
std::string LayThuTucCode(const nlohmann::json& item);

// Convenience: parse and upsert into `catalogue`, returning the new catalogue.
Result<std::shared_ptr<const ProcedureCatalogue>> UpsertFromLayThuTuc(
    const ProcedureCatalogue& catalogue, const nlohmann::json& item);

}  // namespace danvan::calendar
