// Raw portal-client throughput to the local stand-in over HTTPS (keep-alive), envelope style:
// one dossier per call (what the outbox is advised to do) and progress chunks of 10, with and
// without 5% injected 503s (the loop retries a failed call immediately, so the figure is
// successful dossiers per second including the cost of failures). Each benchmark thread has
// its own client, as the outbox's sender threads will. Results: bench/RESULTS-portal.md.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "outbox/portal_client.h"
#include "portal/portal_config.h"
#include "portal/portal_http_client.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;

// A function-local static so its destructor stops the child at exit.
testing::StandinProcess& Standin() {
  static testing::StandinProcess s(testing::GetTestPki().server_cert,
                                   testing::GetTestPki().server_key, {"--threads", "8"},
                                   {"DANVAN_STANDIN_PASSWORD=bench-pw"});
  if (!s.started()) {
    std::fprintf(stderr, "stand-in did not start: %s\n", s.stderr_text().c_str());
    std::abort();
  }
  return s;
}

std::unique_ptr<PortalClient> NewClient() {
  setenv("DANVAN_BENCH_PORTAL_PASSWORD", "bench-pw", 1);
  json j = {{"style", "envelope"},
            {"base_url", Standin().url()},
            {"default_madonvi", "000.00.20.H26"},
            {"tls", {{"ca_file", testing::GetTestPki().ca_cert}}},
            {"envelope", {{"username", "danvan"}, {"password_env", "DANVAN_BENCH_PORTAL_PASSWORD"},
                          {"dstcode", "VN:GOV:H26"}}}};
  auto c = ParsePortalConfig(j);
  if (!c.ok()) std::abort();
  auto client = MakePortalClient(c.value());
  if (!client.ok()) std::abort();
  return std::move(client.value());
}

json Dossier(const std::string& code) {
  return {{"MaHoSo", code}, {"MaTTHC", "1.005090"},
          {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"}, {"KenhThucHien", "2"},
          {"ChuHoSo", "Phạm Thị Thu Hương"}, {"LoaiDoiTuong", "1"},
          {"TrichYeuHoSo", "Đề nghị cấp bản sao bằng tốt nghiệp trung học phổ thông"},
          {"NgayTiepNhan", "20230302091500"}, {"NgayHenTra", "20230302171500"},
          {"TrangThaiHoSo", "2"}, {"NgayKetThucXuLy", ""}, {"TaiLieuNop", json::array()},
          {"DanhSachLePhi", json::array()}, {"DinhDanhCHS", json::array()}};
}

std::atomic<int64_t> g_seq{0};

void Setup(double error_rate) {
  Standin().Reset();
  Standin().Faults({{"error_rate", error_rate}, {"error_status", 503}});
}

void BM_SyncDossier(benchmark::State& state) {
  const double error_rate = state.range(0) / 100.0;
  if (state.thread_index() == 0) Setup(error_rate);
  auto client = NewClient();
  int64_t failures = 0;
  for (auto _ : state) {
    std::string code = "H26.20-B-" + std::to_string(g_seq++);
    json d = Dossier(code);
    while (!client->SyncDossiers({d}, false).ok()) ++failures;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["retries"] = benchmark::Counter(static_cast<double>(failures));
}
BENCHMARK(BM_SyncDossier)->Arg(0)->Arg(5)->Threads(1)->Threads(4)->UseRealTime()->MinTime(2.0);

// A dossier plus its 10 progress steps (two calls), the unit the portal's indicators need.
void BM_DossierWithProgress(benchmark::State& state) {
  const double error_rate = state.range(0) / 100.0;
  if (state.thread_index() == 0) Setup(error_rate);
  auto client = NewClient();
  for (auto _ : state) {
    std::string code = "H26.20-P-" + std::to_string(g_seq++);
    while (!client->SyncDossiers({Dossier(code)}, false).ok()) {
    }
    std::vector<json> steps;
    for (int i = 0; i < 10; ++i) {
      char t[16];
      std::snprintf(t, sizeof t, "2023030210%02d00", i * 3);
      steps.push_back({{"MaHoSo", code}, {"TrangThai", std::to_string(i < 9 ? 4 : 9)},
                       {"ThoiDiemXuLy", t}, {"NguoiXuLy", "Nguyễn Văn Nam"},
                       {"ChucDanh", "Chuyên viên"}, {"PhongBanXuLy", "Phòng Khảo thí"},
                       {"NoiDungXuLy", "Xử lý"}, {"NgayBatDau", ""},
                       {"NgayKetThucTheoQuyDinh", ""}});
    }
    PortalCallOptions opt{"", code + ":p:1-10"};
    while (!client->SyncProgress(steps, opt).ok()) {
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DossierWithProgress)->Arg(0)->Arg(5)->Threads(1)->Threads(4)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace danvan

BENCHMARK_MAIN();
