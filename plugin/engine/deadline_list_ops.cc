#include "engine/deadline_list_ops.h"

#include <algorithm>
#include <limits>

#include "core/bounded_input.h"
#include "core/timeutil.h"
#include "engine/query_args.h"

namespace danvan {
namespace {

// {"op":"deadlines.list","kind":"petition","unit":"SGDDT","limit":200}
// The stored classification (written at intake and by the scheduler's re-evaluation) gives the
// due instant and the start of the due-soon window; the class at now follows from them, so a
// record the scheduler has not re-evaluated yet is still listed by its true state.
Result<nlohmann::json> DeadlinesList(const EngineServices& s, const nlohmann::json& req) {
  const QueryArgs args(req);
  auto roots = s.units->Roots();
  auto unit = args.Key("unit", roots.empty() ? "" : roots[0]);
  if (!unit.ok()) return unit.status();
  auto kind = args.OneOf("kind", {"petition", "dossier"}, "petition");
  if (!kind.ok()) return kind.status();
  auto limit = args.Int("limit", 200, 1, 10000);
  if (!limit.ok()) return limit.status();
  std::vector<std::string> scope =
      s.units->Descendants(unit.value(), std::numeric_limits<int64_t>::min() / 4,
                           std::numeric_limits<int64_t>::max() / 4);
  if (scope.empty()) scope.push_back(unit.value());
  const int64_t now = s.clock->NowMs();
  struct Item {
    int64_t due_ms;
    nlohmann::json j;
  };
  std::vector<Item> overdue, due_soon;
  Status st = s.store->ForEachRecord(kind.value(), scope, [&](const RecordRow& row) {
    nlohmann::json d = ParseStoredJson(row.deadline_json);
    if (!d.is_object() || !d.contains("due") || !d["due"].is_string()) return;
    if (d.contains("end") && !d["end"].is_null()) return;  // finished
    const std::string cls = d.value("class", "");
    if (cls != "open_within_deadline" && cls != "due_soon" && cls != "open_overdue") return;
    auto due = ParseIsoTime(d["due"].get<std::string>());
    if (!due) return;
    std::optional<int64_t> soon;
    if (d.contains("due_soon_from") && d["due_soon_from"].is_string())
      soon = ParseIsoTime(d["due_soon_from"].get<std::string>());
    const bool is_overdue = cls == "open_overdue" || now > *due;
    const bool is_soon = !is_overdue && soon && now >= *soon;
    if (!is_overdue && !is_soon) return;
    nlohmann::json data = ParseStoredJson(row.data_json);
    std::string title;
    if (data.is_object())
      for (const char* k : {"title", "TrichYeuHoSo", "TenTTHC"})
        if (data.contains(k) && data[k].is_string()) {
          title = data[k].get<std::string>();
          break;
        }
    nlohmann::json j = {{"source", row.key.source}, {"kind", row.key.kind}, {"id", row.key.id},
                        {"unit", row.unit}, {"title", title}, {"status", row.status},
                        {"due", d["due"]}, {"rule_id", d.value("rule_id", "")}};
    if (is_overdue) {
      j["overdue_by_days"] = (now - *due) / 86400000;
      overdue.push_back({*due, std::move(j)});
    } else {
      j["due_in_days"] = (*due - now) / 86400000;
      due_soon.push_back({*due, std::move(j)});
    }
  });
  if (!st.ok()) return st;
  auto finish = [&](std::vector<Item>& items) {
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.due_ms < b.due_ms; });
    nlohmann::json out = nlohmann::json::array();
    for (auto& i : items) {
      if (static_cast<int64_t>(out.size()) >= limit.value()) break;
      out.push_back(std::move(i.j));
    }
    return out;
  };
  const size_t n_overdue = overdue.size(), n_soon = due_soon.size();
  return nlohmann::json{{"unit", unit.value()}, {"kind", kind.value()}, {"as_of", FormatIsoTime(now)},
                        {"overdue_count", n_overdue}, {"due_soon_count", n_soon},
                        {"overdue", finish(overdue)}, {"due_soon", finish(due_soon)}};
}

}  // namespace

void RegisterDeadlineListOps(Engine& engine) {
  EngineServices s = engine.services();
  engine.RegisterOp("deadlines.list", [s](const nlohmann::json& req) { return DeadlinesList(s, req); });
}

}  // namespace danvan
