#include "calendar/deadline_rules.h"

#include <algorithm>

#include "calendar/json_file.h"
#include "core/json_number.h"
#include "core/json_view.h"
#include "core/timeutil.h"

namespace danvan::calendar {
namespace {

constexpr int64_t kMsPerHour = 3'600'000;

DayType ParseDayType(const std::string& s) {
  return s == "working" ? DayType::kWorking : DayType::kCalendar;
}

Result<DueSoonHorizon> ParseHorizon(const nlohmann::json& j) {
  DueSoonHorizon h;
  auto value = JsonIntInRange(j.at("value"), 0, 1000);  // schemas/deadlines.schema.json
  if (!value) return Status::InvalidInput("value: cần số nguyên từ 0 đến 1000");
  h.value = *value;
  const std::string u = j.at("unit").get<std::string>();
  if (u == "hours")
    h.unit = DueSoonHorizon::Unit::kHours;
  else if (u == "calendar_days")
    h.unit = DueSoonHorizon::Unit::kCalendarDays;
  else if (u == "working_days")
    h.unit = DueSoonHorizon::Unit::kWorkingDays;
  else
    return Status::InvalidInput("đơn vị không hợp lệ '" + u + "'");
  return h;
}

// Reads an optional ISO date/time field of the petition data (nlohmann's document or an arena
// view: core/json_view.h).
template <typename J>
Status ReadTime(const J& data, const char* key, int offset,
                std::optional<int64_t>* out) {
  const J* it = jview::Find(data, key);
  if (!it || it->is_null()) return Status::Ok();
  if (!it->is_string())
    return Status::InvalidInput(std::string("Đơn thư: trường $.data.") + key +
                                " phải là chuỗi ngày ISO 8601");
  const std::string s(jview::Text(*it));
  if (s.empty()) return Status::Ok();
  auto t = ParseIsoTime(s, offset);
  if (!t)
    return Status::InvalidInput(std::string("Đơn thư: trường $.data.") + key +
                                " không phải ngày hợp lệ: '" + s + "'");
  *out = *t;
  return Status::Ok();
}

template <typename J>
bool ReadBool(const J& data, const char* key) {
  const J* it = jview::Find(data, key);
  if (!it) return false;
  if (it->is_boolean()) return jview::Bool(*it);
  if (it->is_number()) return jview::Number(*it) != 0;
  if (it->is_string()) return jview::Text(*it) == "true" || jview::Text(*it) == "1";
  return false;
}

template <typename J>
Result<PetitionFacts> PetitionFromRecordData(const J& data, int utc_offset_minutes,
                                             const std::string* petition_kind) {
  if (!data.is_object()) return Status::InvalidInput("Đơn thư: $.data phải là đối tượng JSON");
  PetitionFacts p;
  try {
    p.id = jview::ValueString(data, "id", "");
    p.petition_kind = petition_kind ? *petition_kind : jview::ValueString(data, "petition_kind", "");
    if (p.petition_kind.empty())
      return Status::InvalidInput("Đơn thư: thiếu $.data.petition_kind (cần phân loại đơn trước)");
    if (const J* r = jview::Find(data, "round"); r && !r->is_null()) {
      // 1e300 or "99999999999" must be refused, not converted (undefined, or atoi's overflow).
      std::optional<int64_t> round;
      if (r->is_string()) {
        const std::string text(jview::Text(*r));
        if (!text.empty() && text.size() <= 9 &&
            text.find_first_not_of("0123456789") == std::string::npos)
          round = std::stoll(text);  // "1", "02": as atoi read them; at most 9 digits
      } else {
        round = JsonIntInRange(*r, 1, 2);
      }
      if (round) p.round = static_cast<int>(*round);
      if (!round || (p.round != 1 && p.round != 2))
        return Status::InvalidInput("Đơn thư: $.data.round phải là 1 hoặc 2");
    }
    p.status = jview::ValueString(data, "status", "");
    for (auto [key, field] :
         {std::pair{"received_at", &p.received_at}, std::pair{"accepted_at", &p.accepted_at},
          std::pair{"decision_at", &p.decision_at}, std::pair{"resolved_at", &p.resolved_at}}) {
      Status s = ReadTime(data, key, utc_offset_minutes, field);
      if (!s.ok()) return s;
    }
    p.complex = ReadBool(data, "complex");
    p.remote_area = ReadBool(data, "remote_area");
    if (const J* it = jview::Find(data, "extensions"); it && it->is_array()) {
      const auto elements = jview::Elements(*it);
      for (size_t i = 0; i < elements.size(); ++i) {
        const J& e = elements[i];
        const J* days = jview::Find(e, "days");
        if (!e.is_object() || !days || !days->is_number_integer())
          return Status::InvalidInput("Đơn thư: " + JsonPathIndex("$.data.extensions", i) +
                                      ".days phải là số nguyên");
        PetitionExtension ext;
        ext.days = jview::Int(*days);
        ext.reason = jview::ValueString(e, "reason", "");
        Status s = ReadTime(e, "at", utc_offset_minutes, &ext.at_ms);
        if (!s.ok()) return s;
        p.extensions.push_back(std::move(ext));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput(std::string("Đơn thư: dữ liệu không hợp lệ: ") + e.what());
  }
  return p;
}

}  // namespace

const char* DayTypeName(DayType t) { return t == DayType::kWorking ? "working" : "calendar"; }

Result<PetitionFacts> PetitionFacts::FromRecordData(const nlohmann::json& data,
                                                    int utc_offset_minutes,
                                                    const std::string* petition_kind) {
  return PetitionFromRecordData(data, utc_offset_minutes, petition_kind);
}

Result<PetitionFacts> PetitionFacts::FromRecordData(const ArenaJson& data,
                                                    int utc_offset_minutes,
                                                    const std::string* petition_kind) {
  return PetitionFromRecordData(data, utc_offset_minutes, petition_kind);
}

Result<std::shared_ptr<const DeadlineRules>> DeadlineRules::Load(const std::string& path,
                                                                 const std::string& schemas_dir,
                                                                 const JsonReadLimits& limits) {
  auto doc = LoadValidatedJson(path, schemas_dir, "deadlines.schema.json", limits);
  if (!doc.ok()) return doc.status();
  return FromJson(doc.value(), path);
}

Result<std::shared_ptr<const DeadlineRules>> DeadlineRules::FromJson(const nlohmann::json& doc,
                                                                     const std::string& label) {
  auto out = std::make_shared<DeadlineRules>();
  try {
    auto d = ParseHorizon(doc.at("due_soon").at("dossier"));
    if (!d.ok()) return DataError(label, "$.due_soon.dossier.unit", d.status().message());
    out->dossier_due_soon_ = d.value();
    auto p = ParseHorizon(doc.at("due_soon").at("petition"));
    if (!p.ok()) return DataError(label, "$.due_soon.petition.unit", p.status().message());
    out->petition_due_soon_ = p.value();
    const auto& rules = doc.at("rules");
    for (size_t i = 0; i < rules.size(); ++i) {
      const auto& j = rules[i];
      const std::string path = JsonPathIndex("$.rules", i);
      DeadlineRule r;
      r.id = j.at("id").get<std::string>();
      r.petition_kind = j.at("petition_kind").get<std::string>();
      r.round = j.value("round", 0);
      r.step = j.at("step").get<std::string>();
      r.start_from = j.at("start_from").get<std::string>();
      r.day_type = ParseDayType(j.at("day_type").get<std::string>());
      r.days = j.at("days").get<int64_t>();
      if (j.contains("complex_days")) r.complex_days = j["complex_days"].get<int64_t>();
      if (j.contains("remote_area_days")) r.remote_area_days = j["remote_area_days"].get<int64_t>();
      if (j.contains("remote_area_complex_days"))
        r.remote_area_complex_days = j["remote_area_complex_days"].get<int64_t>();
      if (r.complex_days && *r.complex_days < r.days)
        return DataError(label, path + ".complex_days",
                         "thời hạn vụ việc phức tạp không được ngắn hơn thời hạn thường");
      if (r.remote_area_complex_days && r.remote_area_days &&
          *r.remote_area_complex_days < *r.remote_area_days)
        return DataError(
            label, path + ".remote_area_complex_days",
            "thời hạn vùng sâu vùng xa phức tạp không được ngắn hơn thời hạn vùng sâu vùng xa");
      r.move_to_next_working_day = j.value("move_to_next_working_day", false);
      if (j.contains("extensions")) {
        const auto& e = j["extensions"];
        r.extensions.max_count = e.at("max_count").get<int>();
        r.extensions.max_days_each = e.at("max_days_each").get<int64_t>();
        r.extensions.day_type = ParseDayType(e.at("day_type").get<std::string>());
        r.extensions.reason_required = e.value("reason_required", false);
        r.extensions.legal_basis = e.value("legal_basis", "");
      }
      r.classify_priority = j.value("classify_priority", 0);
      if (j.contains("met_by")) r.met_by = j["met_by"].get<std::vector<std::string>>();
      if (j.contains("applies_to_status"))
        r.applies_to_status = j["applies_to_status"].get<std::vector<std::string>>();
      r.description = j.value("description", "");
      r.legal_basis = j.at("legal_basis").get<std::string>();
      r.note = j.value("note", "");
      r.unconfirmed = j.value("unconfirmed", false);
      for (const auto& other : out->rules_) {
        if (other.id == r.id)
          return DataError(label, path + ".id", "mã quy tắc '" + r.id + "' bị trùng");
        if (other.petition_kind == r.petition_kind && other.round == r.round &&
            other.step == r.step)
          return DataError(label, path, "quy tắc trùng loại đơn/lần/bước với '" + other.id + "'");
      }
      out->rules_.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput("Tệp '" + label + "' có cấu trúc không hợp lệ: " + e.what());
  }
  return std::shared_ptr<const DeadlineRules>(std::move(out));
}

const DeadlineRule* DeadlineRules::Find(std::string_view kind, int round,
                                        std::string_view step) const {
  const DeadlineRule* best = nullptr;
  int best_score = -1;
  for (const auto& r : rules_) {
    if (r.step != step) continue;
    if (r.petition_kind != kind && r.petition_kind != "*") continue;
    if (r.round != 0 && r.round != round) continue;
    int score = (r.petition_kind == kind ? 2 : 0) + (r.round != 0 ? 1 : 0);
    if (score > best_score) best = &r, best_score = score;
  }
  return best;
}

std::vector<const DeadlineRule*> DeadlineRules::ClassificationRules(std::string_view kind,
                                                                    int round) const {
  std::vector<const DeadlineRule*> out;
  for (const auto& r : rules_) {
    if (r.classify_priority == 0) continue;
    if (r.petition_kind != kind && r.petition_kind != "*") continue;
    if (r.round != 0 && r.round != round) continue;
    out.push_back(&r);
  }
  std::stable_sort(out.begin(), out.end(), [](const DeadlineRule* a, const DeadlineRule* b) {
    return a->classify_priority < b->classify_priority;
  });
  return out;
}

std::optional<int64_t> RuleStart(const DeadlineRule& rule, const PetitionFacts& p) {
  if (rule.start_from == "received_at") return p.received_at;
  if (rule.start_from == "accepted_at") return p.accepted_at;
  if (rule.start_from == "decision_at") return p.decision_at;
  if (rule.start_from == "resolved_at") return p.resolved_at;
  return std::nullopt;
}

namespace {

Result<int64_t> AddDays(const WorkingCalendar& cal, int64_t day, int64_t n, DayType type) {
  if (type == DayType::kWorking) return cal.AddWorkingDays(day, n);
  if (!cal.Covers(day + n))
    return Status::NotFound(
        "Ngày " + FormatIsoDate(day + n) + " nằm ngoài phạm vi lịch làm việc đã nạp (" +
        std::to_string(cal.first_year()) + "–" + std::to_string(cal.last_year()) + ")");
  return day + n;
}

}  // namespace

Result<DeadlineResult> ComputeDeadline(const DeadlineRule& rule, const PetitionFacts& p,
                                       const WorkingCalendar& cal) {
  auto start = RuleStart(rule, p);
  if (!start)
    return Status::InvalidInput("Đơn thư " + p.id + ": thiếu " + rule.start_from +
                                " để tính thời hạn theo quy tắc " + rule.id);
  DeadlineResult r;
  r.rule_id = rule.id;
  r.step = rule.step;
  r.legal_basis = rule.legal_basis;
  r.unconfirmed = rule.unconfirmed;
  r.day_type = rule.day_type;
  r.start_ms = *start;
  r.start_day = cal.DayOf(*start);
  r.explanation = nlohmann::json::array();

  r.base_days = rule.days;
  r.variant = "base";
  if (p.remote_area && p.complex && rule.remote_area_complex_days) {
    r.base_days = *rule.remote_area_complex_days, r.variant = "remote_area_complex";
  } else if (p.remote_area && rule.remote_area_days) {
    r.base_days = *rule.remote_area_days, r.variant = "remote_area";
  } else if (p.complex && rule.complex_days) {
    r.base_days = *rule.complex_days, r.variant = "complex";
  }
  r.explanation.push_back({{"code", "base_period"},
                           {"rule", rule.id},
                           {"variant", r.variant},
                           {"days", r.base_days},
                           {"day_type", DayTypeName(rule.day_type)},
                           {"start", FormatIsoTime(*start, cal.utc_offset_minutes())},
                           {"legal_basis", rule.legal_basis}});
  auto due = AddDays(cal, r.start_day, r.base_days, rule.day_type);
  if (!due.ok()) return due.status();
  int64_t due_day = due.value();

  for (size_t i = 0; i < p.extensions.size(); ++i) {
    const PetitionExtension& e = p.extensions[i];
    const char* refused = nullptr;
    if (r.extensions_applied >= rule.extensions.max_count)
      refused = "exceeds_max_count";
    else if (e.days <= 0)
      refused = "non_positive_days";
    else if (e.days > rule.extensions.max_days_each)
      refused = "exceeds_max_days";
    else if (rule.extensions.reason_required && e.reason.empty())
      refused = "reason_missing";
    if (refused) {
      r.explanation.push_back({{"code", "extension_refused"},
                               {"index", i},
                               {"why", refused},
                               {"days", e.days},
                               {"max_count", rule.extensions.max_count},
                               {"max_days_each", rule.extensions.max_days_each}});
      continue;
    }
    auto extended = AddDays(cal, due_day, e.days, rule.extensions.day_type);
    if (!extended.ok()) return extended.status();
    due_day = extended.value();
    r.extension_days += e.days;
    ++r.extensions_applied;
    r.explanation.push_back({{"code", "extension_applied"},
                             {"index", i},
                             {"days", e.days},
                             {"day_type", DayTypeName(rule.extensions.day_type)},
                             {"reason", e.reason},
                             {"legal_basis", rule.extensions.legal_basis}});
  }

  if (rule.move_to_next_working_day) {
    auto moved = cal.OnOrNextWorkingDay(due_day);
    if (!moved.ok()) return moved.status();
    if (moved.value() != due_day) {
      r.explanation.push_back({{"code", "moved_to_next_working_day"},
                               {"from", FormatIsoDate(due_day)},
                               {"to", FormatIsoDate(moved.value())}});
      r.moved_to_next_working_day = true;
      due_day = moved.value();
    }
  }
  r.due_day = due_day;
  r.due_ms = cal.EndOfDayMs(due_day);
  return r;
}

Result<int64_t> DueSoonStart(const DueSoonHorizon& h, int64_t due_ms, const WorkingCalendar& cal) {
  switch (h.unit) {
    case DueSoonHorizon::Unit::kHours:
      return due_ms - h.value * kMsPerHour;
    case DueSoonHorizon::Unit::kCalendarDays:
      return due_ms - h.value * kMsPerDay;
    case DueSoonHorizon::Unit::kWorkingDays: {
      // Due soon from the start of the working day that is `value` working days before the due
      // day's working day (value 1: from the start of the due day's own working day).
      if (h.value <= 0) return due_ms;
      const int64_t due_day = cal.DayOf(due_ms);
      auto anchor = cal.IsWorkingDay(due_day);
      if (!anchor.ok()) return anchor.status();
      int64_t last_working = due_day;
      if (!anchor.value()) {
        auto prev = cal.AddWorkingDays(due_day, -1);
        if (!prev.ok()) return prev.status();
        last_working = prev.value();
      }
      auto first = cal.AddWorkingDays(last_working, -(h.value - 1));
      if (!first.ok()) return first.status();
      return std::min(cal.StartOfDayMs(first.value()), due_ms);
    }
  }
  return due_ms;
}

}  // namespace danvan::calendar
