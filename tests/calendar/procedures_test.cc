#include "calendar/procedures.h"

#include <gtest/gtest.h>

#include "calendar/json_file.h"
#include "test_util.h"

namespace danvan::calendar {
namespace {

TEST(ProcedureCatalogueTest, LoadsShippedCatalogue) {
  auto cat = testing::ShippedProcedures();
  ASSERT_NE(cat, nullptr);
  EXPECT_GE(cat->size(), 10u);
  const Procedure* copy = cat->Find("1.005090");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->processing_unit, TimeUnit::kHours);
  EXPECT_TRUE(copy->fully_online);
  EXPECT_EQ(cat->Find("9.999999"), nullptr);
}

TEST(ProcedureCatalogueTest, UpsertNewFromLayThuTucLeavesOldCatalogueUnchanged) {
  auto cat = testing::ShippedProcedures();
  const size_t before = cat->size();
  nlohmann::json answer = nlohmann::json::parse(R"({"error_code": "0", "message": "", "result": [{
      "MaTTHC": "1.000111", "TenTTHC": "Công nhận trường trung học đạt chuẩn quốc gia",
      "MaLinhVuc": "G09-GDTH", "TenLinhVuc": "Giáo dục trung học",
      "ThoiGianGiaiQuyet": "25", "DonViTinh": "Ngày làm việc", "MucDo": "3",
      "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": "0"}]}]})");
  auto next = UpsertFromLayThuTuc(*cat, answer);
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(next.value()->size(), before + 1);
  EXPECT_EQ(cat->size(), before);
  const Procedure* p = next.value()->Find("1.000111");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->processing_value, 25);
  EXPECT_EQ(p->processing_unit, TimeUnit::kWorkingDays);
  EXPECT_FALSE(p->fully_online);
  EXPECT_FALSE(p->has_fee);
  EXPECT_TRUE(p->paper_result);
}

TEST(ProcedureCatalogueTest, UpsertMergesWithExistingEntry) {
  auto cat = testing::ShippedProcedures();
  const Procedure* old = cat->Find("1.005090");
  ASSERT_NE(old, nullptr);
  auto next = UpsertFromLayThuTuc(*cat, {{"MaTTHC", "1.005090"},
                                         {"ThoiGianGiaiQuyet", "2 ngày làm việc"},
                                         {"DanhSachLePhi", {{{"Gia", "20000"}}}}});
  ASSERT_TRUE(next.ok()) << next.status().message();
  const Procedure* p = next.value()->Find("1.005090");
  EXPECT_EQ(p->name, old->name);              // kept
  EXPECT_EQ(p->field_name, old->field_name);  // kept
  EXPECT_EQ(p->processing_value, 2);
  EXPECT_EQ(p->processing_unit, TimeUnit::kWorkingDays);
  EXPECT_TRUE(p->has_fee);
  EXPECT_EQ(next.value()->size(), cat->size());
  // Free-text hours.
  auto hours = ProcedureFromLayThuTuc(
      {{"MaTTHC", "2.000449"}, {"TenTTHC", "x"}, {"ThoiGianGiaiQuyet", "4 giờ làm việc"}});
  ASSERT_TRUE(hours.ok());
  EXPECT_EQ(hours->processing_unit, TimeUnit::kHours);
  auto cal_days = ProcedureFromLayThuTuc({{"MaTTHC", "2.000450"},
                                          {"TenTTHC", "x"},
                                          {"ThoiGianGiaiQuyet", 0.5},
                                          {"DonViTinh", "Ngày"}});
  ASSERT_TRUE(cal_days.ok());
  EXPECT_EQ(cal_days->processing_unit, TimeUnit::kDays);
  EXPECT_DOUBLE_EQ(cal_days->processing_value, 0.5);
}

TEST(ProcedureCatalogueTest, BadLayThuTucItems) {
  EXPECT_FALSE(ProcedureFromLayThuTuc({{"TenTTHC", "x"}, {"ThoiGianGiaiQuyet", "5"}}).ok());
  EXPECT_FALSE(ProcedureFromLayThuTuc({{"MaTTHC", "1.000112"}, {"TenTTHC", "x"}}).ok());
  auto words = ProcedureFromLayThuTuc(
      {{"MaTTHC", "1.000112"}, {"TenTTHC", "x"}, {"ThoiGianGiaiQuyet", "theo quy định"}});
  ASSERT_FALSE(words.ok());
  EXPECT_NE(words.status().message().find("không phải số"), std::string::npos);
  auto unit = ProcedureFromLayThuTuc({{"MaTTHC", "1.000112"},
                                      {"TenTTHC", "x"},
                                      {"ThoiGianGiaiQuyet", "5"},
                                      {"DonViTinh", "tuần"}});
  ASSERT_FALSE(unit.ok());
  EXPECT_FALSE(
      ProcedureFromLayThuTuc(nlohmann::json::parse(R"({"error_code": 0, "result": []})")).ok());
}

TEST(ProcedureCatalogueTest, ToJsonIsSchemaValidAndRoundTrips) {
  auto cat = testing::ShippedProcedures();
  auto validator = SchemaValidator::Load(testing::SchemasDir() + "/procedures.schema.json");
  ASSERT_TRUE(validator.ok());
  nlohmann::json j = cat->ToJson();
  EXPECT_TRUE(validator.value()->Validate(j, "bộ nhớ").ok());
  auto again = ProcedureCatalogue::FromJson(j, "bộ nhớ");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()->ToJson(), j);
}

TEST(ProcedureCatalogueTest, BadFilesNameFileAndPath) {
  testing::TempDir dir;
  const std::string unit =
      dir.Write("p1.json", R"({"procedures": [{"code": "1.005090", "name": "Cấp bản sao",
      "processing_time": {"value": 2, "unit": "weeks"}, "fully_online": true, "paper_result": true, "has_fee": false}]})");
  auto r1 = ProcedureCatalogue::Load(unit, testing::SchemasDir());
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find(unit), std::string::npos);
  EXPECT_NE(r1.status().message().find("$.procedures[0].processing_time.unit"), std::string::npos)
      << r1.status().message();
  const std::string dup = dir.Write("p2.json", R"({"procedures": [
      {"code": "1.005090", "name": "a", "processing_time": {"value": 2, "unit": "days"}, "fully_online": true, "paper_result": true, "has_fee": false},
      {"code": "1.005090", "name": "b", "processing_time": {"value": 3, "unit": "days"}, "fully_online": true, "paper_result": true, "has_fee": false}]})");
  auto r2 = ProcedureCatalogue::Load(dup, testing::SchemasDir());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("$.procedures[1].code"), std::string::npos)
      << r2.status().message();
}

}  // namespace
}  // namespace danvan::calendar
