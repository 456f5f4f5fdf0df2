// tags.review (issue 12): the review list, confirm and correct with who and why; a decision is
// stored, journalled, survives re-tagging and a restart, and is what the indicators count.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::TempDir;

nlohmann::json Letter(const std::string& id, const std::string& content, const nlohmann::json& extra = {}) {
  nlohmann::json data = {{"title", ""}, {"content", content}, {"received_at", "2023-04-03"}, {"status", "received"}};
  if (extra.is_object()) data.update(extra);
  return {{"kind", "petition"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.TTRA"},
          {"version", 1}, {"event_time", "2023-04-03T10:00:00+07:00"}, {"data", data}};
}

bool Has(const nlohmann::json& tags, const std::string& tag, const std::string& value = "") {
  for (const auto& t : tags)
    if (t["tag"] == tag && (value.empty() || t.value("value", "") == value)) return true;
  return false;
}

std::string Value(const nlohmann::json& tags, const std::string& tag) {
  for (const auto& t : tags)
    if (t["tag"] == tag) return t.value("value", "");
  return "";
}

class TagReviewTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() { engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "t.sqlite")); }
  nlohmann::json Tags(const std::string& id) {
    auto r = engine_->Query(nlohmann::json{{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", id}}.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value()["record"]["tags"] : nlohmann::json::array();
  }
  Result<nlohmann::json> Review(nlohmann::json req) {
    req["op"] = "tags.review";
    return engine_->Query(req.dump());
  }
  int64_t Indicator(const std::string& id) {
    auto q = engine_->Query(nlohmann::json{{"op", "indicators"}, {"unit", "SGDDT"},
                                           {"period", {{"kind", "month"}, {"year", 2023}, {"month", 4}}},
                                           {"ids", {id}}}.dump());
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? q.value()["indicators"][0]["value"].get<int64_t>() : -1;
  }
  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(TagReviewTest, UnsureLettersAreListedAndACorrectionIsKeptAuditedAndCounted) {
  // Two words say almost nothing: the reading is unsure and the letter goes on the list.
  ASSERT_EQ(engine_->Submit(Letter("DT-R-1", "Xin gặp.").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(Has(Tags("DT-R-1"), "needs_review")) << Tags("DT-R-1").dump();
  auto list = Review({{"action", "list"}});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list.value()["pending"], 1) << list.value().dump();
  EXPECT_EQ(list.value()["items"][0]["key"]["id"], "DT-R-1");
  EXPECT_TRUE(list.value()["items"][0]["reading"]["flags"].contains("group"));
  EXPECT_FALSE(list.value()["items"][0]["weak"].empty());

  // A correction needs who and why, and is checked against the invariants.
  auto no_why = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                        {"by", "cv.thanhtra"}, {"set", {{"kind", "denunciation"}}}});
  ASSERT_EQ(no_why.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(no_why.status().message().find("/why"), std::string::npos);
  auto broken = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                        {"by", "cv.thanhtra"}, {"why", "x"},
                        {"set", {{"kind", "complaint"}, {"flags", {{"anonymous", true}}}}}});
  ASSERT_EQ(broken.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(broken.status().message().find("/set/flags/anonymous"), std::string::npos);

  const int64_t staff_before = Indicator("petition.staff_conduct");
  auto fixed = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                       {"by", "cv.thanhtra"}, {"why", "Đã gặp công dân: tố cáo thái độ của kế toán"},
                       {"set", {{"kind", "denunciation"}, {"flags", {{"staff_conduct", true}}}}}});
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  nlohmann::json tags = Tags("DT-R-1");
  EXPECT_EQ(Value(tags, "petition_kind"), "denunciation") << tags.dump();
  EXPECT_TRUE(Has(tags, "staff_conduct"));
  EXPECT_FALSE(Has(tags, "needs_review"));
  EXPECT_EQ(Review({{"action", "list"}}).value()["pending"], 0);
  // The indicators count the corrected tags.
  EXPECT_EQ(Indicator("petition.staff_conduct"), staff_before + 1);
  EXPECT_EQ(Indicator("petition.received.denunciation"), 1);
  // Audited: stored with who and why, and journalled.
  auto decided = Review({{"action", "list"}, {"decided", true}}).value();
  ASSERT_EQ(decided["decided"], 1);
  EXPECT_EQ(decided["items"][0]["decision"]["by"], "cv.thanhtra");
  EXPECT_EQ(decided["items"][0]["decision"]["kind"], "denunciation");
  EXPECT_FALSE(decided["items"][0]["proposed"].is_null());

  // A new version of the letter and a restart keep the decision.
  auto v2 = Letter("DT-R-1", "Xin gặp lãnh đạo.");
  v2["version"] = 2;
  ASSERT_EQ(engine_->Submit(v2.dump()).result["outcome"], "accepted");
  EXPECT_EQ(Value(Tags("DT-R-1"), "petition_kind"), "denunciation");
  engine_.reset();
  Open();
  EXPECT_EQ(Value(Tags("DT-R-1"), "text_kind"), "denunciation");

  // Background re-tagging after a rule reload keeps it too.
  auto reload = engine_->Query(R"({"op":"tagging.reload"})");
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  for (int i = 0; i < 200 && engine_->Query(R"({"op":"tagging.status"})").value()["running"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  tags = Tags("DT-R-1");
  EXPECT_EQ(Value(tags, "text_kind"), "denunciation");
  EXPECT_EQ(Value(tags, "letter_reading"), "reviewed");
}

TEST_F(TagReviewTest, ConfirmFreezesTheReadingAndUnknownRecordsAreRefused) {
  const std::string text =
      "Tôi tố cáo hiệu trưởng Trường THCS Kiến Thụy lập chứng từ khống để rút tiền quỹ, đề nghị Thanh tra Sở xác minh, xử lý nghiêm.";
  ASSERT_EQ(engine_->Submit(Letter("DT-R-2", text).dump()).result["outcome"], "accepted");
  const std::string kind = Value(Tags("DT-R-2"), "text_kind");
  auto ok = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-2"}, {"by", "cv.a"}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  nlohmann::json tags = Tags("DT-R-2");
  EXPECT_EQ(Value(tags, "text_kind"), kind);
  for (const auto& t : tags) {
    if (t["tag"] == "text_kind") {
      EXPECT_EQ(t["rule"], "review.confirm");
    }
  }
  auto missing = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "nope"}, {"by", "cv.a"}});
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  auto bad = Review({{"action", "approve"}});
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidInput);
  auto no_by = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-2"}});
  ASSERT_EQ(no_by.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(no_by.status().message().find("/by"), std::string::npos);
}

}  // namespace
}  // namespace danvan
