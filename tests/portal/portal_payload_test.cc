// Payload mapping: stored dossier / progress items -> exact wire items (domain.md §1).
#include "outbox/portal_payload.h"

#include <gtest/gtest.h>

#include "outbox/portal_client.h"

namespace danvan {
namespace {

using nlohmann::json;

PortalMappings Mappings() {
  auto m = PortalMappings::FromJson(json::parse(R"({
    "units": {"SGDDT.TTRA": "000.00.20.H26", "SGDDT": "000.00.00.H26"},
    "procedures": {"GD-CAPBANG": "1.005088", "1.001234": "1.001234"}})"));
  EXPECT_TRUE(m.ok());
  return m.value();
}

json Dossier() {
  return json::parse(R"({
    "MaHoSo": "H26.20-230302-0001",
    "MaTTHC": "GD-CAPBANG",
    "TenTTHC": "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
    "KenhThucHien": 2,
    "ChuHoSo": "Nguyễn Thị Hoà",
    "LoaiDoiTuong": 1,
    "TrichYeuHoSo": "Đề nghị cấp bản sao bằng tốt nghiệp THPT",
    "NgayTiepNhan": "2023-03-02T09:15:00+07:00",
    "NgayHenTra": "20230309170000",
    "TrangThaiHoSo": "4",
    "NgayKetThucXuLy": null,
    "HoSoCoThanhPhanSoHoa": true,
    "MotTruongRieng": "không gửi",
    "TaiLieuNop": [{"TepDinhKemId": 123, "TenTepDinhKem": "don.pdf", "IsDeleted": false,
                    "DuocSoHoa": 1}],
    "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": 20000.0, "HinhThucThu": 2}],
    "DanhSachHoSoBoSung": [{"NgayYeuCauBoSung": "2023-03-03T08:00:00Z", "NgayHenTraMoi": ""}]
  })");
}

TEST(PortalPayloadTest, DossierBecomesStringsWithPortalDatesAndMappedCodes) {
  auto r = MapDossierItem("HS-1", "SGDDT.TTRA", Dossier(), Mappings());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& it = r->item;
  EXPECT_EQ(r->madonvi, "000.00.20.H26");
  EXPECT_EQ(it["MaTTHC"], "1.005088");
  EXPECT_EQ(it["KenhThucHien"], "2");
  EXPECT_EQ(it["LoaiDoiTuong"], "1");
  EXPECT_EQ(it["NgayTiepNhan"], "20230302091500");
  EXPECT_EQ(it["NgayHenTra"], "20230309170000");
  EXPECT_EQ(it["NgayKetThucXuLy"], "");
  EXPECT_EQ(it["NgayTra"], "");  // absent -> ""
  EXPECT_EQ(it["HoSoCoThanhPhanSoHoa"], "1");
  EXPECT_EQ(it["ChuHoSo"], "Nguyễn Thị Hoà");
  EXPECT_FALSE(it.contains("MotTruongRieng"));
  EXPECT_EQ(it["TaiLieuNop"][0]["TepDinhKemId"], "123");
  EXPECT_EQ(it["TaiLieuNop"][0]["IsDeleted"], "0");
  EXPECT_EQ(it["DanhSachLePhi"][0]["Gia"], "20000");
  // 08:00 UTC is 15:00 in Vietnam.
  EXPECT_EQ(it["DanhSachHoSoBoSung"][0]["NgayYeuCauBoSung"], "20230303150000");
  EXPECT_EQ(it["DanhSachGiayToKetQua"], json::array());
  EXPECT_EQ(it["DinhDanhCHS"], json::array());
  // Every leaf is a string.
  std::function<void(const json&)> all_strings = [&](const json& j) {
    if (j.is_object() || j.is_array()) {
      for (const auto& e : j) all_strings(e);
    } else {
      EXPECT_TRUE(j.is_string()) << j.dump();
    }
  };
  all_strings(it);
}

// Issue 11 item 9: fields of the portal's dossier item that were accepted at intake and then
// silently dropped are sent when the host gives them (and not invented when it does not).
TEST(PortalPayloadTest, FurtherPortalFieldsAreSentWhenGiven) {
  json d = Dossier();
  d["SoBienNhan"] = "BN-2023-000123";
  d["NgayNopHoSo"] = "2023-03-02T08:55:00+07:00";
  d["NoiNopHoSo"] = "Bộ phận Một cửa Sở GD&ĐT Hải Phòng";
  d["NgayTuChoi"] = "";
  d["DanhSachTepDinhKemKhac"] = json::array({{{"TepDinhKemId", 7}, {"TenTepDinhKem", "ban_sao_cccd.pdf"}}});
  d["DSKetNoiCSDL"] = json::array({{{"MaCSDL", "CSDLQGDC"}, {"KetQua", "1"}}});
  auto r = MapDossierItem("HS-1", "SGDDT.TTRA", d, Mappings());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->item["SoBienNhan"], "BN-2023-000123");
  EXPECT_EQ(r->item["NgayNopHoSo"], "20230302085500");
  EXPECT_EQ(r->item["NoiNopHoSo"], "Bộ phận Một cửa Sở GD&ĐT Hải Phòng");
  EXPECT_EQ(r->item["NgayTuChoi"], "");
  EXPECT_EQ(r->item["DanhSachTepDinhKemKhac"][0]["TepDinhKemId"], "7");
  EXPECT_EQ(r->item["DSKetNoiCSDL"][0]["MaCSDL"], "CSDLQGDC");
  auto plain = MapDossierItem("HS-1", "SGDDT.TTRA", Dossier(), Mappings());
  ASSERT_TRUE(plain.ok());
  for (const char* f : {"SoBienNhan", "NgayNopHoSo", "NoiNopHoSo", "NgayTuChoi",
                        "DanhSachTepDinhKemKhac", "DSKetNoiCSDL"})
    EXPECT_FALSE(plain->item.contains(f)) << f;
}

TEST(PortalPayloadTest, MissingUnitMappingIsPerRecordErrorNamingCode) {
  auto r = MapDossierItem("HS-7", "SYT.KHAC", Dossier(), Mappings());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("HS-7"), std::string::npos);
  EXPECT_NE(r.status().message().find("SYT.KHAC"), std::string::npos);
}

TEST(PortalPayloadTest, MissingProcedureMappingIsPerRecordErrorThenWorksOnceAdded) {
  json d = Dossier();
  d["MaTTHC"] = "GD-MOI";
  PortalMappings m = Mappings();
  auto r = MapDossierItem("HS-8", "SGDDT", d, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("GD-MOI"), std::string::npos);
  EXPECT_NE(r.status().message().find("HS-8"), std::string::npos);
  m.procedures["GD-MOI"] = "2.000123";
  auto r2 = MapDossierItem("HS-8", "SGDDT", d, m);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->item["MaTTHC"], "2.000123");
  EXPECT_EQ(r2->madonvi, "000.00.00.H26");
}

TEST(PortalPayloadTest, InvalidRecordsAreRejected) {
  json d = Dossier();
  d["TrangThaiHoSo"] = "11";
  EXPECT_EQ(MapDossierItem("a", "SGDDT", d, Mappings()).status().code(),
            Status::Code::kInvalidInput);
  d = Dossier();
  d.erase("NgayTiepNhan");
  EXPECT_EQ(MapDossierItem("a", "SGDDT", d, Mappings()).status().code(),
            Status::Code::kInvalidInput);
  d = Dossier();
  d["NgayHenTra"] = "09/03/2023";
  auto r = MapDossierItem("a", "SGDDT", d, Mappings());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("NgayHenTra"), std::string::npos);
  d = Dossier();
  d["MaHoSo"] = "";
  EXPECT_FALSE(MapDossierItem("a", "SGDDT", d, Mappings()).ok());
  d = Dossier();
  d["TaiLieuNop"] = "x";
  EXPECT_FALSE(MapDossierItem("a", "SGDDT", d, Mappings()).ok());
}

TEST(PortalPayloadTest, SummaryCutAtCodePointsNotBytes) {
  json d = Dossier();
  std::string s;
  for (int i = 0; i < 1200; ++i) s += "ệ";
  d["TrichYeuHoSo"] = s;
  auto r = MapDossierItem("a", "SGDDT", d, Mappings());
  ASSERT_TRUE(r.ok());
  std::string out = r->item["TrichYeuHoSo"];
  EXPECT_EQ(out.size(), 1000u * std::string("ệ").size());
}

TEST(PortalPayloadTest, ProgressItem) {
  json p = json::parse(R"({"MaHoSo": "H26.20-230302-0001", "TrangThai": 9,
    "ThoiDiemXuLy": 1677898800000, "NguoiXuLy": "Trần Văn Bình", "ChucDanh": "Chuyên viên",
    "NgayBatDau": "2023-03-02", "NgayKetThucTheoQuyDinh": "20230309170000"})");
  auto r = MapProgressItem("HS-1", "SGDDT.TTRA", p, Mappings());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->item["TrangThai"], "9");
  // 1677898800000 ms = 2023-03-04T03:00:00Z = 10:00 in Vietnam.
  EXPECT_EQ(r->item["ThoiDiemXuLy"], "20230304100000");
  EXPECT_EQ(r->item["NgayBatDau"], "20230302000000");
  EXPECT_EQ(r->item["PhongBanXuLy"], "");
  EXPECT_EQ(r->item.size(), 9u);
  p["TrangThai"] = "0";
  EXPECT_FALSE(MapProgressItem("HS-1", "SGDDT.TTRA", p, Mappings()).ok());
  p["TrangThai"] = "9";
  EXPECT_EQ(MapProgressItem("HS-1", "NOPE", p, Mappings()).status().code(),
            Status::Code::kNotFound);
}

TEST(PortalPayloadTest, MappingsRejectNonStrings) {
  EXPECT_FALSE(PortalMappings::FromJson(json::parse(R"({"units": {"a": 1}})")).ok());
  EXPECT_FALSE(PortalMappings::FromJson(json::array()).ok());
  EXPECT_STREQ(PortalOutcomeName(PortalOutcome::kAlreadyExists), "already_exists");
}

}  // namespace
}  // namespace danvan
