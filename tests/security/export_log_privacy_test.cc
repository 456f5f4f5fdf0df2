// Issue 10 finding 8: the export log keeps no personal data. Dossiers full of personal data
// are exported over real HTTPS to the portal stand-in; the store (the SQLite file, or the
// PostgreSQL database under ctest -L postgres) is then read directly and no name, ID number,
// phone number, e-mail address or free text may appear anywhere in export_log, while the chain
// still verifies. A SQLite database written by the previous format (whole request bodies) is
// scrubbed at open, keeping a verifiable chain (no PostgreSQL database was ever written in it).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/test_support.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;
using testing::TempDir;

constexpr const char* kPassword = "mat-khau-thu-nghiem-2023";
constexpr const char* kPortalUnit = "000.00.20.H26";

// The personal data of the test dossiers. None of these strings may reach export_log.
struct Person {
  std::string name, id_number, old_id, phone, phone_digits, email, summary, other, official, step_note;
};

const std::vector<Person>& People() {
  static const std::vector<Person> k = {
      {"Phạm Thị Thu Hương", "031185004512", "031456789", "091-234-5678", "0912345678",
       "huong.pham85@gmail.com", "Đề nghị cấp bản sao bằng tốt nghiệp THPT năm 2003 cho con gái Phạm Ngọc Ánh",
       "Nhà số 12 ngõ 45 Lạch Tray, Ngô Quyền, Hải Phòng", "Trần Văn Bình", "Đã ký kết quả cho bà Hương"},
      {"Nguyễn Văn Khánh", "079203004567", "024681357", "+84 98 765 4321", "84987654321",
       "khanh.nv@haiphong.edu.vn", "Xin xác nhận bảng điểm lớp 12 để nộp hồ sơ du học Nhật Bản",
       "Thôn Đông, xã An Hồng, An Dương", "Lê Thị Mai", "Chuyển phòng Khảo thí xử lý hồ sơ ông Khánh"},
      {"Đỗ Minh Tuấn", "001099012345", "135792468", "0225.3842.123", "02253842123",
       "tuan.dm+hoso@yahoo.com.vn", "Đề nghị cấp lại giấy chứng nhận tốt nghiệp bị mất do hỏa hoạn",
       "Tổ dân phố 3, phường Đằng Hải, Hải An", "Vũ Quang Huy", "Trả kết quả cho ông Tuấn qua bưu điện"},
  };
  return k;
}

json DossierData(const std::string& id, const Person& p, const std::string& status) {
  return {{"MaHoSo", id},
          {"MaTTHC", "1.005090"},
          {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
          {"KenhThucHien", "2"},
          {"ChuHoSo", p.name},
          {"SoGiayToChuHoSo", p.id_number},
          {"LoaiDoiTuong", "1"},
          {"SoDienThoai", p.phone},
          {"Email", p.email},
          {"TrichYeuHoSo", p.summary},
          {"ThongTinKhac", p.other},
          {"DinhDanhCHS", {{{"LoaiDinhDanh", "1"}, {"SoDinhDanh", p.id_number}},
                           {{"LoaiDinhDanh", "2"}, {"SoDinhDanh", p.old_id}}}},
          {"NgayTiepNhan", "20230301083000"},
          {"NgayHenTra", "20230306170000"},
          {"TrangThaiHoSo", status},
          {"NgayKetThucXuLy", status == "9" ? "20230303100000" : ""}};
}

json DossierEvent(const std::string& id, int version, const Person& p, const std::string& status) {
  return {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
          {"version", version}, {"event_time", "2023-03-01T0" + std::to_string(version) + ":00:00+07:00"},
          {"data", DossierData(id, p, status)}};
}

json ProgressEvent(const std::string& id, int version, const Person& p) {
  return {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
          {"version", version}, {"event_time", "2023-03-02T10:00:00+07:00"},
          {"data", {{"MaHoSo", id}, {"TrangThai", "4"}, {"ThoiDiemXuLy", "20230302100000"},
                    {"NguoiXuLy", p.official}, {"ChucDanh", "Chuyên viên"},
                    {"PhongBanXuLy", "Văn phòng Sở"}, {"NoiDungXuLy", p.step_note}}}};
}

// Every text of the personal data, as it may appear in a body (JSON-escaped or not).
std::vector<std::string> Secrets(const Person& p) {
  std::vector<std::string> v = {p.name, p.id_number, p.old_id, p.phone, p.phone_digits,
                                p.email, p.summary, p.other, p.official, p.step_note};
  for (const std::string& s : std::vector<std::string>(v)) {
    std::string esc = json(s).dump();  // \uXXXX forms, if any
    v.push_back(esc.substr(1, esc.size() - 2));
  }
  return v;
}

// All rows of a table, every column as text, read from the store directly (the SQLite file with
// the sqlite3 API, or the test database on PostgreSQL), not through the plugin.
std::vector<std::string> ReadAllCells(const std::string& db, const std::string& table) {
  std::vector<std::string> cells;
  for (auto& row : testing::QueryStoreRows(db, "SELECT * FROM " + table))
    for (auto& c : row) cells.push_back(std::move(c));
  return cells;
}

void Exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << "\n" << sql;
  sqlite3_close(h);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    snprintf(buf, sizeof buf, "%02x", md[i]);
    out += buf;
  }
  return out;
}

class ExportLogPrivacyTest : public ::testing::Test {
 protected:
  void StartStandin() {
    const auto& pki = GetTestPki();
    standin_ = std::make_unique<StandinProcess>(
        pki.server_cert, pki.server_key,
        std::vector<std::string>{"--style", "both", "--username", "danvan", "--dstcode", "VN:GOV:H26"},
        std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
    setenv("DANVAN_TEST_PRIVACY_PASSWORD", kPassword, 1);
  }

  json PortalConfig() {
    return {{"portal",
             {{"style", "envelope"},
              {"base_url", standin_->url()},
              {"default_madonvi", kPortalUnit},
              {"connect_timeout_ms", 2000},
              {"read_timeout_ms", 2000},
              {"tls", {{"ca_file", GetTestPki().ca_cert}}},
              {"envelope", {{"username", "danvan"}, {"password_env", "DANVAN_TEST_PRIVACY_PASSWORD"},
                            {"dstcode", "VN:GOV:H26"}}}}},
            // No synthesised steps: the refused dossier then leaves nothing waiting behind it.
            {"outbox", {{"backoff_base_ms", 20}, {"backoff_cap_ms", 200}, {"poll_interval_ms", 10},
                        {"synthesize_progress", false},
                        {"mappings", {{"units", {{"SGDDT.VP", kPortalUnit}}},
                                      {"procedures", {{"1.005090", "1.005090"}}}}}}}};
  }

  json Q(Engine& e, const json& req) {
    auto r = e.Query(req.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : json();
  }

  bool Drain(Engine& e) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < until) {
      json s = Q(e, {{"op", "outbox.status"}});
      if (s["queue"].value("pending", 0) == 0 && s["queue"].value("held", 0) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string db() const { return (dir_.path() / "privacy.sqlite").string(); }

  TempDir dir_;
  std::unique_ptr<StandinProcess> standin_;
};

TEST_F(ExportLogPrivacyTest, NoPersonalDataInTheExportLogOfRealExports) {
  StartStandin();
  auto engine = testing::OpenEngine(testing::ConfigFor(db(), PortalConfig()));
  // One dossier the portal refuses (its answer may echo the item), the others accepted.
  standin_->Faults({{"reject_items", {"000.20.31.H26-230301-0009"}}});
  for (size_t i = 0; i < People().size(); ++i) {
    const std::string id = "000.20.31.H26-230301-000" + std::to_string(i + 1);
    const Person& p = People()[i];
    ASSERT_EQ(engine->Submit(DossierEvent(id, 1, p, "2").dump()).result["outcome"], "accepted");
    ASSERT_EQ(engine->Submit(ProgressEvent(id, 2, p).dump()).result["outcome"], "accepted");
    ASSERT_EQ(engine->Submit(DossierEvent(id, 3, p, "9").dump()).result["outcome"], "accepted");
  }
  ASSERT_EQ(engine->Submit(DossierEvent("000.20.31.H26-230301-0009", 1, People()[2], "2").dump())
                .result["outcome"], "accepted");
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_TRUE(Drain(*engine)) << Q(*engine, {{"op", "outbox.status"}}).dump()
                              << Q(*engine, {{"op", "outbox.dead_letters"}, {"limit", 10}}).dump();
  ASSERT_TRUE(engine->Stop(5000).ok());
  // The stand-in did receive the personal data (the portal needs it): the export is real.
  json received = standin_->Received();
  ASSERT_TRUE(received["dossiers"].contains("000.20.31.H26-230301-0001")) << received.dump();
  EXPECT_NE(received.dump().find(People()[0].id_number), std::string::npos);

  json verify = Q(*engine, {{"op", "exportlog.verify"}});
  EXPECT_TRUE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_GE(verify["entries"].get<int>(), 2) << verify.dump();  // the dossiers, then their steps
  engine.reset();

  const std::vector<std::string> cells = ReadAllCells(db(), "export_log");
  ASSERT_FALSE(cells.empty());
  std::string all;
  for (const std::string& c : cells) all += c + "\n";
  for (const Person& p : People())
    for (const std::string& secret : Secrets(p))
      EXPECT_EQ(all.find(secret), std::string::npos) << "export_log holds \"" << secret << "\":\n" << all;
  // What it keeps: the dossier codes, statuses and hashes of the exact bytes.
  EXPECT_NE(all.find("000.20.31.H26-230301-0001"), std::string::npos) << all;
  EXPECT_NE(all.find("\"TrangThaiHoSo\":\"9\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"ThoiDiemXuLy\":\"20230302100000\""), std::string::npos) << all;
  EXPECT_NE(all.find("CapNhatTienDoHoSoMC"), std::string::npos) << all;
  // No session token either.
  EXPECT_EQ(all.find("\"session\""), std::string::npos) << all;
}

// The previous format (before this change): request_masked held the request body with the
// session replaced by "***", response_body the whole answer, and the entry hash covered both.
std::string LegacyEntryHash(const json& r) {
  json j = json::array({r["prev_hash"], r["destination"], r["at_ms"], r["op"], r["record_id"],
                        r["url"], r["http_status"], r["outcome"], r["request_hash"],
                        r["request_masked"], Sha256Hex(r["response_body"].get<std::string>())});
  return Sha256Hex(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Turns a database made by this version back into the schema of the previous one (migrations 4
// and later not applied) and writes `n` legacy entries (one per person) chained as the old code did.
void MakeLegacyDatabase(const std::string& db, bool tamper_second) {
  Exec(db, "DROP INDEX export_log_format");
  for (const char* col : {"format", "request_summary", "response_hash", "response_summary"})
    Exec(db, std::string("ALTER TABLE export_log DROP COLUMN ") + col);
  // Migration 6 (the outbox's ambiguity, derived-step and lease-owner columns) came later.
  for (const char* col : {"ambiguous", "derived", "lease_owner"})
    Exec(db, std::string("ALTER TABLE outbox DROP COLUMN ") + col);
  // Migration 7 (the records' history digest, issue 16) too.
  Exec(db, "ALTER TABLE records DROP COLUMN history_digest");
  Exec(db, "DELETE FROM schema_migrations WHERE version >= 4");
  std::string prev(64, '0');
  int64_t at = 1677640000000;
  for (size_t i = 0; i < People().size(); ++i) {
    const Person& p = People()[i];
    const std::string id = "000.20.31.H26-230301-010" + std::to_string(i);
    json body = {{"session", "***"}, {"madonvi", kPortalUnit}, {"service", "DongBoHoSoMC"},
                 {"isUpdating", "False"}, {"data", json::array({DossierData(id, p, "2")})}};
    json response = {{"error_code", "0"}, {"message", "Đồng bộ thành công hồ sơ của " + p.name},
                     {"result", json::array({{{"MaHoSo", id}, {"error_code", "0"}, {"status", "created"},
                                              {"message", "SĐT " + p.phone + ", email " + p.email}}})}};
    json r = {{"prev_hash", prev}, {"destination", "dvcqg"}, {"at_ms", at + static_cast<int64_t>(i) * 1000},
              {"op", "DongBoHoSoMC"}, {"record_id", id}, {"url", "https://localhost:8443/integration"},
              {"http_status", 200}, {"outcome", "success"},
              {"request_hash", Sha256Hex(body.dump())},  // the exact bytes had the real session
              {"request_masked", body.dump()}, {"response_body", response.dump()}};
    r["entry_hash"] = LegacyEntryHash(r);
    prev = r["entry_hash"];
    auto q = [](const json& v) {
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      std::string out = "'";
      for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
      return out + "'";
    };
    Exec(db, "INSERT INTO export_log (destination, at_ms, op, record_id, url, http_status, outcome, "
             "request_hash, request_masked, response_body, prev_hash, entry_hash) VALUES (" +
                 q(r["destination"]) + "," + r["at_ms"].dump() + "," + q(r["op"]) + "," +
                 q(r["record_id"]) + "," + q(r["url"]) + "," + r["http_status"].dump() + "," +
                 q(r["outcome"]) + "," + q(r["request_hash"]) + "," + q(r["request_masked"]) + "," +
                 q(r["response_body"]) + "," + q(r["prev_hash"]) + "," + q(r["entry_hash"]) + ")");
  }
  Exec(db, "INSERT INTO settings (key, value) VALUES ('exportlog.head.dvcqg', '" + prev +
               "') ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (tamper_second)
    Exec(db, "UPDATE export_log SET http_status = 500 WHERE seq = 2");
}

TEST_F(ExportLogPrivacyTest, LegacyDatabaseIsScrubbedAtOpenAndStaysVerifiable) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the legacy format predates the PostgreSQL engine: no such database exists";
  testing::OpenEngine(testing::ConfigFor(db()));  // creates the schema, then closes
  MakeLegacyDatabase(db(), false);
  {
    // Before: the legacy entries hold the personal data (the test would prove nothing otherwise).
    std::string all;
    for (const std::string& c : ReadAllCells(db(), "export_log")) all += c;
    ASSERT_NE(all.find(People()[1].id_number), std::string::npos);
  }
  auto engine = testing::OpenEngine(testing::ConfigFor(db()));
  json verify = Q(*engine, {{"op", "exportlog.verify"}});
  EXPECT_TRUE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_EQ(verify["entries"], 3) << verify.dump();
  EXPECT_EQ(verify["legacy_entries"], 0) << verify.dump();
  EXPECT_EQ(verify["migration"]["rewritten"], 3) << verify.dump();
  EXPECT_TRUE(verify["migration"]["old_chain_valid"].get<bool>()) << verify.dump();
  engine.reset();

  std::string all;
  for (const std::string& c : ReadAllCells(db(), "export_log")) all += c + "\n";
  for (const std::string& c : ReadAllCells(db(), "settings")) all += c + "\n";
  for (const Person& p : People())
    for (const std::string& secret : Secrets(p))
      EXPECT_EQ(all.find(secret), std::string::npos) << "still holds \"" << secret << "\":\n" << all;
  EXPECT_NE(all.find("000.20.31.H26-230301-0101"), std::string::npos) << all;
  // Not in the file's free pages or the write-ahead log either.
  const std::string bytes = FileBytes(db()) + FileBytes(db() + "-wal");
  for (const Person& p : People()) {
    EXPECT_EQ(bytes.find(p.id_number), std::string::npos) << p.id_number;
    EXPECT_EQ(bytes.find(p.email), std::string::npos) << p.email;
    EXPECT_EQ(bytes.find(p.summary), std::string::npos) << p.summary;
  }

  // Opening again changes nothing and the chain still verifies.
  engine = testing::OpenEngine(testing::ConfigFor(db()));
  verify = Q(*engine, {{"op", "exportlog.verify"}});
  EXPECT_TRUE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_EQ(verify["entries"], 3);
  // And tampering with a scrubbed entry is still caught.
  engine.reset();
  Exec(db(), "UPDATE export_log SET response_summary = replace(response_summary, 'created', 'rejected') WHERE seq = 2");
  engine = testing::OpenEngine(testing::ConfigFor(db()));
  verify = Q(*engine, {{"op", "exportlog.verify"}});
  EXPECT_FALSE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_EQ(verify["problems"][0]["seq"], 2) << verify.dump();
}

TEST_F(ExportLogPrivacyTest, TamperingBeforeTheScrubIsRecordedNotHidden) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the legacy format predates the PostgreSQL engine: no such database exists";
  testing::OpenEngine(testing::ConfigFor(db()));
  MakeLegacyDatabase(db(), /*tamper_second=*/true);
  auto engine = testing::OpenEngine(testing::ConfigFor(db()));
  json verify = Q(*engine, {{"op", "exportlog.verify"}});
  // The new chain is whole, but the old one was not: the log is reported invalid, for good.
  EXPECT_FALSE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_FALSE(verify["migration"]["old_chain_valid"].get<bool>()) << verify.dump();
  ASSERT_FALSE(verify["migration"]["problems"].empty()) << verify.dump();
  EXPECT_EQ(verify["migration"]["problems"][0]["seq"], 2) << verify.dump();
}

}  // namespace
}  // namespace danvan
