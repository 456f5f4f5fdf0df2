#include "engine/evaluator.h"

#include "core/json_view.h"
#include "core/json_write.h"
#include "core/timeutil.h"

namespace danvan {
namespace {

using calendar::OnTimeClass;

std::vector<calendar::StatusStep> Steps(const std::vector<HistoryRow>& history) {
  std::vector<calendar::StatusStep> steps;
  for (const auto& h : history) {
    if (h.status.empty()) continue;
    int s = std::atoi(h.status.c_str());
    if (s >= 1 && s <= 10) steps.push_back({s, h.at_ms});
  }
  return steps;
}

// The petition's kind from the tagger's classification, for data without one from the host
// (null: the data's own, or none). Read in place of a copy of the data with the kind set.
template <typename Data>
const std::string* TaggedPetitionKind(const Data& data, const nlohmann::json& tags,
                                      std::string* tagged) {
  if (jview::Find(data, "petition_kind")) return nullptr;
  *tagged = indicators::TagValue(&tags, "petition_kind");
  return tagged->empty() ? nullptr : tagged;
}

}  // namespace

void Evaluation::WriteDeadline(std::string* out, nlohmann::json::error_handler_t handler) const {
  if (!deadline_text.empty()) {
    out->append(deadline_text);
  } else if (classification) {
    classification->WriteJson(out, 420, handler);
  } else {
    AppendJson(deadline, out, handler);
  }
}

int64_t RecordEvaluator::ClampToCalendar(int64_t ms) const {
  const auto& cal = classifier_->calendar();
  return std::min(ms, cal.EndOfDayMs(cal.last_day()));
}

template <typename Data>
Result<calendar::Classification> RecordEvaluator::Classify(const std::string& kind,
                                                           const Data& data,
                                                           const std::vector<HistoryRow>& history,
                                                           const nlohmann::json& tags,
                                                           int64_t as_of_ms) const {
  as_of_ms = ClampToCalendar(as_of_ms);
  if (kind == "dossier") {
    auto facts = calendar::DossierFacts::FromPortalItem(data, Steps(history));
    if (!facts.ok()) return facts.status();
    return classifier_->ClassifyDossier(facts.value(), as_of_ms);
  }
  if (kind == "petition") {
    std::string tagged;
    auto facts = calendar::PetitionFacts::FromRecordData(data, 420, TaggedPetitionKind(data, tags, &tagged));
    if (!facts.ok()) return facts.status();
    return classifier_->ClassifyPetition(facts.value(), as_of_ms);
  }
  return Status::NotFound("no deadline for kind " + kind);
}

template <typename Data>
Evaluation RecordEvaluator::Evaluate(const std::string& kind, const Data& data,
                                     const std::vector<HistoryRow>& history,
                                     const nlohmann::json& tags, int64_t event_time_ms,
                                     int64_t now_ms, bool synced) const {
  Evaluation ev;
  indicators::RecordFacts facts;
  facts.kind = kind;
  if constexpr (std::is_same_v<Data, ArenaJson>) {
    facts.arena_data = &data;
  } else {
    facts.data = &data;
  }
  facts.tags = &tags;
  facts.event_day = LocalDay(event_time_ms);
  facts.synced_to_portal = synced;
  const auto& cal = classifier_->calendar();
  std::optional<calendar::Classification> c;
  if (kind == "dossier" || kind == "petition") {
    auto r = Classify(kind, data, history, tags, now_ms);
    if (r.ok()) {
      c = std::move(r).value();
      ev.cls = calendar::OnTimeClassName(c->cls);
      ev.next_change_ms = c->next_change_ms;
      if (c->next_class) ev.next_class = calendar::OnTimeClassName(*c->next_class);
      // A legal step falling overdue before the class changes: the scheduler looks again then
      // (the class stays; the step's alert is fired by the scan).
      if (c->next_step_change_ms && (!ev.next_change_ms || *c->next_step_change_ms < *ev.next_change_ms)) {
        ev.next_change_ms = c->next_step_change_ms;
        ev.next_class = ev.cls;
      }
    } else {
      ev.deadline = {{"error", r.status().message()}};
    }
  }
  if (kind == "dossier") {
    const std::string code = jview::ValueString(data, "MaTTHC", "");
    if (const auto* p = classifier_->procedures().Find(code)) {
      facts.procedure = {true, p->fully_online, p->paper_result};
    }
    indicators::DossierTiming t;
    if (c) {
      t.counted = c->cls != OnTimeClass::kNotCounted;
      t.received_day = cal.DayOf(c->start_ms.value_or(event_time_ms));
      if (c->end_ms) {
        t.end_day = cal.DayOf(*c->end_ms);
        t.ended_on_time = c->cls == OnTimeClass::kEarly || c->cls == OnTimeClass::kOnTime;
        t.ended_early = c->cls == OnTimeClass::kEarly;
        auto len = cal.WorkingDayLengthMs(*t.end_day);
        if (len.ok() && len.value() > 0)
          t.processing_days = static_cast<double>(c->elapsed_working_ms) / len.value();
      }
      // While the clock is paused for a supplement the due date moves with time: it is fixed
      // again by the event that ends the pause.
      if (c->due_ms && !c->clock_paused) t.due_day = cal.DayOf(*c->due_ms);
      t.late_by_supplements = c->supplement_requests > 1;
    } else if (auto rec = ParsePortalTime(jview::ValueString(data, "NgayTiepNhan", ""))) {
      // No classification (e.g. procedure unknown and no due date): counted, no deadline.
      std::string st = jview::ValueString(data, "TrangThaiHoSo", "");
      t.counted = st != "1" && st != "3";
      t.received_day = LocalDay(*rec);
      if (auto end = ParsePortalTime(jview::ValueString(data, "NgayKetThucXuLy", ""))) {
        t.end_day = LocalDay(*end);
        t.ended_on_time = true;  // no deadline known: cannot be late
      }
    }
    facts.dossier = t;
  } else if (kind == "petition") {
    indicators::PetitionTiming t;
    auto iso_day = [&](const char* f) -> std::optional<int64_t> {
      const Data* v = jview::Find(data, f);
      if (!v || !v->is_string()) return std::nullopt;
      auto ms = ParseIsoTime(jview::Text(*v));
      if (!ms) return std::nullopt;
      return LocalDay(*ms);
    };
    t.received_day = iso_day("received_at").value_or(LocalDay(event_time_ms));
    if (c) {
      if (c->due_ms && !c->clock_paused) t.due_day = cal.DayOf(*c->due_ms);
      if (c->end_ms) t.resolved_day = cal.DayOf(*c->end_ms);
    } else {
      t.due_day = iso_day("due_at");
      t.resolved_day = iso_day("resolved_at");
    }
    facts.petition = t;
  }
  ev.contributions = indicators::ContributionsFor(facts);
  ev.classification = std::move(c);
  return ev;
}

template Evaluation RecordEvaluator::Evaluate(const std::string&, const nlohmann::json&,
                                              const std::vector<HistoryRow>&, const nlohmann::json&,
                                              int64_t, int64_t, bool) const;
template Evaluation RecordEvaluator::Evaluate(const std::string&, const ArenaJson&,
                                              const std::vector<HistoryRow>&, const nlohmann::json&,
                                              int64_t, int64_t, bool) const;
template Result<calendar::Classification> RecordEvaluator::Classify(
    const std::string&, const nlohmann::json&, const std::vector<HistoryRow>&,
    const nlohmann::json&, int64_t) const;
template Result<calendar::Classification> RecordEvaluator::Classify(
    const std::string&, const ArenaJson&, const std::vector<HistoryRow>&,
    const nlohmann::json&, int64_t) const;

}  // namespace danvan
