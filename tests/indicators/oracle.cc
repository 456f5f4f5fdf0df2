#include "oracle.h"


#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>

#include "calendar/ontime.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan::indtest {
namespace {

constexpr int64_t kHour = 3600LL * 1000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kVnOffset = 7 * kHour;

int64_t AtLocal(int64_t day, int hh, int mm) { return day * kDay + hh * kHour + mm * 60000LL - kVnOffset; }

std::string Ymd(int64_t day) {
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  char buf[16];
  snprintf(buf, sizeof buf, "%04d%02u%02u", y, m, d);
  return buf;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  int64_t Int(int64_t a, int64_t b) { return std::uniform_int_distribution<int64_t>(a, b)(g_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(g_) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[static_cast<size_t>(Int(0, static_cast<int64_t>(v.size()) - 1))]; }
  // A working-hours instant in [from, to).
  int64_t Instant(int64_t from, int64_t to) {
    int64_t t = from + Int(0, std::max<int64_t>(0, to - from - 1));
    return AtLocal(LocalDay(t), static_cast<int>(Int(8, 16)), static_cast<int>(Int(0, 59)));
  }

 private:
  std::mt19937_64 g_;
};

nlohmann::json Envelope(const std::string& kind, const std::string& source, const std::string& id,
                        const std::string& unit, int version, int64_t at, nlohmann::json data) {
  return {{"kind", kind}, {"source", source}, {"id", id}, {"unit", unit}, {"version", version},
          {"event_time", IsoTime(at)}, {"data", std::move(data)}};
}

void GenDossier(const GenOptions& o, Rng& r, int i, GeneratedStream* out) {
  const std::string id = "HS-" + std::to_string(o.seed) + "-" + std::to_string(i);
  const std::string unit = r.Pick(o.units);
  std::vector<std::string> procs = o.procedures;
  procs.push_back("9.999999");  // not in the catalogue
  const std::string code = r.Pick(procs);
  const bool known = code != "9.999999";
  const int64_t t0 = r.Instant(o.first_ms, o.last_ms);
  std::optional<int64_t> due;
  if (r.Chance(known ? 0.75 : 0.5)) due = AtLocal(LocalDay(t0) + r.Int(2, 20), 17, 0);
  const std::string channel = std::to_string(r.Int(1, 3));
  const bool fee = r.Chance(0.5);
  const int files = static_cast<int>(r.Int(0, 3));
  const bool vneid = r.Chance(0.4);
  const bool e_result = r.Chance(0.6);

  std::vector<std::pair<int, int64_t>> steps;
  int64_t t = t0;
  auto step = [&](int s) {
    t += r.Int(kHour, 4 * kDay);
    steps.push_back({s, t});
  };
  const int64_t scenario = r.Int(0, 99);
  if (scenario < 5) {
    steps.push_back({1, t0});
  } else if (scenario < 10) {
    steps.push_back({1, t0});
    step(3);
  } else {
    steps.push_back({2, t0});
    step(4);
    if (scenario < 60) {
      for (int64_t k = r.Int(0, 1); k > 0; --k) {
        step(5);
        step(4);
      }
      if (r.Chance(0.2)) {
        step(6);
        step(4);
      }
      step(9);
      if (r.Chance(0.7)) step(10);
    } else if (scenario < 80) {
      if (r.Chance(0.5)) step(5);
    } else if (scenario < 90) {
      step(r.Chance(0.5) ? 7 : 8);
    } else {
      step(5);
      step(4);
      step(5);
      step(4);
      step(9);
    }
  }
  while (!steps.empty() && steps.back().second >= o.now_ms) steps.pop_back();
  if (steps.empty()) steps.push_back({2, t0});

  // A later version may name another unit (transferred); the last version's unit is current.
  const size_t move_at = r.Chance(o.move_share) ? static_cast<size_t>(r.Int(1, 4)) : SIZE_MAX;
  const std::string moved_to = r.Pick(o.units);
  std::string unit_now = unit;
  std::optional<int64_t> end;
  for (size_t k = 0; k < steps.size(); ++k) {
    const auto [s, at] = steps[k];
    if (k >= move_at) unit_now = moved_to;
    if (!end && (s == 3 || s == 7 || s == 8 || s == 9 || s == 10)) end = at;
    nlohmann::json supplements = nlohmann::json::array();
    for (size_t j = 0; j <= k; ++j) {
      if (steps[j].first != 5) continue;
      std::string back;
      if (j + 1 <= k) back = PortalTime(steps[j + 1].second);
      supplements.push_back({{"NgayBoSung", PortalTime(steps[j].second)},
                             {"NgayYeuCauBoSung", PortalTime(steps[j].second)},
                             {"NgayTiepNhanBoSung", back},
                             {"NgayHenTraTruoc", ""},
                             {"NgayHenTraMoi", ""},
                             {"NoiDungBoSung", "Bổ sung bản sao giấy khai sinh"}});
    }
    nlohmann::json tl = nlohmann::json::array();
    for (int f = 0; f < files; ++f)
      tl.push_back({{"TepDinhKemId", id + "-" + std::to_string(f)},
                    {"TenTepDinhKem", "to-khai-" + std::to_string(f) + ".pdf"},
                    {"IsDeleted", "0"},
                    {"DuocSoHoa", (k >= 1 && (f + i) % 2 == 0) ? "1" : "0"},
                    {"DuocTaiSuDung", (f + i) % 3 == 0 ? "1" : "0"},
                    {"DuocLayTuKhoDMQG", "0"}});
    nlohmann::json data = {
        {"MaHoSo", id},
        {"MaTTHC", code},
        {"TenTTHC", "Thủ tục hành chính lĩnh vực giáo dục"},
        {"KenhThucHien", channel},
        {"ChuHoSo", "Nguyễn Văn An"},
        {"SoDienThoai", "0912345678"},
        {"NgayTiepNhan", PortalTime(t0)},
        {"NgayHenTra", due ? PortalTime(*due) : ""},
        {"TrangThaiHoSo", std::to_string(s)},
        {"NgayKetThucXuLy", end ? PortalTime(*end) : ""},
        {"DanhSachHoSoBoSung", supplements},
        {"TaiLieuNop", tl},
        {"DanhSachLePhi", nlohmann::json::array({{{"TenPhiLePhi", "Lệ phí"}, {"Gia", fee ? "50000" : "0"}}})},
        {"DuocThanhToanTrucTuyen", fee && channel == "2" && k >= 1 ? "1" : "0"},
        {"TaiKhoanDuocXacThucVoiVNeID", vneid ? "1" : "0"},
        {"DaDongBoCongQuocGia", (k + i) % 2 == 1 ? "1" : "0"},
    };
    if (s == 9 || s == 10)
      data["DanhSachGiayToKetQua"] = nlohmann::json::array(
          {{{"TenGiayTo", "Bản sao văn bằng"}, {"GiayToId", id + "-KQ"},
            {"DuongDanTepTinKetQua", e_result ? "https://dvc.haiphong.gov.vn/kq/" + id + ".pdf" : ""}}});
    out->events.push_back(Envelope("dossier", "motcua-hp", id, unit_now, static_cast<int>(k + 1), at, data));
    if (r.Chance(o.progress_share)) {
      out->events.push_back(Envelope("dossier", "motcua-hp", id, unit_now, static_cast<int>(k + 1), at,
                                     {{"MaHoSo", id},
                                      {"TrangThai", std::to_string(s)},
                                      {"ThoiDiemXuLy", PortalTime(at)},
                                      {"NguoiXuLy", "Trần Thị Bình"},
                                      {"PhongBanXuLy", "Bộ phận một cửa"}}));
    }
  }
  ModelRecord m{"dossier", id, unit_now};
  const int first = steps.front().first;
  const int last = steps.back().first;
  m.dossier_counted = !(first == 1 && (last == 1 || last == 3));
  m.start_day = LocalDay(t0);
  out->records.push_back(m);
}

void GenPetition(const GenOptions& o, Rng& r, int i, GeneratedStream* out) {
  static const std::vector<std::string> kKinds = {"complaint", "denunciation", "petition", "feedback",
                                                  "feedback_regulation"};
  const std::string id = "DT-" + std::to_string(o.seed) + "-" + std::to_string(i);
  const std::string unit = r.Pick(o.units);
  std::string kind = r.Pick(kKinds);
  const int64_t t0 = r.Instant(o.first_ms, o.last_ms);
  nlohmann::json data = {{"petition_kind", kind},
                         {"title", "Phản ánh về việc thu các khoản ngoài quy định"},
                         {"content", "Đề nghị nhà trường công khai các khoản thu đầu năm học."},
                         {"received_at", IsoDate(t0)},
                         {"channel", r.Chance(0.5) ? "portal" : "direct"},
                         {"status", "received"}};
  if (kind == "complaint") data["round"] = r.Int(1, 2);
  if (r.Chance(0.1)) data["complex"] = true;
  if (r.Chance(0.1)) data["reraised_of"] = "DT-2022-000001";
  std::vector<std::pair<int64_t, nlohmann::json>> versions = {{t0, data}};
  int64_t t = t0 + r.Int(1, 10) * kDay;
  data["status"] = "accepted";
  data["accepted_at"] = IsoDate(t);
  if (r.Chance(0.15)) {  // reclassified on acceptance
    data["petition_kind"] = kind = r.Pick(kKinds);
    if (kind == "complaint") data["round"] = 1;
    else data.erase("round");
  }
  versions.push_back({t, data});
  if (r.Chance(0.85)) {
    t += r.Int(1, 20) * kDay;
    data["status"] = "in_progress";
    versions.push_back({t, data});
    if (r.Chance(0.8)) {
      t += r.Int(1, 60) * kDay;
      if (r.Chance(0.8)) {
        data["status"] = "resolved";
        data["resolved_at"] = IsoDate(t);
        if (r.Chance(0.5)) data["satisfaction"] = r.Chance(0.3) ? "dissatisfied" : "satisfied";
      } else {
        data["status"] = "rejected";
        data["decision_at"] = IsoDate(t);
        data["decision_no"] = "123/QĐ-SGDĐT";
      }
      versions.push_back({t, data});
    }
  }
  const size_t move_at = r.Chance(o.move_share) ? static_cast<size_t>(r.Int(1, 3)) : SIZE_MAX;
  const std::string moved_to = r.Pick(o.units);
  std::string unit_now = unit;
  for (size_t k = 0; k < versions.size(); ++k) {
    if (versions[k].first >= o.now_ms) break;
    if (k >= move_at) unit_now = moved_to;
    kind = versions[k].second["petition_kind"];
    out->events.push_back(Envelope("petition", "pakn-dvcqg", id, unit_now, static_cast<int>(k + 1),
                                   versions[k].first, versions[k].second));
  }
  ModelRecord m{"petition", id, unit_now};
  m.start_day = LocalDay(t0);
  m.petition_kind = kind;
  out->records.push_back(m);
}

void GenReception(const GenOptions& o, Rng& r, int i, GeneratedStream* out) {
  const std::string id = "TCD-" + std::to_string(o.seed) + "-" + std::to_string(i);
  const std::string unit = r.Pick(o.units);
  const int64_t t0 = r.Instant(o.first_ms, o.last_ms);
  static const std::vector<std::string> kRoles = {"head", "deputy", "staff"};
  static const std::vector<std::string> kSessions = {"periodic", "adhoc", "regular"};
  nlohmann::json data = {{"date", IsoDate(t0)},
                         {"receiver_role", r.Pick(kRoles)},
                         {"receiver_name", "Nguyễn Văn Hùng"},
                         {"session_type", r.Pick(kSessions)},
                         {"people_count", r.Int(0, 12)},
                         {"group", r.Chance(0.2)},
                         {"content", "Tiếp công dân định kỳ"}};
  out->events.push_back(Envelope("reception", "tcd-sgddt", id, unit, 1, t0, data));
  if (r.Chance(0.5) && t0 + kDay < o.now_ms) {
    data["people_count"] = r.Int(0, 30);
    if (r.Chance(0.3)) data["receiver_role"] = r.Pick(kRoles);
    if (r.Chance(0.3)) data["date"] = IsoDate(t0 - r.Int(0, 40) * kDay);  // date corrected
    out->events.push_back(Envelope("reception", "tcd-sgddt", id, unit, 2, t0 + kDay, data));
  }
  out->records.push_back({"reception", id, unit});
}

void GenDvk(const GenOptions& o, Rng& r, int i, GeneratedStream* out) {
  static const std::vector<std::string> kFields = {"economy", "culture_society", "defence_security",
                                                   "political_system"};
  const std::string id = "DVK-" + std::to_string(o.seed) + "-" + std::to_string(i);
  const std::string unit = r.Pick(o.units);
  const int64_t t0 = r.Instant(o.first_ms, o.last_ms);
  nlohmann::json data = {{"name", "Mô hình \"Trường học thân thiện\""},
                         {"model_type", r.Chance(0.7) ? "model" : "exemplar"},
                         {"field", r.Pick(kFields)},
                         {"registered_at", IsoDate(t0)},
                         {"year", 2023}};
  auto ev = [&](int64_t at) {
    nlohmann::json e = Envelope("dvk_model", "thidua-sgddt", id, unit, 0, at, data);
    e.erase("version");
    e["updated_at"] = IsoTime(at);
    return e;
  };
  out->events.push_back(ev(t0));
  int64_t t1 = t0 + r.Int(10, 120) * kDay;
  if (r.Chance(0.6) && t1 < o.now_ms) {
    data["recognition_level"] = r.Chance(0.5) ? "department" : "city";
    data["recognised_at"] = IsoDate(t1);
    if (r.Chance(0.2)) data["field"] = r.Pick(kFields);
    out->events.push_back(ev(t1));
  }
  out->records.push_back({"dvk_model", id, unit});
}

void GenPlanTask(const GenOptions& o, Rng& r, int i, GeneratedStream* out) {
  const std::string id = "KH-" + std::to_string(o.seed) + "-" + std::to_string(i);
  const std::string lead = r.Pick(o.units);
  const int64_t t0 = r.Instant(o.first_ms, o.last_ms);
  const int64_t due = t0 + r.Int(20, 150) * kDay;
  nlohmann::json data = {{"plan_id", "KH-DV-2023"},
                         {"task_no", i + 1},
                         {"title", "Triển khai quy chế dân chủ ở cơ sở"},
                         {"lead_unit", lead},
                         {"start", IsoDate(t0)},
                         {"due", IsoDate(due)},
                         {"progress_percent", 0},
                         {"status", "not_started"}};
  std::vector<std::pair<int64_t, nlohmann::json>> versions = {{t0, data}};
  int64_t t = t0 + r.Int(5, 30) * kDay;
  data["status"] = "in_progress";
  data["progress_percent"] = 50;
  versions.push_back({t, data});
  t += r.Int(5, 200) * kDay;
  if (r.Chance(0.1)) {
    data["status"] = "cancelled";
    versions.push_back({t, data});
  } else if (r.Chance(0.7)) {
    data["status"] = "done";
    data["progress_percent"] = 100;
    data["completed_at"] = IsoDate(t);
    versions.push_back({t, data});
  }
  for (size_t k = 0; k < versions.size(); ++k) {
    if (versions[k].first >= o.now_ms) break;
    out->events.push_back(Envelope("plan_task", "kehoach-sgddt", id, "SGDDT", static_cast<int>(k + 1),
                                   versions[k].first, versions[k].second));
  }
  out->records.push_back({"plan_task", id, "SGDDT"});
}

// Calls fn(row) for each row of `sql` on the store at `db` (SQLite or the PostgreSQL test
// database, danvan::testing::QueryStoreRows), every column as text.
template <typename Fn>
void Each(const std::string& db, const std::string& sql, Fn fn) {
  for (const auto& row : danvan::testing::QueryStoreRows(db, sql)) fn(row);
}

int64_t Int(const std::vector<std::string>& row, size_t col) {
  return row.at(col).empty() ? 0 : std::stoll(row.at(col));
}

std::string Quote(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string InList(const std::vector<std::string>& units) {
  std::string s = "(";
  for (size_t i = 0; i < units.size(); ++i) s += (i ? "," : "") + Quote(units[i]);
  return s + ")";
}

std::string J(const char* field) { return danvan::testing::StoreJsonText("data", field); }

}  // namespace

int64_t VnMs(int y, unsigned m, unsigned d, int hh, int mm) { return AtLocal(DaysFromCivil(y, m, d), hh, mm); }
std::string PortalTime(int64_t ms) { return FormatPortalTime(ms); }
std::string IsoDate(int64_t ms) { return FormatIsoDate(LocalDay(ms)); }
std::string IsoTime(int64_t ms) { return FormatIsoTime(ms); }

std::vector<std::string> ProcedureCodes(const std::string& config_dir) {
  std::ifstream in(config_dir + "/procedures.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<std::string> out;
  for (const auto& p : doc["procedures"]) out.push_back(p["code"]);
  return out;
}

GeneratedStream Generate(const GenOptions& o) {
  Rng r(o.seed);
  GeneratedStream out;
  for (int i = 0; i < o.dossiers; ++i) GenDossier(o, r, i, &out);
  for (int i = 0; i < o.petitions; ++i) GenPetition(o, r, i, &out);
  for (int i = 0; i < o.receptions; ++i) GenReception(o, r, i, &out);
  for (int i = 0; i < o.dvk_models; ++i) GenDvk(o, r, i, &out);
  for (int i = 0; i < o.plan_tasks; ++i) GenPlanTask(o, r, i, &out);
  return out;
}

std::unique_ptr<Oracle> Oracle::Load(const std::string& config_dir, const std::string& schemas_dir) {
  auto o = std::make_unique<Oracle>();
  auto must = [](auto r, const char* what) {
    if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().ToString());
    return r.value();
  };
  o->units_ = must(indicators::UnitTree::LoadFile(config_dir + "/units/haiphong-sgddt.json", schemas_dir), "units");
  o->catalog_ = must(indicators::IndicatorCatalog::LoadFile(config_dir + "/indicators.json", schemas_dir), "catalog");
  auto cal = must(calendar::WorkingCalendar::LoadDirectory(config_dir + "/calendar", schemas_dir), "calendar");
  auto rules = must(calendar::DeadlineRules::Load(config_dir + "/deadlines.json", schemas_dir), "deadlines");
  auto procs = must(calendar::ProcedureCatalogue::Load(config_dir + "/procedures.json", schemas_dir), "procedures");
  o->evaluator_ = std::make_shared<RecordEvaluator>(
      std::make_shared<calendar::OnTimeClassifier>(cal, procs, rules));
  return o;
}

Recomputed Oracle::Recompute(const std::string& db_path, int64_t now_ms) const {
  Recomputed out;
  out.index = std::make_unique<indicators::SeriesIndex>();
  const std::string& db = db_path;
  std::map<int64_t, std::vector<HistoryRow>> history;
  // In insertion order (as the engine reads a record's history).
  Each(db, "SELECT record_pk, order_key, status, at_ms, outcome FROM record_history ORDER BY id",
       [&](const std::vector<std::string>& st) {
    HistoryRow h;
    h.record_pk = Int(st, 0);
    h.order_key = Int(st, 1);
    h.status = st[2];
    h.at_ms = Int(st, 3);
    h.outcome = st[4];
    history[h.record_pk].push_back(std::move(h));
    ++out.history_rows;
  });
  std::vector<indicators::Delta> deltas;
  Each(db,
       "SELECT pk, kind, rid, unit, data, tags, event_time_ms, has_item, synced, contrib FROM records",
       [&](const std::vector<std::string>& st) {
         const int64_t pk = Int(st, 0);
         const std::string kind = st[1], rid = st[2], unit = st[3];
         nlohmann::json data = nlohmann::json::parse(st[4]);
         nlohmann::json tags = nlohmann::json::parse(st[5]);
         const int64_t event_ms = Int(st, 6);
         const bool has_item = Int(st, 7) != 0;
         const bool synced = Int(st, 8) != 0;
         ++out.records;
         std::vector<indicators::Contribution> contribs;
         if (has_item)
           contribs = evaluator_->Evaluate(kind, data, history[pk], tags, event_ms, now_ms, synced).contributions;
         // Compared with the unit made explicit, so that storing it or not is not a difference.
         auto normalise = [&](const nlohmann::json& items) {
           nlohmann::json n = nlohmann::json::array();
           for (const auto& item : items) {
             auto c = indicators::Contribution::FromJson(item);
             if (c.unit.empty()) c.unit = unit;
             n.push_back(c.ToJson());
           }
           return n;
         };
         nlohmann::json arr = nlohmann::json::array();
         for (const auto& c : contribs) arr.push_back(c.ToJson());
         if (normalise(arr) != normalise(nlohmann::json::parse(st[9]))) {
           if (out.mismatch_ids.size() < 10) out.mismatch_ids.push_back(kind + "/" + rid);
           ++out.contrib_mismatches;
         }
         for (const auto& c : contribs) {
           const std::string& u = c.unit.empty() ? unit : c.unit;
           for (const auto& a : units_->Chain(u, c.day)) deltas.push_back({c.series, a, c.day, c.value});
         }
         if (deltas.size() > 200000) {
           out.index->Apply(deltas);
           deltas.clear();
         }
       });
  out.index->Apply(deltas);
  return out;
}

std::vector<indicators::IndicatorValue> Oracle::Compute(const indicators::SeriesIndex& index,
                                                        const std::string& unit,
                                                        const nlohmann::json& period_spec,
                                                        int64_t today_day) const {
  auto p = catalog_->ResolvePeriod(period_spec);
  if (!p.ok()) throw std::runtime_error(p.status().ToString());
  return catalog_->Compute(index, unit, p.value(), today_day);
}

SqlOracle::SqlOracle(const std::string& db_path) : db_(db_path) {}

std::map<std::string, int64_t> SqlOracle::DossiersReceivedByUnit(int64_t from_day, int64_t to_day) {
  std::map<std::string, int64_t> out;
  Each(db_,
       "SELECT unit, count(*) FROM records WHERE kind = 'dossier' AND has_item = 1"
       " AND " + J("TrangThaiHoSo") + " NOT IN ('1', '3')"
       " AND substr(" + J("NgayTiepNhan") + ", 1, 8) BETWEEN '" + Ymd(from_day) + "' AND '" +
           Ymd(to_day) + "' GROUP BY unit",
       [&](const std::vector<std::string>& st) { out[st[0]] = Int(st, 1); });
  return out;
}

std::map<std::string, std::pair<int64_t, int64_t>> SqlOracle::DossiersFinishedByUnit(int64_t from_day,
                                                                                     int64_t to_day) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  Each(db_,
       "SELECT unit, count(*), sum(CASE WHEN " + J("NgayHenTra") + " = ''"
       " OR " + J("NgayKetThucXuLy") + " <= " + J("NgayHenTra") + " THEN 1 ELSE 0 END)"
       " FROM records WHERE kind = 'dossier' AND has_item = 1"
       " AND " + J("TrangThaiHoSo") + " IN ('7', '8', '9', '10')"
       " AND substr(" + J("NgayKetThucXuLy") + ", 1, 8) BETWEEN '" + Ymd(from_day) + "' AND '" +
           Ymd(to_day) + "' GROUP BY unit",
       [&](const std::vector<std::string>& st) { out[st[0]] = {Int(st, 1), Int(st, 2)}; });
  return out;
}

std::map<std::string, int64_t> SqlOracle::PetitionsByKind(const std::vector<std::string>& units,
                                                          int64_t from_day, int64_t to_day) {
  std::map<std::string, int64_t> out;
  Each(db_,
       "SELECT " + J("petition_kind") + ", count(*) FROM records WHERE kind = 'petition'"
       " AND unit IN " + InList(units) + " AND substr(" + J("received_at") + ", 1, 10) BETWEEN '" +
           FormatIsoDate(from_day) + "' AND '" + FormatIsoDate(to_day) + "' GROUP BY 1",
       [&](const std::vector<std::string>& st) { out[st[0]] = Int(st, 1); });
  return out;
}

int64_t SumFor(const std::map<std::string, int64_t>& by_unit, const std::vector<std::string>& units) {
  int64_t n = 0;
  for (const auto& u : units)
    if (auto it = by_unit.find(u); it != by_unit.end()) n += it->second;
  return n;
}

}  // namespace danvan::indtest
