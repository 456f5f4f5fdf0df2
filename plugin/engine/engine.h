// The engine behind one danvan_handle: configuration, intake, storage and query ops.
//
// Threading: Submit, SubmitBatch and Query may be called from many threads at once. Parsing
// and validation run in the caller's thread without locks; the store serialises commits.
// Start and Stop may be called from several threads at once; the destructor (close) must not
// race with any other call. Nothing here performs network I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "console/console_config.h"
#include "core/answer_text.h"
#include "core/clock.h"
#include "core/logger.h"
#include "core/status.h"
#include "engine/background_job.h"
#include "engine/evaluator.h"
#include "engine/index_checkpoint.h"
#include "engine/intake.h"
#include "engine/progress.h"
#include "indicators/catalog.h"
#include "indicators/record_index.h"
#include "indicators/series_index.h"
#include "indicators/units.h"
#include "outbox/outbox.h"
#include "portal/portal_config.h"
#include "tagging/rules.h"
#include "storage/store.h"

namespace danvan {

class ChangeFeed;  // postgres/pg_store.h

class TagReviewBook;  // engine/tag_review_ops.h
struct ConfigData;    // engine/config_reload.h
class PortalProbe;    // portal/portal_probe.h
namespace console {
class Console;  // console/console.h
}

struct EngineConfig {
  nlohmann::json raw;  // the validated configuration document
  std::string instance;
  std::string schemas_dir;
  std::string config_dir;
  std::string storage_engine = "sqlite";
  std::string storage_path;
  // storage.postgres (engine "postgres"): the connection string without the password, and the
  // password (a secret: from password_file, password_env or the host's secret callback
  // "storage.postgres.password"; never logged).
  std::string pg_conninfo;
  std::string pg_password;
  bool synchronous_full = true;
  int busy_timeout_ms = 10000;
  int read_connections = 4;
  unsigned file_mode = 0600;  // storage.file_mode: the database file, -wal and -shm
  IntakeLimits intake;
  // Data files read at open and on request (rules, rubric, calendars, units...): nesting depth
  // (limits.max_json_depth, the same as events) and size (limits.max_data_file_bytes).
  JsonReadLimits data_limits;
  // How long a query waits for a free read connection before RETRY_LATER (limits.read_wait_ms).
  int read_wait_ms = 30000;
  int64_t max_batch_events = 10000;
  int64_t max_batch_bytes = 64LL << 20;
  LogLevel log_level = LogLevel::kInfo;
  uint32_t stop_timeout_ms = 5000;
  // Data files (defaults under config_dir).
  std::string units_file;
  std::string indicators_file;
  std::string calendar_dir;
  std::string deadlines_file;
  std::string procedures_file;
  std::string rules_file;
  // reports.dir: the only directory the `report` op writes into (its `path` is resolved inside
  // it). Default: "reports" beside the SQLite file.
  std::string reports_dir;
  int64_t scheduler_interval_ms = 1000;
  // indicators.checkpoint_fold_rows: pending contribution changes that make the scheduler fold
  // them into the indicator checkpoint (engine/index_checkpoint.h); it also folds once a minute.
  int64_t checkpoint_fold_rows = 10000;
  nlohmann::json portal;  // the "portal" section (adapters/portal), null when absent
  OutboxConfig outbox;
  // The admin web console (console/console_config.h); off unless console.enabled.
  console::ConsoleConfig console;
};

// Parses and validates a configuration document; on failure the status message lists every
// error, one per line, each with its JSON path.
// `secret` is the host's secret look-up (may be empty), asked before the environment and files.
Result<EngineConfig> ParseEngineConfig(std::string_view text, const SecretLookup& secret = {});

struct HostHooks {
  Logger logger;
  std::function<void(const std::string&)> alert;  // may be empty
  std::shared_ptr<Clock> clock;
  SecretLookup secret;  // the host's secret look-up; may be empty
};

// What a submit call answers: the ABI status and the JSON result.
struct SubmitAnswer {
  SubmitAnswer() = default;
  SubmitAnswer(Status s, nlohmann::json r, std::string text = {})
      : status(std::move(s)), result(std::move(r)), result_text(std::move(text)) {}
  Status status;
  nlohmann::json result;
  // When the call was asked for text (Submit's as_text, SubmitBatch's normalize_errors): the
  // result serialised, with the error handler `replace`, instead of `result` (which stays
  // null). Empty when the answer is only in `result` (a failed call, a rejected single event).
  std::string result_text;
};

// Rewrites a rejected event's result in place before it is written as text (the ABI gives its
// "errors" their ABI shape: abi/abi_errors.h NormalizeResultErrors).
using ResultErrorsNormalizer = void (*)(nlohmann::json& result);

struct EventResult;  // engine/engine_internal.h

// What an extension concern (scoring, reports) may use. Pointers stay valid for the
// engine's lifetime; all of them are thread-safe.
struct EngineServices {
  Store* store = nullptr;
  const indicators::UnitTree* units = nullptr;
  const indicators::IndicatorCatalog* catalog = nullptr;
  const indicators::SeriesIndex* index = nullptr;
  const indicators::RecordSeriesIndex* record_index = nullptr;
  const Clock* clock = nullptr;
  const Logger* logger = nullptr;
  // The configuration the engine was opened with: what cannot change live (schemas_dir,
  // storage, limits). For anything a reload may change use live_config().
  const EngineConfig* config = nullptr;
  // The configuration in force (config.reload replaces it whole): an immutable snapshot.
  std::function<std::shared_ptr<const EngineConfig>()> live_config;
  // A petition's legal steps (Classification::steps) as they stood at as_of_ms, from its
  // stored data, history and tags; an empty array when it has none. Thread-safe.
  std::function<nlohmann::json(const RecordRow& row, int64_t as_of_ms)> deadline_steps_at;
  // Where the report op publishes each run's progress (the `progress` op reads it).
  ReportProgressBoard* report_progress = nullptr;
};

// A query op: request JSON (with "op") -> response. Runs on the caller's thread; must not
// perform network I/O.
using QueryOp = std::function<Result<nlohmann::json>(const nlohmann::json& request)>;
// The same op writing its answer as text into *out (empty on entry): the bytes
// DumpJson(answer, replace) would give, without the document (large answers).
using TextQueryOp = std::function<Status(const nlohmann::json& request, AnswerText* out)>;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineConfig& config, HostHooks hooks);
  ~Engine();

  Status Start();
  Status Stop(uint32_t timeout_ms);

  // as_text / normalize_errors set: the answer is written straight as text (result_text),
  // the same bytes as serialising `result` would give (after normalize_errors on each rejected
  // event's result), without building it.
  SubmitAnswer Submit(std::string_view event, bool as_text = false);
  SubmitAnswer SubmitBatch(std::string_view jsonl, ResultErrorsNormalizer normalize_errors = nullptr);
  // {"op": ...} -> response; NotFound for an unknown op. text set (cleared first): an op
  // with a text writer (indicators, score) writes its answer there instead, the bytes
  // DumpJson(answer, replace) gives, and returns null; other ops leave *text untouched.
  Result<nlohmann::json> Query(std::string_view request, AnswerText* text = nullptr);

  // The configuration open was given (what cannot change live).
  const EngineConfig& config() const { return config_; }
  // The configuration in force: an immutable snapshot that config.reload replaces atomically
  // (a caller keeps the one it took for the whole of its work). Thread-safe.
  std::shared_ptr<const EngineConfig> live_config() const;
  EngineServices services() const;
  // The admin console's bound port while it runs (console.port 0 picks a free one); 0 when the
  // console is disabled or stopped.
  int console_port() const;
  // Registers an extension op (during Open only: not thread-safe against Query).
  void RegisterOp(const std::string& name, QueryOp op);
  // Its text writer, for Query with text (during Open only, as RegisterOp).
  void RegisterTextOp(const std::string& name, TextQueryOp op);

 private:
  Engine(EngineConfig config, HostHooks hooks);
  // --- Intake (engine/intake_apply.cc) ---
  struct Prepared;       // engine/engine_internal.h
  struct SubmitWaiter;   // one single submit waiting for its group commit
  // Applies the events in one transaction (one commit); on failure *status is set, nothing of
  // the batch is stored and the result is empty. The results point into `events`.
  // With `answer` set, each event's result is handed to it as soon as the event is applied (in
  // the events' order, before the commit: on failure the answers given are void) and the
  // result returned is empty; the event is then consumed: its outcome is moved out and freed,
  // and a record's documents are freed after its last event of the batch, so that the batch's
  // memory is given back event by event instead of all at once at its end. `events` cannot be
  // applied again then (ApplyGrouped, which retries, does not use it).
  std::vector<EventResult> ApplyAll(const std::vector<Prepared*>& events, Status* status,
                                    const std::function<void(EventResult&)>& answer = {});
  // Parses, validates and tags an event on the caller's thread (outside any lock).
  // `arena`: the event's parse (Intake::Parse), reused between events; this thread's.
  void PrepareEvent(Prepared* p, int64_t tag_now, JsonArena* arena) const;
  // Group commit: the caller's event joins the queue; a leader applies the queued events in one
  // transaction. Returns the event's result, or nullopt and a status.
  std::optional<EventResult> ApplyGrouped(Prepared* p, Status* status);
  Result<nlohmann::json> RecordGet(const nlohmann::json& req);
  Result<nlohmann::json> StatsOp();
  Result<nlohmann::json> QuarantineList(const nlohmann::json& req);
  Result<nlohmann::json> IndicatorsOp(const nlohmann::json& req);
  // IndicatorsOp's answer as the ABI writes it (the same bytes), without the document.
  Status IndicatorsText(const nlohmann::json& req, std::string* out);
  Result<nlohmann::json> ExplainOp(const nlohmann::json& req);
  Result<nlohmann::json> UnitsOp();
  Result<nlohmann::json> DeadlineScanOp();
  // {"op":"deadlines.status"}: the background re-evaluation's progress and the fingerprint of
  // the files deadlines depend on.
  Result<nlohmann::json> DeadlineStatusOp();
  // Re-evaluates the stored records `pks` (deadlines, contributions, watches) in one
  // transaction, then applies the indicator deltas.
  Status ReevaluateRecords(const std::vector<int64_t>& pks);
  // When the calendar, deadline rules or procedure files changed since the last open (their
  // SHA-256 against the stored setting), re-evaluates every dossier and petition in the
  // background; the new fingerprint is stored once all are done.
  // force: re-evaluate whatever the stored fingerprint says (a reload: records may have been
  // re-evaluated with inputs that were in force in between).
  Status ReevaluateIfDeadlineInputsChanged(bool force = false);
  // Inside the record's transaction: export work for a stored dossier change.
  Status EnqueueExport(StoreTransaction& tx, const RecordRow& row, const std::string& old_status,
                       bool was_item, bool has_steps, const ParsedEvent& p, int64_t now,
                       int64_t* enqueued);
  Status MarkSynced(StoreTransaction& tx, int64_t record_pk);
  std::shared_ptr<const tagging::RuleSet> rules() const;
  // Tags an event: *tags_json gets the array of the hits' TagHit::ToJson() objects, serialised
  // (what records.tags stores and the answer shows), *tag_values the hits' names and values
  // only, [{"tag","value"}] (what the evaluation reads: indicators::HasTag / TagValue). Each
  // hit's document lives only while it is written. `event`: the envelope as intake read it.
  void TagEvent(const std::string& kind, const ArenaJson& event, int64_t now,
                std::string* tags_json, nlohmann::json* tag_values) const;
  Result<nlohmann::json> ReloadRulesOp(const nlohmann::json& req);
  Result<nlohmann::json> RetagStatusOp();
  // {"op":"progress", "job": "retag"|"deadlines.reevaluation"|"report" (optional)}: every long
  // operation's done / total / state (engine/progress.h).
  Result<nlohmann::json> ProgressOp(const nlohmann::json& req);
  Result<nlohmann::json> TagChangesOp(const nlohmann::json& req);
  Result<nlohmann::json> TagCountsOp(const nlohmann::json& req);
  Result<nlohmann::json> ExplainTagsOp(const nlohmann::json& req);
  // tags.review: list / confirm / correct the reading of letters (engine/tag_review_ops.cc).
  friend Status RegisterTagReviewOps(Engine& engine);
  Result<nlohmann::json> TagReviewOp(const nlohmann::json& req);
  // The stored review decision of the record an envelope names, or null (no decision).
  std::shared_ptr<const nlohmann::json> ReviewFor(const nlohmann::json& event) const;
  std::shared_ptr<const nlohmann::json> ReviewFor(const ArenaJson& event) const;
  // Background re-tagging of every stored record with the current rules.
  void RetagLoop(std::shared_ptr<const tagging::RuleSet> rules);
  // Puts `rules` in force and re-tags every stored record in the background. A re-tagging
  // still running is a Conflict unless `replace_running` (a configuration reload), which stops
  // it between chunks first. Returns the previous version.
  Result<std::string> SwapRulesAndRetag(std::shared_ptr<const tagging::RuleSet> rules,
                                        const std::string& rules_sha256, bool replace_running);

  // Configuration reload and administration (engine/admin_ops.cc).
  // {"op":"config.reload", "config":{...} | "path":FILE, "dry_run":bool, "actor":NAME}
  Result<nlohmann::json> ConfigReloadOp(const nlohmann::json& req);
  // The op table behind Query (after parsing and the audit decision).
  Result<nlohmann::json> Dispatch(const std::string& op, const nlohmann::json& req);
  // Whether `op` (with its arguments: tags.review list is not) is administrative and audited.
  static bool IsAuditedOp(const std::string& op, const nlohmann::json& req);
  // The request's "actor" (else its "by"), default "host"; InvalidInput naming /actor when it
  // is not a short printable string.
  static Result<std::string> AuditActor(const nlohmann::json& req);
  // {"op":"config.show"}: the configuration in force, secrets redacted, with its SHA-256.
  Result<nlohmann::json> ConfigShowOp();
  // {"op":"audit.list", "limit":N, "before_id":ID, "filter_op":OP}: newest first.
  Result<nlohmann::json> AuditListOp(const nlohmann::json& req);
  // {"op":"adapter.test"} starts a portal check on a thread of its own;
  // {"op":"adapter.test.status"} reports its steps.
  Result<nlohmann::json> AdapterTestOp(const nlohmann::json& req);
  Result<nlohmann::json> AdapterTestStatusOp();
  // Appends the audit entry of an administrative op (journal kind "audit"). Never fails the
  // op: a failure to write is logged. `op_began`: when the op started; the entry of an op the
  // store kept busy (RETRY_LATER) waits for the write lock only until storage.busy_timeout_ms
  // after it, so that the op answers after one busy timeout, not two.
  void Audit(const std::string& op, const nlohmann::json& req, const Result<nlohmann::json>& result,
             nlohmann::json details, std::chrono::steady_clock::time_point op_began);

  // Re-evaluates a record (deadline, contributions) into row; appends the aggregate deltas
  // (old contributions out, new in, for the unit and its ancestors) to *deltas.
  // old_unit: the unit the stored contributions were counted for ("" = same as row.unit).
  Status Reevaluate(StoreTransaction& tx, RecordRow& row, const std::vector<HistoryRow>& history,
                    int64_t now, Evaluation* ev, std::vector<indicators::Delta>* deltas,
                    const std::string& old_unit = "");
  // The same on parsed data and tags, without writing the watch (the caller does). Data:
  // nlohmann::json, or ArenaJson (intake's views); both instantiated in engine_records.cc.
  template <typename Data>
  void EvaluateRow(RecordRow& row, const std::vector<HistoryRow>& history, const Data& data,
                   const nlohmann::json& tags, int64_t now, Evaluation* ev,
                   std::vector<indicators::Delta>* deltas, const std::string& old_unit = "") const;
  void ExpandDeltas(const RecordRow& row, const std::string& contrib_json, double sign,
                    std::vector<indicators::Delta>* out) const;
  void ExpandDeltas(const RecordRow& row, const std::vector<indicators::Contribution>& contributions,
                    double sign, std::vector<indicators::Delta>* out) const;
  // Loads the aggregates from their checkpoint and the records changed since
  // (engine/index_checkpoint.h); folds a large backlog of changes at once.
  Status RebuildIndex();
  // Folds pending contribution changes into the checkpoint when there are at least
  // indicators.checkpoint_fold_rows of them or the last fold is a minute old; all of them
  // (until deadline) when `all`. Errors are logged: the pending rows stay for the next open.
  void FoldIndexIfDue(bool all, std::chrono::steady_clock::time_point deadline);
  ContribExpander Expander() const;
  nlohmann::json IndexStats() const;
  static constexpr int64_t kFoldChunkRows = 5000;
  // Merges the portal's LayThuTuc answers into the procedure catalogue in force, keeps them in
  // the store (they are applied again at open), swaps the evaluator and re-evaluates the
  // dossiers of the procedures that changed. Runs on an outbox sender thread.
  Result<nlohmann::json> MergePortalProcedures(const std::vector<nlohmann::json>& answers);
  Result<nlohmann::json> ProcedureGetOp(const nlohmann::json& req);
  // Applies committed deltas to the aggregates and to the per-record index.
  void ApplyDeltas(const std::vector<indicators::Delta>& deltas);
  // Fires due-soon / overdue alerts whose time has come; returns how many fired.
  Result<int> ScanDeadlines();
  void SchedulerLoop();
  // PostgreSQL: applies to the aggregates the contribution changes other nodes committed since
  // the last call (postgres/pg_store.h, ChangeFeed). No-op on SQLite. Thread-safe.
  void FollowOtherNodes();
  std::shared_ptr<const RecordEvaluator> evaluator() const;

  EngineConfig config_;
  HostHooks hooks_;
  // The configuration in force and its data files' fingerprints (config.reload swaps both).
  mutable std::mutex live_mu_;
  std::shared_ptr<const EngineConfig> live_;     // guarded by live_mu_; never null after Open
  std::shared_ptr<const ConfigData> live_data_;  // guarded by live_mu_
  int64_t live_since_ms_ = 0;                    // guarded by live_mu_
  std::mutex reload_mu_;                         // one reload at a time
  std::atomic<int64_t> scheduler_interval_ms_{1000};
  std::unique_ptr<PortalProbe> probe_;           // adapter.test; set in Open
  std::unique_ptr<Store> store_;
  std::unique_ptr<Intake> intake_;
  std::shared_ptr<const indicators::UnitTree> units_;
  std::shared_ptr<const indicators::IndicatorCatalog> catalog_;
  // The indicators answer's petition-deadline steps, written for the evaluator steps_of_.
  std::mutex steps_mu_;
  std::shared_ptr<const RecordEvaluator> steps_of_;  // guarded by steps_mu_
  std::string steps_json_;                           // guarded by steps_mu_
  mutable std::mutex evaluator_mu_;
  std::shared_ptr<const RecordEvaluator> evaluator_;  // guarded by evaluator_mu_
  std::shared_ptr<const calendar::WorkingCalendar> calendar_;      // guarded by evaluator_mu_
  std::shared_ptr<const calendar::DeadlineRules> deadline_rules_;  // guarded by evaluator_mu_
  std::mutex procedures_mu_;  // one catalogue merge (or reload of the deadline inputs) at a time
  indicators::SeriesIndex index_;
  ChangeFeed* feed_ = nullptr;  // the store's, on PostgreSQL; set in Open
  std::mutex follow_mu_;
  std::string follow_cursor_;   // guarded by follow_mu_
  indicators::RecordSeriesIndex record_index_;
  std::string index_fingerprint_;  // set in Open (IndexCheckpointFingerprint)
  std::mutex fold_mu_;             // one fold at a time
  std::chrono::steady_clock::time_point last_fold_;  // guarded by fold_mu_
  std::unique_ptr<Outbox> outbox_;
  std::map<std::string, QueryOp> extra_ops_;
  std::map<std::string, TextQueryOp> text_ops_;
  mutable std::mutex rules_mu_;
  std::shared_ptr<const tagging::RuleSet> rules_;  // guarded by rules_mu_
  std::string rules_sha256_;                        // guarded by rules_mu_
  std::shared_ptr<TagReviewBook> tag_reviews_;      // set in Open; thread-safe itself
  std::mutex retag_mu_;
  std::thread retag_thread_;                       // guarded by retag_mu_
  std::atomic<bool> retag_running_{false};
  std::atomic<int64_t> retag_processed_{0}, retag_changed_{0};
  std::string retag_version_;                      // guarded by retag_mu_
  JobProgress retag_progress_{"retag"};            // the current or last re-tagging run
  mutable ReportProgressBoard report_progress_;    // report runs (report_ops.cc); thread-safe
  std::unique_ptr<BackgroundJob> reevaluation_;  // set in Open; cancelled first in ~Engine
  std::string deadline_inputs_sha256_;            // guarded by live_mu_
  std::mutex synced_deltas_mu_;
  std::vector<indicators::Delta> synced_deltas_;  // guarded by synced_deltas_mu_

  // Start, Stop and close may come from several host threads: lifecycle_mu_ serialises their
  // state changes and is never held while waiting for a thread (condition waits release it).
  std::mutex lifecycle_mu_;
  std::condition_variable lifecycle_cv_;       // wakes the scheduler
  std::condition_variable scheduler_exit_cv_;  // the scheduler left its loop
  bool stopping_ = false;           // guarded by lifecycle_mu_
  bool started_ = false;            // guarded by lifecycle_mu_: started and not fully stopped
  bool closing_ = false;            // guarded by lifecycle_mu_
  bool scheduler_running_ = false;  // guarded by lifecycle_mu_: the scheduler is in its loop
  std::thread scheduler_;           // guarded by lifecycle_mu_
  std::mutex scan_mu_;              // one deadline scan at a time
  // The admin console when console.enabled: started by Start, stopped (every thread
  // joined) by Stop and first thing in the destructor, so no request reaches a closing engine.
  // console_mu_ guards console_ and console_should_run_ and is held while the console starts
  // or stops; a console request never takes it (a restart waits for the requests in flight).
  std::mutex console_mu_;
  std::unique_ptr<console::Console> console_;  // guarded by console_mu_
  bool console_should_run_ = false;            // guarded by console_mu_: between Start and Stop
  std::atomic<int> console_port_{0};           // the bound port, 0 when not serving
  // A reload that changes the console section hands the new section to the console worker
  // thread (created at the first such reload, joined first thing in the destructor), which
  // restarts the console once the request that asked for it has been answered: the reload may
  // come through the console itself, whose request threads a restart waits for.
  std::mutex console_slot_mu_;
  std::condition_variable console_slot_cv_;
  std::optional<console::ConsoleConfig> console_pending_;  // guarded by console_slot_mu_
  bool console_worker_exit_ = false;                        // guarded by console_slot_mu_
  std::thread console_worker_;                              // guarded by console_slot_mu_
  nlohmann::json console_state_ = {{"state", "disabled"}};  // guarded by console_slot_mu_
  // Builds the console of `config` (not started); nullptr when it is disabled.
  std::unique_ptr<console::Console> MakeConsole(const EngineConfig& config);
  // Queues a restart of the console with a new section (ConfigReloadOp).
  void RequestConsoleRestart(console::ConsoleConfig config);
  void ConsoleWorkerLoop();
  void ApplyConsoleConfig(const console::ConsoleConfig& config);
  void SetConsoleState(nlohmann::json state);
  nlohmann::json ConsoleState();

  // Group commit of single submits (engine/intake_apply.cc): waiters queue here; the first one
  // finding no leader becomes the leader and applies a group in one transaction.
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::deque<SubmitWaiter*> group_queue_;  // guarded by group_mu_
  bool group_leader_ = false;              // guarded by group_mu_
  // Submit/SubmitBatch calls inside the engine, and whether close has begun (new ones are then
  // refused with RETRY_LATER). The destructor waits on group_cv_ for the calls inside to leave,
  // so that no submit still waking (each on its own condition variable) finds it destroyed.
  // Guarded by group_mu_.
  int intake_calls_ = 0;
  bool intake_closed_ = false;
  // Gathering (ApplyGrouped), guarded by group_mu_: how many single submits were in flight (the
  // group's members and those queued behind it) when the last group ended and when the one
  // before it ended; how long the last group took to apply and commit; the leader waiting for
  // submits to come back (nullptr when none is) and how many queued it waits for; the backoff
  // after waits in vain (after the second in a row the next 2^(misses-1) groups do not wait;
  // a wait that gathered everyone resets it).
  size_t submits_in_flight_ = 0;
  size_t submits_in_flight_before_ = 0;
  std::chrono::steady_clock::duration last_group_time_{};
  SubmitWaiter* gathering_leader_ = nullptr;
  size_t gathering_for_ = 0;
  int gather_misses_ = 0;
  int gather_skip_ = 0;
  class IntakeCall;  // RAII: counts one call in intake_calls_ (engine/intake_apply.cc)
};

}  // namespace danvan
