// The engine's life cycle: Open (store, data, index, console), Start and Stop (the scheduler,
// the export worker, the console worker), close, following the other nodes (PostgreSQL), and the
// services the ops modules share. The rest of Engine is in:
//   engine_config.cc   ParseEngineConfig
//   engine_records.cc  record evaluation, the indicator index, deadline scans, export queueing
//   engine_query.cc    Query, its dispatcher and the query ops
//   engine_tags.cc     tagging, rule reloads, re-tagging and the tag ops
//   intake.cc, intake_apply.cc  parsing and applying submitted events
#include "engine/engine.h"

#include <pthread.h>

#include <algorithm>
#include <filesystem>

#include "console/console.h"
#include "core/bounded_input.h"
#include "core/json_schema.h"
#include "core/json_view.h"
#include "core/timeutil.h"
#include "engine/config_reload.h"
#include "engine/engine_internal.h"
#include "engine/deadline_list_ops.h"
#include "engine/report_ops.h"
#include "engine/tag_review_ops.h"
#include "portal/portal_http_client.h"
#include "portal/portal_probe.h"
#include "postgres/pg_store.h"
#include "sqlite/sqlite_store.h"

namespace danvan {

nlohmann::json KeyJson(const RecordKey& k) {
  return {{"source", k.source}, {"kind", k.kind}, {"id", k.id}};
}

// The portal's DongBoHoSoMC needs NgayTiepNhan (domain.md §1), so a dossier is exported only
// once received; its progress steps wait with it. Both waits are stored records without a
// deadline or any indicator contribution (domain.md §2: only received dossiers count).
namespace {

// DossierPending over nlohmann's document or an arena view (core/json_view.h).
template <typename J>
nlohmann::json PendingOf(const RecordRow& row, const J* d) {
  if (row.key.kind != "dossier") return nullptr;
  if (!row.has_item)
    return {{"code", "awaiting_dossier_item"},
            {"reason", "mới có bước xử lý (CapNhatTienDoHoSoMC), chưa có hồ sơ: chưa tính thời hạn, "
                       "chỉ số và chưa gửi Cổng DVC quốc gia cho đến khi hồ sơ đến"}};
  const J* it = d ? jview::Find(*d, "NgayTiepNhan") : nullptr;
  if (it && it->is_string() && !jview::Text(*it).empty()) return nullptr;
  return {{"code", "awaiting_reception"},
          {"reason", "hồ sơ chưa được tiếp nhận (trạng thái " + row.status +
                         ", chưa có NgayTiepNhan): được lưu, không tính vào tỷ lệ đúng hạn, "
                         "chưa gửi Cổng DVC quốc gia cho đến khi có NgayTiepNhan"}};
}

}  // namespace

nlohmann::json DossierPending(const RecordRow& row, const nlohmann::json& d) {
  return PendingOf(row, &d);
}

nlohmann::json DossierPending(const RecordRow& row, const ArenaJson& d) {
  return PendingOf(row, &d);
}

nlohmann::json DossierPending(const RecordRow& row) {
  if (row.key.kind != "dossier" || !row.has_item) return DossierPending(row, nlohmann::json());
  return DossierPending(row, ParseStoredJson(row.data_json));
}

bool PortalAccepts(const RecordRow& row, const nlohmann::json& data) {
  return row.key.kind == "dossier" && row.has_item && DossierPending(row, data).is_null();
}

bool PortalAccepts(const RecordRow& row, const ArenaJson& data) {
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
    nlohmann::json stored = ParseStoredJson(*fetched.value());
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

EngineServices Engine::services() const {
  EngineServices s{store_.get(), units_.get(), catalog_.get(), &index_, &record_index_,
                   hooks_.clock.get(), &hooks_.logger, &config_, {}, {}, nullptr};
  s.report_progress = &report_progress_;
  s.live_config = [this] { return live_config(); };
  s.deadline_steps_at = [this](const RecordRow& row, int64_t as_of_ms) -> nlohmann::json {
    auto history = store_->GetHistory(row.pk);
    if (!history.ok()) return nlohmann::json::array();
    const nlohmann::json data = ParseStoredJson(row.data_json);
    const nlohmann::json tags = ParseStoredJson(row.tags_json);
    auto c = evaluator()->Classify(row.key.kind, data, history.value(), tags, as_of_ms);
    if (!c.ok() || !c->steps.is_array()) return nlohmann::json::array();
    return c->steps;
  };
  return s;
}

int Engine::console_port() const { return console_port_.load(); }

void Engine::RegisterOp(const std::string& name, QueryOp op) { extra_ops_[name] = std::move(op); }
void Engine::RegisterTextOp(const std::string& name, TextQueryOp op) { text_ops_[name] = std::move(op); }

std::shared_ptr<const tagging::RuleSet> Engine::rules() const {
  std::lock_guard lock(rules_mu_);
  return rules_;
}

}  // namespace danvan
