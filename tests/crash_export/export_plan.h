// The work plan shared by crash_export_child (which submits it), crash_export_test (which
// knows from it what the portal must end up with) and export_bench: a deterministic,
// seeded sequence of record events for many dossiers, interleaved.
//
// Every dossier goes through the lifecycle 2 received -> 4 processing -> 5 supplement
// requested -> 4 processing -> 9 finished -> 10 returned, one dossier item per status
// (versions 1..6) with a realistic portal item. One dossier in three also comes with the
// host's own progress items (CapNhatTienDoHoSoMC items), each submitted just before the
// dossier item of the same status; for the others the engine synthesises the progress steps
// from the status changes. Either way the portal must end up with exactly six steps per
// dossier, in time order, none twice.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan::crash_export {

inline constexpr const char* kSource = "motcua-hp";
inline constexpr const char* kUnit = "SGDDT.VP";
inline constexpr const char* kPortalUnit = "000.00.20.H26";
inline constexpr const char* kProcedure = "1.005090";
inline constexpr const char* kPassword = "mat-khau-thu-nghiem-2023";
inline constexpr const char* kPasswordEnv = "DANVAN_TEST_EXPORT_PASSWORD";
inline constexpr const char* kStatuses[6] = {"2", "4", "5", "4", "9", "10"};

struct PlanEvent {
  int dossier = 0;
  std::string id;       // MaHoSo
  bool step = false;    // a host progress item (else a dossier item)
  int version = 0;      // 1..6
  std::string status;   // TrangThaiHoSo / TrangThai
  std::string time;     // ThoiDiemXuLy of the transition, yyyyMMddHHmmss UTC+7
  std::string line;     // the event as submitted (one JSON line)
};

inline std::string DossierId(int i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "H26.20-231128-%06d", i);
  return buf;
}

inline bool UsesHostSteps(int i) { return i % 3 == 0; }

// 2023-03-01 08:00:00 +07:00 in seconds since the epoch.
inline constexpr int64_t kBaseEpoch = 1677632400;

inline int64_t TransitionTime(int i, int k) {
  // A dossier every 10 minutes; its transitions 4 h apart (plus a per-dossier offset).
  return kBaseEpoch + int64_t{i} * 600 + int64_t{k} * 4 * 3600 + (i % 7) * 60;
}

inline std::string PortalTime(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch + 7 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

inline std::string IsoTime(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch + 7 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+07:00", &tm);
  return buf;
}

// The portal dossier item of dossier i after its k-th transition (0-based).
inline nlohmann::json DossierItem(int i, int k) {
  const std::string id = DossierId(i);
  const std::string status = kStatuses[k];
  const std::string cccd = "0312" + std::to_string(10000000 + i);
  const std::string fid = "f" + std::to_string(100000 + i);
  nlohmann::json item = {
      {"MaHoSo", id},
      {"MaTTHC", kProcedure},
      {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
      {"MaLinhVuc", "G09-VB"},
      {"TenLinhVuc", "Hệ thống văn bằng, chứng chỉ"},
      {"KenhThucHien", i % 2 ? "2" : "1"},
      {"ChuHoSo", i % 2 ? "Phạm Thị Thu Hương" : "Nguyễn Văn Đức"},
      {"SoGiayToChuHoSo", cccd},
      {"LoaiDoiTuong", "1"},
      {"MaDoiTuong", ""},
      {"Email", "congdan" + std::to_string(i) + "@example.vn"},
      {"Fax", ""},
      {"SoDienThoai", "0912" + std::to_string(100000 + i % 900000)},
      {"ThongTinKhac", "Số 12 Lạch Tray, Ngô Quyền, Hải Phòng"},
      {"TrichYeuHoSo", "Đề nghị cấp bản sao bằng tốt nghiệp THPT năm 2015"},
      {"NgayTiepNhan", PortalTime(TransitionTime(i, 0))},
      {"NgayHenTra", PortalTime(TransitionTime(i, 0) + 6 * 86400)},
      {"TrangThaiHoSo", status},
      {"NgayKetThucXuLy", k >= 4 ? PortalTime(TransitionTime(i, 4)) : ""},
      {"NgayTra", k >= 5 ? PortalTime(TransitionTime(i, 5)) : ""},
      {"ThongTinTra", k >= 5 ? "Trả kết quả tại Bộ phận Một cửa Sở GD&ĐT" : ""},
      {"HinhThuc", k >= 5 ? "0" : ""},
      {"DonViXuLy", "Văn phòng Sở Giáo dục và Đào tạo"},
      {"GhiChu", k == 2 ? "Đề nghị bổ sung bản sao căn cước công dân" : ""},
      {"TaiLieuNop",
       {{{"TepDinhKemId", fid},
         {"TenTepDinhKem", "Don_de_nghi_cap_ban_sao.pdf"},
         {"MaThanhPhanHoSo", std::string(kProcedure) + ".TP1"},
         {"DuongDanTaiTepTin", "https://dichvucong.haiphong.gov.vn/files/" + id + "/" + fid + ".pdf"},
         {"IsDeleted", "0"},
         {"DuocSoHoa", "1"},
         {"DuocTaiSuDung", "0"},
         {"DuocLayTuKhoDMQG", "0"}}}},
      {"DanhSachLePhi", nlohmann::json::array()},
      {"DanhSachHoSoBoSung", nlohmann::json::array()},
      {"DanhSachGiayToKetQua", nlohmann::json::array()},
      {"HoSoCoThanhPhanSoHoa", "1"},
      {"TaiKhoanDuocXacThucVoiVNeID", "0"},
      {"DuocThanhToanTrucTuyen", "0"},
      {"DinhDanhCHS", {{{"LoaiDinhDanh", "1"}, {"SoDinhDanh", cccd}}}}};
  if (k >= 4) {
    item["DanhSachGiayToKetQua"] = {{{"TenGiayTo", "Bản sao bằng tốt nghiệp"},
                                     {"GiayToId", "KQ-" + id},
                                     {"DuongDanTepTinKetQua",
                                      "https://dichvucong.haiphong.gov.vn/ketqua/" + id + ".pdf"}}};
  }
  return item;
}

inline nlohmann::json ProgressItem(int i, int k) {
  static const char* kText[6] = {"Tiếp nhận hồ sơ", "Chuyển xử lý", "Đề nghị bổ sung hồ sơ",
                                 "Tiếp nhận hồ sơ bổ sung, tiếp tục thụ lý", "Hoàn thành xử lý",
                                 "Trả kết quả"};
  return {{"MaHoSo", DossierId(i)},
          {"NguoiXuLy", "Trần Thị Mai"},
          {"ChucDanh", k == 4 ? "Trưởng phòng" : "Chuyên viên"},
          {"ThoiDiemXuLy", PortalTime(TransitionTime(i, k))},
          {"PhongBanXuLy", "Văn phòng Sở Giáo dục và Đào tạo"},
          {"NoiDungXuLy", kText[k]},
          {"TrangThai", kStatuses[k]},
          {"NgayBatDau", PortalTime(TransitionTime(i, k))},
          {"NgayKetThucTheoQuyDinh", PortalTime(TransitionTime(i, 0) + 6 * 86400)}};
}

inline nlohmann::json Envelope(int i, int k, const nlohmann::json& data) {
  return {{"kind", "dossier"}, {"source", kSource}, {"id", DossierId(i)}, {"unit", kUnit},
          {"version", k + 1}, {"event_time", IsoTime(TransitionTime(i, k))}, {"data", data}};
}

// The events of `dossiers` dossiers, `window` of them in progress at a time, interleaved by a
// seeded generator. Per dossier the events keep their order.
inline std::vector<PlanEvent> MakePlan(uint64_t seed, int dossiers, int window) {
  std::mt19937_64 rng(seed);
  struct Active {
    int dossier;
    int next;  // index into the dossier's event list
  };
  auto events_of = [](int i) {
    std::vector<PlanEvent> out;
    for (int k = 0; k < 6; ++k) {
      PlanEvent e;
      e.dossier = i;
      e.id = DossierId(i);
      e.version = k + 1;
      e.status = kStatuses[k];
      e.time = PortalTime(TransitionTime(i, k));
      if (UsesHostSteps(i)) {
        PlanEvent s = e;
        s.step = true;
        s.line = Envelope(i, k, ProgressItem(i, k)).dump();
        out.push_back(std::move(s));
      }
      e.line = Envelope(i, k, DossierItem(i, k)).dump();
      out.push_back(std::move(e));
    }
    return out;
  };
  std::vector<PlanEvent> plan;
  std::vector<Active> active;
  std::vector<std::vector<PlanEvent>> lists;
  int started = 0;
  while (started < dossiers || !active.empty()) {
    while (static_cast<int>(active.size()) < window && started < dossiers) {
      lists.push_back(events_of(started));
      active.push_back({started, 0});
      ++started;
    }
    size_t pick = std::uniform_int_distribution<size_t>(0, active.size() - 1)(rng);
    Active& a = active[pick];
    plan.push_back(lists[a.dossier][a.next++]);
    if (a.next == static_cast<int>(lists[a.dossier].size())) {
      lists[a.dossier].clear();
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  return plan;
}

// The part of `plan` a node submits when several share the work (multinode_crash_test):
// `spec` "k/n" keeps the events of dossiers i with i % n == k, in plan order, so each dossier's
// events come from one node, in order.
inline std::vector<PlanEvent> Shard(const std::vector<PlanEvent>& plan, const std::string& spec) {
  const auto slash = spec.find('/');
  const int k = std::stoi(spec.substr(0, slash));
  const int n = slash == std::string::npos ? 1 : std::stoi(spec.substr(slash + 1));
  std::vector<PlanEvent> out;
  for (const auto& e : plan)
    if (n > 0 && e.dossier % n == k) out.push_back(e);
  return out;
}

// The indicator queries a node answers at the end of multinode_crash_test: the plan's unit and
// its parent, for the months its events fall in.
inline std::vector<nlohmann::json> IndicatorQueries() {
  std::vector<nlohmann::json> out;
  for (const char* unit : {kUnit, "SGDDT"})
    for (int month : {3, 4})
      out.push_back({{"op", "indicators"}, {"unit", unit},
                     {"period", {{"kind", "month"}, {"year", 2023}, {"month", month}}}});
  return out;
}

// The engine and portal configuration used by the child, the test and the benchmark.
inline nlohmann::json EngineConfig(const std::string& db_path, const std::string& portal_url,
                                   const std::string& ca_file, const nlohmann::json& outbox_extra,
                                   const std::string& synchronous = "full") {
  nlohmann::json outbox = {{"backoff_base_ms", 20},
                           {"backoff_cap_ms", 200},
                           {"poll_interval_ms", 5},
                           {"lease_ms", 1000},
                           {"held_retry_ms", 1000},
                           {"mappings",
                            {{"units", {{kUnit, kPortalUnit}}},
                             {"procedures", {{kProcedure, kProcedure}}}}}};
  outbox.update(outbox_extra);
  return {{"storage", {{"engine", "sqlite"}, {"path", db_path}, {"synchronous", synchronous}}},
          {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
          {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"},
          {"portal",
           {{"style", "envelope"},
            {"base_url", portal_url},
            {"default_madonvi", kPortalUnit},
            {"connect_timeout_ms", 2000},
            {"read_timeout_ms", 2000},
            {"tls", {{"ca_file", ca_file}}},
            {"envelope",
             {{"username", "danvan"}, {"password_env", kPasswordEnv}, {"dstcode", "VN:GOV:H26"}}}}},
          {"outbox", outbox}};
}

}  // namespace danvan::crash_export
