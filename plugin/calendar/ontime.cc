#include "calendar/ontime.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

#include "calendar/json_file.h"
#include "core/json_view.h"
#include "core/json_write.h"
#include "core/timeutil.h"

namespace danvan::calendar {
namespace {

// Portal status codes (domain.md §1).
constexpr int kNew = 1, kReceived = 2, kRefused = 3, kProcessing = 4, kSupplement = 5,
              kFinancial = 6, kWithdrawn = 7, kStopped = 8, kFinished = 9, kReturned = 10;

constexpr int64_t kMsPerHour = 3'600'000;

bool IsTerminal(int s) {
  return s == kFinished || s == kReturned || s == kStopped || s == kRefused || s == kWithdrawn;
}

// The readers take nlohmann's documents or arena views (core/json_view.h).
template <typename J>
Status ReadPortalTime(const J& obj, const char* key, const std::string& path,
                      int offset, std::optional<int64_t>* out) {
  const J* it = jview::Find(obj, key);
  if (!it || it->is_null()) return Status::Ok();
  std::string s = it->is_string() ? std::string(jview::Text(*it)) : jview::Dump(*it);
  if (s.empty()) return Status::Ok();
  auto t = ParsePortalTime(s, offset);
  if (!t)
    return Status::InvalidInput("Hồ sơ: trường " + path + "." + key +
                                " không đúng định dạng yyyyMMddHHmmss: '" + s + "'");
  *out = *t;
  return Status::Ok();
}

template <typename J>
Result<int> ReadStatus(const J& obj, const char* key, const std::string& path) {
  const J* it = jview::Find(obj, key);
  if (!it || it->is_null())
    return Status::InvalidInput("Hồ sơ: thiếu " + path + "." + key);
  if (it->is_number_integer()) return static_cast<int>(jview::Int(*it));
  if (it->is_string()) {
    const std::string s(jview::Text(*it));
    if (!s.empty() && s.size() <= 2 && s.find_first_not_of("0123456789") == std::string::npos)
      return std::stoi(s);
  }
  return Status::InvalidInput("Hồ sơ: " + path + "." + key +
                              " không phải mã trạng thái hợp lệ: " + jview::Dump(*it));
}

struct Pause {
  int64_t from, to;
};

std::string Iso(int64_t ms, int offset) { return FormatIsoTime(ms, offset); }

}  // namespace

const char* OnTimeClassName(OnTimeClass c) {
  switch (c) {
    case OnTimeClass::kNotCounted:
      return "not_counted";
    case OnTimeClass::kEarly:
      return "early";
    case OnTimeClass::kOnTime:
      return "on_time";
    case OnTimeClass::kLate:
      return "late";
    case OnTimeClass::kOpenWithinDeadline:
      return "open_within_deadline";
    case OnTimeClass::kDueSoon:
      return "due_soon";
    case OnTimeClass::kOpenOverdue:
      return "open_overdue";
  }
  return "unknown";
}

namespace {

template <typename J>
Result<DossierFacts> DossierFromPortalItem(const J& item, std::vector<StatusStep> history, int offset) {
  if (!item.is_object()) return Status::InvalidInput("Hồ sơ: dữ liệu không phải đối tượng JSON");
  DossierFacts d;
  d.ma_ho_so = jview::ValueString(item, "MaHoSo", "");
  d.ma_tthc = jview::ValueString(item, "MaTTHC", "");
  auto st = ReadStatus(item, "TrangThaiHoSo", "$");
  if (!st.ok()) return st.status();
  d.status = st.value();
  for (auto [key, field] :
       {std::pair{"NgayTiepNhan", &d.received_at}, std::pair{"NgayHenTra", &d.due_at},
        std::pair{"NgayKetThucXuLy", &d.end_at}}) {
    Status s = ReadPortalTime(item, key, "$", offset, field);
    if (!s.ok()) return s;
  }
  if (const J* it = jview::Find(item, "DanhSachHoSoBoSung"); it && it->is_array()) {
    const auto elements = jview::Elements(*it);
    for (size_t i = 0; i < elements.size(); ++i) {
      const J& b = elements[i];
      const std::string path = JsonPathIndex("$.DanhSachHoSoBoSung", i);
      if (!b.is_object())
        return Status::InvalidInput("Hồ sơ: " + path + " không phải đối tượng JSON");
      SupplementRound r;
      for (auto [key, field] : {std::pair{"NgayBoSung", &r.requested_at},
                                std::pair{"NgayTiepNhanBoSung", &r.received_at},
                                std::pair{"NgayHenTraTruoc", &r.previous_due},
                                std::pair{"NgayHenTraMoi", &r.new_due}}) {
        Status s = ReadPortalTime(b, key, path, offset, field);
        if (!s.ok()) return s;
      }
      // Systems name the request date NgayBoSung or NgayYeuCauBoSung [unconfirmed which one
      // the portal documents]: accept either.
      if (!r.requested_at) {
        Status s = ReadPortalTime(b, "NgayYeuCauBoSung", path, offset, &r.requested_at);
        if (!s.ok()) return s;
      }
      d.supplements.push_back(r);
    }
  }
  d.history = std::move(history);
  return d;
}

}  // namespace

Result<DossierFacts> DossierFacts::FromPortalItem(const nlohmann::json& item,
                                                  std::vector<StatusStep> history, int offset) {
  return DossierFromPortalItem(item, std::move(history), offset);
}

Result<DossierFacts> DossierFacts::FromPortalItem(const ArenaJson& item,
                                                  std::vector<StatusStep> history, int offset) {
  return DossierFromPortalItem(item, std::move(history), offset);
}

Result<StatusStep> DossierFacts::StepFromProgressItem(const nlohmann::json& item, int offset) {
  if (!item.is_object()) return Status::InvalidInput("Tiến độ hồ sơ: không phải đối tượng JSON");
  auto st = ReadStatus(item, "TrangThai", "$");
  if (!st.ok()) return st.status();
  std::optional<int64_t> at;
  Status s = ReadPortalTime(item, "ThoiDiemXuLy", "$", offset, &at);
  if (!s.ok()) return s;
  if (!at) return Status::InvalidInput("Tiến độ hồ sơ: thiếu $.ThoiDiemXuLy");
  return StatusStep{st.value(), *at};
}

void Explanation::Start() {
  started_ = true;
  class_ = nullptr;
  has_deadline_ = false;
  deadline_ = nullptr;
  reasons_.clear();
}

void Explanation::Add(std::initializer_list<Member> reason) {
  // nlohmann's objects are std::maps: members in byte order of their keys.
  const Member* sorted[16];
  size_t n = 0;
  for (const Member& m : reason) {
    if (n == std::size(sorted)) break;  // no reason has as many members
    size_t i = n++;
    while (i > 0 && std::strcmp(sorted[i - 1]->key, m.key) > 0) {
      sorted[i] = sorted[i - 1];
      --i;
    }
    sorted[i] = &m;
  }
  if (!reasons_.empty()) reasons_.push_back(',');
  reasons_.push_back('{');
  for (size_t i = 0; i < n; ++i) {
    if (i) reasons_.push_back(',');
    AppendJsonString(sorted[i]->key, &reasons_, nlohmann::json::error_handler_t::replace);
    reasons_.push_back(':');
    const Value& v = sorted[i]->value;
    switch (v.kind) {
      case Value::Kind::kNull: reasons_.append("null"); break;
      case Value::Kind::kString:
        AppendJsonString(v.text, &reasons_, nlohmann::json::error_handler_t::replace);
        break;
      case Value::Kind::kInt: AppendJsonInt(v.integer, &reasons_); break;
      case Value::Kind::kDouble: AppendJsonDouble(v.real, &reasons_); break;
    }
  }
  reasons_.push_back('}');
}

nlohmann::json Explanation::Json() const {
  if (!started_) return nullptr;
  nlohmann::json j = nlohmann::json::object();
  if (class_) j["class"] = class_;
  if (has_deadline_) j["deadline"] = deadline_;
  j["reasons"] = nlohmann::json::parse("[" + reasons_ + "]");
  return j;
}

void Explanation::Write(std::string* out, nlohmann::json::error_handler_t handler) const {
  if (!started_) {
    out->append("null");
    return;
  }
  out->push_back('{');
  if (class_) {
    out->append("\"class\":");
    AppendJsonString(class_, out, handler);
    out->push_back(',');
  }
  if (has_deadline_) {
    out->append("\"deadline\":");
    AppendJson(deadline_, out, handler);
    out->push_back(',');
  }
  out->append("\"reasons\":[");
  out->append(reasons_);
  out->append("]}");
}

nlohmann::json Classification::ToJson(int offset) const {
  nlohmann::json j = {{"class", OnTimeClassName(cls)},
                      {"as_of", Iso(as_of_ms, offset)},
                      {"elapsed_ms", elapsed_ms},
                      {"elapsed_working_ms", elapsed_working_ms},
                      {"paused_ms", paused_ms},
                      {"paused_working_ms", paused_working_ms},
                      {"supplement_requests", supplement_requests},
                      {"clock_paused", clock_paused},
                      {"explanation", explanation.Json()}};
  auto put = [&](const char* k, const std::optional<int64_t>& v) {
    j[k] = v ? nlohmann::json(Iso(*v, offset)) : nlohmann::json(nullptr);
  };
  put("start", start_ms);
  put("due", due_ms);
  put("end", end_ms);
  put("due_soon_from", due_soon_from_ms);
  put("next_change", next_change_ms);
  j["next_class"] =
      next_class ? nlohmann::json(OnTimeClassName(*next_class)) : nlohmann::json(nullptr);
  if (end_status) j["end_status"] = *end_status;
  if (!due_source.empty()) j["due_source"] = due_source;
  if (!rule_id.empty()) j["rule_id"] = rule_id;
  if (!steps.is_null()) j["steps"] = steps;
  return j;
}

void Classification::WriteJson(std::string* out, int offset,
                               nlohmann::json::error_handler_t handler) const {
  // The members in ToJson's (std::map) order.
  auto key = [&](const char* k) {
    out->append(",\"");
    out->append(k);
    out->append("\":");
  };
  auto instant = [&](const char* k, const std::optional<int64_t>& v) {
    key(k);
    if (v) {
      AppendJsonString(Iso(*v, offset), out, handler);
    } else {
      out->append("null");
    }
  };
  auto class_name = [&](OnTimeClass c) {
    out->push_back('"');
    out->append(OnTimeClassName(c));  // ASCII identifiers
    out->push_back('"');
  };
  out->append("{\"as_of\":");
  AppendJsonString(Iso(as_of_ms, offset), out, handler);
  key("class");
  class_name(cls);
  key("clock_paused");
  out->append(clock_paused ? "true" : "false");
  instant("due", due_ms);
  instant("due_soon_from", due_soon_from_ms);
  if (!due_source.empty()) {
    key("due_source");
    AppendJsonString(due_source, out, handler);
  }
  key("elapsed_ms");
  AppendJsonInt(elapsed_ms, out);
  key("elapsed_working_ms");
  AppendJsonInt(elapsed_working_ms, out);
  instant("end", end_ms);
  if (end_status) {
    key("end_status");
    AppendJsonInt(*end_status, out);
  }
  key("explanation");
  explanation.Write(out, handler);
  instant("next_change", next_change_ms);
  key("next_class");
  if (next_class) {
    class_name(*next_class);
  } else {
    out->append("null");
  }
  key("paused_ms");
  AppendJsonInt(paused_ms, out);
  key("paused_working_ms");
  AppendJsonInt(paused_working_ms, out);
  if (!rule_id.empty()) {
    key("rule_id");
    AppendJsonString(rule_id, out, handler);
  }
  instant("start", start_ms);
  if (!steps.is_null()) {
    key("steps");
    AppendJson(steps, out, handler);
  }
  key("supplement_requests");
  AppendJsonInt(supplement_requests, out);
  out->push_back('}');
}

OnTimeClassifier::OnTimeClassifier(std::shared_ptr<const WorkingCalendar> calendar,
                                   std::shared_ptr<const ProcedureCatalogue> procedures,
                                   std::shared_ptr<const DeadlineRules> rules)
    : calendar_(std::move(calendar)), procedures_(std::move(procedures)), rules_(std::move(rules)) {
  if (!procedures_) procedures_ = ProcedureCatalogue::Empty();
}

Status OnTimeClassifier::Decide(Classification* c, const DueSoonHorizon& horizon) const {
  const WorkingCalendar& cal = *calendar_;
  const int off = cal.utc_offset_minutes();
  Explanation& reasons = c->explanation;
  const int64_t due = *c->due_ms;
  if (c->end_ms) {
    if (c->supplement_requests > 1) {
      c->cls = OnTimeClass::kLate;
      reasons.Add(
          {{"code", "multiple_supplement_requests"}, {"count", c->supplement_requests}});
    } else if (*c->end_ms <= due) {
      const bool early = cal.DayOf(*c->end_ms) < cal.DayOf(due);
      c->cls = early ? OnTimeClass::kEarly : OnTimeClass::kOnTime;
      reasons.Add({{"code", early ? "finished_before_due_day" : "finished_on_due_day"},
                         {"end", Iso(*c->end_ms, off)},
                         {"due", Iso(due, off)}});
    } else {
      c->cls = OnTimeClass::kLate;
      reasons.Add({{"code", "finished_after_due"},
                         {"end", Iso(*c->end_ms, off)},
                         {"due", Iso(due, off)},
                         {"late_by_ms", *c->end_ms - due}});
    }
    return Status::Ok();
  }
  reasons.Add({{"code", "judged_at_as_of"}, {"as_of", Iso(c->as_of_ms, off)}});
  if (c->supplement_requests > 1) {
    c->cls = OnTimeClass::kOpenOverdue;
    reasons.Add(
        {{"code", "multiple_supplement_requests"}, {"count", c->supplement_requests}});
    return Status::Ok();
  }
  if (c->as_of_ms > due) {
    c->cls = OnTimeClass::kOpenOverdue;
    reasons.Add(
        {{"code", "past_due"}, {"due", Iso(due, off)}, {"overdue_by_ms", c->as_of_ms - due}});
    return Status::Ok();
  }
  auto soon = DueSoonStart(horizon, due, cal);
  if (!soon.ok()) return soon.status();
  c->due_soon_from_ms = soon.value();
  if (c->as_of_ms >= soon.value()) {
    c->cls = OnTimeClass::kDueSoon;
    reasons.Add({{"code", "inside_due_soon_window"},
                       {"due_soon_from", Iso(soon.value(), off)},
                       {"due", Iso(due, off)}});
  } else {
    c->cls = OnTimeClass::kOpenWithinDeadline;
    reasons.Add({{"code", "before_due"}, {"due", Iso(due, off)}});
  }
  if (c->clock_paused) {
    reasons.Add({{"code", "clock_paused_no_scheduled_change"}});
    return Status::Ok();
  }
  if (c->cls == OnTimeClass::kOpenWithinDeadline) {
    c->next_change_ms = soon.value();
    c->next_class = OnTimeClass::kDueSoon;
  } else {
    c->next_change_ms = due + 1;
    c->next_class = OnTimeClass::kOpenOverdue;
  }
  return Status::Ok();
}

Result<Classification> OnTimeClassifier::ClassifyDossier(const DossierFacts& d,
                                                         int64_t as_of) const {
  const WorkingCalendar& cal = *calendar_;
  const int off = cal.utc_offset_minutes();
  Classification c;
  c.as_of_ms = as_of;
  c.explanation.Start();
  Explanation& reasons = c.explanation;
  // Every return of a classification goes through here, and `c` is not used after it.
  auto finish = [&]() -> Result<Classification> {
    c.explanation.SetClass(OnTimeClassName(c.cls));
    return std::move(c);
  };
  if (!d.received_at) {
    // A dossier newly submitted online (1) or refused at reception (3) before any reception has
    // no NgayTiepNhan: it never started, so it is outside the on-time rule (domain.md §2: "only
    // received dossiers count"). Any other status needs the reception time.
    if (d.status != kNew && d.status != kRefused)
      return Status::InvalidInput("Hồ sơ " + d.ma_ho_so + ": thiếu NgayTiepNhan");
    c.cls = OnTimeClass::kNotCounted;
    reasons.Add({{"code", "not_received"},
                       {"why", d.status == kNew ? "status_1_newly_submitted"
                                                : "status_3_refused_without_start"},
                       {"NgayTiepNhan", nullptr}});
    return finish();
  }
  c.start_ms = *d.received_at;
  if (*d.received_at > as_of) {
    c.cls = OnTimeClass::kNotCounted;
    reasons.Add({{"code", "not_received"},
                       {"why", "received_after_as_of"},
                       {"received", Iso(*d.received_at, off)}});
    return finish();
  }

  // History known at as_of, in time order.
  std::vector<StatusStep> hist;
  for (const auto& s : d.history)
    if (s.at_ms <= as_of) hist.push_back(s);
  std::stable_sort(hist.begin(), hist.end(),
                   [](const StatusStep& a, const StatusStep& b) { return a.at_ms < b.at_ms; });
  const bool use_history = !hist.empty();
  const int current = use_history ? hist.back().status : d.status;

  // End of processing: first 9, else first 10, else first 8 or 3, else first 7.
  std::optional<StatusStep> end_step;
  for (const auto& group : {std::vector<int>{kFinished}, std::vector<int>{kReturned},
                            std::vector<int>{kStopped, kRefused}, std::vector<int>{kWithdrawn}}) {
    for (const auto& s : hist) {
      if (std::find(group.begin(), group.end(), s.status) != group.end()) {
        end_step = s;
        break;
      }
    }
    if (end_step) break;
  }
  if (end_step) {
    reasons.Add({{"code", "end_by_status"},
                       {"status", end_step->status},
                       {"at", Iso(end_step->at_ms, off)}});
    if (d.end_at && *d.end_at != end_step->at_ms)
      reasons.Add(
          {{"code", "end_differs_from_NgayKetThucXuLy"}, {"NgayKetThucXuLy", Iso(*d.end_at, off)}});
  } else if (IsTerminal(d.status) && (!use_history || IsTerminal(current)) &&
             !(d.status == kRefused && !d.end_at)) {
    if (!d.end_at)
      return Status::InvalidInput(
          "Hồ sơ " + d.ma_ho_so + ": trạng thái " + std::to_string(d.status) +
          " đã kết thúc nhưng không có thời điểm kết thúc (lịch sử hoặc NgayKetThucXuLy)");
    if (*d.end_at <= as_of) {
      end_step = StatusStep{d.status, *d.end_at};
      reasons.Add({{"code", "end_from_NgayKetThucXuLy"},
                         {"status", d.status},
                         {"at", Iso(*d.end_at, off)}});
    }
  }

  // Counted only if received: not status 1, not refused at reception without processing.
  bool processed_before_end = false;
  for (const auto& s : hist) {
    if (end_step && s.at_ms > end_step->at_ms) break;
    if (s.status == kProcessing || s.status == kSupplement || s.status == kFinancial)
      processed_before_end = true;
  }
  if (!end_step && current == kNew) {
    c.cls = OnTimeClass::kNotCounted;
    reasons.Add({{"code", "not_received"}, {"why", "status_1_newly_submitted"}});
    return finish();
  }
  if ((end_step ? end_step->status : current) == kRefused && !processed_before_end) {
    c.cls = OnTimeClass::kNotCounted;
    reasons.Add({{"code", "not_received"}, {"why", "status_3_refused_without_start"}});
    return finish();
  }
  if (end_step) {
    c.end_ms = end_step->at_ms;
    c.end_status = end_step->status;
  }
  const int64_t stop = c.end_ms ? *c.end_ms : as_of;

  // Supplement waits: from DanhSachHoSoBoSung when present, else from status-5 runs in history.
  std::vector<Pause> pauses;
  int requests_list = 0, requests_history = 0;
  std::optional<int64_t> new_due;
  for (const auto& r : d.supplements) {
    if (!r.requested_at || *r.requested_at > as_of) continue;
    ++requests_list;
    int64_t to = (r.received_at && *r.received_at <= as_of) ? *r.received_at : as_of;
    if (!(r.received_at && *r.received_at <= as_of) && !c.end_ms) c.clock_paused = true;
    pauses.push_back({*r.requested_at, to});
    if (r.new_due) new_due = r.new_due;
  }
  {
    std::optional<int64_t> run_start;
    std::vector<Pause> hist_pauses;
    for (const auto& s : hist) {
      if (s.status == kSupplement) {
        if (!run_start) {
          run_start = s.at_ms;
          ++requests_history;
        }
      } else if (run_start) {
        hist_pauses.push_back({*run_start, s.at_ms});
        run_start.reset();
      }
    }
    if (run_start) hist_pauses.push_back({*run_start, as_of});
    if (requests_list == 0) {
      pauses = hist_pauses;
      if (run_start && !c.end_ms) c.clock_paused = true;
    }
  }
  c.supplement_requests = std::max(requests_list, requests_history);
  // Clip to [start, stop], sort, merge overlaps.
  std::vector<Pause> clipped;
  for (Pause p : pauses) {
    p.from = std::max(p.from, *c.start_ms);
    p.to = std::min(p.to, stop);
    if (p.to > p.from) clipped.push_back(p);
  }
  std::sort(clipped.begin(), clipped.end(),
            [](const Pause& a, const Pause& b) { return a.from < b.from; });
  std::vector<Pause> merged;
  for (const Pause& p : clipped) {
    if (!merged.empty() && p.from <= merged.back().to)
      merged.back().to = std::max(merged.back().to, p.to);
    else
      merged.push_back(p);
  }
  for (const Pause& p : merged) {
    auto w = cal.WorkingMsBetween(p.from, p.to);
    if (!w.ok()) return w.status();
    c.paused_ms += p.to - p.from;
    c.paused_working_ms += w.value();
    reasons.Add({{"code", "supplement_pause"},
                       {"from", Iso(p.from, off)},
                       {"to", Iso(p.to, off)},
                       {"working_ms", w.value()}});
  }
  if (c.clock_paused) reasons.Add({{"code", "waiting_for_supplement"}});

  // Elapsed processing time.
  {
    auto w = cal.WorkingMsBetween(*c.start_ms, stop);
    if (!w.ok()) return w.status();
    c.elapsed_working_ms = w.value() - c.paused_working_ms;
    c.elapsed_ms = (stop - *c.start_ms) - c.paused_ms;
  }

  // Effective due instant.
  const Procedure* proc = d.ma_tthc.empty() ? nullptr : procedures_->Find(d.ma_tthc);
  const bool calendar_shift = proc && proc->processing_unit == TimeUnit::kDays;
  auto shift_by_pauses = [&](int64_t due) -> Result<int64_t> {
    for (const Pause& p : merged) {
      if (p.from >= due) break;
      if (calendar_shift) {
        due += p.to - p.from;
      } else {
        auto w = cal.WorkingMsBetween(p.from, p.to);
        if (!w.ok()) return w.status();
        if (w.value() > 0) {
          auto moved = cal.AddWorkingMs(due, w.value());
          if (!moved.ok()) return moved.status();
          due = moved.value();
        }
      }
    }
    return due;
  };
  if (d.due_at) {
    if (new_due) {
      c.due_ms = *new_due;
      c.due_source = "NgayHenTraMoi";
      reasons.Add({{"code", "due_from_supplement_new_due"}, {"due", Iso(*new_due, off)}});
    } else {
      auto due = shift_by_pauses(*d.due_at);
      if (!due.ok()) return due.status();
      c.due_ms = due.value();
      c.due_source = "NgayHenTra";
      reasons.Add({{"code", "due_from_NgayHenTra"},
                         {"NgayHenTra", Iso(*d.due_at, off)},
                         {"shift", calendar_shift ? "calendar" : "working"},
                         {"effective_due", Iso(due.value(), off)}});
    }
  } else {
    if (!proc)
      return Status::NotFound("Hồ sơ " + d.ma_ho_so + ": không có NgayHenTra và thủ tục '" +
                              d.ma_tthc + "' không có trong danh mục thủ tục");
    int64_t allowed = 0, base_due = 0;
    if (proc->processing_unit == TimeUnit::kDays) {
      allowed = std::llround(proc->processing_value * kMsPerDay);
      base_due = *c.start_ms + allowed;
    } else {
      int64_t unit_ms = kMsPerHour;
      if (proc->processing_unit == TimeUnit::kWorkingDays) {
        auto len = cal.WorkingDayLengthMs(cal.DayOf(*c.start_ms));
        if (!len.ok()) return len.status();
        unit_ms = len.value();
      }
      allowed = std::llround(proc->processing_value * static_cast<double>(unit_ms));
      auto due = cal.AddWorkingMs(*c.start_ms, allowed);
      if (!due.ok()) return due.status();
      base_due = due.value();
    }
    auto due = shift_by_pauses(base_due);
    if (!due.ok()) return due.status();
    c.due_ms = due.value();
    c.due_source = "procedure";
    const int64_t used = calendar_shift ? c.elapsed_ms : c.elapsed_working_ms;
    reasons.Add({{"code", "due_from_procedure"},
                       {"MaTTHC", proc->code},
                       {"value", proc->processing_value},
                       {"unit", TimeUnitName(proc->processing_unit)},
                       {"allowed_ms", allowed},
                       {"used_ms", used},
                       {"effective_due", Iso(due.value(), off)}});
  }

  Status s = Decide(&c, rules_->dossier_due_soon());
  if (!s.ok()) return s;
  return finish();
}

Result<Classification> OnTimeClassifier::ClassifyPetition(const PetitionFacts& p,
                                                          int64_t as_of) const {
  const WorkingCalendar& cal = *calendar_;
  const int off = cal.utc_offset_minutes();
  Classification c;
  c.as_of_ms = as_of;
  c.explanation.Start();
  Explanation& reasons = c.explanation;
  if (!p.received_at) return Status::InvalidInput("Đơn thư " + p.id + ": thiếu received_at");
  if (*p.received_at > as_of) {
    c.cls = OnTimeClass::kNotCounted;
    c.start_ms = *p.received_at;
    reasons.Add({{"code", "not_received"}, {"why", "received_after_as_of"}});
    c.explanation.SetClass(OnTimeClassName(c.cls));
    return c;
  }
  const DeadlineRule* rule = nullptr;
  for (const DeadlineRule* r : rules_->ClassificationRules(p.petition_kind, p.round)) {
    auto start = RuleStart(*r, p);
    if (start && *start <= as_of) {
      rule = r;
      break;
    }
  }
  if (!rule)
    return Status::NotFound("Đơn thư " + p.id + ": không có quy tắc thời hạn áp dụng cho loại '" +
                            p.petition_kind + "' lần " + std::to_string(p.round));
  auto dl = ComputeDeadline(*rule, p, cal);
  if (!dl.ok()) return dl.status();
  c.rule_id = rule->id;
  c.start_ms = dl->start_ms;
  c.due_ms = dl->due_ms;
  c.due_source = "legal_rule";
  c.explanation.SetDeadline(dl->explanation);
  reasons.Add({{"code", "due_from_legal_rule"},
                     {"rule", rule->id},
                     {"step", rule->step},
                     {"due", Iso(dl->due_ms, off)},
                     {"legal_basis", rule->legal_basis}});

  const std::string& st = p.status;
  const bool finished = st == "resolved" || st == "rejected" || st == "withdrawn" ||
                        st == "forwarded" || st == "closed";
  if (finished) {
    std::optional<int64_t> end = p.resolved_at ? p.resolved_at : p.decision_at;
    if (!end)
      return Status::InvalidInput("Đơn thư " + p.id + ": trạng thái '" + st +
                                  "' nhưng thiếu resolved_at/decision_at");
    if (*end <= as_of) {
      c.end_ms = end;
      reasons.Add({{"code", "end_by_status"}, {"status", st}, {"at", Iso(*end, off)}});
    }
  }
  const int64_t stop = c.end_ms ? *c.end_ms : as_of;
  auto w = cal.WorkingMsBetween(*c.start_ms, stop);
  if (!w.ok()) return w.status();
  c.elapsed_working_ms = w.value();
  c.elapsed_ms = stop - *c.start_ms;
  Status s = Decide(&c, rules_->petition_due_soon());
  if (!s.ok()) return s;
  c.explanation.SetClass(OnTimeClassName(c.cls));
  c.steps = PetitionSteps(p, as_of, c.rule_id, &c.next_step_change_ms);
  return c;
}

nlohmann::json OnTimeClassifier::PetitionSteps(const PetitionFacts& p, int64_t as_of,
                                               const std::string& classified_by,
                                               std::optional<int64_t>* next_step_change) const {
  const WorkingCalendar& cal = *calendar_;
  const int off = cal.utc_offset_minutes();
  nlohmann::json out = nlohmann::json::array();
  auto field = [&](const std::string& name) -> std::optional<int64_t> {
    if (name == "received_at") return p.received_at;
    if (name == "accepted_at") return p.accepted_at;
    if (name == "decision_at") return p.decision_at;
    if (name == "resolved_at") return p.resolved_at;
    return std::nullopt;
  };
  for (const DeadlineRule& r : rules_->rules()) {
    if (r.petition_kind != "*" && r.petition_kind != p.petition_kind) continue;
    if (r.round != 0 && r.round != p.round) continue;
    if (!r.applies_to_status.empty() &&
        std::find(r.applies_to_status.begin(), r.applies_to_status.end(), p.status) ==
            r.applies_to_status.end())
      continue;
    nlohmann::json step = {{"rule_id", r.id},
                           {"step", r.step},
                           {"description", r.description},
                           {"legal_basis", r.legal_basis},
                           {"day_type", DayTypeName(r.day_type)},
                           {"used_for_classification", r.id == classified_by}};
    if (r.unconfirmed) step["unconfirmed"] = true;
    auto start = RuleStart(r, p);
    if (!start || *start > as_of) {
      step["state"] = "not_started";
      step["start_from"] = r.start_from;
      out.push_back(std::move(step));
      continue;
    }
    auto dl = ComputeDeadline(r, p, cal);
    if (!dl.ok()) {
      step["state"] = "error";
      step["error"] = dl.status().message();
      out.push_back(std::move(step));
      continue;
    }
    step["start"] = Iso(dl->start_ms, off);
    step["due"] = Iso(dl->due_ms, off);
    step["days"] = dl->base_days + dl->extension_days;
    if (dl->extension_days > 0) step["extension_days"] = dl->extension_days;
    std::optional<int64_t> met;
    for (const auto& f : r.met_by) {
      // value_or, not `at && *at <= as_of`: GCC merges that into one jump on the
      // (uninitialised) payload of an empty optional, which valgrind reports.
      const int64_t at = field(f).value_or(std::numeric_limits<int64_t>::max());
      if (at <= as_of) {
        met = at;
        step["met_by"] = f;
        break;
      }
    }
    if (met) {
      step["met_on"] = FormatIsoDate(cal.DayOf(*met));
      if (*met <= dl->due_ms) {
        step["state"] = "met";
      } else {
        step["state"] = "met_late";
        step["late_by_days"] = cal.DayOf(*met) - dl->due_day;
      }
    } else if (r.met_by.empty()) {
      step["state"] = "untracked";
    } else if (as_of > dl->due_ms) {
      step["state"] = "overdue";
      step["overdue_by_days"] = cal.DayOf(as_of) - dl->due_day;
    } else {
      step["state"] = "due";
      if (next_step_change && (!*next_step_change || dl->due_ms + 1 < **next_step_change))
        *next_step_change = dl->due_ms + 1;
    }
    out.push_back(std::move(step));
  }
  return out;
}

}  // namespace danvan::calendar
