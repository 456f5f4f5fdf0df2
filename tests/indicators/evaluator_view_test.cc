// The evaluation over intake's arena views (issue 16: RecordEvaluator, DossierFacts,
// PetitionFacts and the contributions read ArenaJson as well as nlohmann's documents) gives
// what it gives over nlohmann's document of the same text: class, next change, deadline bytes,
// contributions, and the same errors and exceptions for data of unexpected shapes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/arena_json.h"
#include "core/json_view.h"
#include "core/timeutil.h"
#include "indicators/contributions.h"
#include "oracle.h"

namespace danvan::indtest {
namespace {

const std::string kRoot = DANVAN_SOURCE_ROOT;

// Everything an evaluation answers, as text (or the exception's message).
template <typename Data>
std::string Outcome(const RecordEvaluator& ev, const std::string& kind, const Data& data,
                    const std::vector<HistoryRow>& history, const nlohmann::json& tags) {
  const int64_t event_ms = *ParseIsoTime("2023-03-01T09:00:00+07:00");
  const int64_t now_ms = *ParseIsoTime("2023-06-15T10:00:00+07:00");
  std::string out;
  try {
    Evaluation e = ev.Evaluate(kind, data, history, tags, event_ms, now_ms, /*synced=*/false);
    out = "class=" + e.cls + " next=" + std::to_string(e.next_change_ms.value_or(-1)) + " " +
          e.next_class + " deadline=";
    e.WriteDeadline(&out, nlohmann::json::error_handler_t::replace);
    for (const auto& c : e.contributions)
      out += "\n" + c.series + " " + std::to_string(c.day) + " " + std::to_string(c.value) + " " + c.unit;
  } catch (const std::exception& e) {
    out = std::string("threw: ") + e.what();
  }
  try {
    auto c = ev.Classify(kind, data, history, tags, now_ms);
    out += "\nclassify: " + (c.ok() ? std::string(calendar::OnTimeClassName(c.value().cls))
                                    : c.status().message());
  } catch (const std::exception& e) {
    out += std::string("\nclassify threw: ") + e.what();
  }
  return out;
}

void ExpectSameEvaluation(const RecordEvaluator& ev, const std::string& kind, const std::string& text,
                          const std::vector<HistoryRow>& history = {},
                          const nlohmann::json& tags = nlohmann::json::array()) {
  const nlohmann::json doc = nlohmann::json::parse(text);
  JsonArena arena;
  auto view = ParseArenaJsonBounded(text, 64, &arena);
  ASSERT_TRUE(view.ok()) << text;
  const std::string want = Outcome(ev, kind, doc, history, tags);
  EXPECT_EQ(Outcome(ev, kind, *view.value(), history, tags), want) << kind << " " << text;
}

TEST(EvaluatorView, ArenaViewEvaluatesAsNlohmannsDocument) {
  auto oracle = Oracle::Load(kRoot + "/config", kRoot + "/schemas");
  const RecordEvaluator& ev = oracle->evaluator();
  const std::vector<HistoryRow> steps = {
      {0, 1, "2", *ParseIsoTime("2023-03-01T09:00:00+07:00"), "", "step", "", 0},
      {0, 1, "4", *ParseIsoTime("2023-03-02T09:00:00+07:00"), "", "step", "", 0}};
  // Dossiers: finished, open, supplements, fees, results, files, the portal's own shapes.
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H1","MaTTHC":"1.005090","TrangThaiHoSo":"9",
    "KenhThucHien":"2","NgayTiepNhan":"20230301090000","NgayHenTra":"20230303170000",
    "NgayKetThucXuLy":"20230302100000","DuocThanhToanTrucTuyen":"1",
    "DanhSachLePhi":[{"Gia":"50000"},{"Gia":"0"},7],"DanhSachGiayToKetQua":[{"DuongDanTepTinKetQua":"https://x"}],
    "TaiLieuNop":[{"IsDeleted":"0","DuocSoHoa":"1","DuocTaiSuDung":"1"},{"IsDeleted":"1"},"x"],
    "DinhDanhCHS":[{"a":1}],"DaDongBoCongQuocGia":"1"})", steps);
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H2","MaTTHC":"1.005092","TrangThaiHoSo":"5",
    "NgayTiepNhan":"20230301090000","NgayHenTra":"20230310170000",
    "DanhSachHoSoBoSung":[{"NgayBoSung":"20230302090000","NgayTiepNhanBoSung":"20230305090000"},
                          {"NgayYeuCauBoSung":"20230306090000"}],
    "TaiKhoanDuocXacThucVoiVNeID":"1","DinhDanhCHS":[]})", steps);
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H3","MaTTHC":"unknown","TrangThaiHoSo":2,
    "NgayTiepNhan":20230301090000,"NgayKetThucXuLy":"20230302100000"})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H4","TrangThaiHoSo":"1","NgayTiepNhan":""})");
  // Shapes the classification refuses, each with its message; nlohmann's type errors thrown.
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H5","TrangThaiHoSo":"abc","NgayTiepNhan":"20230301090000"})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H6","TrangThaiHoSo":[1,{"a":2.5}]})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H7","NgayTiepNhan":"20230301090000"})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H8","TrangThaiHoSo":"2","NgayTiepNhan":"2023-03-01"})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H9","TrangThaiHoSo":"2","NgayTiepNhan":"20230301090000",
    "DanhSachHoSoBoSung":[5]})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H10","TrangThaiHoSo":"2","NgayTiepNhan":"20230301090000",
    "DanhSachHoSoBoSung":[{"NgayBoSung":"bad"}]})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":"H11","MaTTHC":5,"TrangThaiHoSo":"2","NgayTiepNhan":"20230301090000"})");
  ExpectSameEvaluation(ev, "dossier", R"({"MaHoSo":null,"MaTTHC":"1.005090","TrangThaiHoSo":"2"})");
  ExpectSameEvaluation(ev, "dossier", R"([1,2])");
  // Petitions: the data's kind or the tagger's, rounds, extensions, flags.
  const nlohmann::json kind_tags = nlohmann::json::parse(
      R"([{"tag":"petition_kind","value":"complaint"},{"tag":"complexity","value":"complex"},
          {"tag":"protracted","value":"reraised"},{"tag":"group_petition","value":""}])");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P1","petition_kind":"denunciation","round":"2",
    "received_at":"2023-03-01T09:00:00+07:00","accepted_at":"2023-03-03T09:00:00+07:00",
    "extensions":[{"days":10,"at":"2023-03-20T09:00:00+07:00","reason":"x"}],
    "complex":true,"remote_area":"1","satisfaction":"dissatisfied","reraise_count":2,
    "resolved_at":"2023-05-01T09:00:00+07:00","status":"resolved"})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P2","received_at":"2023-03-01T09:00:00+07:00",
    "complex":1,"remote_area":2.5,"reraised_of":"P1"})", {}, kind_tags);
  ExpectSameEvaluation(ev, "petition", R"({"id":"P3","petition_kind":"complaint","round":1e300})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P4","petition_kind":"complaint","round":"abc"})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P5","petition_kind":"complaint","round":2.0,
    "received_at":"2023-03-01T09:00:00+07:00","extensions":[{"days":"x"}]})");
  ExpectSameEvaluation(ev, "petition", R"({"id":5,"petition_kind":"complaint"})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P6","petition_kind":"complaint","received_at":17})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P7","petition_kind":"complaint","status":null,
    "received_at":"2023-02-30T09:00:00+07:00","due_at":"2023-04-01T00:00:00+07:00"})");
  ExpectSameEvaluation(ev, "petition", R"({"id":"P8"})");
  // The other kinds' contributions.
  ExpectSameEvaluation(ev, "reception", R"({"date":"2023-03-01T09:00:00+07:00","receiver_role":"head",
    "session_type":"adhoc","people_count":3.5,"group":true})");
  ExpectSameEvaluation(ev, "reception", R"({"date":"2023-03-01T09:00:00+07:00","people_count":"3","group":1})");
  ExpectSameEvaluation(ev, "dvk_model", R"({"registered_at":"2023-03-01T09:00:00+07:00","field":"edu",
    "recognition_level":"city","recognised_at":"2023-05-01T09:00:00+07:00"})");
  ExpectSameEvaluation(ev, "dvk_model", R"({"registered_at":"2023-03-01T09:00:00+07:00","recognition_level":null})",
                       {}, nlohmann::json::parse(R"([{"tag":"dvk_field","value":"health"}])"));
  ExpectSameEvaluation(ev, "plan_task", R"({"status":"done","due":"2023-03-10","start":"2023-03-01",
    "completed_at":"2023-03-12","lead_unit":"SGDDT.QLCL"})");
  ExpectSameEvaluation(ev, "plan_task", R"({"status":"open","due":"2023-03-10"})");
  ExpectSameEvaluation(ev, "plan_task", R"({"status":"cancelled","due":"2023-03-10"})");
}

// The accessors' nlohmann-like behaviour, exceptions included.
TEST(EvaluatorView, ValueStringThrowsNlohmannsError) {
  for (const char* text : {R"({"a":5})", R"({"a":null})", R"({"a":[1]})", R"([1])", R"("s")"}) {
    const nlohmann::json doc = nlohmann::json::parse(text);
    JsonArena arena;
    const ArenaJson& view = *ParseArenaJsonBounded(text, 8, &arena).value();
    std::string want, got;
    try {
      want = doc.value("a", std::string("d"));
    } catch (const nlohmann::json::exception& e) {
      want = std::string("threw ") + e.what();
    }
    try {
      got = jview::ValueString(view, "a", "d");
    } catch (const nlohmann::json::exception& e) {
      got = std::string("threw ") + e.what();
    }
    EXPECT_EQ(got, want) << text;
    EXPECT_EQ(jview::Size(view), doc.size()) << text;
    EXPECT_EQ(jview::Dump(view), doc.dump()) << text;
  }
}


// HasTag / TagValue read the tags as nlohmann's value(key, "") did (issue 16, eleventh step:
// without a copy of each member): absent members are "", elements that are not objects are
// skipped, and a member that is not a string throws nlohmann's type_error, as value() throws.
TEST(EvaluatorView, TagReadersAnswerAsNlohmannsValue) {
  auto old_has = [](const nlohmann::json& tags, const std::string& tag, const std::string& value) {
    for (const auto& t : tags) {
      if (!t.is_object() || t.value("tag", "") != tag) continue;
      if (value.empty() || t.value("value", "") == value) return true;
    }
    return false;
  };
  auto old_value = [](const nlohmann::json& tags, const std::string& tag) -> std::string {
    for (const auto& t : tags)
      if (t.is_object() && t.value("tag", "") == tag) return t.value("value", "");
    return "";
  };
  auto outcome = [](auto&& read) -> std::string {
    try {
      return "=" + read();
    } catch (const nlohmann::json::exception& e) {
      return std::string("!") + e.what();
    }
  };
  const std::vector<nlohmann::json> cases = {
      nlohmann::json::parse(R"([{"tag":"complexity","value":"complex"},{"tag":"group_petition"}])"),
      nlohmann::json::parse(R"([5,null,"x",{"value":"v"},{"tag":"complexity"},{"tag":"complexity","value":"simple"}])"),
      nlohmann::json::parse(R"([{"tag":5,"value":"complex"}])"),
      nlohmann::json::parse(R"([{"tag":"complexity","value":7}])"),
      nlohmann::json::parse(R"([{"tag":"other","value":[1]},{"tag":"complexity","value":"complex"}])"),
      nlohmann::json::parse(R"([{"tag":null}])"),
      nlohmann::json::parse(R"([])"),
  };
  for (const auto& tags : cases) {
    for (const char* tag : {"complexity", "group_petition", "other"}) {
      for (const char* value : {"", "complex", "simple"}) {
        EXPECT_EQ(outcome([&] { return std::string(indicators::HasTag(&tags, tag, value) ? "1" : "0"); }),
                  outcome([&] { return std::string(old_has(tags, tag, value) ? "1" : "0"); }))
            << tags.dump() << " " << tag << " " << value;
      }
      EXPECT_EQ(outcome([&] { return indicators::TagValue(&tags, tag); }),
                outcome([&] { return old_value(tags, tag); }))
          << tags.dump() << " " << tag;
    }
  }
  EXPECT_THROW(indicators::HasTag(&cases[2], "complexity"), nlohmann::json::type_error);
  EXPECT_EQ(indicators::TagValue(&cases[1], "complexity"), "");
}

}  // namespace
}  // namespace danvan::indtest
