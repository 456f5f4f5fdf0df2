// Administration ops (issue 15): config.reload, config.show, audit.list, adapter.test, and the
// audit trail of every administrative op.
//
// Configuration reload, threading:
//  * one reload at a time (reload_mu_); it validates everything first (schema, every data
//    file, what cannot change live) and touches nothing when anything is wrong;
//  * the configuration in force is an immutable snapshot (live_, a shared_ptr<const
//    EngineConfig>) replaced atomically under live_mu_; a caller keeps the snapshot it took
//    for the whole of its work (a report being written keeps its reports.dir);
//  * the rule pack and the deadline inputs are themselves immutable objects swapped under
//    their own locks (rules_mu_, evaluator_mu_), as tagging.reload and the portal's procedure
//    merges already did; a submit evaluates one record with one rule set and one evaluator;
//  * the outbox takes a new OutboxConfig snapshot and client factory (Outbox::Reconfigure):
//    each sender picks them up at its next pass and replaces its portal client;
//  * re-tagging (rule pack changed) and deadline re-evaluation (calendar, deadline rules,
//    procedures changed) run in the background as at open; a reload during one stops it
//    between chunks and starts over with the new data;
//  * log level and scheduler interval are atomics.
// Stop and start may run concurrently with a reload (neither reads what a reload swaps without
// its lock); close must not race any call (danvan.h) and joins every background thread.
#include <algorithm>
#include <filesystem>

#include "core/bounded_input.h"
#include "core/timeutil.h"
#include "console/console.h"
#include "engine/config_reload.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/query_args.h"
#include "portal/portal_http_client.h"
#include "portal/portal_probe.h"

namespace danvan {
namespace {

using json = nlohmann::json;

constexpr const char* kAuditKind = "audit";
constexpr size_t kMaxActorBytes = 200;
constexpr size_t kMaxAuditErrors = 20;

const char* CodeName(Status::Code c) {
  switch (c) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kRetryLater: return "retry_later";
    case Status::Code::kInvalidInput: return "invalid_input";
    case Status::Code::kNotFound: return "not_found";
    case Status::Code::kConflict: return "conflict";
    case Status::Code::kIoError: return "io_error";
    case Status::Code::kInternal: return "internal";
  }
  return "internal";
}

// The errors of a failed op for the audit entry: paths and messages, at most kMaxAuditErrors.
json AuditErrors(const Status& st) {
  json out = json::array();
  const std::string& m = st.message();
  if (!m.empty() && m.front() == '[') {
    json arr = json::parse(m, nullptr, false);
    if (arr.is_array()) {
      for (const auto& e : arr) {
        if (out.size() >= kMaxAuditErrors) break;
        out.push_back({{"path", e.value("path", "")}, {"code", e.value("code", "")},
                       {"reason", e.value("reason", "").substr(0, 500)}});
      }
      return out;
    }
  }
  for (const auto& e : FieldErrorsOf(st, "")) {
    if (out.size() >= kMaxAuditErrors) break;
    out.push_back({{"path", e.path}, {"reason", e.reason.substr(0, 500)}});
  }
  return out;
}

// What the audit entry keeps of a request: identifiers and counts, never free text, documents
// or secrets.
json AuditDetails(const std::string& op, const json& req, const Result<json>& r) {
  json d = json::object();
  auto copy = [&](const char* key) {
    auto it = req.find(key);
    if (it != req.end() && (it->is_string() || it->is_number() || it->is_boolean() || it->is_object()))
      d[key] = *it;
  };
  if (op == "outbox.mappings.set") {
    const json& m = req.value("mappings", json::object());
    d["units"] = m.is_object() && m.contains("units") && m["units"].is_object() ? m["units"].size() : 0;
    d["procedures"] =
        m.is_object() && m.contains("procedures") && m["procedures"].is_object() ? m["procedures"].size() : 0;
  } else if (op == "outbox.resend") {
    copy("id");
  } else if (op == "tags.review") {
    copy("action");
    d["record"] = {{"source", req.value("source", json())}, {"kind", req.value("kind", json())},
                   {"id", req.value("id", json())}};
  } else if (op == "score.manual") {
    for (const char* k : {"unit", "period", "criterion", "assessor", "rubric", "score"}) copy(k);
  } else if (op == "tagging.reload") {
    copy("path");
    if (r.ok()) d["version"] = r.value().value("version", "");
  } else if (op == "procedures.refresh") {
    auto it = req.find("codes");
    if (it != req.end() && it->is_array()) d["codes"] = it->size();
  }
  return d;
}

}  // namespace

bool Engine::IsAuditedOp(const std::string& op, const json& req) {
  static const char* kOps[] = {"config.reload",   "outbox.mappings.set", "outbox.resend",
                               "outbox.reconcile", "tagging.reload",      "score.manual",
                               "procedures.refresh", "adapter.test"};
  for (const char* o : kOps)
    if (op == o) return true;
  if (op == "tags.review") {
    auto it = req.find("action");
    return it != req.end() && it->is_string() && (*it == "confirm" || *it == "correct");
  }
  return false;
}

Result<std::string> Engine::AuditActor(const json& req) {
  for (const char* key : {"actor", "by"}) {
    auto it = req.find(key);
    if (it == req.end()) continue;
    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>().size() > kMaxActorBytes)
      return Status::InvalidInput(std::string("/") + key + ": cần chuỗi 1.." + std::to_string(kMaxActorBytes) +
                                  " byte (người thực hiện), nhận được " + ShownValue(*it));
    for (unsigned char c : it->get_ref<const std::string&>())
      if (c < 0x20 || c == 0x7f)
        return Status::InvalidInput(std::string("/") + key + ": không được chứa ký tự điều khiển");
    return it->get<std::string>();
  }
  return std::string("host");
}

void Engine::Audit(const std::string& op, const json& req, const Result<json>& r, json details,
                   std::chrono::steady_clock::time_point op_began) {
  const int64_t now = hooks_.clock->NowMs();
  auto actor = AuditActor(req);
  json body = {{"op", op},
               {"actor", actor.ok() ? actor.value() : "host"},
               {"at", FormatIsoTime(now)},
               {"outcome", r.ok() ? "ok" : "error"}};
  if (!r.ok()) {
    body["status"] = CodeName(r.status().code());
    body["errors"] = AuditErrors(r.status());
  }
  body["details"] = details.is_null() ? AuditDetails(op, req, r) : std::move(details);
  // An op the store kept busy (RETRY_LATER) has waited its busy timeout already: its entry is
  // written only if the lock comes free within that same timeout (else logged below). Any
  // other op's entry waits as every write does.
  const bool store_was_busy = !r.ok() && r.status().code() == Status::Code::kRetryLater;
  auto tx = store_->BeginBefore(store_was_busy ? op_began + std::chrono::milliseconds(config_.busy_timeout_ms)
                                               : std::chrono::steady_clock::time_point::max());
  Status st = tx.ok() ? Status::Ok() : tx.status();
  if (st.ok()) {
    auto id = tx.value()->AppendJournal({0, kAuditKind, op, body.dump(-1, ' ', false, json::error_handler_t::replace), now});
    st = id.ok() ? tx.value()->Commit() : id.status();
  }
  if (!st.ok())
    hooks_.logger.Log(LogLevel::kError, "audit_write_failed", {{"op", op}, {"error", st.message()}});
}

std::shared_ptr<const EngineConfig> Engine::live_config() const {
  std::lock_guard lock(live_mu_);
  return live_;
}

Result<json> Engine::ConfigReloadOp(const json& req) {
  const QueryArgs args(req);
  auto dry_run = args.Bool("dry_run", false);
  if (!dry_run.ok()) return dry_run.status();
  // The new document: inline, or a file read like every data file (regular file, bounded).
  std::string text;
  const bool inline_doc = args.Has("config"), from_file = args.Has("path");
  if (inline_doc == from_file)
    return Status::InvalidInput("/config: cần đúng một trong hai: \"config\" (tài liệu cấu hình) hoặc \"path\" (tệp cấu hình)");
  if (inline_doc) {
    const json& c = req["config"];
    if (!c.is_object())
      return Status::InvalidInput("/config: cần đối tượng JSON (tài liệu cấu hình), nhận được " + ShownValue(c));
    text = c.dump();
  } else {
    auto path = args.String("path");
    if (!path.ok()) return path.status();
    auto bytes = ReadRegularFile(path.value(), config_.data_limits.max_file_bytes);
    if (!bytes.ok()) return Status::InvalidInput("/path: " + bytes.status().message());
    text = std::move(bytes).value();
  }

  std::lock_guard reload_lock(reload_mu_);
  std::shared_ptr<const EngineConfig> before;
  std::shared_ptr<const ConfigData> before_data;
  {
    std::lock_guard lock(live_mu_);
    before = live_;
    before_data = live_data_;
  }
  const std::string before_sha = ConfigSha256(before->raw);
  json details = {{"before_sha256", before_sha}, {"dry_run", dry_run.value()}};
  if (from_file) details["path"] = req["path"];
  auto finish = [&, began = std::chrono::steady_clock::now()](Result<json> r) {
    Audit("config.reload", req, r, details, began);
    return r;
  };

  // 1. Everything checked, every error listed; nothing is touched until all is well.
  std::vector<FieldError> errors;
  // The rule pack in force may come from tagging.reload rather than the file: compare to it.
  ConfigData running = *before_data;
  {
    std::lock_guard lock(rules_mu_);
    running.rules = rules_;
    running.rules_sha256 = rules_sha256_;
  }
  auto parsed = ParseEngineConfig(text, hooks_.secret);
  std::optional<ConfigData> data;
  if (!parsed.ok()) {
    errors = FieldErrorsOf(parsed.status(), "/");
    details["after_sha256"] = Sha256Hex(text);
  } else {
    details["after_sha256"] = ConfigSha256(parsed.value().raw);
    auto loaded = LoadConfigData(parsed.value(), hooks_.secret, /*collect_all=*/true, &running);
    if (!loaded.ok()) {
      json arr = json::parse(loaded.status().message(), nullptr, false);
      if (arr.is_array())
        for (const auto& e : arr) errors.push_back({e.value("path", "/"), e.value("reason", ""), e.value("code", "")});
      else
        errors.push_back({"/", loaded.status().message(), "config.invalid"});
    } else {
      data = std::move(loaded).value();
    }
  }
  if (parsed.ok()) {
    // When a data file failed, the refusals are judged on paths and the document only (the
    // fingerprints of the running files stand in for the ones that could not be read).
    ReloadPlan plan = PlanReload(*before, running, parsed.value(), data ? *data : running);
    // Unloadable files already explain themselves; the refusals add what cannot change live.
    for (auto& r : plan.refused) errors.push_back(std::move(r));
    // A console moving to another address must be able to bind it: checked now, so a taken
    // port refuses the whole reload instead of leaving the administrators without a console.
    if (plan.console && parsed.value().console.enabled) {
      const console::ConsoleConfig& nc = parsed.value().console;
      const bool same_address = before->console.enabled && nc.bind == before->console.bind &&
                                (nc.port == before->console.port || nc.port == 0) && console_port_.load() != 0;
      if (!same_address && nc.port != 0) {
        Status bind = console::CheckCanBind(nc);
        if (!bind.ok()) errors.push_back({"/console/port", bind.message(), "config.invalid"});
      }
    }
    if (errors.empty()) {
      details["changed"] = plan.changed;
      if (dry_run.value()) {
        return finish(json{{"dry_run", true}, {"valid", true}, {"changed", plan.changed},
                           {"before_sha256", before_sha}, {"after_sha256", details["after_sha256"]},
                           {"retag", plan.rules}, {"reevaluate_deadlines", plan.deadline_inputs},
                           {"portal", plan.portal}, {"outbox", plan.outbox}});
      }
      // 2. Apply. The only step that can fail (a store read) comes first.
      EngineConfig next = std::move(parsed).value();
      auto next_data = std::make_shared<const ConfigData>(std::move(*data));
      json applied = json::object();
      if (plan.outbox || plan.portal) {
        Outbox::ClientFactory factory;
        if (next.outbox.enabled) {
          PortalConfig portal = *next_data->portal;
          std::shared_ptr<Clock> clock = hooks_.clock;
          factory = [portal, clock]() { return MakePortalClient(portal, clock.get()); };
        }
        OutboxConfig oc = next.outbox;
        oc.node = next.instance.empty() ? "local" : next.instance;
        Status st = outbox_->Reconfigure(oc, factory, plan.mappings);
        if (!st.ok()) return finish(st);
        applied["outbox"] = "từ lượt gửi kế tiếp";
      }
      if (next.outbox.enabled && next_data->field_limits) intake_->SetPortalFieldLimits(*next_data->field_limits);
      if (plan.log_level) hooks_.logger.SetMinLevel(next.log_level);
      // The console restarts on its worker thread once this request is answered (it may be a
      // console request): its state is in config.show → console_server.
      if (plan.console) {
        RequestConsoleRestart(next.console);
        applied["console"] = {{"restart", next.console.enabled ? "sau khi trả lời yêu cầu này" : "tắt"},
                              {"status_op", "config.show"}};
      }
      const bool rules = plan.rules, deadlines = plan.deadline_inputs;
      auto next_ptr = std::make_shared<const EngineConfig>(std::move(next));
      {
        std::lock_guard lock(live_mu_);
        live_ = next_ptr;
        live_data_ = next_data;
        live_since_ms_ = hooks_.clock->NowMs();
      }
      if (plan.scheduler_interval) {
        scheduler_interval_ms_ = next_ptr->scheduler_interval_ms;
        std::lock_guard lock(lifecycle_mu_);
        lifecycle_cv_.notify_all();  // the scheduler scans now and then waits the new interval
      }
      if (rules) {
        auto old_version = SwapRulesAndRetag(next_data->rules, next_data->rules_sha256, /*replace_running=*/true);
        applied["retag"] = {{"previous_version", old_version.ok() ? old_version.value() : ""},
                            {"version", next_data->rules->version()},
                            {"status_op", "tagging.status"}};
      }
      if (deadlines) {
        std::lock_guard merge_lock(procedures_mu_);
        // The portal's LayThuTuc answers stored earlier still override the new file's entries.
        std::shared_ptr<const calendar::ProcedureCatalogue> catalogue = next_data->procedures;
        auto fetched = store_->GetSetting(kPortalProceduresSetting);
        if (fetched.ok() && fetched.value()) {
          json stored = ParseStoredJson(*fetched.value());
          if (stored.is_object())
            for (const auto& [code, answer] : stored.items()) {
              auto merged = calendar::UpsertFromLayThuTuc(*catalogue, answer);
              if (merged.ok()) catalogue = merged.value();
            }
        }
        {
          std::lock_guard lock(evaluator_mu_);
          calendar_ = next_data->calendar;
          deadline_rules_ = next_data->deadline_rules;
          evaluator_ = std::make_shared<RecordEvaluator>(
              std::make_shared<calendar::OnTimeClassifier>(calendar_, catalogue, deadline_rules_));
        }
        reevaluation_->Cancel();  // a run for older inputs stops between chunks
        Status st = ReevaluateIfDeadlineInputsChanged(/*force=*/true);
        applied["reevaluate_deadlines"] = st.ok() ? json{{"status_op", "deadlines.status"}}
                                                  : json{{"error", st.message()}};
        if (!st.ok())
          hooks_.logger.Log(LogLevel::kError, "reevaluation_not_started", {{"error", st.message()}});
      }
      hooks_.logger.Log(LogLevel::kInfo, "config_reloaded",
                        {{"changed", plan.changed}, {"before_sha256", before_sha},
                         {"after_sha256", details["after_sha256"]}});
      return finish(json{{"applied", true}, {"changed", plan.changed}, {"before_sha256", before_sha},
                         {"after_sha256", details["after_sha256"]}, {"effects", applied}});
    }
  }
  json arr = json::array();
  for (const auto& e : errors) arr.push_back(e.ToJson());
  return finish(Status::InvalidInput(arr.dump()));
}

Result<json> Engine::ConfigShowOp() {
  std::shared_ptr<const EngineConfig> c;
  std::shared_ptr<const ConfigData> d;
  int64_t since = 0;
  std::string deadline_sha;
  {
    std::lock_guard lock(live_mu_);
    c = live_;
    d = live_data_;
    since = live_since_ms_;
    deadline_sha = deadline_inputs_sha256_;
  }
  return json{{"sha256", ConfigSha256(c->raw)},
              {"since", FormatIsoTime(since)},
              {"config", RedactSecrets(c->raw)},
              {"effective",
               {{"storage", {{"engine", c->storage_engine}, {"path", c->storage_path}}},
                {"schemas_dir", c->schemas_dir},
                {"config_dir", c->config_dir},
                {"rules_file", c->rules_file},
                {"rules_version", rules()->version()},
                {"units_file", c->units_file},
                {"indicators_file", c->indicators_file},
                {"calendar_dir", c->calendar_dir},
                {"deadlines_file", c->deadlines_file},
                {"procedures_file", c->procedures_file},
                {"deadline_inputs_sha256", deadline_sha},
                {"reports_dir", c->reports_dir},
                {"scan_interval_ms", scheduler_interval_ms_.load()},
                {"export_enabled", c->outbox.enabled}}},
              // The admin console's server: running, stopped, disabled, or a failed restart.
              {"console_server", ConsoleState()}};
}

Result<json> Engine::AuditListOp(const json& req) {
  const QueryArgs args(req);
  auto limit = args.Int("limit", 100, 1, 1000);
  if (!limit.ok()) return limit.status();
  auto before = args.Int("before_id", 0, 0, INT64_MAX);
  if (!before.ok()) return before.status();
  auto filter = args.String("filter_op", std::string(), 100);
  if (!filter.ok()) return filter.status();
  auto rows = store_->ListJournalPage(kAuditKind, filter.value(), before.value(), limit.value());
  if (!rows.ok()) return rows.status();
  json items = json::array();
  for (const auto& r : rows.value()) {
    // filter_op is a key prefix: "tags" also matches "tags.review"; keep exact names only when
    // the filter names an op.
    if (!filter.value().empty() && r.key != filter.value() && r.key.rfind(filter.value() + ".", 0) != 0) continue;
    json body = ParseStoredJson(r.body);
    if (!body.is_object()) body = json{{"op", r.key}};
    body["id"] = r.id;
    items.push_back(std::move(body));
  }
  json out = {{"items", std::move(items)}};
  const auto& v = rows.value();
  out["next_before_id"] = static_cast<int64_t>(v.size()) == limit.value() && !v.empty() ? json(v.back().id) : json(nullptr);
  return out;
}

Result<json> Engine::AdapterTestOp(const json&) {
  auto c = live_config();
  if (!c->portal.is_object())
    return Status::InvalidInput("/portal: chưa cấu hình Cổng DVC quốc gia (mục portal), không có gì để kiểm tra");
  // The secrets are read now: a password changed in the environment or file is the one tested.
  auto pc = ParsePortalConfig(c->portal, hooks_.secret);
  if (!pc.ok()) return Status::InvalidInput("/portal: " + pc.status().message());
  Status st = probe_->Start(pc.value(), hooks_.clock->NowMs());
  if (!st.ok()) return st;
  return json{{"state", "running"}, {"status_op", "adapter.test.status"}};
}

Result<json> Engine::AdapterTestStatusOp() { return probe_->StatusJson(); }

}  // namespace danvan
