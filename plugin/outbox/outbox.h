// The export pipeline to the national public service portal (domain.md §1).
//
// Guarantees (README "Export to the national portal" says what they mean for a host):
//  * Transactional outbox: the engine calls Enqueue*() inside the transaction that stores the
//    record change, so an acknowledged submit is always eventually exported.
//  * Nothing is sent from the host's call path: sender threads owned by the Outbox do it.
//  * Order per dossier: items of one record leave strictly in seq order, i.e. in the order their
//    changes happened. A dossier item sends the dossier as it was when the next item of the
//    record was queued (FreezeDossierOps), so a retried update never overtakes the steps queued
//    after it; a waiting update is superseded by a newer version queued after those steps.
//    Up to steps_per_call consecutive steps of a record go in one call, and one call carries up
//    to dossiers_per_call records.
//  * Nothing relies on an idempotency key (the national portal's published clients send none):
//    - each step once: a step derived from a dossier item's status change waits
//      derived_step_delay_ms; a host step for the same status replaces it (host content wins)
//      or, when it already left, is not sent again;
//    - a call refused as a whole (one error_code, the first offending item named as data[i])
//      settles that item alone and sends the others again; without an index every member is
//      sent alone (a call refused as a whole was not applied);
//    - after an ambiguous outcome (lost answer, unreadable answer, 502/504, a node that died
//      between sending and recording) a dossier is looked up (TraCuuHoSo) before it is sent
//      again, and steps are sent again one per call; each step sent again is counted
//      (outbox.status residual.steps_resent_after_ambiguity: the most duplicates the portal
//      can hold).
//  * Never drop: retryable failures back off exponentially with full jitter (Retry-After
//    counted from the answer's arrival); past max_attempts or max_age an item moves to the
//    dead-letter table, from which an administrator re-sends it. A missing code mapping holds
//    the record back; a refusal that means the configuration is wrong (log-in, dstcode, unit,
//    unknown service, HTTP 404/405) pauses the destination with an alert.
//  * Tamper-evident export log: every exchange is appended with a SHA-256 hash chain, without
//    personal data (hashes and dossier codes only, export_log.h).
//
// Threading: Enqueue* run on the caller's thread inside its transaction; Start, Stop and
// Shutdown may be called from any threads at once (they serialise on lifecycle_mu_ and never
// hold it while waiting for a sender); the query helpers are thread-safe.
//
// Lifecycle: a sender thread lives from Start until it sees the stop flag between two passes;
// Stop waits for that at most until its deadline and says whether every sender left (a sender
// inside a portal request finishes the request first, bounded by the portal timeouts). A Start
// after a Stop that timed out keeps the senders that have not left yet and replaces the others.
// Shutdown (the plugin's close) cancels the requests in flight (PortalClient::Cancel) and joins
// every thread: no thread outlives the Outbox, and none is ever detached.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/logger.h"
#include "core/status.h"
#include "outbox/export_log.h"
#include "outbox/portal_client.h"
#include "outbox/portal_payload.h"
#include "storage/store.h"

namespace danvan {

struct OutboxConfig {
  bool enabled = false;
  std::string destination = "dvcqg";
  int senders = 1;
  int64_t claim_batch = 50;
  int64_t steps_per_call = 10;       // one real client sends progress in chunks of 10
  // Dossiers per DongBoHoSoMC call, and dossiers whose steps share one CapNhatTienDoHoSoMC call.
  // Both services take arrays (domain.md §1 [verified]); the portal's limit on the array is not
  // published [unconfirmed], so the shipped default stays at the chunk of 10 a real client uses
  // (schemas/config.schema.json /outbox/dossiers_per_call). 1 = one dossier per call.
  int64_t dossiers_per_call = 10;
  int64_t lease_ms = 120000;
  int64_t backoff_base_ms = 1000;
  int64_t backoff_cap_ms = 300000;
  int64_t max_attempts = 20;
  int64_t max_age_ms = 7LL * 24 * 3600 * 1000;
  int64_t max_queued = 200000;       // back-pressure bound: submit answers retry-later past it
  int64_t poll_interval_ms = 200;
  int64_t held_retry_ms = 60000;
  int64_t reconcile_interval_ms = 0;  // 0 = only on demand
  // How often the procedure catalogue is refreshed from the portal's LayThuTuc (0 = only on
  // demand, through the procedures.refresh op).
  int64_t procedures_refresh_interval_ms = 0;
  bool synthesize_progress = true;    // status changes of dossier items become progress steps
                                      // when the host sends no progress items for the dossier
  // A derived step waits this long for the host's own step of the same status (which then
  // replaces it) before it is sent.
  int64_t derived_step_delay_ms = 30000;
  // A host step matches a derived step of the same status at most this far apart in time (the
  // host's step time vs the dossier event's time); farther, it is another transition.
  int64_t derived_step_match_ms = 3600000;
  // How long the destination pauses after a refusal that means the configuration is wrong.
  int64_t pause_ms = 300000;
  // Field limits of the portal (config/portal/field-limits.json), checked at intake.
  std::string field_limits_file;  // "" = <config_dir>/portal/field-limits.json
  std::string node = "local";     // lease owner: the engine's "instance" name
  PortalMappings mappings;
  PayloadOptions payload;
};

// Parses the "outbox" section (and its "mappings"); every error with its path.
Result<OutboxConfig> ParseOutboxConfig(const nlohmann::json& section, bool portal_configured);

class Outbox {
 public:
  using ClientFactory = std::function<Result<std::unique_ptr<PortalClient>>()>;
  // Called inside the completion transaction when the portal confirmed a dossier.
  using SyncedHook = std::function<Status(StoreTransaction&, int64_t record_pk)>;
  // Called after the completion transaction committed (apply aggregate deltas...).
  using AfterCommitHook = std::function<void()>;
  // The host's alert callback (one JSON object per alert).
  using AlertHook = std::function<void(const std::string&)>;
  // The procedure codes to refresh when a request names none (the catalogue's codes).
  using ProcedureCodesProvider = std::function<std::vector<std::string>()>;
  // Merges LayThuTuc answers (one JSON object per procedure) into the catalogue in force.
  // Runs on a sender thread; returns a summary for procedures.status.
  using ProceduresHook = std::function<Result<nlohmann::json>(const std::vector<nlohmann::json>& answers)>;

  Outbox(OutboxConfig config, Store* store, std::shared_ptr<Clock> clock, Logger logger,
         ClientFactory factory, SyncedHook on_synced, AfterCommitHook after_commit);
  ~Outbox();

  Status Init();  // reads the queue depth and stored mappings
  void Start();
  // Asks senders to stop and waits until `deadline`; false if one is still running then (inside
  // a portal request, or a Start came meanwhile). Never cancels a request: the senders still
  // running stop on their own after their current request.
  bool Stop(std::chrono::steady_clock::time_point deadline);
  // Stops every sender for good: waits until `graceful_deadline` like Stop, then cancels the
  // portal requests in flight and joins every sender thread (bounded: a cancelled request fails
  // at once). Idempotent; the destructor calls it.
  void Shutdown(std::chrono::steady_clock::time_point graceful_deadline);

  // Inside the transaction of a new version of a dossier item, before the stored row changes:
  // the dossier items not sent yet keep the version they were queued for (`before` is the
  // stored row as it was).
  Status BeforeDossierChange(StoreTransaction& tx, const RecordRow& before);
  // Inside the record's transaction. `record` is the stored row (pk set).
  // *queued (optional) is the change in queued items: +1 for a new item, 0 when a waiting
  // dossier item (the record's last item) will send this version too, minus the waiting
  // updates a newer version supersedes.
  Status EnqueueDossier(StoreTransaction& tx, const RecordRow& record, int64_t now_ms,
                        int64_t* queued = nullptr);
  // Where a step comes from. kDerived: a dossier item's status change (it waits
  // derived_step_delay_ms). kHost: the host's progress item; it replaces a pending derived step
  // of the same status (host content wins) or, when that one already left, is not sent again.
  // kResend: a step the portal lost (reconciliation), queued as is.
  enum class StepSource { kHost, kDerived, kResend };
  // *queued (optional): the change in queued items (0 or 1).
  Status EnqueueProgress(StoreTransaction& tx, const RecordRow& record,
                         const nlohmann::json& step_item, int64_t now_ms,
                         StepSource source = StepSource::kHost, int64_t* queued = nullptr);
  // After the record's transaction committed: counts the enqueued items for back-pressure.
  void Committed(int64_t enqueued) { queued_ += enqueued; }
  void SetAlertHook(AlertHook alert) { alert_ = std::move(alert); }
  // Back-pressure: RetryLater when the queue is at its bound.
  Status Admit(int64_t events) const;

  // Query ops (no network): status, dead letters, re-send, mappings, verify, reconcile request.
  Result<nlohmann::json> StatusJson();
  Result<nlohmann::json> DeadLetters(const nlohmann::json& req);
  Result<nlohmann::json> Resend(const nlohmann::json& req);
  Result<nlohmann::json> SetMappings(const nlohmann::json& req);
  // The mappings in force: {"destination","source":"stored"|"config","units","procedures"}.
  Result<nlohmann::json> MappingsJson();
  Result<nlohmann::json> VerifyLog();
  Result<nlohmann::json> RequestReconcile();
  // Before Start(): where procedure refreshes get their codes and deliver their answers.
  void SetProcedureHooks(ProcedureCodesProvider codes, ProceduresHook merge);
  // Schedules a LayThuTuc fetch of req["codes"] (all catalogue codes when absent); a sender
  // thread does it. procedures.status reports the last run.
  Result<nlohmann::json> RequestProcedureRefresh(const nlohmann::json& req);
  nlohmann::json ProceduresStatus() const;

  // The configuration in force: an immutable snapshot, replaced whole by Reconfigure.
  std::shared_ptr<const OutboxConfig> config() const;
  // A configuration reload (engine config.reload): the new settings and portal client factory.
  // enabled, destination, senders and node cannot change (Conflict). Senders pick the new
  // snapshot up at their next pass and drop their portal client for one made by the new
  // factory (the request in flight finishes with the old one). The file's mappings replace
  // those in force only when `mappings_changed` and no administrator stored mappings
  // (outbox.mappings.set). Thread-safe.
  Status Reconfigure(OutboxConfig next, ClientFactory factory, bool mappings_changed);
  // One sender pass (claim, send, finish): exposed for tests. Returns items finished.
  Result<int> RunOnce(PortalClient& client);

 private:
  // A pending item of `op` for the record, ready at now_ms (payload and key left to the caller).
  OutboxItem NewItem(const RecordRow& record, const std::string& op, int64_t now_ms) const;
  // `started_ms`: the clock at the Start that created this sender; its timers count from it.
  void SenderLoop(int index, int64_t started_ms);
  Status Reconcile(PortalClient& client);
  // Several nodes on one database: a scheduled reconciliation runs on one node per
  // reconcile_interval_ms (two would both re-queue a dossier the portal lacks, and its steps
  // would arrive twice). True when this node claimed the run at now_ms: no other node is
  // reconciling (job lock) and none ran one less than an interval ago (setting
  // "outbox.reconcile_next.<destination>": {"node", "next_ms"}).
  Result<bool> ClaimScheduledReconcile(int64_t now_ms);
  // Fetches the requested (or all) procedures and hands the answers to the merge hook. A
  // retryable failure leaves the request pending for the next pass.
  void RefreshProcedures(PortalClient& client);
  int64_t Backoff(int64_t attempts, int64_t retry_after_ms);
  // Appends one exchange to the export log. *head: the chain head (entry hash of the newest
  // entry) when known from an earlier append in the same transaction, "" to read it; updated.
  // The caller stores the head setting once after its last append (SetLogHead).
  Status LogExchange(StoreTransaction& tx, const std::string& op, const std::string& record_id,
                     const SendResult& r, std::string* head);
  Status SetLogHead(StoreTransaction& tx, const std::string& head);
  PortalMappings mappings() const;
  // Pauses the destination (a refusal that means the configuration is wrong) and alerts once.
  void Pause(int64_t now_ms, const std::string& reason);
  // Adds to the persistent export counters (setting outbox.counters.<destination>) inside tx.
  Status BumpCounters(StoreTransaction& tx, const std::map<std::string, int64_t>& add);
  // Same, in a transaction of its own (before a call whose outcome must be counted even if the
  // node dies during it).
  Status BumpCountersNow(const std::map<std::string, int64_t>& add);

  ClientFactory factory() const;

  mutable std::mutex config_mu_;
  std::shared_ptr<const OutboxConfig> config_;  // guarded by config_mu_; never null
  Store* store_;
  std::shared_ptr<Clock> clock_;
  Logger logger_;
  ClientFactory factory_;  // guarded by config_mu_
  std::atomic<uint64_t> client_generation_{0};  // bumped by Reconfigure
  SyncedHook on_synced_;
  AfterCommitHook after_commit_;

  std::atomic<int64_t> queued_{0};
  mutable std::mutex mappings_mu_;
  PortalMappings mappings_;  // guarded by mappings_mu_
  std::mutex log_mu_;        // export-log appends are serialised (hash chain)
  std::mutex claim_mu_;
  std::atomic<bool> reconcile_requested_{false};
  std::atomic<int64_t> paused_until_ms_{0};
  std::string pause_reason_;  // guarded by status_mu_
  AlertHook alert_;
  std::atomic<int64_t> last_success_ms_{0};
  mutable std::mutex status_mu_;
  std::string last_error_;  // guarded by status_mu_
  int64_t last_error_ms_ = 0;
  nlohmann::json last_reconcile_;
  ProcedureCodesProvider procedure_codes_;
  ProceduresHook merge_procedures_;
  std::atomic<bool> procedures_requested_{false};
  std::vector<std::string> requested_codes_;  // guarded by status_mu_ (empty = all)
  int64_t procedures_request_seq_ = 0;        // guarded by status_mu_
  nlohmann::json last_procedures_ = nullptr;  // guarded by status_mu_

  // True when the senders were asked to stop (checked between portal calls).
  bool stopping() const { return stopping_flag_.load(); }

  std::mutex lifecycle_mu_;             // serialises Start/Stop/Shutdown; never held while waiting
  std::vector<std::thread> threads_;    // guarded by lifecycle_mu_, one slot per sender
  std::mutex run_mu_;                   // never held across a portal call or a join
  std::condition_variable run_cv_;      // wakes senders (work, stop)
  std::condition_variable exit_cv_;     // a sender left its loop
  bool stopping_ = false;               // guarded by run_mu_
  bool shut_down_ = false;              // guarded by run_mu_: Shutdown ran, Start is refused
  std::atomic<bool> stopping_flag_{false};  // mirror of stopping_ for lock-free checks
  std::vector<bool> slot_running_;      // guarded by run_mu_: sender i is inside its loop
  int alive_ = 0;                       // guarded by run_mu_: senders inside their loop
  std::vector<PortalClient*> clients_;  // guarded by run_mu_: the senders' clients, for Cancel
  bool cancel_all_ = false;             // guarded by run_mu_: Shutdown cancelled the clients
};

// The index i of "data[i]" in a refusal's message (the first offending item of a call the
// portal refused as a whole), when it is below size. Exposed for tests.
std::optional<size_t> OffendingIndex(const std::string& message, size_t size);
// True when the portal's item (a TraCuuHoSo answer) holds every field of `wire` with the same
// value: the dossier is there as we would send it.
bool PortalHasDossier(const nlohmann::json& portal_item, const nlohmann::json& wire);

}  // namespace danvan
