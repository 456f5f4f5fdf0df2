#include "engine/report_ops.h"

#include <algorithm>
#include <filesystem>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "core/bounded_input.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/record_scan.h"
#include "indicators/contributions.h"
#include "reports/report_model.h"
#include "reports/writers.h"
#include "scoring/model.h"
#include "scoring/rubric.h"
#include "scoring/scoring.h"

namespace danvan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Gives the free pages of malloc's heap back to the system (glibc's malloc_trim; a no-op
// elsewhere). Thread-safe; costs a walk of the free lists (milliseconds).
void GiveBackFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// The last millisecond of local day `day` (Vietnam time, UTC+7: domain.md §5).
int64_t DayEndMs(int64_t day) { return (day + 1) * kMsPerDay - 420LL * 60 * 1000 - 1; }

// "Thụ lý khiếu nại lần đầu: hạn 13/4/2023, quá 3 ngày" for each step overdue in `steps`
// (Classification::steps).
std::vector<std::string> OverdueSteps(const json& steps) {
  std::vector<std::string> out;
  if (!steps.is_array()) return out;
  for (const auto& step : steps) {
    if (step.value("state", "") != "overdue") continue;
    std::string due = step.value("due", "");
    std::string line = step.value("description", step.value("step", ""));
    if (due.size() >= 10) {
      auto day = ParseIsoDate(due.substr(0, 10));
      if (day) {
        int y;
        unsigned m, d;
        CivilFromDays(*day, &y, &m, &d);
        line += ": hạn " + std::to_string(d) + "/" + std::to_string(m) + "/" + std::to_string(y);
      }
    }
    line += ", quá " + std::to_string(step.value("overdue_by_days", 0)) + " ngày";
    out.push_back(std::move(line));
  }
  return out;
}

// Petition case flags listed in the report's "protracted and complex cases" table.
constexpr std::pair<const char*, const char*> kCaseFlags[] = {
    {"p.protracted", "protracted"}, {"p.complex", "complex"}, {"p.group", "group"}, {"p.reraised", "reraised"}};

// Rubric files loaded once per file state (path, size, mtime): an edited file is reloaded.
class RubricCache {
 public:
  // live: the configuration in force (config_dir may change with a reload).
  explicit RubricCache(std::function<std::shared_ptr<const EngineConfig>()> live) : live_(std::move(live)) {}

  Result<std::shared_ptr<const scoring::Rubric>> Get(const std::string& name) {
    if (name.empty() || name.size() > 64 ||
        !std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        }) ||
        name.find("..") != std::string::npos)
      return Status::InvalidInput("/rubric: tên bộ tiêu chí không hợp lệ: \"" + name + "\"");
    const auto config = live_();
    const std::string path = config->config_dir + "/rubric/" + name + ".json";
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return Status::NotFound("/rubric: không có bộ tiêu chí \"" + name + "\" (" + path + ")");
    auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    std::lock_guard lock(mu_);
    auto it = cache_.find(name);
    if (it != cache_.end() && it->second.path == path && it->second.size == size && it->second.mtime == mtime)
      return it->second.rubric;
    auto r = scoring::Rubric::FromFile(path, config->schemas_dir + "/rubric.schema.json", config->data_limits);
    if (!r.ok()) return r.status();
    auto shared = std::make_shared<const scoring::Rubric>(std::move(r).value());
    cache_[name] = {path, size, mtime, shared};
    return shared;
  }

 private:
  struct Entry {
    std::string path;
    uintmax_t size = 0;
    int64_t mtime = 0;
    std::shared_ptr<const scoring::Rubric> rubric;
  };
  std::function<std::shared_ptr<const EngineConfig>()> live_;
  std::mutex mu_;
  std::map<std::string, Entry> cache_;
};

std::string Str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

scoring::Period ToScoringPeriod(const indicators::Period& p) {
  return {p.kind, FormatIsoDate(p.from_day), FormatIsoDate(p.to_day), p.label};
}

std::string PeriodKey(const indicators::Period& p) {
  return FormatIsoDate(p.from_day) + ".." + FormatIsoDate(p.to_day);
}

scoring::IndicatorValue ToScoringValue(const indicators::IndicatorValue& v) {
  scoring::IndicatorValue s;
  s.id = v.id;
  s.numerator = v.numerator;
  s.denominator = v.denominator;
  s.ratio = v.ratio;
  s.points = v.points;
  return s;
}

class ReportOps {
 public:
  explicit ReportOps(EngineServices s) : s_(s), rubrics_(s.live_config) {}

  // Each registered closure holds `self`, so the ops live as long as the engine's op table.
  static void Register(const std::shared_ptr<ReportOps>& self, Engine& e) {
    // trim: the op scores every unit and may build a report model (tens of MB at city scale,
    // freed when it returns); the free pages are given back to the system afterwards instead
    // of staying in malloc's heap as the host's resident memory (bench/RESULTS.md, twelfth
    // session).
    auto bind = [self](Result<json> (ReportOps::*fn)(const json&), bool trim = false) {
      return [self, fn, trim](const json& req) -> Result<json> {
        struct Trim {
          bool on;
          ~Trim() {
            if (on) GiveBackFreeMemory();
          }
        } after{trim};
        try {
          return ((*self).*fn)(req);
        } catch (const std::exception& ex) {
          return Status::InvalidInput(std::string("yêu cầu không hợp lệ: ") + ex.what());
        }
      };
    };
    e.RegisterOp("score", bind(&ReportOps::ScoreOp, true));
    e.RegisterTextOp("score", [self](const json& req, AnswerText* out) -> Status {
      Status st;
      try {
        st = self->ScoreText(req, out);
      } catch (const std::exception& ex) {
        out->Clear();
        st = Status::InvalidInput(std::string("yêu cầu không hợp lệ: ") + ex.what());
      }
      GiveBackFreeMemory();
      return st;
    });
    e.RegisterOp("score.reproduce", bind(&ReportOps::ReproduceOp));
    e.RegisterOp("score.manual", bind(&ReportOps::ManualOp));
    e.RegisterOp("score.manual.list", bind(&ReportOps::ManualListOp));
    e.RegisterOp("report", bind(&ReportOps::ReportOp, true));
  }

 private:
  int64_t Today() const { return LocalDay(s_.clock->NowMs()); }

  Result<std::shared_ptr<const scoring::Rubric>> RubricOf(const json& req) {
    std::string name = "default";
    if (req.contains("rubric")) {
      if (!req["rubric"].is_string()) return Status::InvalidInput("/rubric: cần tên bộ tiêu chí (chuỗi)");
      name = req["rubric"].get<std::string>();
    }
    return rubrics_.Get(name);
  }

  Result<std::string> UnitOf(const json& req, bool required) {
    if (!req.contains("unit")) {
      if (required) return Status::InvalidInput("/unit: thiếu mã đơn vị (chuỗi)");
      auto roots = s_.units->Roots();
      if (roots.empty()) return Status::NotFound("/unit: cây đơn vị rỗng");
      return roots.front();
    }
    if (!req["unit"].is_string()) return Status::InvalidInput("/unit: mã đơn vị phải là chuỗi");
    std::string unit = req["unit"];
    if (!s_.units->Find(unit))
      return Status::NotFound("/unit: không có đơn vị \"" + unit + "\" trong cây đơn vị");
    return unit;
  }

  Result<indicators::Period> PeriodOf(const json& req) {
    if (!req.contains("period") || !req["period"].is_object())
      return Status::InvalidInput("/period: thiếu kỳ (đối tượng, ví dụ {\"kind\":\"half_year\",\"year\":2023})");
    return s_.catalog->ResolvePeriod(req["period"]);
  }

  scoring::UnitRef RefOf(const std::string& code) const {
    scoring::UnitRef r;
    r.code = code;
    if (const auto* u = s_.units->Find(code)) {
      r.name = u->name;
      if (!u->spans.empty()) r.parent = u->spans.back().parent;
    }
    return r;
  }

  // Latest-first is decided by ScoreUnit (entered_at); entries are passed in journal order.
  Result<std::map<std::string, std::vector<scoring::ManualEntry>>> ManualEntries(
      const scoring::Rubric& rubric, const indicators::Period& period) {
    auto rows = s_.store->ListJournal("manual_entry", rubric.id() + "|" + PeriodKey(period) + "|");
    if (!rows.ok()) return rows.status();
    std::map<std::string, std::vector<scoring::ManualEntry>> out;
    for (const auto& row : rows.value()) {
      json body = ParseStoredJson(row.body);
      if (!body.is_object() || !body.contains("entry")) continue;
      auto m = scoring::ManualEntryFromJson(body["entry"]);
      if (!m.ok()) continue;
      // A criterion dropped or re-ranged by a newer rubric version no longer applies.
      if (!scoring::ValidateManualEntry(rubric, m.value()).ok()) continue;
      out[Str(body, "unit")].push_back(std::move(m).value());
    }
    return out;
  }

  struct Scored {
    scoring::PackedScores ranked;                 // the compared units, Rank() order
    std::optional<scoring::UnitScore> aggregate;  // the root when it has descendants
    int64_t as_of = 0;
  };

  Result<scoring::UnitScore> ScoreOne(const scoring::Rubric& rubric, const std::string& unit,
                                      const indicators::Period& period,
                                      const std::vector<std::string>& ids,
                                      const std::map<std::string, std::vector<scoring::ManualEntry>>& manual) {
    std::vector<scoring::IndicatorValue> values;
    for (const auto& v : s_.catalog->Compute(*s_.index, unit, period, Today(), ids))
      values.push_back(ToScoringValue(v));
    auto it = manual.find(unit);
    static const std::vector<scoring::ManualEntry> kNone;
    return scoring::ScoreUnit(rubric, RefOf(unit), ToScoringPeriod(period), values,
                              it == manual.end() ? kNone : it->second);
  }

  // Scores the units compared under `root` (its descendants; the unit alone when it has none)
  // and the root as the aggregate.
  // progress (may be null): advanced by one per unit scored, its total raised by the count.
  Result<Scored> ScoreAll(const scoring::Rubric& rubric, const std::string& root,
                          const indicators::Period& period, JobProgress* progress = nullptr,
                          int64_t progress_base = 0) {
    std::vector<std::string> ids;
    for (const auto& id : rubric.IndicatorIds())
      if (s_.catalog->Find(id)) ids.push_back(id);
    auto manual = ManualEntries(rubric, period);
    if (!manual.ok()) return manual.status();
    Scored out;
    out.as_of = std::min(period.to_day, Today());
    std::vector<std::string> units;
    for (const auto& u : s_.units->Descendants(root, period.from_day, period.to_day))
      if (u != root) units.push_back(u);
    if (units.empty()) units.push_back(root);
    if (progress) progress->SetTotal(progress_base + static_cast<int64_t>(units.size()) + 1);
    // Each unit's score packed as soon as it is made (~1 KB instead of ~29 KB at city scale:
    // scoring/packed_scores.h), so the scores of every unit are never held whole.
    for (const auto& u : units) {
      auto sc = ScoreOne(rubric, u, period, ids, manual.value());
      if (!sc.ok()) return sc.status();
      try {
        out.ranked.push_back(sc.value());
      } catch (const json::exception& e) {  // a name or note that is not UTF-8: stored data
        return Status::Internal(std::string("kết quả chấm điểm chứa văn bản không hợp lệ (không phải UTF-8): ") + e.what());
      }
      if (progress) progress->Advance();
    }
    Status ranked = out.ranked.Rank();
    if (!ranked.ok()) return ranked;
    if (units.front() != root) {
      auto agg = ScoreOne(rubric, root, period, ids, manual.value());
      if (!agg.ok()) return agg.status();
      out.aggregate = std::move(agg).value();
    }
    if (progress) progress->Advance();
    return out;
  }

  static json TiesJson(const scoring::PackedScores& ranked) {
    std::map<int, std::vector<std::string>> by_rank;
    for (const auto& s : ranked)
      if (s.rank && s.rank_tied) by_rank[*s.rank].push_back(s.unit.code);
    json ties = json::array();
    for (const auto& [rank, units] : by_rank) {
      std::string text = "Đồng hạng " + std::to_string(rank) + ": ";
      for (size_t i = 0; i < units.size(); ++i) text += (i ? ", " : "") + units[i];
      ties.push_back({{"rank", rank}, {"units", units}, {"note", text}});
    }
    return ties;
  }

  static json RankingJson(const scoring::PackedScores& ranked) {
    json a = json::array();
    for (const auto& s : ranked) {
      json r = {{"unit", s.unit.code}, {"name", s.unit.name}, {"total", s.total},
                {"rating", s.rating}, {"eligible", s.eligible}, {"tied", s.rank_tied}};
      r["rank"] = s.rank ? json(*s.rank) : json(nullptr);
      a.push_back(std::move(r));
    }
    return a;
  }

  // The rubric source, once per (id, version, digest).
  static Status StoreRubricOnce(StoreTransaction& tx, Store& store, const scoring::Rubric& r) {
    const std::string key = r.id() + "|" + r.version() + "|" + r.digest();
    auto rows = store.ListJournal("rubric", key);
    if (!rows.ok()) return rows.status();
    for (const auto& row : rows.value())
      if (row.key == key) return Status::Ok();
    JournalRow row;
    row.kind = "rubric";
    row.key = key;
    row.body = r.source_json().dump();
    row.recorded_ms = 0;
    auto id = tx.AppendJournal(row);
    return id.ok() ? Status::Ok() : id.status();
  }

  // The rubric, unit and period every scoring op names.
  struct ScoringRequest {
    std::shared_ptr<const scoring::Rubric> rubric;
    std::string unit;
    indicators::Period period;
  };
  Result<ScoringRequest> ScoringRequestOf(const json& req, bool unit_required) {
    auto rubric = RubricOf(req);
    if (!rubric.ok()) return rubric.status();
    auto unit = UnitOf(req, unit_required);
    if (!unit.ok()) return unit.status();
    auto period = PeriodOf(req);
    if (!period.ok()) return period.status();
    return ScoringRequest{rubric.value(), unit.value(), period.value()};
  }

  // Appends body to the journal, with the rubric's source stored once, in one transaction;
  // returns the entry (its id and time).
  Result<JournalRow> AppendToJournal(const scoring::Rubric& r, const std::string& kind,
                                     const std::string& key, const json& body) {
    auto tx = s_.store->Begin();
    if (!tx.ok()) return tx.status();
    Status st = StoreRubricOnce(*tx.value(), *s_.store, r);
    if (!st.ok()) return st;
    JournalRow row{0, kind, key, body.dump(), s_.clock->NowMs()};
    auto id = tx.value()->AppendJournal(row);
    if (!id.ok()) return id.status();
    st = tx.value()->Commit();
    if (!st.ok()) return st;
    row.id = id.value();
    return row;
  }

  // The same with the body as text (written once by the caller, moved in); the entry's id.
  Result<int64_t> AppendToJournal(const scoring::Rubric& r, const std::string& kind,
                                  const std::string& key, std::string body) {
    auto tx = s_.store->Begin();
    if (!tx.ok()) return tx.status();
    Status st = StoreRubricOnce(*tx.value(), *s_.store, r);
    if (!st.ok()) return st;
    JournalRow row{0, kind, key, std::move(body), s_.clock->NowMs()};
    auto id = tx.value()->AppendJournal(row);
    if (!id.ok()) return id.status();
    st = tx.value()->Commit();
    if (!st.ok()) return st;
    return id.value();
  }

  static json RubricRef(const scoring::Rubric& r) {
    return {{"id", r.id()}, {"version", r.version()}, {"digest", r.digest()}};
  }

  // {"op":"score", ..., "journal": bool}: journal (default true, an explicit scoring) stores the
  // result with its rubric version for score.reproduce; false computes the same answer and
  // writes nothing (a page that shows the ranking: reading must not write).
  static constexpr const char* kTieRule =
      "Đơn vị bằng điểm (theo độ chính xác của bộ tiêu chí) cùng hạng, hạng kế tiếp bỏ qua "
      "(1, 2, 2, 4); trong nhóm đồng hạng xếp theo mã đơn vị; đơn vị không xếp loại không xếp hạng.";

  // A score op's request checked and its units scored.
  struct ScoreRun {
    ScoringRequest parsed;
    bool journal = true;
    Scored scored;
  };
  Result<ScoreRun> RunScore(const json& req) {
    ScoreRun run;
    if (req.contains("journal")) {
      if (!req["journal"].is_boolean())
        return Status::InvalidInput("/journal: cần true (lưu kết quả chấm điểm vào sổ) hoặc false (chỉ tính, không lưu)");
      run.journal = req["journal"].get<bool>();
    }
    auto parsed = ScoringRequestOf(req, false);
    if (!parsed.ok()) return parsed.status();
    run.parsed = std::move(parsed).value();
    auto scored = ScoreAll(*run.parsed.rubric, run.parsed.unit, run.parsed.period);
    if (!scored.ok()) return scored.status();
    run.scored = std::move(scored).value();
    return run;
  }

  // The score op's answer as text (Engine::Query with text: the ABI), the bytes ScoreOp's
  // document gives through DumpJson(answer, replace), without the document: each unit's text
  // comes from its packed score straight into the answer (reserved at its final size, handed
  // to the host as it is), and the journal's body (the answer's "aggregate", "as_of",
  // "period", "rubric", "scores" and "unit") is written once, before the answer, and released
  // once stored. At a city's 861 units the op holds ~1 MB of packed scores and one 10 MB text
  // at a time, where the document was ~55 MB (bench/RESULTS.md, twelfth session).
  // Strict, as ScoreOp's journal dump: text that is not UTF-8 throws type_error 316.
  Status ScoreText(const json& req, AnswerText* out) {
    auto run = RunScore(req);
    if (!run.ok()) return run.status();
    const scoring::Rubric& r = *run->parsed.rubric;
    const Scored& sc = run->scored;
    const scoring::PackedScores& ranked = sc.ranked;
    std::string aggregate;
    if (sc.aggregate) aggregate = "\"aggregate\":" + DumpJson(scoring::ToJson(*sc.aggregate)) + ",";
    const std::string as_of = "\"as_of\":" + DumpJson(json(FormatIsoDate(sc.as_of)));
    const std::string period = ",\"period\":" + DumpJson(run->parsed.period.ToJson());
    const std::string rubric_scores = ",\"rubric\":" + DumpJson(RubricRef(r)) + ",\"scores\":";
    const std::string unit = ",\"unit\":" + DumpJson(json(run->parsed.unit)) + "}";
    size_t scores_size = ranked.empty() ? 2 : 1 + ranked.size();  // brackets and commas
    for (size_t i = 0; i < ranked.size(); ++i) scores_size += ranked.JsonSize(i);
    // The "scores" array, each unit's text in turn (one unit's text held at a time).
    auto write_scores = [&](auto&& append) {
      std::string unit_text;
      append("[");
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (i) append(",");
        unit_text.clear();
        ranked.AppendJson(i, &unit_text);
        append(unit_text);
      }
      append("]");
    };
    std::optional<int64_t> journal_id;
    if (run->journal) {
      std::string body;
      body.reserve(1 + aggregate.size() + as_of.size() + period.size() + rubric_scores.size() + scores_size + unit.size());
      body += "{" + aggregate + as_of + period + rubric_scores;
      write_scores([&](std::string_view piece) { body += piece; });
      body += unit;
      const std::string key = r.id() + "|" + PeriodKey(run->parsed.period) + "|" + run->parsed.unit;
      auto id = AppendToJournal(r, "score", key, std::move(body));
      if (!id.ok()) return id.status();
      journal_id = id.value();
    }
    std::string head = "{" + aggregate + as_of;
    if (journal_id) {
      head += ",\"journal_id\":";
      AppendJsonInt(*journal_id, &head);
    }
    head += run->journal ? ",\"journaled\":true" : ",\"journaled\":false";
    head += period + ",\"ranking\":" + DumpJson(RankingJson(ranked)) + rubric_scores;
    const std::string tail = ",\"tie_rule\":" + DumpJson(json(kTieRule)) + ",\"ties\":" + DumpJson(TiesJson(ranked)) + unit;
    out->Reserve(head.size() + scores_size + tail.size());
    out->Append(head);
    write_scores([&](std::string_view piece) { out->Append(piece); });
    out->Append(tail);
    return Status::Ok();
  }

  Result<json> ScoreOp(const json& req) {
    auto run = RunScore(req);
    if (!run.ok()) return run.status();
    const bool journal = run->journal;
    const scoring::Rubric& r = *run->parsed.rubric;
    const std::string& unit = run->parsed.unit;
    const indicators::Period& period = run->parsed.period;
    Scored* scored = &run->scored;
    // The document answer (a host without text answers; the ABI asks for ScoreText's).
    json ranking = RankingJson(scored->ranked);
    json ties = TiesJson(scored->ranked);
    json scores = json::array();
    for (size_t i = 0; i < scored->ranked.size(); ++i) {
      std::string text;
      scored->ranked.AppendJson(i, &text);
      scores.push_back(json::parse(text));
    }
    json body = {{"rubric", RubricRef(r)},
                 {"unit", unit},
                 {"period", period.ToJson()},
                 {"as_of", FormatIsoDate(scored->as_of)}};
    // Moved, not copied: the answer is the journalled body and a few more members.
    body["scores"] = std::move(scores);
    if (scored->aggregate) body["aggregate"] = scoring::ToJson(*scored->aggregate);
    std::optional<int64_t> journal_id;
    if (journal) {
      auto row = AppendToJournal(r, "score", r.id() + "|" + PeriodKey(period) + "|" + unit, body);
      if (!row.ok()) return row.status();
      journal_id = row->id;
    }
    json out = std::move(body);
    if (journal_id) out["journal_id"] = *journal_id;
    out["journaled"] = journal;
    out["ranking"] = std::move(ranking);
    out["ties"] = std::move(ties);
    out["tie_rule"] = kTieRule;
    return out;
  }

  Result<json> ReproduceOp(const json& req) {
    const char* key = req.contains("journal_id") ? "journal_id" : "id";
    if (!req.contains(key) || !req[key].is_number_integer())
      return Status::InvalidInput("/journal_id: thiếu mã bản ghi kết quả chấm điểm (số nguyên)");
    const int64_t jid = req[key].get<int64_t>();
    auto rows = s_.store->ListJournal("score", "");
    if (!rows.ok()) return rows.status();
    const JournalRow* found = nullptr;
    for (const auto& row : rows.value())
      if (row.id == jid) found = &row;
    if (!found) return Status::NotFound("/journal_id: không có kết quả chấm điểm số " + std::to_string(jid));
    json body = ParseStoredJson(found->body);
    if (!body.is_object()) return Status::Internal("kết quả chấm điểm đã lưu bị hỏng");
    const std::string rid = body["rubric"]["id"], rver = body["rubric"]["version"];
    auto rrows = s_.store->ListJournal("rubric", rid + "|" + rver + "|");
    if (!rrows.ok()) return rrows.status();
    scoring::RubricRegistry registry;
    for (const auto& rr : rrows.value()) {
      json src = ParseStoredJson(rr.body);
      auto rub = scoring::Rubric::FromJson(src, s_.config->schemas_dir + "/rubric.schema.json");
      if (!rub.ok()) return rub.status();
      if (rub->id() != rid || rub->version() != rver) continue;
      if (rub->digest() != body["rubric"].value("digest", "")) continue;
      Status st = registry.Add(std::move(rub).value());
      if (!st.ok()) return st;
    }
    auto redo = [&](const json& stored_json, json* diff) -> Result<json> {
      auto stored = scoring::UnitScoreFromJson(stored_json);
      if (!stored.ok()) return stored.status();
      auto again = scoring::Rescore(registry, stored.value());
      if (!again.ok()) return again.status();
      // Rescore does not rank: carry the stored rank over for the comparison.
      again->rank = stored->rank;
      again->rank_tied = stored->rank_tied;
      json j = scoring::ToJson(again.value());
      if (j != stored_json) diff->push_back(stored->unit.code);
      return j;
    };
    json diff = json::array(), scores = json::array();
    for (const auto& s : body["scores"]) {
      auto j = redo(s, &diff);
      if (!j.ok()) return j.status();
      scores.push_back(std::move(j).value());
    }
    json out = {{"journal_id", jid}, {"rubric", body["rubric"]}, {"unit", body["unit"]},
                {"period", body["period"]}, {"as_of", body["as_of"]}, {"scores", scores},
                {"identical", diff.empty()}, {"differing_units", diff}};
    if (body.contains("aggregate")) {
      auto j = redo(body["aggregate"], &diff);
      if (!j.ok()) return j.status();
      out["aggregate"] = j.value();
      out["identical"] = diff.empty();
      out["differing_units"] = diff;
    }
    return out;
  }

  Result<json> ManualOp(const json& req) {
    auto parsed = ScoringRequestOf(req, true);
    if (!parsed.ok()) return parsed.status();
    const scoring::Rubric& r = *parsed->rubric;
    const std::string& unit = parsed->unit;
    const indicators::Period& period = parsed->period;
    scoring::ManualEntry m;
    m.criterion_id = Str(req, "criterion");
    if (m.criterion_id.empty()) return Status::InvalidInput("/criterion: thiếu mã tiêu chí");
    const std::string assessor = Str(req, "assessor");
    if (assessor == "self") m.assessor = scoring::Assessor::kSelf;
    else if (assessor == "superior") m.assessor = scoring::Assessor::kSuperior;
    else return Status::InvalidInput("/assessor: cần \"self\" (tự chấm) hoặc \"superior\" (cấp trên chấm)");
    if (!req.contains("score") || !req["score"].is_number())
      return Status::InvalidInput("/score: thiếu điểm (số)");
    m.score = req["score"].get<double>();
    m.evidence_note = Str(req, "evidence_note");
    m.document_ref = Str(req, "document_ref");
    if (m.evidence_note.empty() && m.document_ref.empty())
      return Status::InvalidInput("/evidence_note: cần ghi chú minh chứng hoặc số/đường dẫn văn bản (document_ref)");
    m.entered_by = Str(req, "entered_by");
    if (m.entered_by.empty()) return Status::InvalidInput("/entered_by: thiếu người nhập");
    m.entered_at = Str(req, "entered_at");
    if (m.entered_at.empty()) m.entered_at = FormatIsoTime(s_.clock->NowMs());
    Status valid = scoring::ValidateManualEntry(r, m);
    if (!valid.ok()) return valid;
    json body = {{"rubric", RubricRef(r)},
                 {"unit", unit},
                 {"period", period.ToJson()},
                 {"entry", scoring::ToJson(m)}};
    auto row = AppendToJournal(r, "manual_entry",
                               r.id() + "|" + PeriodKey(period) + "|" + unit + "|" + m.criterion_id, body);
    if (!row.ok()) return row.status();
    body["journal_id"] = row->id;
    body["recorded_at"] = FormatIsoTime(row->recorded_ms);
    return body;
  }

  Result<json> ManualListOp(const json& req) {
    auto rubric = RubricOf(req);
    if (!rubric.ok()) return rubric.status();
    auto period = PeriodOf(req);
    if (!period.ok()) return period.status();
    std::string prefix = rubric.value()->id() + "|" + PeriodKey(period.value()) + "|";
    if (req.contains("unit")) {
      auto unit = UnitOf(req, true);
      if (!unit.ok()) return unit.status();
      prefix += unit.value() + "|";
      if (req.contains("criterion") && req["criterion"].is_string())
        prefix += req["criterion"].get<std::string>();
    }
    auto rows = s_.store->ListJournal("manual_entry", prefix);
    if (!rows.ok()) return rows.status();
    json list = json::array();
    for (const auto& row : rows.value()) {
      json b = ParseStoredJson(row.body);
      if (!b.is_object()) continue;
      b["journal_id"] = row.id;
      b["recorded_at"] = FormatIsoTime(row.recorded_ms);
      list.push_back(std::move(b));
    }
    return json{{"rubric", rubric.value()->id()}, {"period", period->ToJson()}, {"entries", list}};
  }

  // ---- report ----

  // Fetches the records named by `pks` (sorted, unique) and calls fn for those of `kind`.
  Status ForEachCandidate(const std::set<int64_t>& pks, const std::string& kind,
                          const std::function<void(const RecordRow&)>& fn) {
    return s_.store->ForEachRecordByPk(std::vector<int64_t>(pks.begin(), pks.end()),
                                       [&](const RecordRow& row) {
                                         if (row.key.kind == kind) fn(row);
                                       });
  }

  // The lists leaders act on. Candidates come from the per-record index of the action-list
  // series (no scan of a kind's records); each fetched record is then checked against its own
  // stored contributions, so the index only has to be a superset.
  Result<reports::ReportActions> Actions(const std::string& root, const std::vector<std::string>& subtree,
                                         const indicators::Period& period, int64_t as_of) {
    reports::ReportActions a;
    const indicators::RecordSeriesIndex& index = *s_.record_index;
    std::set<std::string> in_scope(subtree.begin(), subtree.end());
    std::set<int64_t> petitions;
    for (const auto& [pk, unit] : index.PositiveLevel("p.open_overdue", as_of))
      if (in_scope.count(unit)) petitions.insert(pk);
    for (const auto& [series, flag] : kCaseFlags)
      for (const auto& e : index.Between(series, INT64_MIN, as_of))
        if (in_scope.count(e.unit)) petitions.insert(e.record_pk);
    // Each record's contributions and data fields are read without a document, into buffers
    // reused from record to record (engine/record_scan.h).
    ContributionReader contrib;
    enum { kKind, kTitle, kReceivedAt, kDueAt, kAssignee, kStatus };
    TopLevelStrings d({"petition_kind", "title", "received_at", "due_at", "assignee", "status"});
    Status st = ForEachCandidate(petitions, "petition", [&](const RecordRow& row) {
      if (!in_scope.count(row.unit)) return;
      const bool contrib_ok = contrib.Read(row.contrib_json);
      if (!d.Read(row.data_json) || !contrib_ok) return;
      int64_t overdue_from = 0;
      const std::string& kind = d.Get(kKind);
      if (contrib.LevelAt("p.open_overdue", as_of, &overdue_from) > 0) {
        reports::OverduePetition p;
        p.id = row.key.id;
        p.title = d.Get(kTitle);
        p.kind = kind;
        p.unit = row.unit;
        p.received_at = d.Get(kReceivedAt);
        p.due_at = d.Get(kDueAt);
        p.assignee = d.Get(kAssignee);
        p.days_overdue = static_cast<int>(as_of - overdue_from + 1);
        if (s_.deadline_steps_at)
          p.overdue_steps = OverdueSteps(s_.deadline_steps_at(row, DayEndMs(as_of)));
        a.overdue_petitions.push_back(std::move(p));
      }
      std::vector<std::string> flags;
      const bool open = contrib.LevelAt("p.open", as_of, nullptr) > 0;
      for (const auto& [series, flag] : kCaseFlags)
        if (contrib.FlowIn(series, period.from_day, as_of) || (open && contrib.FlowIn(series, INT64_MIN, as_of)))
          flags.push_back(flag);
      if (!flags.empty()) {
        reports::CaseItem c;
        c.id = row.key.id;
        c.title = d.Get(kTitle);
        c.kind = kind;
        c.unit = row.unit;
        c.received_at = d.Get(kReceivedAt);
        c.status = d.Get(kStatus);
        c.flags = std::move(flags);
        c.note = open ? "Chưa giải quyết xong tại ngày " + FormatIsoDate(as_of) : "Đã giải quyết";
        a.cases.push_back(std::move(c));
      }
    });
    if (!st.ok()) return st;
    // Sorted by keys made once per item (the items are packed: reports/packed_list.h).
    a.overdue_petitions.SortBy(
        [](const reports::OverduePetition& p) { return std::make_pair(p.days_overdue, p.id); },
        [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
    a.cases.SortBy([](const reports::CaseItem& c) { return std::make_pair(c.received_at, c.id); },
                   [](const auto& x, const auto& y) { return x < y; });

    // Months (of the period, up to as_of) without a reception session held by the unit's head.
    auto month_of = [](int64_t day) {
      int y;
      unsigned m, dd;
      CivilFromDays(day, &y, &m, &dd);
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02u", y, m);
      return std::string(buf);
    };
    std::vector<std::string> months;
    int64_t first_month_day = 0;
    for (int64_t day = period.from_day; day <= as_of;) {
      int y;
      unsigned m, dd;
      CivilFromDays(day, &y, &m, &dd);
      if (months.empty()) first_month_day = DaysFromCivil(y, m, 1);
      months.push_back(month_of(day));
      day = m == 12 ? DaysFromCivil(y + 1, 1, 1) : DaysFromCivil(y, m + 1, 1);
    }
    // Sessions held by the unit's head ("r.head" entries) in those months up to the cut-off, as
    // the indicator reception.head_months_held counts them (a session after the cut-off belongs
    // to the next report).
    std::set<std::pair<std::string, std::string>> held;
    for (const auto& e : index.Between("r.head", first_month_day, as_of))
      if (in_scope.count(e.unit)) held.insert({e.unit, month_of(e.day)});
    for (const auto& u : subtree) {
      const indicators::Unit* unit = s_.units->Find(u);
      if (!unit || !s_.catalog->HeadReceptionRequired(unit->type)) continue;
      for (const auto& month : months)
        if (!held.count({u, month})) a.missed_head_reception.push_back({u, RefOf(u).name, month});
    }

    // Plan tasks behind schedule on as_of (they count for their lead unit).
    std::set<int64_t> late_tasks;
    for (const auto& [pk, unit] : index.PositiveLevel("t.late", as_of)) late_tasks.insert(pk);
    st = ForEachCandidate(late_tasks, "plan_task", [&](const RecordRow& row) {
      const bool contrib_ok = contrib.Read(row.contrib_json);
      json d = ParseStoredJson(row.data_json);
      if (!contrib_ok || !d.is_object()) return;
      std::string lead = Str(d, "lead_unit");
      if (lead.empty()) lead = row.unit;
      auto chain = s_.units->Chain(lead, as_of);
      if (std::find(chain.begin(), chain.end(), root) == chain.end()) return;
      if (contrib.LevelAt("t.late", as_of, nullptr) <= 0) return;
      reports::LateTask t;
      t.plan_id = Str(d, "plan_id");
      t.task_no = d.contains("task_no") ? (d["task_no"].is_string() ? d["task_no"].get<std::string>() : d["task_no"].dump()) : "";
      t.title = Str(d, "title");
      t.lead_unit = lead;
      t.due = Str(d, "due");
      t.status = Str(d, "status");
      if (d.contains("progress_percent") && d["progress_percent"].is_number()) t.progress_percent = d["progress_percent"];
      a.late_plan_tasks.push_back(std::move(t));
    });
    if (!st.ok()) return st;
    a.late_plan_tasks.SortBy(
        [](const reports::LateTask& t) { return std::make_tuple(t.due, t.plan_id, t.task_no, t.title); },
        [](const auto& x, const auto& y) { return x < y; });

    // "Dân vận khéo" models registered or recognised in the period.
    std::set<int64_t> models;
    for (const char* series : {"v.registered", "v.recognised"})
      for (const auto& e : index.Between(series, period.from_day, as_of)) models.insert(e.record_pk);
    st = ForEachCandidate(models, "dvk_model", [&](const RecordRow& row) {
      if (!in_scope.count(row.unit)) return;
      const bool contrib_ok = contrib.Read(row.contrib_json);
      json d = ParseStoredJson(row.data_json);
      if (!contrib_ok || !d.is_object()) return;
      if (!contrib.FlowIn("v.registered", period.from_day, as_of) &&
          !contrib.FlowIn("v.recognised", period.from_day, as_of))
        return;
      reports::DvkModel m;
      m.name = Str(d, "name");
      m.model_type = Str(d, "model_type");
      m.field = Str(d, "field");
      m.registering_unit = Str(d, "registering_unit");
      if (m.registering_unit.empty()) m.registering_unit = row.unit;
      m.registered_at = Str(d, "registered_at");
      m.recognition_level = Str(d, "recognition_level");
      m.recognition_decision = Str(d, "recognition_decision");
      m.recognised_at = Str(d, "recognised_at");
      a.dvk_models.push_back(std::move(m));
    });
    if (!st.ok()) return st;
    a.dvk_models.SortBy(
        [](const reports::DvkModel& d) { return std::make_tuple(d.registered_at, d.registering_unit, d.name); },
        [](const auto& x, const auto& y) { return x < y; });
    return a;
  }

  std::vector<reports::IndicatorTable> Tables(const std::string& unit, const indicators::Period& cur,
                                              const indicators::Period& prev) {
    const int64_t today = Today();
    auto now = s_.catalog->Compute(*s_.index, unit, cur, today);
    auto before = s_.catalog->Compute(*s_.index, unit, prev, today);
    std::map<std::string, indicators::IndicatorValue> prev_by_id;
    for (const auto& v : before) prev_by_id[v.id] = v;
    struct Section {
      const char* id;
      const char* title;
      std::vector<const char*> prefixes;
    };
    static const Section kSections[] = {
        {"idx766", "Chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)", {"idx766."}},
        {"ho-so", "Tiếp nhận và giải quyết hồ sơ thủ tục hành chính", {"dossier."}},
        {"don-thu", "Tiếp nhận, xử lý đơn thư khiếu nại, tố cáo, kiến nghị, phản ánh", {"petition."}},
        {"tiep-dan", "Tiếp công dân", {"reception."}},
        {"dvk-ke-hoach", "Phong trào \"Dân vận khéo\", kế hoạch và chế độ báo cáo", {"dvk.", "plan.", "report."}},
    };
    std::vector<reports::IndicatorTable> tables;
    for (const auto& sec : kSections) {
      reports::IndicatorTable t;
      t.id = sec.id;
      t.title = sec.title;
      t.unit_code = unit;
      for (const auto& v : now) {
        bool match = false;
        for (const char* p : sec.prefixes) match = match || v.id.rfind(p, 0) == 0;
        if (!match) continue;
        reports::IndicatorRow row;
        row.indicator_id = v.id;
        row.current = ToScoringValue(v);
        if (auto it = prev_by_id.find(v.id); it != prev_by_id.end()) row.previous = ToScoringValue(it->second);
        t.rows.push_back(std::move(row));
      }
      if (!t.rows.empty()) tables.push_back(std::move(t));
    }
    return tables;
  }

  Result<json> ReportOp(const json& req) {
    const std::string kind = Str(req, "kind");
    if (kind != "six_month" && kind != "annual")
      return Status::InvalidInput("/kind: cần \"six_month\" (báo cáo 6 tháng) hoặc \"annual\" (báo cáo năm)");
    if (!req.contains("year") || !req["year"].is_number_integer())
      return Status::InvalidInput("/year: thiếu năm báo cáo (số nguyên)");
    const int year = req["year"].get<int>();
    auto rubric = RubricOf(req);
    if (!rubric.ok()) return rubric.status();
    auto unit = UnitOf(req, false);
    if (!unit.ok()) return unit.status();
    const std::string format = req.contains("format") ? Str(req, "format") : "json";
    if (format != "json" && format != "all")
      return Status::InvalidInput("/format: cần \"json\" (trong bộ nhớ) hoặc \"all\" (ghi JSON, HTML, XLSX, CSV vào path)");
    if (format == "all" && Str(req, "path").empty())
      return Status::InvalidInput("/path: cần thư mục để ghi báo cáo khi format là \"all\"");
    // Checked before any work: the path must stay inside reports.dir (issue 10, path traversal).
    std::string out_dir;
    if (format == "all") {
      auto confined = reports::ConfineReportPath(s_.live_config()->reports_dir, Str(req, "path"));
      if (!confined.ok()) return confined.status();
      out_dir = std::move(confined).value();
    }
    auto period = s_.catalog->ResolvePeriod({{"kind", kind == "six_month" ? "half_year" : "year"}, {"year", year}});
    if (!period.ok()) return period.status();
    const indicators::Period prev = s_.catalog->Previous(period.value());
    const scoring::Rubric& r = *rubric.value();
    const std::string root = unit.value();

    // Progress (the `progress` op, job "report"): one step per unit scored and the aggregate,
    // then the indicator tables, the action lists and, for "all", the files. Every return
    // below ends the run (failed unless marked done).
    std::shared_ptr<JobProgress> progress;
    if (s_.report_progress)
      progress = s_.report_progress->Start(
          std::string(kind == "six_month" ? "báo cáo 6 tháng " : "báo cáo năm ") + std::to_string(year) + " — " + root,
          s_.clock->NowMs());
    // The steps after scoring: tables, actions (and writing the files).
    const int64_t tail_steps = format == "all" ? 3 : 2;
    struct RunEnd {
      JobProgress* p;
      const Clock* clock;
      bool ok = false;
      ~RunEnd() {
        if (p && !ok) p->Finish(JobProgress::State::kFailed, "báo cáo không lập được (xem câu trả lời của thao tác)", clock->NowMs());
      }
    } run_end{progress.get(), s_.clock};

    auto scored = ScoreAll(r, root, period.value(), progress.get(), tail_steps);
    if (!scored.ok()) return scored.status();
    reports::ReportModel m;
    m.meta.kind = kind;
    m.meta.period = ToScoringPeriod(period.value());
    m.meta.previous_period = ToScoringPeriod(prev);
    m.meta.cut_off = FormatIsoDate(period->to_day);
    m.meta.unit = RefOf(root);
    m.meta.scope = s_.units->Descendants(root, period->from_day, period->to_day).size() > 1 ? "department" : "unit";
    m.meta.rubric_id = r.id();
    m.meta.rubric_version = r.version();
    m.indicator_tables = Tables(root, period.value(), prev);
    if (progress) progress->Advance();
    m.scores = std::move(scored->ranked);
    if (m.meta.scope == "unit") {
      // A single unit's report: its rank among the units of its parent.
      const std::string parent = m.meta.unit.parent;
      if (!parent.empty()) {
        auto siblings = ScoreAll(r, parent, period.value());
        if (!siblings.ok()) return siblings.status();
        siblings->ranked.KeepIf([&](const scoring::ScoreSummary& s) { return s.unit.code == root; });
        m.scores = std::move(siblings->ranked);
      }
    }
    auto subtree = s_.units->Descendants(root, period->from_day, period->to_day);
    if (subtree.empty()) subtree.push_back(root);
    auto actions = Actions(root, subtree, period.value(), scored->as_of);
    if (!actions.ok()) return actions.status();
    m.actions = std::move(actions).value();
    reports::FillSummary(&m);
    if (progress) progress->Advance();

    json out = {{"kind", kind}, {"year", year}, {"unit", root},
                {"as_of", FormatIsoDate(scored->as_of)},
                {"rubric", RubricRef(r)}};
    if (format == "json") {
      out["report"] = reports::ToJson(m);
      if (progress) progress->Finish(JobProgress::State::kDone, "", s_.clock->NowMs());
      run_end.ok = true;
      return out;
    }
    const std::string& path = out_dir;
    Status st = reports::WriteAll(m, path);
    if (!st.ok()) return st;
    if (progress) {
      progress->Advance();
      progress->Finish(JobProgress::State::kDone, "", s_.clock->NowMs());
    }
    run_end.ok = true;
    json files = json::array({"report.json", "report.html", "report.xlsx"});
    for (const auto& name : reports::CsvFileNames(m)) files.push_back("csv/" + name);
    out["path"] = path;
    out["files"] = files;
    out["summary"] = m.summary;
    return out;
  }

  EngineServices s_;
  RubricCache rubrics_;
};

}  // namespace

const std::vector<std::string>& ActionListSeries() {
  static const std::vector<std::string> kSeries = [] {
    std::vector<std::string> v = {"p.open_overdue", "r.head", "t.late", "v.registered", "v.recognised"};
    for (const auto& [series, flag] : kCaseFlags) v.push_back(series);
    return v;
  }();
  return kSeries;
}

void RegisterReportOps(Engine& engine) {
  ReportOps::Register(std::make_shared<ReportOps>(engine.services()), engine);
}

}  // namespace danvan
