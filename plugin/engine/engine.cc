#include "engine/engine.h"

#include <filesystem>

#include "core/json_schema.h"
#include "core/timeutil.h"
#include "sqlite/sqlite_store.h"

#ifndef DANVAN_SOURCE_ROOT
#define DANVAN_SOURCE_ROOT "."
#endif

namespace danvan {
namespace {

std::string DefaultDir(const char* name) {
  // Installed layout first (share/danvan next to lib/), then the source tree of this build.
  return std::string(DANVAN_SOURCE_ROOT) + "/" + name;
}

nlohmann::json KeyJson(const RecordKey& k) {
  return {{"source", k.source}, {"kind", k.kind}, {"id", k.id}};
}

nlohmann::json ErrorsJson(const std::vector<FieldError>& errors) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : errors) a.push_back(e.ToJson());
  return a;
}

}  // namespace

Result<EngineConfig> ParseEngineConfig(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return Status::InvalidInput("/: cấu hình không phải đối tượng JSON hợp lệ");
  EngineConfig c;
  c.schemas_dir = doc.value("schemas_dir", DefaultDir("schemas"));
  c.config_dir = doc.value("config_dir", DefaultDir("config"));
  auto schema = JsonSchema::FromFile(c.schemas_dir + "/config.schema.json");
  if (!schema.ok()) return Status::InvalidInput("/schemas_dir: " + schema.status().message());
  std::vector<FieldError> errors;
  schema.value()->Validate(doc, &errors);
  if (errors.empty()) {
    const auto& st = doc["storage"];
    c.storage_engine = st.value("engine", "sqlite");
    c.storage_path = st.value("path", "");
    if (c.storage_engine == "sqlite" && c.storage_path.empty())
      errors.push_back({"/storage/path", "thiếu đường dẫn tệp SQLite"});
    if (c.storage_engine == "postgres")
      errors.push_back({"/storage/engine", "PostgreSQL chưa được hỗ trợ trong bản này"});
    c.synchronous_full = st.value("synchronous", "full") == "full";
    c.busy_timeout_ms = st.value("busy_timeout_ms", c.busy_timeout_ms);
    c.read_connections = st.value("read_connections", c.read_connections);
    if (doc.contains("limits")) {
      const auto& l = doc["limits"];
      c.intake.max_event_bytes = l.value("max_event_bytes", c.intake.max_event_bytes);
      c.intake.quarantine_raw_max_bytes =
          l.value("quarantine_raw_max_bytes", c.intake.quarantine_raw_max_bytes);
      c.max_batch_events = l.value("max_batch_events", c.max_batch_events);
      c.max_batch_bytes = l.value("max_batch_bytes", c.max_batch_bytes);
    }
    if (doc.contains("log")) Logger::ParseLevel(doc["log"].value("level", "info"), &c.log_level);
    c.stop_timeout_ms = doc.value("stop_timeout_ms", c.stop_timeout_ms);
    c.instance = doc.value("instance", "");
  }
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  c.raw = std::move(doc);
  return c;
}

// An event after parsing (outside the write lock), waiting to be applied.
struct Engine::Prepared {
  size_t index = 0;
  std::string_view raw;
  IntakeOutcome outcome;
};

Engine::Engine(EngineConfig config, HostHooks hooks)
    : config_(std::move(config)), hooks_(std::move(hooks)) {}

Engine::~Engine() { Stop(config_.stop_timeout_ms); }

Result<std::unique_ptr<Engine>> Engine::Open(const EngineConfig& config, HostHooks hooks) {
  if (!hooks.clock) hooks.clock = std::make_shared<SystemClock>();
  std::unique_ptr<Engine> e(new Engine(config, std::move(hooks)));
  auto intake = Intake::Create(config.schemas_dir, config.intake);
  if (!intake.ok()) return intake.status();
  e->intake_ = std::move(intake).value();
  std::error_code ec;
  auto parent = std::filesystem::path(config.storage_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  SqliteOptions so;
  so.path = config.storage_path;
  so.synchronous_full = config.synchronous_full;
  so.busy_timeout_ms = config.busy_timeout_ms;
  so.read_connections = config.read_connections;
  auto store = OpenSqliteStore(so);
  if (!store.ok()) return store.status();
  e->store_ = std::move(store).value();
  e->hooks_.logger.Log(LogLevel::kInfo, "opened",
                       {{"instance", config.instance}, {"storage", config.storage_path}});
  return e;
}

Status Engine::Start() {
  started_ = true;
  return Status::Ok();
}

Status Engine::Stop(uint32_t timeout_ms) {
  started_ = false;
  return Status::Ok();
}

nlohmann::json Engine::ApplyAll(std::vector<Prepared>& events, Status* status) {
  nlohmann::json results = nlohmann::json::array();
  const int64_t now = hooks_.clock->NowMs();
  auto tx_or = store_->Begin();
  if (!tx_or.ok()) {
    *status = tx_or.status();
    return results;
  }
  auto& tx = *tx_or.value();
  auto fail = [&](const Status& st) {
    *status = st;
    return nlohmann::json::array();
  };
  for (auto& ev : events) {
    nlohmann::json r = {{"index", ev.index}};
    IntakeOutcome& o = ev.outcome;
    if (o.ok) {
      ParsedEvent& p = o.parsed;
      auto head_or = tx.GetRecord(p.key);
      if (!head_or.ok()) return fail(head_or.status());
      std::optional<RecordRow>& head = head_or.value();
      const bool has_head_item = head && head->has_item;
      if (p.is_progress_step) {
        RecordRow row;
        if (head) {
          row = *head;
        } else {
          row.key = p.key;
          row.unit = p.unit;
          row.order_basis = "";
          row.event_time = p.event_time;
          row.event_time_ms = p.event_time_ms;
          row.data_json = "{}";
          row.data_hash = Sha256Hex(row.data_json);
          row.first_seen_ms = now;
          row.has_item = false;
        }
        bool dup = false;
        if (head) {
          auto has = tx.HasStep(head->pk, p.status, p.step_at_ms);
          if (!has.ok()) return fail(has.status());
          dup = has.value();
        }
        if (dup) {
          r["outcome"] = "duplicate";
        } else {
          if (!row.has_item) row.status = p.status;
          row.updated_ms = now;
          auto pk = tx.PutRecord(row);
          if (!pk.ok()) return fail(pk.status());
          Status st = tx.AppendHistory({pk.value(), p.order_key, p.status, p.step_at_ms,
                                        p.event_time, "step", p.data_json, now});
          if (!st.ok()) return fail(st);
          r["outcome"] = "accepted";
          r["step"] = {{"status", p.status}, {"at", FormatIsoTime(p.step_at_ms)}};
        }
      } else if (has_head_item && head->order_basis != p.order_basis) {
        o.ok = false;
        o.errors.push_back({p.order_basis == "version" ? "/version" : "/updated_at",
                            "bản ghi này được sắp thứ tự theo '" +
                                std::string(head->order_basis == "version" ? "version" : "updated_at") +
                                "'; sự kiện phải dùng cùng trường"});
      } else if (has_head_item && p.order_key == head->order_key) {
        if (p.data_hash == head->data_hash) {
          r["outcome"] = "duplicate";
        } else {
          o.ok = false;
          o.errors.push_back({p.order_basis == "version" ? "/version" : "/updated_at",
                              "phiên bản " + std::to_string(p.order_key) +
                                  " đã được ghi nhận với nội dung khác (xung đột)"});
        }
      } else if (has_head_item && p.order_key < head->order_key) {
        Status st = tx.AppendHistory({head->pk, p.order_key, p.status, p.event_time_ms,
                                      p.event_time, "stale", p.data_json, now});
        if (!st.ok()) return fail(st);
        r["outcome"] = "stale";
        r["current_version"] = head->order_key;
      } else {
        RecordRow row;
        if (head) row = *head;
        else row.first_seen_ms = now;
        row.key = p.key;
        row.unit = p.unit;
        row.order_basis = p.order_basis;
        row.order_key = p.order_key;
        row.event_time = p.event_time;
        row.event_time_ms = p.event_time_ms;
        row.status = p.status;
        row.data_json = p.data_json;
        row.data_hash = p.data_hash;
        row.updated_ms = now;
        row.has_item = true;
        auto pk = tx.PutRecord(row);
        if (!pk.ok()) return fail(pk.status());
        Status st = tx.AppendHistory({pk.value(), p.order_key, p.status, p.event_time_ms,
                                      p.event_time, "applied", "", now});
        if (!st.ok()) return fail(st);
        r["outcome"] = "accepted";
      }
      if (o.ok) {
        r["key"] = KeyJson(p.key);
        r["unit"] = p.unit;
        r[p.order_basis == "version" ? "version" : "updated_at"] =
            p.order_basis == "version" ? nlohmann::json(p.order_key)
                                       : nlohmann::json(p.event["updated_at"]);
        if (!p.notes.empty()) r["notes"] = p.notes;
      }
    }
    if (!o.ok) {
      const RecordKey& k = o.partial_key;
      QuarantineRow q;
      q.received_ms = now;
      q.source = k.source;
      q.kind = k.kind;
      q.record_id = k.id;
      q.errors_json = ErrorsJson(o.errors).dump();
      q.raw_size = static_cast<int64_t>(ev.raw.size());
      q.raw = std::string(ev.raw.substr(0, static_cast<size_t>(config_.intake.quarantine_raw_max_bytes)));
      Status st = tx.Quarantine(q);
      if (!st.ok()) return fail(st);
      r["outcome"] = "rejected";
      r["key"] = KeyJson(k);
      if (!o.partial_unit.empty()) r["unit"] = o.partial_unit;
      r["errors"] = ErrorsJson(o.errors);
      hooks_.logger.Log(LogLevel::kWarn, "event_rejected",
                        {{"key", KeyJson(k)}, {"errors", r["errors"]}});
    }
    results.push_back(std::move(r));
  }
  Status st = tx.Commit();
  if (!st.ok()) return fail(st);
  *status = Status::Ok();
  return results;
}

SubmitAnswer Engine::Submit(std::string_view event) {
  std::vector<Prepared> events(1);
  events[0].raw = event;
  events[0].outcome = intake_->Parse(event);
  Status st;
  nlohmann::json results = ApplyAll(events, &st);
  if (!st.ok()) return {st, {{"outcome", "error"}, {"error", st.message()}}};
  nlohmann::json r = std::move(results[0]);
  r.erase("index");
  bool rejected = r["outcome"] == "rejected";
  return {rejected ? Status::InvalidInput(r["errors"].dump()) : Status::Ok(), std::move(r)};
}

SubmitAnswer Engine::SubmitBatch(std::string_view jsonl) {
  if (static_cast<int64_t>(jsonl.size()) > config_.max_batch_bytes) {
    return {Status::InvalidInput("lô quá lớn: " + std::to_string(jsonl.size()) + " byte, tối đa " +
                                 std::to_string(config_.max_batch_bytes)),
            nlohmann::json::object()};
  }
  std::vector<Prepared> events;
  size_t line_no = 0, pos = 0;
  while (pos <= jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view line = jsonl.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      if (static_cast<int64_t>(events.size()) >= config_.max_batch_events) {
        return {Status::InvalidInput("lô có quá nhiều sự kiện: tối đa " +
                                     std::to_string(config_.max_batch_events) + " dòng"),
                nlohmann::json::object()};
      }
      Prepared p;
      p.index = line_no;
      p.raw = line;
      events.push_back(std::move(p));
    }
    ++line_no;
    if (end == jsonl.size()) break;
    pos = end + 1;
  }
  for (auto& e : events) e.outcome = intake_->Parse(e.raw);
  Status st;
  nlohmann::json results = ApplyAll(events, &st);
  if (!st.ok()) return {st, {{"error", st.message()}}};
  nlohmann::json summary = {{"accepted", 0}, {"duplicate", 0}, {"stale", 0}, {"rejected", 0}};
  for (const auto& r : results) summary[r["outcome"].get<std::string>()] =
      summary[r["outcome"].get<std::string>()].get<int64_t>() + 1;
  summary["events"] = results.size();
  return {Status::Ok(), {{"results", std::move(results)}, {"summary", std::move(summary)}}};
}

Result<nlohmann::json> Engine::Query(std::string_view request) {
  nlohmann::json req = nlohmann::json::parse(request, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Status::InvalidInput("/op: yêu cầu phải là đối tượng JSON có trường \"op\" (chuỗi)");
  const std::string op = req["op"].get<std::string>();
  if (op == "record.get") return RecordGet(req);
  if (op == "stats") return StatsOp();
  if (op == "quarantine.list") return QuarantineList(req);
  if (op == "ops")
    return nlohmann::json{{"ops", {"record.get", "stats", "quarantine.list", "ops"}}};
  return Status::NotFound("/op: thao tác không được hỗ trợ: \"" + op + "\"");
}

Result<nlohmann::json> Engine::RecordGet(const nlohmann::json& req) {
  std::vector<FieldError> errors;
  for (const char* f : {"source", "kind", "id"})
    if (!req.contains(f) || !req[f].is_string())
      errors.push_back({std::string("/") + f, "thiếu trường bắt buộc (chuỗi)"});
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  RecordKey key{req["source"], req["kind"], req["id"]};
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
      item["step"] = nlohmann::json::parse(e.detail_json, nullptr, false);
    h.push_back(std::move(item));
  }
  nlohmann::json record = {{"key", KeyJson(r.key)},
                           {"unit", r.unit},
                           {"status", r.status},
                           {"event_time", r.event_time},
                           {"first_seen", FormatIsoTime(r.first_seen_ms)},
                           {"updated", FormatIsoTime(r.updated_ms)},
                           {"has_item", r.has_item},
                           {"data", nlohmann::json::parse(r.data_json, nullptr, false)},
                           {"tags", nlohmann::json::parse(r.tags_json, nullptr, false)}};
  record[r.order_basis == "time" ? "updated_at_ms" : "version"] = r.order_key;
  return nlohmann::json{{"record", std::move(record)}, {"history", std::move(h)}};
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
                        {"storage", {{"engine", config_.storage_engine},
                                     {"path", std::filesystem::absolute(st->location).string()},
                                     {"schema_version", st->schema_version}}}};
}

Result<nlohmann::json> Engine::QuarantineList(const nlohmann::json& req) {
  int64_t limit = req.value("limit", 100), offset = req.value("offset", 0);
  if (limit < 1 || limit > 10000) return Status::InvalidInput("/limit: phải trong khoảng 1..10000");
  auto rows = store_->ListQuarantine(limit, offset);
  if (!rows.ok()) return rows.status();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& q : rows.value()) {
    items.push_back({{"id", q.id},
                     {"received", FormatIsoTime(q.received_ms)},
                     {"key", {{"source", q.source}, {"kind", q.kind}, {"id", q.record_id}}},
                     {"errors", nlohmann::json::parse(q.errors_json, nullptr, false)},
                     {"raw_size", q.raw_size},
                     {"raw_truncated", static_cast<int64_t>(q.raw.size()) < q.raw_size},
                     // Invalid UTF-8 is kept byte for byte in storage; shown replaced here.
                     {"raw", q.raw}});
  }
  return nlohmann::json{{"items", std::move(items)}};
}

}  // namespace danvan
