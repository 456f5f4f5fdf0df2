#include "engine/test_support.h"

#include <random>
#include <stdexcept>

namespace danvan::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("danvan-test-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ConfigFor(const std::filesystem::path& db, nlohmann::json extra) {
  nlohmann::json c = {{"storage", {{"engine", "sqlite"}, {"path", db.string()}}},
                      {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
                      {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"}};
  c.update(extra, true);
  return c.dump();
}

std::unique_ptr<Engine> OpenEngine(const std::string& config_text, std::shared_ptr<Clock> clock) {
  auto cfg = ParseEngineConfig(config_text);
  if (!cfg.ok()) throw std::runtime_error(cfg.status().ToString());
  HostHooks hooks;
  hooks.clock = clock;
  auto e = Engine::Open(cfg.value(), std::move(hooks));
  if (!e.ok()) throw std::runtime_error(e.status().ToString());
  return std::move(e).value();
}

nlohmann::json DossierEvent(const std::string& id, int version, const std::string& status,
                            const std::string& unit) {
  return {{"kind", "dossier"},
          {"source", "motcua-hp"},
          {"id", id},
          {"unit", unit},
          {"version", version},
          {"event_time", "2023-03-0" + std::to_string(1 + version % 8) + "T09:00:00+07:00"},
          {"data",
           {{"MaHoSo", id},
            {"MaTTHC", "1.005090"},
            {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
            {"KenhThucHien", "2"},
            {"ChuHoSo", "Nguyễn Văn An"},
            {"SoDienThoai", "0912345678"},
            {"NgayTiepNhan", "20230301083000"},
            {"NgayHenTra", "20230306170000"},
            {"TrangThaiHoSo", status},
            {"NgayKetThucXuLy", ""}}}};
}

nlohmann::json PetitionEvent(const std::string& id, int version, const std::string& status,
                             const std::string& unit) {
  return {{"kind", "petition"},
          {"source", "motcua-hp"},
          {"id", id},
          {"unit", unit},
          {"version", version},
          {"event_time", "2023-04-03T10:00:00+07:00"},
          {"data",
           {{"petition_kind", "complaint"},
            {"round", 1},
            {"title", "Khiếu nại về việc thu tiền dạy thêm"},
            {"content", "Tôi khiếu nại việc nhà trường thu tiền học thêm trái quy định."},
            {"received_at", "2023-04-03"},
            {"status", status}}}};
}

}  // namespace danvan::testing
