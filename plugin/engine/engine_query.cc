// Query ops: the request parser and dispatcher (Engine::Query), records, stats, quarantine,
// units, indicators (document and text answers), drill-down, procedures and dossier progress.
#include "engine/engine.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <set>

#include "core/bounded_input.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/engine_internal.h"
#include "engine/query_args.h"

namespace danvan {

Result<nlohmann::json> Engine::Query(std::string_view request, AnswerText* text) {
  // Depth first: nothing may recurse over a request nested past limits.max_json_depth.
  auto parsed = ParseJsonBounded(request, config_.intake.max_json_depth);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json req = std::move(parsed).value();
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Status::InvalidInput("/op: yêu cầu phải là đối tượng JSON có trường \"op\" (chuỗi)");
  const std::string op = req["op"].get<std::string>();
  if (text) text->Clear();
  // Answers include what the other nodes committed until now (PostgreSQL).
  FollowOtherNodes();
  // Administrative ops leave an audit entry (who, what, when, outcome): admin_ops.cc.
  if (IsAuditedOp(op, req)) {
    auto actor = AuditActor(req);
    if (!actor.ok()) return actor.status();
    if (op == "config.reload") return ConfigReloadOp(req);  // audits itself (hashes)
    const auto began = std::chrono::steady_clock::now();
    Result<nlohmann::json> r = Dispatch(op, req);
    Audit(op, req, r, nullptr, began);
    return r;
  }
  if (text && op == "indicators") {
    // Written into a string kept per thread (its capacity reused: the one-unit query is the hot
    // path), then copied once into the answer, as the ABI copied it before.
    thread_local std::string buf;
    buf.clear();
    Status st = IndicatorsText(req, &buf);
    if (st.ok()) text->Append(buf);
    if (buf.capacity() > (size_t{1} << 20)) std::string().swap(buf);
    if (!st.ok()) return st;
    return nlohmann::json();
  }
  if (text)
    if (auto it = text_ops_.find(op); it != text_ops_.end()) {
      Status st = it->second(req, text);
      if (!st.ok()) return st;
      return nlohmann::json();
    }
  return Dispatch(op, req);
}

Result<nlohmann::json> Engine::Dispatch(const std::string& op, const nlohmann::json& req) {
  if (op == "record.get") return RecordGet(req);
  if (op == "stats") return StatsOp();
  if (op == "quarantine.list") return QuarantineList(req);
  if (op == "indicators") return IndicatorsOp(req);
  if (op == "indicators.explain") return ExplainOp(req);
  if (op == "units") return UnitsOp();
  if (op == "deadlines.scan") return DeadlineScanOp();
  if (op == "deadlines.status") return DeadlineStatusOp();
  if (op == "tagging.reload") return ReloadRulesOp(req);
  if (op == "tagging.status") return RetagStatusOp();
  if (op == "progress") return ProgressOp(req);
  if (op == "tagging.changes") return TagChangesOp(req);
  if (op == "tags.count") return TagCountsOp(req);
  if (op == "tags.explain") return ExplainTagsOp(req);
  if (op == "outbox.status") return outbox_->StatusJson();
  // The outbox reads these ops' arguments itself; their types and ranges are checked here.
  const QueryArgs args(req);
  if (op == "outbox.dead_letters") {
    auto limit = args.Int("limit", 100, 1, 10000);
    if (!limit.ok()) return limit.status();
    auto offset = args.Int("offset", 0, 0, INT64_MAX);
    if (!offset.ok()) return offset.status();
    return outbox_->DeadLetters(req);
  }
  if (op == "outbox.resend") {
    auto id = args.Int("id", std::nullopt, 1, INT64_MAX);
    if (!id.ok()) return id.status();
    return outbox_->Resend(req);
  }
  if (op == "outbox.mappings.set") {
    auto mappings = args.Object("mappings");
    if (!mappings.ok()) return mappings.status();
    return outbox_->SetMappings(req);
  }
  if (op == "outbox.mappings.get") return outbox_->MappingsJson();
  if (op == "outbox.reconcile") return outbox_->RequestReconcile();
  if (op == "exportlog.verify") return outbox_->VerifyLog();
  if (op == "procedures.refresh") {
    auto codes = args.Strings("codes", 10000);
    if (!codes.ok()) return codes.status();
    return outbox_->RequestProcedureRefresh(req);
  }
  if (op == "procedures.status") return outbox_->ProceduresStatus();
  if (op == "procedures.get") return ProcedureGetOp(req);
  if (op == "config.reload") return ConfigReloadOp(req);
  if (op == "config.show") return ConfigShowOp();
  if (op == "audit.list") return AuditListOp(req);
  if (op == "adapter.test") return AdapterTestOp(req);
  if (op == "adapter.test.status") return AdapterTestStatusOp();
  if (auto it = extra_ops_.find(op); it != extra_ops_.end()) return it->second(req);
  if (op == "ops") {
    nlohmann::json ops = {"record.get", "stats", "quarantine.list", "indicators",
                          "indicators.explain", "units", "deadlines.scan", "outbox.status",
                          "outbox.dead_letters", "outbox.resend", "outbox.mappings.set", "outbox.mappings.get",
                          "outbox.reconcile", "exportlog.verify", "tagging.reload",
                          "tagging.status", "tagging.changes", "tags.count", "tags.explain",
                          "procedures.refresh", "procedures.status", "procedures.get",
                          "config.reload", "config.show", "audit.list", "adapter.test",
                          "adapter.test.status", "progress", "ops"};
    for (const auto& [name, fn] : extra_ops_) ops.push_back(name);
    return nlohmann::json{{"ops", ops}};
  }
  return Status::NotFound("/op: thao tác không được hỗ trợ: \"" + op + "\"");
}

Result<nlohmann::json> Engine::RecordGet(const nlohmann::json& req) {
  const QueryArgs args(req);
  std::vector<std::string> errors;
  RecordKey key;
  const std::pair<const char*, std::string*> fields[] = {
      {"source", &key.source}, {"kind", &key.kind}, {"id", &key.id}};
  for (const auto& [name, field] : fields) {
    auto v = args.Key(name);
    if (v.ok()) *field = v.value();
    else errors.push_back(v.status().message());
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Status::InvalidInput(msg);
  }
  auto rec = store_->GetRecord(key);
  if (!rec.ok()) return rec.status();
  if (!rec.value()) return Status::NotFound("không có bản ghi " + key.source + "/" + key.kind + "/" + key.id);
  const RecordRow& r = *rec.value();
  auto hist = store_->GetHistory(r.pk);
  if (!hist.ok()) return hist.status();
  nlohmann::json h = nlohmann::json::array();
  for (const auto& e : hist.value()) {
    nlohmann::json item = {{"status", e.status}, {"at", FormatIsoTime(e.at_ms)},
                           {"outcome", e.outcome}, {"event_time", e.event_time}};
    if (e.outcome != "step") item["order_key"] = e.order_key;
    if (e.outcome == "step" && !e.detail_json.empty())
      item["step"] = ParseStoredJson(e.detail_json);
    h.push_back(std::move(item));
  }
  nlohmann::json record = {{"key", KeyJson(r.key)},
                           {"unit", r.unit},
                           {"status", r.status},
                           {"event_time", r.event_time},
                           {"first_seen", FormatIsoTime(r.first_seen_ms)},
                           {"updated", FormatIsoTime(r.updated_ms)},
                           {"has_item", r.has_item},
                           {"data", ParseStoredJson(r.data_json)},
                           {"tags", ParseStoredJson(r.tags_json)},
                           {"deadline", ParseStoredJson(r.deadline_json)}};
  if (auto pending = DossierPending(r); !pending.is_null()) record["pending"] = std::move(pending);
  record[r.order_basis == "time" ? "updated_at_ms" : "version"] = r.order_key;
  return nlohmann::json{{"record", std::move(record)}, {"history", std::move(h)}};
}

nlohmann::json Engine::IndexStats() const {
  auto pending = store_->CountPendingContributions();
  return {{"series_keys", index_.key_count()},
          {"month_buckets", index_.bucket_count()},
          {"series_bytes", index_.memory_bytes()},
          {"action_list_entries", record_index_.entry_count()},
          {"action_list_bytes", record_index_.memory_bytes()},
          {"checkpoint_pending", pending.ok() ? pending.value() : -1}};
}

Result<nlohmann::json> Engine::StatsOp() {
  auto st = store_->Stats();
  if (!st.ok()) return st.status();
  nlohmann::json by_kind = nlohmann::json::object(), by_unit = nlohmann::json::object();
  int64_t total = 0;
  for (const auto& c : st->records) {
    by_kind[c.kind] = by_kind.value(c.kind, 0) + c.count;
    by_unit[c.unit][c.kind] = c.count;
    total += c.count;
  }
  return nlohmann::json{{"records", total},
                        {"records_by_kind", by_kind},
                        {"records_by_unit", by_unit},
                        {"history_rows", st->history_rows},
                        {"quarantined", st->quarantined},
                        {"indicators_index", IndexStats()},
                        {"storage", {{"engine", config_.storage_engine},
                                     {"path", std::filesystem::absolute(st->location).string()},
                                     {"schema_version", st->schema_version}}}};
}

Result<nlohmann::json> Engine::QuarantineList(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto limit = args.Int("limit", 100, 1, 10000);
  if (!limit.ok()) return limit.status();
  auto offset = args.Int("offset", 0, 0, INT64_MAX);
  if (!offset.ok()) return offset.status();
  auto rows = store_->ListQuarantine(limit.value(), offset.value());
  if (!rows.ok()) return rows.status();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& q : rows.value()) {
    items.push_back({{"id", q.id},
                     {"received", FormatIsoTime(q.received_ms)},
                     {"key", {{"source", q.source}, {"kind", q.kind}, {"id", q.record_id}}},
                     {"errors", ParseStoredJson(q.errors_json)},
                     {"raw_size", q.raw_size},
                     {"raw_truncated", static_cast<int64_t>(q.raw.size()) < q.raw_size},
                     // Invalid UTF-8 is kept byte for byte in storage; shown replaced here.
                     {"raw", q.raw}});
  }
  return nlohmann::json{{"items", std::move(items)}};
}

Result<nlohmann::json> Engine::UnitsOp() {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& code : units_->codes()) {
    const auto* u = units_->Find(code);
    out.push_back({{"code", code}, {"name", u->name}, {"type", u->type},
                   {"parent", u->spans.back().parent}});
  }
  return nlohmann::json{{"hierarchy", units_->id()}, {"units", out}};
}

namespace {

// Whether an indicator counts petitions by their on-time class (series of contributions.cc).
bool UsesPetitionDeadline(const indicators::IndicatorDef& def) { return def.reads_petition_class; }

// The steps a petition's class can be judged on, by kind and round, in the order tried.
nlohmann::json ClassificationSteps(const calendar::DeadlineRules& rules) {
  std::vector<const calendar::DeadlineRule*> used;
  for (const auto& r : rules.rules())
    if (r.classify_priority > 0) used.push_back(&r);
  std::stable_sort(used.begin(), used.end(), [](const auto* a, const auto* b) {
    return std::tie(a->petition_kind, a->round, a->classify_priority) <
           std::tie(b->petition_kind, b->round, b->classify_priority);
  });
  nlohmann::json out = nlohmann::json::array();
  for (const auto* r : used)
    out.push_back({{"rule_id", r->id}, {"petition_kind", r->petition_kind}, {"round", r->round},
                   {"step", r->step}, {"start_from", r->start_from},
                   {"classify_priority", r->classify_priority}, {"legal_basis", r->legal_basis}});
  return out;
}

// The arguments of {"op":"indicators"} checked and the figures computed: what the DOM answer
// (IndicatorsOp) and the text answer (IndicatorsText) are written from.
struct IndicatorsQuery {
  std::string unit;
  const indicators::Unit* unit_def = nullptr;
  indicators::Period period;
  std::vector<std::string> ids;  // empty: every indicator (and the idx766 points)
  int64_t today = 0;
  std::vector<indicators::IndicatorValue> values;
};

Result<IndicatorsQuery> RunIndicatorsQuery(const nlohmann::json& req, const indicators::UnitTree& units,
                                           const indicators::IndicatorCatalog& catalog,
                                           const indicators::SeriesIndex& index, int64_t now_ms) {
  const QueryArgs args(req);
  IndicatorsQuery q;
  auto unit_arg = args.Key("unit");
  if (!unit_arg.ok()) return unit_arg.status();
  q.unit = std::move(unit_arg).value();
  q.unit_def = units.Find(q.unit);
  if (!q.unit_def) return Status::NotFound("/unit: không có đơn vị \"" + q.unit + "\" trong cây đơn vị");
  auto period_arg = args.Object("period", nlohmann::json::object());
  if (!period_arg.ok()) return period_arg.status();
  auto period = catalog.ResolvePeriod(period_arg.value());
  if (!period.ok()) return period.status();
  q.period = std::move(period).value();
  auto ids_arg = args.Strings("ids", 1000);
  if (!ids_arg.ok()) return ids_arg.status();
  q.ids = std::move(ids_arg).value();
  for (size_t i = 0; i < q.ids.size(); ++i)
    if (!catalog.Find(q.ids[i]))
      return Status::InvalidInput("/ids/" + std::to_string(i) + ": chỉ số không tồn tại: " + ShownValue(q.ids[i]));
  q.today = LocalDay(now_ms);
  q.values = catalog.Compute(index, q.unit, q.period, q.today, q.ids);
  return q;
}

}  // namespace

Result<nlohmann::json> Engine::IndicatorsOp(const nlohmann::json& req) {
  auto q = RunIndicatorsQuery(req, *units_, *catalog_, index_, hooks_.clock->NowMs());
  if (!q.ok()) return q.status();
  const auto& values = q->values;
  nlohmann::json list = nlohmann::json::array();
  // Indicators built on a petition's on-time class say which legal step that class is judged
  // on (domain.md §3; issue 13): the rules of config/deadlines.json with a classify_priority,
  // the lowest priority whose start is set deciding.
  nlohmann::json on_petition_deadline = nlohmann::json::array();
  for (const auto& v : values) {
    list.push_back(v.ToJson());
    if (const auto* def = catalog_->Find(v.id); def && UsesPetitionDeadline(*def))
      on_petition_deadline.push_back(v.id);
  }
  nlohmann::json out = {{"unit", q->unit}, {"unit_name", q->unit_def->name},
                        {"period", q->period.ToJson()}, {"as_of", FormatIsoDate(std::min(q->period.to_day, q->today))},
                        {"indicators", std::move(list)}, {"config_version", catalog_->version()}};
  if (!on_petition_deadline.empty())
    out["petition_deadline_steps"] = {{"indicators", std::move(on_petition_deadline)},
                                      {"steps", ClassificationSteps(evaluator()->classifier().rules())}};
  if (q->ids.empty()) out["idx766"] = catalog_->Idx766Points(values);
  return out;
}

// The same answer as IndicatorsOp, written as the ABI's bytes (DumpJson with the replace
// handler) straight from the figures: the members in nlohmann's (sorted) order.
Status Engine::IndicatorsText(const nlohmann::json& req, std::string* out) {
  auto q = RunIndicatorsQuery(req, *units_, *catalog_, index_, hooks_.clock->NowMs());
  if (!q.ok()) return q.status();
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  const auto& values = q->values;
  out->clear();
  *out += "{\"as_of\":";
  AppendJsonString(FormatIsoDate(std::min(q->period.to_day, q->today)), out, kReplace);
  *out += ",\"config_version\":";
  AppendJsonString(catalog_->version(), out, kReplace);
  if (q->ids.empty()) {
    *out += ",\"idx766\":";
    catalog_->AppendIdx766Points(catalog_->Idx766(values), out);
  }
  *out += ",\"indicators\":[";
  // Each value's definition: by position when every indicator was asked for, else by id.
  const auto& defs = catalog_->definitions();
  std::vector<const indicators::IndicatorDef*> def_of(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    def_of[i] = values.size() == defs.size() && defs[i].id == values[i].id ? &defs[i] : catalog_->Find(values[i].id);
  bool any_on_petition_deadline = false;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) *out += ',';
    values[i].AppendJson(out, def_of[i]);
    if (def_of[i] && UsesPetitionDeadline(*def_of[i])) any_on_petition_deadline = true;
  }
  *out += "],\"period\":";
  q->period.AppendJson(out);
  if (any_on_petition_deadline) {
    *out += ",\"petition_deadline_steps\":{\"indicators\":[";
    bool first = true;
    for (size_t i = 0; i < values.size(); ++i)
      if (def_of[i] && UsesPetitionDeadline(*def_of[i])) {
        if (!first) *out += ',';
        first = false;
        *out += def_of[i]->id_json;
      }
    *out += "],\"steps\":";
    {
      // Written once per evaluator in force (config.reload and the portal's procedures swap it).
      auto ev = evaluator();
      std::lock_guard lock(steps_mu_);
      if (ev != steps_of_) {
        steps_json_ = DumpJson(ClassificationSteps(ev->classifier().rules()), kReplace);
        steps_of_ = std::move(ev);
      }
      *out += steps_json_;
    }
    *out += '}';
  }
  *out += ",\"unit\":";
  AppendJsonString(q->unit, out, kReplace);
  *out += ",\"unit_name\":";
  AppendJsonString(q->unit_def->name, out, kReplace);
  *out += '}';
  return Status::Ok();
}

Result<nlohmann::json> Engine::ExplainOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto unit_arg = args.Key("unit");
  if (!unit_arg.ok()) return unit_arg.status();
  auto id_arg = args.String("id", std::nullopt, 256);
  if (!id_arg.ok()) return id_arg.status();
  auto period_arg = args.Object("period", nlohmann::json::object());
  if (!period_arg.ok()) return period_arg.status();
  auto limit_arg = args.Int("limit", 1000, 0, 1000000);
  if (!limit_arg.ok()) return limit_arg.status();
  const std::string unit = unit_arg.value();
  const auto* def = catalog_->Find(id_arg.value());
  if (!def) return Status::NotFound("/id: chỉ số không tồn tại");
  auto period = catalog_->ResolvePeriod(period_arg.value());
  if (!period.ok()) return period.status();
  const int64_t limit = limit_arg.value();
  const int64_t as_of = std::min(period->to_day, LocalDay(hooks_.clock->NowMs()));
  auto subtree = units_->Descendants(unit, period->from_day, period->to_day);
  if (subtree.empty()) subtree.push_back(unit);
  std::string kind;
  const std::string& first = def->numerator.empty() ? def->denominator[0].series : def->numerator[0].series;
  switch (first[0]) {
    case 'd': kind = "dossier"; break;
    case 'p': kind = "petition"; break;
    case 'r': kind = "reception"; break;
    case 'v': kind = "dvk_model"; break;
    case 't': kind = "plan_task"; break;
  }
  // One record's value under a list of terms, counting only contributions for units in the
  // requested unit's subtree (plan tasks count for their lead unit).
  auto value_of = [&](const RecordRow& row, const nlohmann::json& contrib,
                      const std::vector<indicators::Term>& terms) {
    double sum = 0;
    for (const auto& item : contrib) {
      auto c = indicators::Contribution::FromJson(item);
      auto chain = units_->Chain(c.unit.empty() ? row.unit : c.unit, c.day);
      if (std::find(chain.begin(), chain.end(), unit) == chain.end()) continue;
      for (const auto& t : terms) {
        if (t.series != c.series) continue;
        bool in = false;
        switch (t.mode) {
          case indicators::Term::Mode::kRange: in = c.day >= period->from_day && c.day <= period->to_day; break;
          case indicators::Term::Mode::kLevel: in = c.day <= as_of; break;
          case indicators::Term::Mode::kBeforeStart: in = c.day < period->from_day; break;
        }
        if (in) sum += t.sign * c.value;
      }
    }
    return sum;
  };
  nlohmann::json num = nlohmann::json::array(), den = nlohmann::json::array();
  int64_t num_count = 0, den_count = 0;
  // Plan tasks may count for a lead unit outside the envelope unit: scan every unit then.
  std::vector<std::string> scan_units = kind == "plan_task" ? units_->codes() : subtree;
  Status st = store_->ForEachRecord(kind, scan_units, [&](const RecordRow& row) {
    nlohmann::json contrib = ParseStoredJson(row.contrib_json);
    if (!contrib.is_array() || contrib.empty()) return;
    double n = value_of(row, contrib, def->numerator);
    double d = def->denominator.empty() ? 0 : value_of(row, contrib, def->denominator);
    // A backlog age's numerator series sums the days the open records were received: a record's
    // share of the figure (total age in days) is its age on the as-of day.
    if (def->average_age && d != 0) n = d * static_cast<double>(as_of) - n;
    nlohmann::json item = {{"key", KeyJson(row.key)}, {"unit", row.unit}, {"status", row.status}};
    if (n != 0) {
      if (num_count++ < limit) { item["value"] = n; num.push_back(item); }
    }
    if (d != 0) {
      if (den_count++ < limit) { item["value"] = d; den.push_back(item); }
    }
  });
  if (!st.ok()) return st;
  auto values = catalog_->Compute(index_, unit, period.value(), LocalDay(hooks_.clock->NowMs()), {def->id});
  nlohmann::json out = {{"unit", unit}, {"period", period->ToJson()}, {"indicator", values[0].ToJson()},
                        {"numerator_records", num}, {"numerator_record_count", num_count}};
  if (!def->denominator.empty()) {
    out["denominator_records"] = den;
    out["denominator_record_count"] = den_count;
  }
  if (def->complement)
    out["note"] = "Tử số = mẫu số trừ các hồ sơ/đơn trong danh sách numerator_records (quá hạn, không hài lòng, tái phát sinh).";
  if (def->months_held)
    out["note"] = "Tử số là số tháng của kỳ có ít nhất một bản ghi trong danh sách numerator_records, không phải tổng giá trị của chúng.";
  if (def->average_age)
    out["note_age"] = "Giá trị của mỗi bản ghi là tuổi (số ngày) tại ngày tính; tổng là tử số, chia cho mẫu số được tuổi bình quân.";
  return out;
}

Result<nlohmann::json> Engine::ProcedureGetOp(const nlohmann::json& req) {
  if (!req.contains("code") || !req["code"].is_string())
    return Status::InvalidInput("/code: thiếu mã thủ tục (MaTTHC, chuỗi)");
  const std::string code = req["code"].get<std::string>();
  const auto* p = evaluator()->classifier().procedures().Find(code);
  if (!p) return Status::NotFound("/code: không có thủ tục \"" + code + "\" trong danh mục");
  return p->ToJson();
}

Result<nlohmann::json> Engine::MergePortalProcedures(const std::vector<nlohmann::json>& answers) {
  std::lock_guard merge_lock(procedures_mu_);
  auto before = evaluator();
  std::shared_ptr<const calendar::ProcedureCatalogue> catalogue;
  nlohmann::json invalid = nlohmann::json::array();
  auto stored_or = store_->GetSetting(kPortalProceduresSetting);
  if (!stored_or.ok()) return stored_or.status();
  nlohmann::json stored = stored_or.value() ? ParseStoredJson(*stored_or.value())
                                            : nlohmann::json::object();
  if (!stored.is_object()) stored = nlohmann::json::object();
  std::set<std::string> changed;
  const calendar::ProcedureCatalogue* current = &before->classifier().procedures();
  for (const auto& answer : answers) {
    const std::string code = calendar::LayThuTucCode(answer);
    if (code.empty()) {
      invalid.push_back({{"error", "LayThuTuc: câu trả lời không có mã thủ tục (MaTTHC)"}});
      continue;
    }
    const auto* old_entry = current->Find(code);
    const nlohmann::json old_json = old_entry ? old_entry->ToJson() : nlohmann::json(nullptr);
    auto next = calendar::UpsertFromLayThuTuc(*current, answer);
    if (!next.ok()) {
      invalid.push_back({{"code", code}, {"error", next.status().message()}});
      continue;
    }
    catalogue = next.value();
    current = catalogue.get();
    if (current->Find(code)->ToJson() != old_json) changed.insert(code);
    stored[code] = answer;
  }
  nlohmann::json summary = {{"changed", changed}, {"invalid", invalid}, {"reevaluated", 0}};
  if (changed.empty()) return summary;
  {
    auto tx = store_->Begin();
    if (!tx.ok()) return tx.status();
    Status st = tx.value()->SetSetting(kPortalProceduresSetting, stored.dump());
    if (!st.ok()) return st;
    st = tx.value()->Commit();
    if (!st.ok()) return st;
  }
  {
    // The calendar and deadline rules in force (a reload swaps them under this lock too).
    std::lock_guard lock(evaluator_mu_);
    evaluator_ = std::make_shared<RecordEvaluator>(
        std::make_shared<calendar::OnTimeClassifier>(calendar_, catalogue, deadline_rules_));
  }
  // The deadlines of stored dossiers of those procedures follow the new catalogue.
  std::vector<int64_t> pks;
  Status st = store_->ForEachRecord("dossier", units_->codes(), [&](const RecordRow& row) {
    nlohmann::json d = ParseStoredJson(row.data_json);
    if (row.has_item && d.is_object() && d.contains("MaTTHC") && d["MaTTHC"].is_string() &&
        changed.count(d["MaTTHC"].get<std::string>()))
      pks.push_back(row.pk);
  });
  if (!st.ok()) return st;
  for (size_t i = 0; i < pks.size(); i += 200) {
    st = ReevaluateRecords(std::vector<int64_t>(pks.begin() + i, pks.begin() + std::min(pks.size(), i + 200)));
    if (!st.ok()) return st;
  }
  const int64_t reevaluated = static_cast<int64_t>(pks.size());
  summary["reevaluated"] = reevaluated;
  hooks_.logger.Log(LogLevel::kInfo, "procedures_merged", summary);
  return summary;
}

Result<nlohmann::json> Engine::ProgressOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  std::string want;  // empty: every job
  if (args.Has("job")) {
    auto job = args.OneOf("job", {"retag", "deadlines.reevaluation", "report"});
    if (!job.ok()) return job.status();
    want = job.value();
  }
  nlohmann::json jobs = nlohmann::json::array();
  if (want.empty() || want == "retag") jobs.push_back(retag_progress_.ToJson());
  if (want.empty() || want == "deadlines.reevaluation") {
    // The background re-evaluation of deadlines (engine/background_job.h) in the same shape.
    const nlohmann::json r = reevaluation_->StatusJson();
    const int64_t done = r.value("done", int64_t{0}), total = std::max(done, r.value("total", int64_t{0}));
    const bool running = r.value("running", false);
    std::string state = running ? "running" : (r.contains("error") ? "failed" : (total > 0 ? "done" : "idle"));
    if (!running && !r.contains("error") && total > 0 && done < total) state = "cancelled";
    nlohmann::json j = {{"job", "deadlines.reevaluation"}, {"state", state}, {"done", done}, {"total", total},
                        {"percent", state == "done" ? 100 : (total > 0 ? static_cast<int>(done * 100 / total) : 0)},
                        {"reason", r.value("reason", "")}, {"detail", nlohmann::json::object()}};
    if (r.contains("error")) j["error"] = r["error"];
    jobs.push_back(std::move(j));
  }
  if (want.empty() || want == "report") {
    const auto runs = report_progress_.Runs();
    if (runs.empty()) {
      jobs.push_back(JobProgress("report").ToJson());
    } else {
      // The most recent run first; the others (kept ReportProgressBoard::kKept) after it.
      for (const auto& run : runs) jobs.push_back(run->ToJson());
    }
  }
  return nlohmann::json{{"jobs", jobs}};
}

}  // namespace danvan
