// Drill-down (`indicators.explain`) on a small hand-built case, a dossier that becomes overdue
// as the injected clock passes its due date without any new event, and a record moving to
// another unit between versions.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>

#include "core/timeutil.h"
#include "engine/test_support.h"
#include "oracle.h"

namespace danvan::indtest {
namespace {

using danvan::testing::ConfigFor;
using danvan::testing::OpenEngine;
using danvan::testing::TempDir;

// yyyyMMddHHmmss (UTC+7) -> ISO 8601.
std::string Iso(const std::string& portal) {
  return portal.substr(0, 4) + "-" + portal.substr(4, 2) + "-" + portal.substr(6, 2) + "T" + portal.substr(8, 2) +
         ":" + portal.substr(10, 2) + ":" + portal.substr(12, 2) + "+07:00";
}

// A dossier item whose event time is when its status took effect (the end, else the reception).
nlohmann::json Dossier(const std::string& id, const std::string& unit, int version, const std::string& status,
                       const std::string& received, const std::string& due, const std::string& end = "") {
  return {{"kind", "dossier"},
          {"source", "motcua-hp"},
          {"id", id},
          {"unit", unit},
          {"version", version},
          {"event_time", Iso(end.empty() ? received : end)},
          {"data",
           {{"MaHoSo", id},
            {"MaTTHC", "1.005090"},
            {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
            {"KenhThucHien", "2"},
            {"ChuHoSo", "Nguyễn Văn An"},
            {"NgayTiepNhan", received},
            {"NgayHenTra", due},
            {"TrangThaiHoSo", status},
            {"NgayKetThucXuLy", end}}}};
}

nlohmann::json Petition(const std::string& id, const std::string& kind, const std::string& unit,
                        const std::string& received) {
  return {{"kind", "petition"},
          {"source", "pakn-dvcqg"},
          {"id", id},
          {"unit", unit},
          {"version", 1},
          {"event_time", received + "T10:00:00+07:00"},
          {"data", {{"petition_kind", kind}, {"received_at", received}, {"status", "received"},
                    {"title", "Phản ánh"}, {"content", "Nội dung phản ánh"}}}};
}

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FunctionClock>([this] { return now_.load(); });
    engine_ = OpenEngine(ConfigFor(dir_.path() / "d.sqlite"), clock_);
  }
  void Submit(const nlohmann::json& e) {
    auto a = engine_->Submit(e.dump());
    ASSERT_TRUE(a.status.ok()) << a.status.ToString() << " " << a.result.dump();
  }
  nlohmann::json Query(const nlohmann::json& req) {
    auto r = engine_->Query(req.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : nlohmann::json::object();
  }
  nlohmann::json Explain(const std::string& unit, const std::string& id, const nlohmann::json& period) {
    return Query({{"op", "indicators.explain"}, {"unit", unit}, {"id", id}, {"period", period}});
  }
  static std::set<std::string> Ids(const nlohmann::json& list) {
    std::set<std::string> out;
    for (const auto& r : list) out.insert(r["key"]["id"].get<std::string>());
    return out;
  }
  nlohmann::json Indicator(const std::string& unit, const nlohmann::json& period, const std::string& id) {
    auto a = Query({{"op", "indicators"}, {"unit", unit}, {"period", period}, {"ids", {id}}});
    EXPECT_EQ(a["indicators"].size(), 1u) << a.dump();
    return a["indicators"].empty() ? nlohmann::json::object() : a["indicators"][0];
  }

  TempDir dir_;
  std::atomic<int64_t> now_{VnMs(2023, 4, 20, 10, 0)};
  std::shared_ptr<Clock> clock_;
  std::unique_ptr<Engine> engine_;
};

const nlohmann::json kMarch = {{"kind", "month"}, {"year", 2023}, {"month", 3}};

TEST_F(Fixture, ExplainListsExactlyTheRecordsBehindAFigure) {
  Submit(Dossier("A", "SGDDT.VP", 1, "9", "20230301083000", "20230306170000", "20230303100000"));  // early
  Submit(Dossier("B", "SGDDT.VP", 1, "9", "20230301083000", "20230306170000", "20230310100000"));  // late
  Submit(Dossier("C", "SGDDT.VP", 1, "4", "20230302083000", "20230530170000"));                    // open, ok
  Submit(Dossier("D", "SGDDT.TTRA", 1, "9", "20230305083000", "20230310170000", "20230306100000"));
  Submit(Dossier("E", "SGDDT.VP", 1, "9", "20230210083000", "20230220170000", "20230215100000"));  // February
  Submit(Dossier("F", "SGDDT.VP", 1, "1", "20230303083000", "20230310170000"));                    // not received
  Submit(Petition("P1", "complaint", "SGDDT.TTRA", "2023-03-08"));
  Submit(Petition("P2", "feedback", "SGDDT.TTRA", "2023-03-09"));
  Submit(Petition("P3", "complaint", "SGDDT.VP", "2023-04-02"));

  auto ex = Explain("SGDDT.VP", "dossier.received", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"A", "B", "C"})) << ex.dump();
  EXPECT_EQ(ex["numerator_record_count"], 3);
  EXPECT_EQ(ex["indicator"]["value"], 3);

  ex = Explain("SGDDT", "dossier.received", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"A", "B", "C", "D"})) << ex.dump();
  EXPECT_EQ(ex["indicator"]["value"], 4);

  ex = Explain("SGDDT.VP", "dossier.finished_late", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"B"})) << ex.dump();

  // Early/on time: A finished early, C open within its deadline at the period's end; the
  // denominator is what was received or processed in March (E ended in February).
  ex = Explain("SGDDT.VP", "idx766.on_time", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"A", "C"})) << ex.dump();
  EXPECT_EQ(Ids(ex["denominator_records"]), (std::set<std::string>{"A", "B", "C"})) << ex.dump();
  EXPECT_EQ(ex["indicator"]["numerator"], 2);
  EXPECT_EQ(ex["indicator"]["denominator"], 3);

  ex = Explain("SGDDT.VP", "dossier.received", {{"kind", "month"}, {"year", 2023}, {"month", 2}});
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"E"})) << ex.dump();

  ex = Explain("SGDDT.TTRA", "petition.received", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"P1", "P2"})) << ex.dump();
  ex = Explain("SGDDT", "petition.received.complaint", {{"kind", "quarter"}, {"year", 2023}, {"quarter", 2}});
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"P3"})) << ex.dump();
  ex = Explain("SGDDT.VP", "petition.received", kMarch);
  EXPECT_TRUE(ex["numerator_records"].empty()) << ex.dump();
}

TEST_F(Fixture, OpenDossierBecomesOverdueAsTheClockPassesItsDueDate) {
  now_ = VnMs(2023, 3, 3, 10, 0);
  Submit(Dossier("G", "SGDDT.VP", 1, "4", "20230301083000", "20230306170000"));
  for (const std::string unit : {"SGDDT.VP", "SGDDT"}) {
    EXPECT_EQ(Indicator(unit, kMarch, "dossier.open_overdue")["value"], 0) << unit;
    auto on_time = Indicator(unit, kMarch, "idx766.on_time");
    EXPECT_EQ(on_time["numerator"], 1) << unit;
    EXPECT_EQ(on_time["denominator"], 1) << unit;
  }
  auto full = Query({{"op", "indicators"}, {"unit", "SGDDT.VP"}, {"period", kMarch}});
  EXPECT_EQ(full["as_of"], "2023-03-03");

  // Due 6 March 17:00: still within the deadline on the 6th, overdue from the 7th. No event.
  now_ = VnMs(2023, 3, 6, 16, 0);
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.open_overdue")["value"], 0);
  now_ = VnMs(2023, 3, 7, 9, 0);
  for (const std::string unit : {"SGDDT.VP", "SGDDT"}) {
    EXPECT_EQ(Indicator(unit, kMarch, "dossier.open_overdue")["value"], 1) << unit;
    auto on_time = Indicator(unit, kMarch, "idx766.on_time");
    EXPECT_EQ(on_time["numerator"], 0) << unit;
    EXPECT_EQ(on_time["denominator"], 1) << unit;
    auto sat = Indicator(unit, kMarch, "idx766.dossier_satisfaction");
    EXPECT_EQ(sat["numerator"], 0) << unit;  // 1 - overdue
  }
  full = Query({{"op", "indicators"}, {"unit", "SGDDT.VP"}, {"period", kMarch}});
  EXPECT_EQ(full["as_of"], "2023-03-07");
  auto ex = Explain("SGDDT.VP", "dossier.open_overdue", kMarch);
  EXPECT_EQ(Ids(ex["numerator_records"]), (std::set<std::string>{"G"})) << ex.dump();

  // Later: March is judged at its last day; April still sees it open and overdue; February
  // never saw it.
  now_ = VnMs(2023, 5, 15, 9, 0);
  full = Query({{"op", "indicators"}, {"unit", "SGDDT.VP"}, {"period", kMarch}});
  EXPECT_EQ(full["as_of"], "2023-03-31");
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.open_overdue")["value"], 1);
  const nlohmann::json april = {{"kind", "month"}, {"year", 2023}, {"month", 4}};
  EXPECT_EQ(Indicator("SGDDT.VP", april, "dossier.open_overdue")["value"], 1);
  EXPECT_EQ(Indicator("SGDDT.VP", april, "idx766.on_time")["denominator"], 1);
  const nlohmann::json feb = {{"kind", "month"}, {"year", 2023}, {"month", 2}};
  EXPECT_EQ(Indicator("SGDDT.VP", feb, "dossier.open_overdue")["value"], 0);
  EXPECT_EQ(Indicator("SGDDT.VP", feb, "dossier.received")["value"], 0);

  // Finished late on 10 March: no longer open; counted as finished late in March.
  Submit(Dossier("G", "SGDDT.VP", 2, "9", "20230301083000", "20230306170000", "20230310100000"));
  EXPECT_EQ(Indicator("SGDDT.VP", april, "dossier.open_overdue")["value"], 0);
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.open_overdue")["value"], 0);
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.finished_late")["value"], 1);
  EXPECT_EQ(Indicator("SGDDT.VP", april, "idx766.on_time")["denominator"], 0);
}

// A record whose later version names another unit (e.g. a dossier or petition transferred to
// the Inspectorate) must count for the new unit only.
TEST_F(Fixture, RecordMovedToAnotherUnitCountsOnlyThere) {
  Submit(Dossier("M", "SGDDT.VP", 1, "2", "20230301083000", "20230306170000"));
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.received")["value"], 1);
  Submit(Dossier("M", "SGDDT.TTRA", 2, "4", "20230301083000", "20230306170000"));
  EXPECT_EQ(Indicator("SGDDT.TTRA", kMarch, "dossier.received")["value"], 1);
  EXPECT_EQ(Indicator("SGDDT.VP", kMarch, "dossier.received")["value"], 0);
  EXPECT_EQ(Indicator("SGDDT", kMarch, "dossier.received")["value"], 1);
}

// A backlog age (average age of open petitions): each listed record's value is its age in days
// on the as-of day, so the values add up to the figure's numerator (the total age); before, the
// list showed the day numbers the series sums (about 19,400 a record), which added up to nothing
// an administrator could check.
TEST_F(Fixture, BacklogAgeDrillDownListsEachRecordsAge) {
  Submit(Petition("P1", "complaint", "SGDDT.TTRA", "2023-03-08"));
  Submit(Petition("P2", "feedback", "SGDDT.TTRA", "2023-04-02"));
  const nlohmann::json april = {{"kind", "month"}, {"year", 2023}, {"month", 4}};  // as of 20/4 (the clock)
  auto figure = Indicator("SGDDT.TTRA", april, "petition.backlog_age_days");
  ASSERT_EQ(figure["denominator"], 2) << figure.dump();
  EXPECT_DOUBLE_EQ(figure["numerator"].get<double>(), 43 + 18) << figure.dump();  // 8/3 → 20/4, 2/4 → 20/4
  auto ex = Explain("SGDDT.TTRA", "petition.backlog_age_days", april);
  std::map<std::string, double> age;
  for (const auto& r : ex["numerator_records"]) age[r["key"]["id"].get<std::string>()] = r["value"].get<double>();
  EXPECT_EQ(age, (std::map<std::string, double>{{"P1", 43}, {"P2", 18}})) << ex.dump();
  EXPECT_TRUE(ex.contains("note_age"));
}

}  // namespace
}  // namespace danvan::indtest
