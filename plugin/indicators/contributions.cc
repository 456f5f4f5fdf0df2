#include "indicators/contributions.h"

#include <cmath>

#include "core/json_view.h"
#include "core/timeutil.h"

namespace danvan::indicators {
namespace {

// The record's data is nlohmann's document or an arena view (core/json_view.h): the readers
// below are templates over both.
template <typename J>
std::string_view Str(const J& d, const char* f) {
  return jview::StringOr(d, f);
}

// The member is the boolean true (nlohmann's `d[f] == true`).
template <typename J>
bool IsTrue(const J& d, const char* f) {
  const J* v = jview::Find(d, f);
  return v && v->is_boolean() && jview::Bool(*v);
}

template <typename J>
std::optional<int64_t> IsoDay(const J& d, const char* f) {
  std::string_view s = Str(d, f);
  if (s.empty()) return std::nullopt;
  auto t = ParseIsoTime(s);
  if (!t) return std::nullopt;
  return LocalDay(*t);
}

class Builder {
 public:
  void Flow(const std::string& series, int64_t day, double value = 1, const std::string& unit = "") {
    if (value != 0) out.push_back({series, day, value, unit});
  }
  // State true on days [from, to) (to = nullopt: still true).
  void Level(const std::string& series, int64_t from, std::optional<int64_t> to,
             double value = 1, const std::string& unit = "") {
    if (to && *to <= from) return;
    out.push_back({series, from, value, unit});
    if (to) out.push_back({series, *to, -value, unit});
  }
  std::vector<Contribution> out;
};

template <typename J>
void Dossier(const RecordFacts& f, const J& d, Builder& b) {
  if (!f.dossier || !f.dossier->counted) return;
  const DossierTiming& t = *f.dossier;
  const int64_t r = t.received_day;
  b.Flow("d.recv", r);
  if (f.synced_to_portal || Str(d, "DaDongBoCongQuocGia") == "1") b.Flow("d.recv_synced", r);
  // Decision 766 progress indicator: the dossier is in the period if received or processed in
  // it; on time if it ended early/on time, or is open and within its deadline at period end.
  if (t.end_day) {
    b.Flow("d.fin", *t.end_day);
    if (t.ended_on_time.value_or(false)) b.Flow("d.fin_ontime", *t.end_day);
    if (t.ended_early) b.Flow("d.fin_early", *t.end_day);
    if (!t.ended_on_time.value_or(false)) b.Flow("d.fin_late", *t.end_day);
    b.Flow("d.proc_days", *t.end_day, t.processing_days);
  }
  std::optional<int64_t> overdue_from;
  if (t.late_by_supplements) {
    overdue_from = r;
  } else if (t.due_day) {
    overdue_from = std::max(r, *t.due_day + 1);
  }
  b.Level("d.open_ok", r, overdue_from ? (t.end_day ? std::min(*overdue_from, *t.end_day) : *overdue_from)
                                      : t.end_day);
  if (overdue_from) b.Level("d.open_overdue", *overdue_from, t.end_day);
  // Online service (channel 2) among dossiers of fully online procedures.
  if (f.procedure.fully_online) {
    b.Flow("d.online_eligible", r);
    if (Str(d, "KenhThucHien") == "2") b.Flow("d.online", r);
  }
  if (Str(d, "KenhThucHien") == "2") b.Flow("d.channel_online", r);
  // Online payment among dossiers with a non-zero fee.
  bool has_fee = false;
  if (const J* fees = jview::Find(d, "DanhSachLePhi"); fees && fees->is_array()) {
    for (const J& fee : jview::Elements(*fees)) {
      const std::string g(Str(fee, "Gia"));
      if (!g.empty() && std::strtod(g.c_str(), nullptr) > 0) has_fee = true;
    }
  }
  if (has_fee) {
    b.Flow("d.with_fee", r);
    const std::string_view paid = Str(d, "DuocThanhToanTrucTuyen");
    if (paid == "1" || paid == "2") b.Flow("d.paid_online", r);
  }
  // Electronic results among finished dossiers of procedures with a paper result.
  if (t.end_day && f.procedure.paper_result) {
    b.Flow("d.result_due", *t.end_day);
    bool e_result = false;
    if (const J* results = jview::Find(d, "DanhSachGiayToKetQua"); results && results->is_array())
      for (const J& g : jview::Elements(*results))
        if (!Str(g, "DuongDanTepTinKetQua").empty()) e_result = true;
    if (e_result) b.Flow("d.e_result", *t.end_day);
  }
  // Components digitised and reused (counted per submitted file).
  if (const J* submitted = jview::Find(d, "TaiLieuNop"); submitted && submitted->is_array()) {
    double files = 0, digitised = 0, reused = 0;
    for (const J& file : jview::Elements(*submitted)) {
      if (Str(file, "IsDeleted") == "1") continue;
      files += 1;
      if (Str(file, "DuocSoHoa") == "1") digitised += 1;
      if (Str(file, "DuocTaiSuDung") == "1" || Str(file, "DuocLayTuKhoDMQG") == "1") reused += 1;
    }
    b.Flow("d.files", r, files);
    b.Flow("d.files_digitised", r, digitised);
    b.Flow("d.files_reused", r, reused);
  }
  const J* ids = jview::Find(d, "DinhDanhCHS");
  bool population = Str(d, "TaiKhoanDuocXacThucVoiVNeID") == "1" ||
                    (ids && ids->is_array() && jview::Size(*ids) != 0);
  if (population) b.Flow("d.population_data", r);
  if (HasTag(f.tags, "dossier_complaint")) b.Flow("d.complained", r);
}

template <typename J>
void Petition(const RecordFacts& f, const J& d, Builder& b) {
  if (!f.petition) return;
  const PetitionTiming& t = *f.petition;
  const int64_t r = t.received_day;
  std::string kind(Str(d, "petition_kind"));
  if (kind.empty()) kind = TagValue(f.tags, "petition_kind");
  if (kind.empty()) kind = "unclassified";
  b.Flow("p.recv", r);
  b.Flow("p.recv." + kind, r);
  b.Level("p.open", r, t.resolved_day);
  b.Level("p.open_rsum", r, t.resolved_day, static_cast<double>(r));
  if (t.resolved_day) {
    b.Flow("p.resolved", *t.resolved_day);
    bool on_time = !t.due_day || *t.resolved_day <= *t.due_day;
    if (on_time) b.Flow("p.resolved_ontime", *t.resolved_day);
    else b.Flow("p.resolved_late", *t.resolved_day);
    if (Str(d, "satisfaction") == "dissatisfied") b.Flow("p.dissatisfied", *t.resolved_day);
  }
  if (t.due_day) {
    int64_t overdue_from = std::max(r, *t.due_day + 1);
    b.Level("p.open_overdue", overdue_from, t.resolved_day);
  }
  // Categories come from the tagger (explainable) or from the host's own flags.
  if (HasTag(f.tags, "complexity", "complex") || IsTrue(d, "complex"))
    b.Flow("p.complex", r);
  if (HasTag(f.tags, "group_petition")) b.Flow("p.group", r);
  if (HasTag(f.tags, "protracted")) b.Flow("p.protracted", r);
  const J* reraises = jview::Find(d, "reraise_count");
  if (HasTag(f.tags, "protracted", "reraised") || !Str(d, "reraised_of").empty() ||
      (reraises && reraises->is_number_integer() && jview::Int(*reraises) > 0))
    b.Flow("p.reraised", r);
  if (HasTag(f.tags, "staff_conduct")) b.Flow("p.staff_conduct", r);
  if (HasTag(f.tags, "anonymous_denunciation")) b.Flow("p.anonymous", r);
}

template <typename J>
void Reception(const RecordFacts& f, const J& d, Builder& b) {
  auto day = IsoDay(d, "date");
  if (!day) return;
  b.Flow("r.sessions", *day);
  const std::string_view role = Str(d, "receiver_role");
  if (role == "head") b.Flow("r.head", *day);
  if (role == "deputy") b.Flow("r.deputy", *day);
  if (Str(d, "session_type") == "adhoc") b.Flow("r.adhoc", *day);
  if (const J* people = jview::Find(d, "people_count"); people && people->is_number())
    b.Flow("r.people", *day, jview::Number(*people));
  if (IsTrue(d, "group")) b.Flow("r.group", *day);
}

template <typename J>
void DvkModel(const RecordFacts& f, const J& d, Builder& b) {
  auto reg = IsoDay(d, "registered_at");
  if (!reg) return;
  b.Flow("v.registered", *reg);
  std::string field(Str(d, "field"));
  if (field.empty()) field = TagValue(f.tags, "dvk_field");
  if (!field.empty()) b.Flow("v.registered." + field, *reg);
  if (jview::Find(d, "recognition_level")) {
    auto rec = IsoDay(d, "recognised_at");
    b.Flow("v.recognised", rec ? *rec : *reg);
  }
}

template <typename J>
void PlanTask(const RecordFacts& f, const J& d, Builder& b) {
  if (Str(d, "status") == "cancelled") return;
  auto due = IsoDay(d, "due");
  auto start = IsoDay(d, "start");
  if (!due) return;
  const std::string lead(Str(d, "lead_unit"));
  int64_t from = start ? std::min(*start, *due) : *due;
  std::optional<int64_t> done;
  if (Str(d, "status") == "done") {
    auto c = IsoDay(d, "completed_at");
    done = c ? *c : f.event_day;
  }
  b.Level("t.total", from, std::nullopt, 1, lead);
  if (done) b.Level("t.done", *done, std::nullopt, 1, lead);
  // Late from the day after the due date until done.
  if (!done || *done > *due) b.Level("t.late", *due + 1, done, 1, lead);
}

}  // namespace

nlohmann::json Contribution::ToJson() const {
  nlohmann::json j = nlohmann::json::array({series, day, value});
  if (!unit.empty()) j.push_back(unit);
  return j;
}

Contribution Contribution::FromJson(const nlohmann::json& j) {
  Contribution c{j[0].get<std::string>(), j[1].get<int64_t>(), j[2].get<double>(), ""};
  if (j.size() > 3) c.unit = j[3].get<std::string>();
  return c;
}

namespace {

// An object's member as t.value(key, "") reads it, without its copy: "" when absent; a member
// that is not a string throws nlohmann's type_error, as value() does.
std::string_view MemberText(const nlohmann::json& t, const char* key) {
  const auto it = t.find(key);
  if (it == t.end()) return {};
  if (!it->is_string()) (void)it->get<std::string>();  // throws
  return it->get_ref<const std::string&>();
}

}  // namespace

bool HasTag(const nlohmann::json* tags, const std::string& tag, const std::string& value) {
  if (!tags || !tags->is_array()) return false;
  for (const auto& t : *tags) {
    if (!t.is_object() || MemberText(t, "tag") != tag) continue;
    if (value.empty() || MemberText(t, "value") == value) return true;
  }
  return false;
}

std::string TagValue(const nlohmann::json* tags, const std::string& tag) {
  if (!tags || !tags->is_array()) return "";
  for (const auto& t : *tags)
    if (t.is_object() && MemberText(t, "tag") == tag) return std::string(MemberText(t, "value"));
  return "";
}

namespace {

template <typename J>
std::vector<Contribution> ContributionsOf(const RecordFacts& f, const J* d) {
  Builder b;
  if (!d || !d->is_object()) return {};
  if (f.kind == "dossier") Dossier(f, *d, b);
  else if (f.kind == "petition") Petition(f, *d, b);
  else if (f.kind == "reception") Reception(f, *d, b);
  else if (f.kind == "dvk_model") DvkModel(f, *d, b);
  else if (f.kind == "plan_task") PlanTask(f, *d, b);
  return std::move(b.out);
}

}  // namespace

std::vector<Contribution> ContributionsFor(const RecordFacts& f) {
  if (f.arena_data) return ContributionsOf(f, f.arena_data);
  return ContributionsOf(f, f.data);
}

}  // namespace danvan::indicators
