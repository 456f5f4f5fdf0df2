#include "engine/engine.h"

#include <libpq-fe.h>
#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <set>

#include "console/console.h"
#include "core/data_dirs.h"
#include "core/bounded_input.h"
#include "core/json_schema.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/config_reload.h"
#include "engine/engine_internal.h"
#include "engine/query_args.h"
#include "engine/deadline_list_ops.h"
#include "engine/report_ops.h"
#include "engine/tag_review_ops.h"
#include "portal/portal_http_client.h"
#include "portal/portal_probe.h"
#include "postgres/pg_store.h"
#include "sqlite/sqlite_store.h"

namespace danvan {
namespace {

// Store setting: the portal's LayThuTuc answers merged so far, by procedure code (JSON object).
constexpr const char* kPortalProceduresSetting = "procedures.portal";

}  // namespace

nlohmann::json KeyJson(const RecordKey& k) {
  return {{"source", k.source}, {"kind", k.kind}, {"id", k.id}};
}

// The portal's DongBoHoSoMC needs NgayTiepNhan (domain.md §1), so a dossier is exported only
// once received; its progress steps wait with it. Both waits are stored records without a
// deadline or any indicator contribution (domain.md §2: only received dossiers count).
nlohmann::json DossierPending(const RecordRow& row, const nlohmann::json& d) {
  if (row.key.kind != "dossier") return nullptr;
  if (!row.has_item)
    return {{"code", "awaiting_dossier_item"},
            {"reason", "mới có bước xử lý (CapNhatTienDoHoSoMC), chưa có hồ sơ: chưa tính thời hạn, "
                       "chỉ số và chưa gửi Cổng DVC quốc gia cho đến khi hồ sơ đến"}};
  auto it = d.is_object() ? d.find("NgayTiepNhan") : d.end();
  if (d.is_object() && it != d.end() && it->is_string() && !it->get<std::string>().empty())
    return nullptr;
  return {{"code", "awaiting_reception"},
          {"reason", "hồ sơ chưa được tiếp nhận (trạng thái " + row.status +
                         ", chưa có NgayTiepNhan): được lưu, không tính vào tỷ lệ đúng hạn, "
                         "chưa gửi Cổng DVC quốc gia cho đến khi có NgayTiepNhan"}};
}

nlohmann::json DossierPending(const RecordRow& row) {
  if (row.key.kind != "dossier" || !row.has_item) return DossierPending(row, nlohmann::json());
  return DossierPending(row, nlohmann::json::parse(row.data_json, nullptr, false));
}

bool PortalAccepts(const RecordRow& row, const nlohmann::json& data) {
  return row.key.kind == "dossier" && row.has_item && DossierPending(row, data).is_null();
}

bool PortalAccepts(const RecordRow& row) {
  return row.key.kind == "dossier" && row.has_item && DossierPending(row).is_null();
}

nlohmann::json ErrorsJson(const std::vector<FieldError>& errors) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : errors) a.push_back(e.ToJson());
  return a;
}

namespace {

// portal.insecure_test_only (adapters/portal/portal_config.h): plain HTTP or unverified TLS
// allowed for a test stand-in. Said loudly at every open and start.
void WarnIfPortalInsecure(const EngineConfig& config, const Logger& logger, const char* when) {
  if (!config.portal.is_object()) return;
  auto it = config.portal.find("insecure_test_only");
  if (it == config.portal.end() || !it->is_boolean() || !it->get<bool>()) return;
  logger.Log(LogLevel::kError, "portal_insecure_test_only",
             {{"when", when},
              {"message", "portal.insecure_test_only is true: http:// and tls.verify=false are allowed; "
                          "passwords and citizens' data may cross the network unprotected. Test use only, "
                          "never in production."}});
}

}  // namespace

namespace {

// storage.postgres: the connection string (conninfo, conninfo_env or conninfo_file; it must not
// hold the password) and the password (the host's secret "storage.postgres.password",
// password_env or password_file; none when the server trusts the connection, e.g. a unix socket
// with peer authentication).
void ParsePostgresConfig(const nlohmann::json& storage, const SecretLookup& secret, EngineConfig* c,
                         std::vector<FieldError>* errors) {
  const nlohmann::json pg = storage.value("postgres", nlohmann::json::object());
  const std::string where = "/storage/postgres";
  if (pg.contains("password")) {
    errors->push_back({where + "/password", "không ghi mật khẩu trong cấu hình; dùng password_file, "
                                            "password_env hoặc hàm bí mật (secret) của hệ thống chủ"});
    return;
  }
  if (pg.contains("conninfo")) {
    c->pg_conninfo = pg["conninfo"].get<std::string>();
  } else if (pg.contains("conninfo_env") || pg.contains("conninfo_file")) {
    auto v = ReadSecret(pg, "conninfo", true, SecretLookup(), "");
    if (!v.ok()) {
      errors->push_back({where, v.status().message()});
      return;
    }
    c->pg_conninfo = v.value();
  } else {
    errors->push_back({where + "/conninfo", "thiếu chuỗi kết nối PostgreSQL (conninfo, conninfo_env hoặc conninfo_file)"});
    return;
  }
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(c->pg_conninfo.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "không đọc được";
    if (err) PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    errors->push_back({where + "/conninfo", "chuỗi kết nối sai: " + why});
    return;
  }
  bool has_password = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::string(o->keyword) == "password" && o->val && *o->val) has_password = true;
  PQconninfoFree(opts);
  if (has_password) {
    c->pg_conninfo.clear();
    errors->push_back({where + "/conninfo", "chuỗi kết nối không được chứa mật khẩu; dùng password_file, "
                                            "password_env hoặc hàm bí mật (secret) của hệ thống chủ"});
    return;
  }
  auto pw = ReadSecret(pg, "password", false, secret, "storage.postgres.password");
  if (!pw.ok()) {
    errors->push_back({where, pw.status().message()});
    return;
  }
  c->pg_password = pw.value();
  if (pg.contains("pool_size")) c->read_connections = pg["pool_size"].get<int>();
}

}  // namespace

Result<EngineConfig> ParseEngineConfig(std::string_view text, const SecretLookup& secret) {
  // The document itself is held to the default depth (kDefaultMaxJsonDepth; a valid one nests
  // about 5 levels), checked before anything recurses over it.
  JsonScanError where;
  auto parsed = ParseJsonBounded(text, kDefaultMaxJsonDepth, &where);
  if (!parsed.ok())
    return Status::InvalidInput(where.path + ": " + where.reason);
  nlohmann::json doc = std::move(parsed).value();
  if (!doc.is_object()) return Status::InvalidInput("/: cấu hình phải là một đối tượng JSON");
  for (const char* dir : {"schemas_dir", "config_dir"})
    if (doc.contains(dir) && !doc[dir].is_string())
      return Status::InvalidInput(std::string("/") + dir + ": sai kiểu dữ liệu: cần chuỗi (đường dẫn thư mục)");
  EngineConfig c;
  // The configuration first, then DANVAN_DATA_DIR, then the installed library's own share/danvan.
  std::vector<FieldError> errors;
  for (auto [key, name, out] : {std::tuple{"schemas_dir", "schemas", &c.schemas_dir},
                                std::tuple{"config_dir", "config", &c.config_dir}}) {
    if (doc.contains(key) && doc[key].is_string()) {
      *out = doc[key].get<std::string>();
      continue;
    }
    auto found = FindDataSubdir(name, key);
    if (!found.ok()) {
      if (out == &c.schemas_dir) return Status::InvalidInput(std::string("/") + key + ": " + found.status().message());
      errors.push_back({std::string("/") + key, found.status().message()});
      continue;
    }
    *out = found.value();
  }
  auto schema = JsonSchema::FromFile(c.schemas_dir + "/config.schema.json");
  if (!schema.ok()) return Status::InvalidInput("/schemas_dir: " + schema.status().message());
  schema.value()->Validate(doc, &errors);
  if (errors.empty()) {
    const auto& st = doc["storage"];
    c.storage_engine = st.value("engine", "sqlite");
    c.storage_path = st.value("path", "");
    if (c.storage_engine == "sqlite" && c.storage_path.empty())
      errors.push_back({"/storage/path", "thiếu đường dẫn tệp SQLite"});
    if (c.storage_engine == "postgres") ParsePostgresConfig(st, secret, &c, &errors);
    c.synchronous_full = st.value("synchronous", "full") == "full";
    c.busy_timeout_ms = st.value("busy_timeout_ms", c.busy_timeout_ms);
    c.read_connections = st.value("read_connections", c.read_connections);
    if (st.value("file_mode", "0600") == "0640") c.file_mode = 0640;  // schema: "0600" | "0640"
    if (doc.contains("limits")) {
      const auto& l = doc["limits"];
      c.intake.max_event_bytes = l.value("max_event_bytes", c.intake.max_event_bytes);
      c.intake.quarantine_raw_max_bytes =
          l.value("quarantine_raw_max_bytes", c.intake.quarantine_raw_max_bytes);
      c.max_batch_events = l.value("max_batch_events", c.max_batch_events);
      c.max_batch_bytes = l.value("max_batch_bytes", c.max_batch_bytes);
      c.intake.max_json_depth = l.value("max_json_depth", c.intake.max_json_depth);
      c.data_limits.max_depth = c.intake.max_json_depth;
      c.data_limits.max_file_bytes = l.value("max_data_file_bytes", c.data_limits.max_file_bytes);
      c.read_wait_ms = l.value("read_wait_ms", c.read_wait_ms);
    }
    if (doc.contains("log")) Logger::ParseLevel(doc["log"].value("level", "info"), &c.log_level);
    c.stop_timeout_ms = doc.value("stop_timeout_ms", c.stop_timeout_ms);
    c.instance = doc.value("instance", "");
    auto path_of = [&](const char* section, const char* key, const std::string& def) {
      if (doc.contains(section) && doc[section].contains(key)) {
        if (!doc[section][key].is_string()) {
          errors.push_back({std::string("/") + section + "/" + key, "sai kiểu dữ liệu: cần chuỗi (đường dẫn)"});
          return def;
        }
        return doc[section][key].get<std::string>();
      }
      return def;
    };
    c.units_file = path_of("indicators", "units_file", c.config_dir + "/units/haiphong-sgddt.json");
    c.indicators_file = path_of("indicators", "config_file", c.config_dir + "/indicators.json");
    c.calendar_dir = path_of("calendar", "dir", c.config_dir + "/calendar");
    c.deadlines_file = path_of("deadlines", "rules_file", c.config_dir + "/deadlines.json");
    c.procedures_file = path_of("deadlines", "procedures_file", c.config_dir + "/procedures.json");
    c.rules_file = path_of("tagging", "rules_file", c.config_dir + "/rules/default.json");
    c.reports_dir = path_of("reports", "dir",
                            (std::filesystem::path(c.storage_path).parent_path() / "reports").string());
    if (c.storage_engine == "postgres" && c.storage_path.empty() &&
        !(doc.contains("reports") && doc["reports"].contains("dir")))
      errors.push_back({"/reports/dir", "cần khai báo thư mục báo cáo khi dùng PostgreSQL (không có tệp SQLite để đặt bên cạnh)"});
    if (doc.contains("portal")) c.portal = doc["portal"];
    auto outbox = ParseOutboxConfig(doc.value("outbox", nlohmann::json()), doc.contains("portal"));
    if (!outbox.ok()) {
      std::string msg = outbox.status().message();
      size_t start = 0;
      while (start < msg.size()) {
        size_t end = msg.find('\n', start);
        if (end == std::string::npos) end = msg.size();
        std::string line = msg.substr(start, end - start);
        size_t colon = line.find(": ");
        errors.push_back({line.substr(0, colon), colon == std::string::npos ? line : line.substr(colon + 2)});
        start = end + 1;
      }
    } else {
      c.outbox = outbox.value();
    }
    console::ParseConsoleConfig(doc.value("console", nlohmann::json()), secret, &c.console, &errors);
    if (c.outbox.enabled) {
      auto pc = ParsePortalConfig(c.portal, secret);
      if (!pc.ok()) errors.push_back({"/portal", pc.status().message()});
    }
    if (doc.contains("indicators") && doc["indicators"].contains("checkpoint_fold_rows")) {
      const auto& v = doc["indicators"]["checkpoint_fold_rows"];
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000000)
        errors.push_back({"/indicators/checkpoint_fold_rows", "cần số nguyên 1..1000000 (số bản ghi)"});
      else
        c.checkpoint_fold_rows = v.get<int64_t>();
    }
    if (doc.contains("deadlines") && doc["deadlines"].contains("scan_interval_ms")) {
      const auto& v = doc["deadlines"]["scan_interval_ms"];
      if (!v.is_number_integer() || v.get<int64_t>() < 10 || v.get<int64_t>() > 3600000)
        errors.push_back({"/deadlines/scan_interval_ms", "cần số nguyên 10..3600000 (ms)"});
      else
        c.scheduler_interval_ms = v.get<int64_t>();
    }
  }
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  c.raw = std::move(doc);
  return c;
}

Engine::Engine(EngineConfig config, HostHooks hooks)
    : config_(std::move(config)),
      hooks_(std::move(hooks)),
      // Set before anything can fail: the destructor of an engine whose Open failed reads it.
      live_(std::make_shared<const EngineConfig>(config_)),
      record_index_(ActionListSeries()) {}

Engine::~Engine() {
  // close(): stop with the configured timeout, then cancel what is still in flight and join
  // every thread. No thread outlives the engine (none is ever detached).
  // The console first: its request threads call Query. A restart in progress (a reload)
  // finishes first; no worker is left behind.
  {
    std::unique_lock slot(console_slot_mu_);
    console_worker_exit_ = true;
    console_slot_cv_.notify_all();
    std::thread worker = std::move(console_worker_);
    slot.unlock();
    if (worker.joinable()) worker.join();
  }
  {
    std::lock_guard lock(console_mu_);
    console_.reset();
    console_port_ = 0;
  }
  // The re-evaluation stops between chunks (one transaction of at most 200 records).
  if (reevaluation_) reevaluation_->Cancel();
  if (probe_) probe_->Cancel();
  // live_ is set in the constructor, so also an engine whose Open failed part-way has one.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(live_config()->stop_timeout_ms);
  {
    // Submits racing with close (which the host must not do): new ones are refused; those
    // inside finish first (a group being applied commits and its callers return, acknowledged
    // or not, before the store goes away); no thread of their own exists to wait for. Bounded:
    // a leader's transaction by the store's busy timeout, a queued submit by its give-up time
    // (ApplyGrouped), which this wait outlasts.
    std::unique_lock lock(group_mu_);
    intake_closed_ = true;
    const auto calls_deadline = std::max(
        deadline, std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(std::max(30000, 2 * config_.busy_timeout_ms) + 5000));
    group_cv_.wait_until(lock, calls_deadline, [this] { return intake_calls_ == 0; });
  }
  if (outbox_) outbox_->Shutdown(deadline);
  {
    std::unique_lock lock(lifecycle_mu_);
    stopping_ = true;
    closing_ = true;
    lifecycle_cv_.notify_all();
    // A deadline scan checks stopping_ between records: bounded by one record's evaluation.
    scheduler_exit_cv_.wait(lock, [this] { return !scheduler_running_; });
    if (scheduler_.joinable()) scheduler_.join();
  }
  std::lock_guard lock(retag_mu_);
  retag_running_ = false;
  if (retag_thread_.joinable()) retag_thread_.join();
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineConfig& config, HostHooks hooks) {
  if (!hooks.clock) hooks.clock = std::make_shared<SystemClock>();
  std::unique_ptr<Engine> e(new Engine(config, std::move(hooks)));
  auto intake = Intake::Create(config.schemas_dir, config.intake);
  if (!intake.ok()) return intake.status();
  e->intake_ = std::move(intake).value();
  std::error_code ec;
  auto parent = std::filesystem::path(config.storage_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (config.storage_engine == "postgres") {
    PgOptions po;
    po.conninfo = config.pg_conninfo;
    po.password = config.pg_password;
    po.node = config.instance.empty() ? "local" : config.instance;
    po.read_connections = config.read_connections;
    po.read_wait_ms = config.read_wait_ms;
    po.synchronous_full = config.synchronous_full;
    po.logger = e->hooks_.logger;
    auto store = OpenPgStore(po);
    if (!store.ok()) return store.status();
    e->store_ = std::move(store).value();
  } else {
    SqliteOptions so;
    so.path = config.storage_path;
    so.synchronous_full = config.synchronous_full;
    so.busy_timeout_ms = config.busy_timeout_ms;
    so.read_connections = config.read_connections;
    so.file_mode = config.file_mode;
    so.logger = e->hooks_.logger;
    so.read_wait_ms = config.read_wait_ms;
    auto store = OpenSqliteStore(so);
    if (!store.ok()) return store.status();
    e->store_ = std::move(store).value();
  }

  // Every data file, checked by its schema; the first failure fails open (config_reload.h).
  auto loaded = LoadConfigData(config, e->hooks_.secret, /*collect_all=*/false);
  if (!loaded.ok()) return loaded.status();
  auto data = std::make_shared<const ConfigData>(std::move(loaded).value());
  e->rules_ = data->rules;
  e->rules_sha256_ = data->rules_sha256;
  e->units_ = data->units;
  e->catalog_ = data->catalog;
  e->live_data_ = data;
  e->live_since_ms_ = e->hooks_.clock->NowMs();
  e->scheduler_interval_ms_ = config.scheduler_interval_ms;
  // Procedure details fetched from the portal (LayThuTuc) earlier override the file's entries.
  std::shared_ptr<const calendar::ProcedureCatalogue> catalogue = data->procedures;
  auto fetched = e->store_->GetSetting(kPortalProceduresSetting);
  if (!fetched.ok()) return fetched.status();
  if (fetched.value()) {
    nlohmann::json stored = nlohmann::json::parse(*fetched.value(), nullptr, false);
    if (stored.is_object())
      for (const auto& [code, answer] : stored.items()) {
        auto next = calendar::UpsertFromLayThuTuc(*catalogue, answer);
        if (next.ok()) catalogue = next.value();
      }
  }
  e->calendar_ = data->calendar;
  e->deadline_rules_ = data->deadline_rules;
  e->evaluator_ = std::make_shared<RecordEvaluator>(std::make_shared<calendar::OnTimeClassifier>(
      data->calendar, catalogue, data->deadline_rules));
  e->index_fingerprint_ = IndexCheckpointFingerprint(data->units_sha256, ActionListSeries());
  Status rebuilt = e->RebuildIndex();
  if (!rebuilt.ok()) return rebuilt;
  // Several nodes on PostgreSQL: from the snapshot the aggregates were built from, each node
  // follows the contribution changes of the others.
  e->feed_ = dynamic_cast<ChangeFeed*>(e->store_.get());
  if (e->feed_) e->follow_cursor_ = e->feed_->ContributionCursor();
  e->reevaluation_ = std::make_unique<BackgroundJob>("re-evaluation");
  Status reeval = e->ReevaluateIfDeadlineInputsChanged();
  if (!reeval.ok()) return reeval;
  Engine* raw = e.get();
  Outbox::ClientFactory factory;
  if (config.outbox.enabled) {
    PortalConfig portal = *data->portal;
    std::shared_ptr<Clock> clock = e->hooks_.clock;
    factory = [portal, clock]() { return MakePortalClient(portal, clock.get()); };
  }
  OutboxConfig outbox_config = config.outbox;
  outbox_config.node = config.instance.empty() ? "local" : config.instance;
  // The portal's field limits are checked at intake (config/portal/field-limits.json).
  if (outbox_config.enabled) e->intake_->SetPortalFieldLimits(*data->field_limits);
  e->outbox_ = std::make_unique<Outbox>(
      outbox_config, e->store_.get(), e->hooks_.clock, e->hooks_.logger, factory,
      [raw](StoreTransaction& tx, int64_t pk) { return raw->MarkSynced(tx, pk); },
      [raw]() {
        std::vector<indicators::Delta> d;
        {
          std::lock_guard lock(raw->synced_deltas_mu_);
          d.swap(raw->synced_deltas_);
        }
        raw->ApplyDeltas(d);
      });
  e->outbox_->SetProcedureHooks(
      [raw]() {
        std::vector<std::string> codes;
        for (const auto& p : raw->evaluator()->classifier().procedures().ToJson()["procedures"])
          codes.push_back(p.value("code", ""));
        return codes;
      },
      [raw](const std::vector<nlohmann::json>& answers) { return raw->MergePortalProcedures(answers); });
  if (e->hooks_.alert) e->outbox_->SetAlertHook(e->hooks_.alert);
  Status ob = e->outbox_->Init();
  if (!ob.ok()) return ob;
  e->probe_ = std::make_unique<PortalProbe>(e->hooks_.clock.get());
  WarnIfPortalInsecure(config, e->hooks_.logger, "open");
  e->hooks_.logger.Log(LogLevel::kInfo, "opened",
                       {{"engine", config.storage_engine},
                        {"storage", config.storage_engine == "postgres" ? std::string("postgresql") : config.storage_path}});
  RegisterReportOps(*e);
  if (Status st = RegisterTagReviewOps(*e); !st.ok()) return st;
  RegisterDeadlineListOps(*e);
  e->console_ = e->MakeConsole(config);
  if (e->console_) e->console_state_ = {{"state", "stopped"}};
  return e;
}

std::unique_ptr<console::Console> Engine::MakeConsole(const EngineConfig& config) {
  if (!config.console.enabled) return nullptr;
  console::ConsoleEnv env;
  env.version = std::string(DANVAN_VERSION) + " (" + DANVAN_BUILD_ID + ")";
  env.reports_dir = config.reports_dir;
  env.config_dir = config.config_dir;
  SecretLookup secret = hooks_.secret;
  env.validate_config = [secret](const std::string& doc) -> Status {
    auto parsed = ParseEngineConfig(doc, secret);
    return parsed.ok() ? Status::Ok() : parsed.status();
  };
  // The one query dispatcher, the same as the ABI's query (issue 15).
  Engine* raw = this;
  // The console is stopped in ~Engine before the engine goes, so `raw` outlives every call.
  env.config_in_force = [raw] { return raw->live_config()->raw; };
  auto dispatch = [raw](const nlohmann::json& req) {
    return raw->Query(req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  return std::make_unique<console::Console>(config.console, std::move(env), dispatch, hooks_.clock.get(),
                                            &hooks_.logger);
}

void Engine::SetConsoleState(nlohmann::json state) {
  std::lock_guard slot(console_slot_mu_);
  console_state_ = std::move(state);
}

nlohmann::json Engine::ConsoleState() {
  std::lock_guard slot(console_slot_mu_);
  nlohmann::json s = console_state_;
  s["pending_restart"] = console_pending_.has_value();
  return s;
}

void Engine::RequestConsoleRestart(console::ConsoleConfig config) {
  std::lock_guard slot(console_slot_mu_);
  if (console_worker_exit_) return;
  console_pending_ = std::move(config);  // a newer section replaces one not yet applied
  if (!console_worker_.joinable()) console_worker_ = std::thread([this] { ConsoleWorkerLoop(); });
  console_slot_cv_.notify_all();
}

void Engine::ConsoleWorkerLoop() {
  pthread_setname_np(pthread_self(), "danvan-console");
  std::unique_lock slot(console_slot_mu_);
  while (true) {
    console_slot_cv_.wait(slot, [this] { return console_worker_exit_ || console_pending_.has_value(); });
    if (console_worker_exit_) return;
    console::ConsoleConfig next = std::move(*console_pending_);
    console_pending_.reset();
    slot.unlock();
    ApplyConsoleConfig(next);
    slot.lock();
  }
}

void Engine::ApplyConsoleConfig(const console::ConsoleConfig& next) {
  std::lock_guard lock(console_mu_);
  // The old console stops gracefully: every request in flight (the reload's own included) is
  // answered first; meanwhile new connections are refused (nothing listens) until the new
  // one serves.
  std::unique_ptr<console::Console> old = std::move(console_);
  console_port_ = 0;
  if (old) old->Stop(/*graceful=*/true);
  if (!next.enabled) {
    SetConsoleState({{"state", "disabled"}, {"since", FormatIsoTime(hooks_.clock->NowMs())}});
    hooks_.logger.Log(LogLevel::kInfo, "console_disabled_by_reload");
    return;  // `old` is destroyed (already stopped)
  }
  EngineConfig with = *live_config();
  with.console = next;
  std::unique_ptr<console::Console> fresh = MakeConsole(with);
  if (old) fresh->AdoptSessions(*old);
  Status st = console_should_run_ ? fresh->Start() : Status::Ok();
  if (st.ok()) {
    console_ = std::move(fresh);
    console_port_ = console_should_run_ ? console_->port() : 0;
    SetConsoleState({{"state", console_should_run_ ? "running" : "stopped"}, {"bind", next.bind},
                     {"port", console_port_.load()}, {"since", FormatIsoTime(hooks_.clock->NowMs())}});
    hooks_.logger.Log(LogLevel::kInfo, "console_restarted", {{"port", console_port_.load()}});
    return;
  }
  // The new address could not be served (taken since the reload checked it): the old console
  // serves again, so the administrators keep their way in.
  hooks_.logger.Log(LogLevel::kError, "console_restart_failed", {{"error", st.message()}});
  nlohmann::json state = {{"state", "failed"}, {"error", st.message()}, {"since", FormatIsoTime(hooks_.clock->NowMs())}};
  if (old) {
    Status back = old->Start();
    if (back.ok()) {
      console_port_ = old->port();
      state["state"] = "running_previous";
      state["port"] = console_port_.load();
    }
    console_ = std::move(old);
  }
  SetConsoleState(std::move(state));
}

std::shared_ptr<const RecordEvaluator> Engine::evaluator() const {
  std::lock_guard lock(evaluator_mu_);
  return evaluator_;
}

Status Engine::Start() {
  // The console first: when its port cannot be bound nothing else has started. Outside
  // lifecycle_mu_: a console request may need it (deadlines.scan) while a Stop from another
  // thread waits for that request.
  {
    std::lock_guard console_lock(console_mu_);
    if (console_) {
      Status st = console_->Start();
      if (!st.ok()) return st;
      console_port_ = console_->port();
      SetConsoleState({{"state", "running"}, {"port", console_port_.load()},
                       {"since", FormatIsoTime(hooks_.clock->NowMs())}});
    }
    console_should_run_ = true;
  }
  std::lock_guard lock(lifecycle_mu_);
  if (closing_) return Status::Internal("start sau close");
  stopping_ = false;
  lifecycle_cv_.notify_all();
  // A scheduler told to stop that has not left yet carries on (stopping_ is clear again);
  // one that left is joined (it has nothing left to do) and replaced.
  if (!scheduler_running_) {
    if (scheduler_.joinable()) scheduler_.join();
    scheduler_running_ = true;
    scheduler_ = std::thread([this] { SchedulerLoop(); });
  }
  outbox_->Start();
  if (!started_) {
    started_ = true;
    WarnIfPortalInsecure(*live_config(), hooks_.logger, "start");
    hooks_.logger.Log(LogLevel::kInfo, "started", {{"scheduler_interval_ms", scheduler_interval_ms_.load()}});
  }
  return Status::Ok();
}

Status Engine::Stop(uint32_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // Joins the console's threads; each finishes its request first (bounded by the socket
  // timeouts and the query ops' own waits).
  {
    std::lock_guard console_lock(console_mu_);
    console_should_run_ = false;
    if (console_) {
      console_->Stop();
      SetConsoleState({{"state", "stopped"}, {"since", FormatIsoTime(hooks_.clock->NowMs())}});
    }
    console_port_ = 0;
  }
  {
    std::lock_guard lock(lifecycle_mu_);
    if (!started_) return Status::Ok();
    stopping_ = true;
    lifecycle_cv_.notify_all();
  }
  // Neither wait holds lifecycle_mu_ (a Start or Stop from another thread is never blocked by
  // a hung portal). An exporter inside a portal request finishes it first (bounded by the portal
  // timeouts); the scheduler checks stopping_ between records.
  const bool exporters_stopped = outbox_->Stop(deadline);
  std::unique_lock lock(lifecycle_mu_);
  scheduler_exit_cv_.wait_until(lock, deadline, [this] { return !scheduler_running_ || !stopping_; });
  if (!scheduler_running_ && scheduler_.joinable()) scheduler_.join();
  if (!stopping_) {
    // A start from another thread came meanwhile: the threads run again.
    return Status::RetryLater("start được gọi trong khi đang dừng; các luồng nền vẫn chạy");
  }
  if (!exporters_stopped || scheduler_running_) {
    hooks_.logger.Log(LogLevel::kWarn, "threads_not_stopped_in_time",
                      {{"timeout_ms", timeout_ms}, {"exporters", !exporters_stopped},
                       {"scheduler", scheduler_running_}});
    // started_ stays set: a later stop waits again, and close cancels and joins them.
    return Status::RetryLater(std::string(exporters_stopped ? "bộ lập lịch" : "luồng xuất lên Cổng") +
                              " chưa dừng kịp trong " + std::to_string(timeout_ms) +
                              " ms (đang chờ một yêu cầu tới Cổng); luồng sẽ tự dừng sau yêu cầu "
                              "đó, gọi stop lại hoặc close");
  }
  started_ = false;
  lock.unlock();
  // What changed since the last fold goes into the checkpoint now (bounded by the stop
  // timeout; whatever is left is replayed at the next open).
  FoldIndexIfDue(true, deadline);
  hooks_.logger.Log(LogLevel::kInfo, "stopped");
  return Status::Ok();
}

void Engine::FollowOtherNodes() {
  if (!feed_) return;
  std::lock_guard lock(follow_mu_);
  if (follow_cursor_.empty()) return;
  const std::string node = config_.instance.empty() ? "local" : config_.instance;
  std::vector<indicators::Delta> deltas;
  auto next = feed_->FollowContributions(follow_cursor_, node, [&](const ContribChange& c) {
    RecordRow old_row, new_row;
    old_row.pk = new_row.pk = c.record_pk;
    old_row.unit = c.old_unit;
    new_row.unit = c.new_unit;
    ExpandDeltas(old_row, c.old_contrib, -1, &deltas);
    ExpandDeltas(new_row, c.new_contrib, +1, &deltas);
  });
  if (!next.ok()) {
    // Nothing applied: the next call reads the same changes again from the same cursor.
    hooks_.logger.Log(LogLevel::kError, "follow_nodes_failed", {{"error", next.status().message()}});
    return;
  }
  // Applied with the cursor moved past them, under follow_mu_: each change exactly once.
  // (Memory: the changes of one interval between calls, at most one scheduler tick's worth.)
  ApplyDeltas(deltas);
  follow_cursor_ = std::move(next).value();
}

void Engine::SchedulerLoop() {
  pthread_setname_np(pthread_self(), "danvan-sched");
  std::unique_lock lock(lifecycle_mu_);
  while (!stopping_) {
    lock.unlock();
    FollowOtherNodes();
    auto fired = ScanDeadlines();
    if (!fired.ok())
      hooks_.logger.Log(LogLevel::kError, "deadline_scan_failed", {{"error", fired.status().message()}});
    FoldIndexIfDue(false, std::chrono::steady_clock::time_point::max());
    lock.lock();
    lifecycle_cv_.wait_for(lock, std::chrono::milliseconds(scheduler_interval_ms_.load()),
                           [this] { return stopping_; });
  }
  // In the critical section that saw stopping_: a Start sees either this thread running (and
  // it carries on) or gone.
  scheduler_running_ = false;
  scheduler_exit_cv_.notify_all();
}

Result<int> Engine::ScanDeadlines() {
  std::lock_guard scan(scan_mu_);
  const int64_t now = hooks_.clock->NowMs();
  auto due = store_->DueWatches(now, 1000);
  if (!due.ok()) return due.status();
  if (due->empty()) return 0;
  auto ev = evaluator();
  std::vector<std::string> alerts;
  std::vector<indicators::Delta> deltas;
  {
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) return tx_or.status();
    auto& tx = *tx_or.value();
    // One node scans at a time (several nodes on one PostgreSQL database): another node's scan
    // in progress does this one's work. Once the lock is held, the watches are read again: a
    // scan that ran meanwhile committed its alerts (`alerted`) and moved its watches on.
    auto mine = tx.TryLockJob("deadline_scan");
    if (!mine.ok()) return mine.status();
    if (!mine.value()) return 0;
    due = store_->DueWatches(now, 1000);
    if (!due.ok()) return due.status();
    for (const auto& w : due.value()) {
      {
        std::lock_guard lock(lifecycle_mu_);
        if (stopping_) break;
      }
      auto row_or = tx.GetRecordByPk(w.record_pk);
      if (!row_or.ok()) return row_or.status();
      if (!row_or.value()) continue;
      RecordRow row = *row_or.value();
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) return hist.status();
      Evaluation evaluation;
      Status st = Reevaluate(tx, row, hist.value(), now, &evaluation, &deltas);
      if (!st.ok()) return st;
      auto put = tx.PutRecord(row);
      if (!put.ok()) return put.status();
      // One alert per class and record, and one per legal step that fell overdue, even if
      // the scan runs again (`alerted` lists the classes and "step:<rule_id>" already told).
      std::string alerted = w.alerted;
      auto told = [&](const std::string& token) {
        return ("," + alerted + ",").find("," + token + ",") != std::string::npos;
      };
      const std::string told_before = alerted;
      const bool class_alert =
          (evaluation.cls == "due_soon" || evaluation.cls == "open_overdue") && !told(evaluation.cls);
      const nlohmann::json deadline = evaluation.DeadlineJson();
      if (const auto steps = deadline.find("steps"); steps != deadline.end() && steps->is_array()) {
        for (const auto& step : *steps) {
          // The step the class is judged on is told by the class's own alert below.
          if (step.value("state", "") != "overdue" || step.value("used_for_classification", false))
            continue;
          const std::string token = "step:" + step.value("rule_id", "");
          if (told(token)) continue;
          alerted += (alerted.empty() ? "" : ",") + token;
          nlohmann::json alert = {{"type", "step_overdue"},
                                  {"record", KeyJson(row.key)},
                                  {"unit", row.unit},
                                  {"rule_id", step.value("rule_id", "")},
                                  {"step", step.value("step", "")},
                                  {"description", step.value("description", "")},
                                  {"legal_basis", step.value("legal_basis", "")},
                                  {"due", step.value("due", "")},
                                  {"overdue_by_days", step.value("overdue_by_days", 0)},
                                  {"at", FormatIsoTime(now)}};
          alerts.push_back(alert.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
      }
      if (class_alert) alerted += (alerted.empty() ? "" : ",") + evaluation.cls;
      if (alerted != told_before) {
        st = tx.MarkAlerted(row.pk, alerted);
        if (!st.ok()) return st;
      }
      if (class_alert) {
        nlohmann::json alert = {{"type", evaluation.cls == "due_soon" ? "due_soon" : "overdue"},
                                {"record", KeyJson(row.key)},
                                {"unit", row.unit},
                                {"deadline", deadline},
                                {"at", FormatIsoTime(now)}};
        // Which legal step the alert is about (petitions); deadline.steps has every step's state.
        if (deadline.contains("rule_id")) alert["rule_id"] = deadline["rule_id"];
        alerts.push_back(alert.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
    Status st = tx.Commit();
    if (!st.ok()) return st;
  }
  ApplyDeltas(deltas);
  // Callbacks run after the commit, with no storage lock held.
  for (const auto& a : alerts) {
    if (hooks_.alert) hooks_.alert(a);
    hooks_.logger.Log(LogLevel::kInfo, "alert", nlohmann::json::parse(a));
  }
  return static_cast<int>(alerts.size());
}

void Engine::ExpandDeltas(const RecordRow& row, const std::string& contrib_json, double sign,
                          std::vector<indicators::Delta>* out) const {
  nlohmann::json arr = nlohmann::json::parse(contrib_json, nullptr, false);
  if (!arr.is_array()) return;
  std::vector<indicators::Contribution> contributions;
  contributions.reserve(arr.size());
  for (const auto& item : arr) contributions.push_back(indicators::Contribution::FromJson(item));
  ExpandDeltas(row, contributions, sign, out);
}

void Engine::ExpandDeltas(const RecordRow& row, const std::vector<indicators::Contribution>& contributions,
                          double sign, std::vector<indicators::Delta>* out) const {
  for (const indicators::Contribution& c : contributions) {
    const std::string& unit = c.unit.empty() ? row.unit : c.unit;
    bool first = true;
    for (const auto& u : units_->Chain(unit, c.day)) {
      out->push_back({c.series, u, c.day, sign * c.value, row.pk, first});
      first = false;
    }
  }
}

void Engine::ApplyDeltas(const std::vector<indicators::Delta>& deltas) {
  index_.Apply(deltas);
  record_index_.Apply(deltas);
}

Status Engine::Reevaluate(StoreTransaction& tx, RecordRow& row, const std::vector<HistoryRow>& history,
                          int64_t now, Evaluation* ev, std::vector<indicators::Delta>* deltas,
                          const std::string& old_unit) {
  const nlohmann::json data = nlohmann::json::parse(row.data_json, nullptr, false);
  const nlohmann::json tags = nlohmann::json::parse(row.tags_json, nullptr, false);
  EvaluateRow(row, history, data, tags, now, ev, deltas, old_unit);
  if (row.pk != 0) return tx.SetWatch(row.pk, ev->next_change_ms, ev->next_class);
  return Status::Ok();
}

void Engine::EvaluateRow(RecordRow& row, const std::vector<HistoryRow>& history,
                         const nlohmann::json& data, const nlohmann::json& tags, int64_t now,
                         Evaluation* ev, std::vector<indicators::Delta>* deltas,
                         const std::string& old_unit) const {
  if (!row.has_item) {
    // Only progress steps so far: nothing to evaluate until the dossier item arrives; said the
    // same way as for a dossier not yet received (not counted, with the reason).
    *ev = Evaluation{};
    ev->cls = "not_counted";
    ev->deadline = {{"class", "not_counted"},
                    {"explanation", {{"class", "not_counted"},
                                     {"reasons", {{{"code", "no_dossier_item"}}}}}}};
  } else {
    *ev = evaluator()->Evaluate(row.key.kind, data, history, tags, row.event_time_ms, now, row.synced);
  }
  // == the array of each contribution's ToJson(), dumped; written without building it.
  std::string new_contrib = "[";
  for (const auto& c : ev->contributions) {
    if (new_contrib.size() > 1) new_contrib.push_back(',');
    new_contrib.push_back('[');
    AppendJsonString(c.series, &new_contrib);
    new_contrib.push_back(',');
    AppendJsonInt(c.day, &new_contrib);
    new_contrib.push_back(',');
    AppendJsonDouble(c.value, &new_contrib);
    if (!c.unit.empty()) {
      new_contrib.push_back(',');
      AppendJsonString(c.unit, &new_contrib);
    }
    new_contrib.push_back(']');
  }
  new_contrib.push_back(']');
  const bool moved = !old_unit.empty() && old_unit != row.unit;
  if (new_contrib != row.contrib_json || moved) {
    // The stored contributions were counted for the unit the record had then.
    RecordRow old_row;
    old_row.pk = row.pk;
    old_row.unit = moved ? old_unit : row.unit;
    ExpandDeltas(old_row, row.contrib_json, -1, deltas);
    ExpandDeltas(row, ev->contributions, +1, deltas);
    row.contrib_json = std::move(new_contrib);
  }
  // == DeadlineJson().dump(), without building the classification's document.
  row.deadline_json.clear();
  if (ev->has_deadline()) {
    ev->deadline_text.clear();
    ev->WriteDeadline(&row.deadline_json, nlohmann::json::error_handler_t::strict);
    ev->deadline_text = row.deadline_json;  // the submit answer's "deadline" (EventResult::Write)
  } else {
    row.deadline_json = "null";
  }
}

ContribExpander Engine::Expander() const {
  return [this](int64_t pk, const std::string& unit, const std::string& contrib, double sign,
                std::vector<indicators::Delta>* out) {
    RecordRow row;
    row.pk = pk;
    row.unit = unit;
    ExpandDeltas(row, contrib, sign, out);
  };
}

Status Engine::RebuildIndex() {
  // The checkpoint (engine/index_checkpoint.h): cells plus the records changed since. One
  // written for another unit tree or tracked-series list, or none yet (a database from before
  // migration 9), is started over: every record pending, i.e. one full replay this time.
  auto stored = store_->GetSetting(kIndexCheckpointSetting);
  if (!stored.ok()) return stored.status();
  bool reset = !stored.value() || *stored.value() != index_fingerprint_;
  if (reset) {
    hooks_.logger.Log(LogLevel::kInfo, "index_checkpoint_reset",
                      {{"reason", stored.value() ? "fingerprint_changed" : "none_yet"}});
    Status st = ResetIndexCheckpoint(*store_, index_fingerprint_);
    if (!st.ok()) return st;
  }
  const auto started = std::chrono::steady_clock::now();
  auto load = LoadIndexCheckpoint(*store_, Expander(), &index_, &record_index_);
  if (!load.ok()) return load.status();
  if (load->bad_cells > 0) {
    // A damaged checkpoint is never used: start over from the records.
    hooks_.logger.Log(LogLevel::kError, "index_checkpoint_damaged", {{"bad_cells", load->bad_cells}});
    index_.Clear();
    record_index_.Clear();
    Status st = ResetIndexCheckpoint(*store_, index_fingerprint_);
    if (!st.ok()) return st;
    load = LoadIndexCheckpoint(*store_, Expander(), &index_, &record_index_);
    if (!load.ok()) return load.status();
    reset = true;
  }
  const auto loaded_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started).count();
  hooks_.logger.Log(LogLevel::kInfo, "indicators_loaded",
                    {{"cells", load->cells}, {"pending_replayed", load->pending}, {"ms", loaded_ms},
                     {"series_keys", index_.key_count()}, {"index_bytes", index_.memory_bytes()},
                     {"action_list_entries", record_index_.entry_count()},
                     {"action_list_bytes", record_index_.memory_bytes()}});
  // A fold's worth of pending rows or more (a reset, or a run that ended without its last
  // folds): fold them now, so the next open does not replay them again.
  if (load->pending >= live_config()->checkpoint_fold_rows) {
    if (dynamic_cast<ChangeFeed*>(store_.get()) == nullptr) {
      // One writer process (SQLite's store lock) and nothing written since the load: the
      // indexes are exactly cells + pending, so they are written as the new cells at once.
      Status st = WriteIndexCheckpointFromMemory(*store_, index_, record_index_, load.value());
      if (!st.ok()) return st;
    } else {
      // Other nodes may write meanwhile: fold in transactions that lock them out.
      for (;;) {
        auto folded = FoldPendingContributions(*store_, Expander(), ActionListSeries(), kFoldChunkRows);
        if (!folded.ok()) return folded.status();
        if (folded.value() == 0) break;
      }
    }
    hooks_.logger.Log(LogLevel::kInfo, "index_checkpoint_folded",
                      {{"rows", load->pending},
                       {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started).count() - loaded_ms}});
  }
  last_fold_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

void Engine::FoldIndexIfDue(bool all, std::chrono::steady_clock::time_point deadline) {
  std::lock_guard lock(fold_mu_);
  const auto now = std::chrono::steady_clock::now();
  auto pending = store_->CountPendingContributions();
  if (!pending.ok()) {
    hooks_.logger.Log(LogLevel::kError, "index_checkpoint_count_failed", {{"error", pending.status().message()}});
    return;
  }
  const int64_t threshold = live_config()->checkpoint_fold_rows;
  if (pending.value() == 0) return;
  if (!all && pending.value() < threshold && now - last_fold_ < std::chrono::seconds(60)) return;
  do {
    auto folded = FoldPendingContributions(*store_, Expander(), ActionListSeries(), kFoldChunkRows);
    if (!folded.ok()) {
      // Nothing lost: the pending rows stay and the next open replays them.
      hooks_.logger.Log(LogLevel::kError, "index_checkpoint_fold_failed", {{"error", folded.status().message()}});
      return;
    }
    last_fold_ = std::chrono::steady_clock::now();
    if (folded.value() < kFoldChunkRows) break;
  } while (all && std::chrono::steady_clock::now() < deadline);
}

// ApplyAll, Submit and SubmitBatch: engine/intake_apply.cc.

Result<nlohmann::json> Engine::Query(std::string_view request, std::string* text) {
  // Depth first: nothing may recurse over a request nested past limits.max_json_depth.
  auto parsed = ParseJsonBounded(request, config_.intake.max_json_depth);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json req = std::move(parsed).value();
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Status::InvalidInput("/op: yêu cầu phải là đối tượng JSON có trường \"op\" (chuỗi)");
  const std::string op = req["op"].get<std::string>();
  // Answers include what the other nodes committed until now (PostgreSQL).
  FollowOtherNodes();
  // Administrative ops leave an audit entry (who, what, when, outcome): admin_ops.cc.
  if (IsAuditedOp(op, req)) {
    auto actor = AuditActor(req);
    if (!actor.ok()) return actor.status();
    if (op == "config.reload") return ConfigReloadOp(req);  // audits itself (hashes)
    Result<nlohmann::json> r = Dispatch(op, req);
    Audit(op, req, r, nullptr);
    return r;
  }
  if (text && op == "indicators") {
    Status st = IndicatorsText(req, text);
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
                           {"tags", nlohmann::json::parse(r.tags_json, nullptr, false)},
                           {"deadline", nlohmann::json::parse(r.deadline_json, nullptr, false)}};
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
                     {"errors", nlohmann::json::parse(q.errors_json, nullptr, false)},
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

Status Engine::ReevaluateRecords(const std::vector<int64_t>& pks) {
  std::vector<indicators::Delta> deltas;
  {
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) return tx_or.status();
    auto& tx = *tx_or.value();
    const int64_t now = hooks_.clock->NowMs();
    for (int64_t pk : pks) {
      auto row_or = tx.GetRecordByPk(pk);
      if (!row_or.ok()) return row_or.status();
      if (!row_or.value() || !row_or.value()->has_item) continue;
      RecordRow row = *row_or.value();
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) return hist.status();
      Evaluation ev;
      Status st = Reevaluate(tx, row, hist.value(), now, &ev, &deltas);
      if (!st.ok()) return st;
      auto put = tx.PutRecord(row);
      if (!put.ok()) return put.status();
    }
    Status st = tx.Commit();
    if (!st.ok()) return st;
  }
  ApplyDeltas(deltas);
  return Status::Ok();
}

namespace {

constexpr const char* kDeadlineInputsSetting = "deadlines.inputs_sha256";

}  // namespace

Status Engine::ReevaluateIfDeadlineInputsChanged(bool force) {
  auto sha = DeadlineInputsSha256(*live_config());
  if (!sha.ok()) return sha.status();
  {
    std::lock_guard lock(live_mu_);
    deadline_inputs_sha256_ = sha.value();
  }
  auto stored = store_->GetSetting(kDeadlineInputsSetting);
  if (!stored.ok()) return stored.status();
  if (!force && stored.value() && *stored.value() == sha.value()) return Status::Ok();
  std::vector<int64_t> pks;
  for (const char* kind : {"dossier", "petition"}) {
    Status st = store_->ForEachRecord(kind, units_->codes(), [&](const RecordRow& row) {
      if (row.has_item) pks.push_back(row.pk);
    });
    if (!st.ok()) return st;
  }
  auto remember = [this, sha = sha.value()]() -> Status {
    auto tx = store_->Begin();
    if (!tx.ok()) return tx.status();
    Status st = tx.value()->SetSetting(kDeadlineInputsSetting, sha);
    return st.ok() ? tx.value()->Commit() : st;
  };
  if (pks.empty()) return remember();
  hooks_.logger.Log(LogLevel::kInfo, "reevaluation_started",
                    {{"reason", "deadline_inputs_changed"}, {"records", pks.size()}});
  return reevaluation_->Start(
      "lịch làm việc, quy tắc thời hạn hoặc danh mục thủ tục đã thay đổi", std::move(pks), 200,
      [this](const std::vector<int64_t>& chunk) { return ReevaluateRecords(chunk); },
      [this, remember]() {
        Status st = remember();
        hooks_.logger.Log(st.ok() ? LogLevel::kInfo : LogLevel::kError, "reevaluation_done",
                          st.ok() ? nlohmann::json::object() : nlohmann::json{{"error", st.message()}});
      });
}

Result<nlohmann::json> Engine::DeadlineStatusOp() {
  std::lock_guard lock(live_mu_);
  return nlohmann::json{{"reevaluation", reevaluation_->StatusJson()},
                        {"inputs_sha256", deadline_inputs_sha256_}};
}

Result<nlohmann::json> Engine::DeadlineScanOp() {
  auto fired = ScanDeadlines();
  if (!fired.ok()) return fired.status();
  return nlohmann::json{{"alerts_fired", fired.value()}};
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
    nlohmann::json contrib = nlohmann::json::parse(row.contrib_json, nullptr, false);
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

Status Engine::EnqueueExport(StoreTransaction& tx, const RecordRow& row, const std::string& old_status,
                             bool was_item, bool has_steps, const ParsedEvent& p, int64_t now,
                             int64_t* enqueued) {
  int64_t queued = 0;
  Status st = outbox_->EnqueueDossier(tx, row, now, &queued);
  if (!st.ok()) return st;
  *enqueued += queued;
  auto history = tx.GetHistory(row.pk);
  if (!history.ok()) return history.status();
  if (!was_item) {
    // Steps that arrived before the dossier item follow it now, in order.
    for (const auto& h : history.value()) {
      if (h.outcome != "step") continue;
      st = outbox_->EnqueueProgress(tx, row, nlohmann::json::parse(h.detail_json, nullptr, false),
                                    now, Outbox::StepSource::kHost, &queued);
      if (!st.ok()) return st;
      *enqueued += queued;
    }
  }
  // A host that sends dossier items only: each status change becomes a progress step with its
  // true time (the event time), as the portal computes its indicators from them. It waits a
  // while for the host's own step of that status, which then replaces it (Outbox).
  if (outbox_->config()->synthesize_progress && !has_steps && row.status != old_status &&
      !row.status.empty()) {
    const nlohmann::json& data = p.event["data"];
    nlohmann::json step = {{"MaHoSo", row.key.id},
                           {"TrangThai", row.status},
                           {"ThoiDiemXuLy", FormatPortalTime(p.event_time_ms)},
                           {"NguoiXuLy", ""},
                           {"ChucDanh", ""},
                           {"PhongBanXuLy", data.value("DonViXuLy", "")},
                           {"NoiDungXuLy", "Cập nhật trạng thái hồ sơ"},
                           {"NgayBatDau", FormatPortalTime(p.event_time_ms)},
                           {"NgayKetThucTheoQuyDinh", data.value("NgayHenTra", "")}};
    st = outbox_->EnqueueProgress(tx, row, step, now, Outbox::StepSource::kDerived, &queued);
    if (!st.ok()) return st;
    *enqueued += queued;
  }
  return Status::Ok();
}

Status Engine::MarkSynced(StoreTransaction& tx, int64_t record_pk) {
  auto row_or = tx.GetRecordByPk(record_pk);
  if (!row_or.ok()) return row_or.status();
  if (!row_or.value() || row_or.value()->synced) return Status::Ok();
  RecordRow row = *row_or.value();
  row.synced = true;
  auto history = tx.GetHistory(row.pk);
  if (!history.ok()) return history.status();
  Evaluation ev;
  std::vector<indicators::Delta> deltas;
  Status st = Reevaluate(tx, row, history.value(), hooks_.clock->NowMs(), &ev, &deltas);
  if (!st.ok()) return st;
  auto put = tx.PutRecord(row);
  if (!put.ok()) return put.status();
  std::lock_guard lock(synced_deltas_mu_);
  synced_deltas_.insert(synced_deltas_.end(), deltas.begin(), deltas.end());
  return Status::Ok();
}

EngineServices Engine::services() const {
  EngineServices s{store_.get(), units_.get(), catalog_.get(), &index_, &record_index_,
                   hooks_.clock.get(), &hooks_.logger, &config_, {}, {}, nullptr};
  s.report_progress = &report_progress_;
  s.live_config = [this] { return live_config(); };
  s.deadline_steps_at = [this](const RecordRow& row, int64_t as_of_ms) -> nlohmann::json {
    auto history = store_->GetHistory(row.pk);
    if (!history.ok()) return nlohmann::json::array();
    const nlohmann::json data = nlohmann::json::parse(row.data_json, nullptr, false);
    const nlohmann::json tags = nlohmann::json::parse(row.tags_json, nullptr, false);
    auto c = evaluator()->Classify(row.key.kind, data, history.value(), tags, as_of_ms);
    if (!c.ok() || !c->steps.is_array()) return nlohmann::json::array();
    return c->steps;
  };
  return s;
}

int Engine::console_port() const { return console_port_.load(); }

void Engine::RegisterOp(const std::string& name, QueryOp op) { extra_ops_[name] = std::move(op); }

std::shared_ptr<const tagging::RuleSet> Engine::rules() const {
  std::lock_guard lock(rules_mu_);
  return rules_;
}

nlohmann::json Engine::TagsFor(const std::string& kind, const nlohmann::json& event, int64_t now) const {
  auto rs = rules();
  nlohmann::json out = nlohmann::json::array();
  auto review = ReviewFor(event);
  for (const auto& hit : rs->Evaluate({kind, event, now, review.get()})) out.push_back(hit.ToJson());
  return out;
}

namespace {

nlohmann::json EnvelopeOf(const RecordRow& row) {
  return {{"kind", row.key.kind}, {"source", row.key.source}, {"id", row.key.id},
          {"unit", row.unit}, {"event_time", row.event_time},
          {"data", nlohmann::json::parse(row.data_json, nullptr, false)}};
}

std::vector<tagging::TagHit> HitsOf(const std::string& tags_json) {
  std::vector<tagging::TagHit> hits;
  nlohmann::json arr = nlohmann::json::parse(tags_json, nullptr, false);
  if (!arr.is_array()) return hits;
  for (const auto& t : arr) {
    auto h = tagging::TagHit::FromJson(t);
    if (h.ok()) hits.push_back(h.value());
  }
  return hits;
}

}  // namespace

Result<nlohmann::json> Engine::ReloadRulesOp(const nlohmann::json& req) {
  const auto live = live_config();
  auto path_arg = QueryArgs(req).String("path", live->rules_file);
  if (!path_arg.ok()) return path_arg.status();
  const std::string path = path_arg.value();
  // A bad rule file leaves the rules in force untouched. The file must be a regular file within
  // limits.max_data_file_bytes and limits.max_json_depth.
  auto loaded = tagging::RuleSet::FromFile(path, config_.schemas_dir, config_.data_limits);
  if (!loaded.ok()) return Status::InvalidInput("tệp quy tắc không hợp lệ, giữ nguyên quy tắc đang dùng:\n" + loaded.status().message());
  auto sha = RulePackSha256(path, config_.data_limits);
  auto old_version = SwapRulesAndRetag(loaded.value(), sha.ok() ? sha.value() : "", /*replace_running=*/false);
  if (!old_version.ok()) return old_version.status();
  hooks_.logger.Log(LogLevel::kInfo, "rules_reloaded",
                    {{"from", old_version.value()}, {"to", loaded.value()->version()}, {"path", path}});
  return nlohmann::json{{"previous_version", old_version.value()}, {"version", loaded.value()->version()},
                        {"rules", loaded.value()->rule_count()}, {"retagging", "started"}};
}

Result<std::string> Engine::SwapRulesAndRetag(std::shared_ptr<const tagging::RuleSet> rs,
                                              const std::string& rules_sha256, bool replace_running) {
  std::lock_guard lock(retag_mu_);
  if (retag_running_ && !replace_running)
    return Status::Conflict("đang gắn nhãn lại theo phiên bản " + retag_version_ + "; thử lại sau");
  // A configuration reload stops the re-tagging in progress between chunks (RetagLoop checks
  // retag_running_) and starts over with the new pack: every record ends tagged by it.
  retag_running_ = false;
  if (retag_thread_.joinable()) retag_thread_.join();
  std::string old_version;
  {
    std::lock_guard rl(rules_mu_);
    old_version = rules_->version();
    rules_ = rs;
    rules_sha256_ = rules_sha256;
  }
  retag_version_ = rs->version();
  retag_processed_ = 0;
  retag_changed_ = 0;
  retag_running_ = true;
  // The total is counted by the loop before its first chunk (0 until then).
  retag_progress_.Begin(0, "quy tắc " + rs->version(), hooks_.clock->NowMs());
  retag_thread_ = std::thread([this, rs] { RetagLoop(rs); });
  return old_version;
}

void Engine::RetagLoop(std::shared_ptr<const tagging::RuleSet> rs) {
  pthread_setname_np(pthread_self(), "danvan-retag");
  // Re-tags every stored record in small transactions so submits interleave; each change is
  // journalled (old and new tags with their rule-file versions) and the indicators follow.
  // Memory is bounded by the chunk, not the table (issue 16: 863 MiB at 1M events when every
  // record was read first): the records are walked in pages of kRetagChunk keys by pk, each
  // page re-read and re-tagged inside its own transaction. Records stored after the walk has
  // passed their pk are tagged by the rules in force at their intake (these rules already).
  constexpr int64_t kRetagChunk = 200;
  bool failed = false;
  {
    // The total, for the progress (the per-unit counts the stats op shows).
    auto stats = store_->Stats();
    int64_t total = 0;
    if (stats.ok())
      for (const auto& c : stats->records) total += c.count;
    else
      failed = true;
    retag_progress_.SetTotal(total);
  }
  int64_t after_pk = 0;
  while (!failed && retag_running_) {
    auto page = store_->RecordPksAfter(after_pk, kRetagChunk);
    if (!page.ok()) {
      failed = true;
      break;
    }
    const std::vector<int64_t>& pks = page.value();
    if (pks.empty()) break;
    after_pk = pks.back();
    std::vector<indicators::Delta> deltas;
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) {
      failed = true;
      break;
    }
    auto& tx = *tx_or.value();
    const int64_t now = hooks_.clock->NowMs();
    for (const int64_t pk : pks) {
      auto row_or = tx.GetRecordByPk(pk);
      if (!row_or.ok() || !row_or.value()) continue;
      RecordRow row = *row_or.value();
      ++retag_processed_;
      if (!row.has_item) continue;
      nlohmann::json tags = nlohmann::json::array();
      const nlohmann::json envelope = EnvelopeOf(row);
      auto review = ReviewFor(envelope);
      for (const auto& h : rs->Evaluate({row.key.kind, envelope, now, review.get()})) tags.push_back(h.ToJson());
      std::string new_tags = tags.dump();
      if (new_tags == row.tags_json) continue;
      std::vector<tagging::TagHit> new_hits;
      for (const auto& t : tags) new_hits.push_back(tagging::TagHit::FromJson(t).value());
      tagging::TagDiff diff = tagging::DiffTags(HitsOf(row.tags_json), new_hits);
      row.tags_json = new_tags;
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) { failed = true; break; }
      Evaluation ev;
      if (!Reevaluate(tx, row, hist.value(), now, &ev, &deltas).ok() || !tx.PutRecord(row).ok()) {
        failed = true;
        break;
      }
      if (!diff.empty()) {
        ++retag_changed_;
        nlohmann::json body = {{"record", KeyJson(row.key)}, {"unit", row.unit},
                               {"rules_version", rs->version()}, {"diff", diff.ToJson()},
                               {"at", FormatIsoTime(now)}};
        if (!tx.AppendJournal({0, "tag_change", rs->version() + "|" + row.key.kind + "|" + row.key.id,
                               body.dump(), now}).ok()) {
          failed = true;
          break;
        }
      }
    }
    if (failed || !tx.Commit().ok()) {
      failed = true;
      break;
    }
    ApplyDeltas(deltas);
    retag_progress_.Advance(static_cast<int64_t>(pks.size()));
    retag_progress_.SetDetail("changed", retag_changed_.load());
  }
  retag_progress_.SetDetail("changed", retag_changed_.load());
  retag_progress_.SetDetail("rules_version", rs->version());
  if (failed) {
    hooks_.logger.Log(LogLevel::kError, "retag_failed", {{"version", rs->version()}});
    retag_progress_.Finish(JobProgress::State::kFailed, "gắn nhãn lại thất bại (xem nhật ký retag_failed)",
                           hooks_.clock->NowMs());
  } else {
    // Stopped between chunks: a newer rule pack replaced this one, or close.
    retag_progress_.Finish(retag_running_ ? JobProgress::State::kDone : JobProgress::State::kCancelled, "",
                           hooks_.clock->NowMs());
  }
  hooks_.logger.Log(LogLevel::kInfo, "retag_done", {{"version", rs->version()},
                                                    {"processed", retag_processed_.load()},
                                                    {"changed", retag_changed_.load()}});
  retag_running_ = false;
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
  nlohmann::json stored = stored_or.value() ? nlohmann::json::parse(*stored_or.value(), nullptr, false)
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
    nlohmann::json d = nlohmann::json::parse(row.data_json, nullptr, false);
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

Result<nlohmann::json> Engine::RetagStatusOp() {
  std::lock_guard lock(retag_mu_);
  const nlohmann::json progress = retag_progress_.ToJson();
  return nlohmann::json{{"rules_version", rules()->version()}, {"running", retag_running_.load()},
                        {"processed", retag_processed_.load()}, {"changed", retag_changed_.load()},
                        {"total", progress["total"]}, {"state", progress["state"]}};
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

Result<nlohmann::json> Engine::TagChangesOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto version_arg = args.String("version", rules()->version(), 256);
  if (!version_arg.ok()) return version_arg.status();
  auto limit_arg = args.Int("limit", 1000, 0, 1000000);
  if (!limit_arg.ok()) return limit_arg.status();
  const std::string version = version_arg.value();
  auto rows = store_->ListJournal("tag_change", version + "|");
  if (!rows.ok()) return rows.status();
  const int64_t limit = limit_arg.value();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : rows.value()) {
    if (static_cast<int64_t>(items.size()) >= limit) break;
    items.push_back(nlohmann::json::parse(r.body, nullptr, false));
  }
  return nlohmann::json{{"version", version}, {"changed_records", rows->size()}, {"items", items}};
}

Result<nlohmann::json> Engine::TagCountsOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto unit_arg = args.Key("unit", units_->Roots().empty() ? "" : units_->Roots()[0]);
  if (!unit_arg.ok()) return unit_arg.status();
  auto kind_arg = args.OneOf("kind", {"dossier", "petition", "reception", "dvk_model", "plan_task"});
  if (!kind_arg.ok()) return kind_arg.status();
  const std::string root = unit_arg.value();
  std::vector<std::string> scope = units_->Descendants(root, INT64_MIN / 4, INT64_MAX / 4);
  if (scope.empty()) scope.push_back(root);
  std::map<std::string, std::map<std::string, int64_t>> by_unit;
  std::map<std::string, int64_t> total;
  Status st = store_->ForEachRecord(kind_arg.value(), scope, [&](const RecordRow& row) {
    nlohmann::json tags = nlohmann::json::parse(row.tags_json, nullptr, false);
    if (!tags.is_array()) return;
    for (const auto& t : tags) {
      if (!t.is_object()) continue;
      auto text = [&](const char* k) {
        auto it = t.find(k);
        return it != t.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      const std::string name = text("tag"), value = text("value");
      const std::string label = value.empty() ? name : name + "=" + value;
      ++by_unit[row.unit][label];
      ++total[label];
    }
  });
  if (!st.ok()) return st;
  return nlohmann::json{{"unit", root}, {"kind", kind_arg.value()}, {"rules_version", rules()->version()},
                        {"total", total}, {"by_unit", by_unit}};
}

Result<nlohmann::json> Engine::ExplainTagsOp(const nlohmann::json& req) {
  auto rec = RecordGet(req);
  if (!rec.ok()) return rec.status();
  return nlohmann::json{{"key", rec.value()["record"]["key"]}, {"tags", rec.value()["record"]["tags"]},
                        {"rules_version", rules()->version()}};
}

}  // namespace danvan
