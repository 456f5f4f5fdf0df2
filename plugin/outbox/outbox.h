// The export pipeline to the national public service portal (domain.md §1).
//
// Guarantees:
//  * Transactional outbox: the engine calls Enqueue*() inside the transaction that stores the
//    record change, so an acknowledged submit is always eventually exported.
//  * Nothing is sent from the host's call path: sender threads owned by the Outbox do it.
//  * Order per dossier: items of one record are sent strictly in seq order (a later status is
//    never sent before an earlier one); up to steps_per_call consecutive progress steps of a
//    record go in one call, and one call carries up to dossiers_per_call records (dossiers in a
//    DongBoHoSoMC call, or the step groups of that many dossiers in a CapNhatTienDoHoSoMC call).
//    The portal's per-item answers settle each record alone ("already exists" -> update of just
//    that dossier, a refusal -> dead letter of just that item); a retryable failure of the call
//    retries all of it. A pass's outcomes are written in one store transaction.
//  * Idempotent: dossiers go as create, then update ("already exists" -> update); every call
//    carries a deterministic idempotency key per record (a comma-separated list for a
//    multi-record call, see PortalCallOptions::idempotency_key for why per record); retries
//    resend the same key for each record whatever batch it lands in.
//  * Never drop: retryable failures back off exponentially with full jitter (honouring
//    Retry-After); past max_attempts or max_age an item moves to the dead-letter table, from
//    which an administrator re-sends it. A missing code mapping holds the record back.
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
#include <memory>
#include <mutex>
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

  // Inside the record's transaction. `record` is the stored row (pk set).
  // *inserted (optional) tells whether a new item was queued: a waiting dossier item already
  // sends the record's latest data, so a newer version adds nothing.
  Status EnqueueDossier(StoreTransaction& tx, const RecordRow& record, int64_t now_ms,
                        bool* inserted = nullptr);
  Status EnqueueProgress(StoreTransaction& tx, const RecordRow& record,
                         const nlohmann::json& step_item, int64_t now_ms);
  // After the record's transaction committed: counts the enqueued items for back-pressure.
  void Committed(int64_t enqueued) { queued_ += enqueued; }
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

  const OutboxConfig& config() const { return config_; }
  // One sender pass (claim, send, finish): exposed for tests. Returns items finished.
  Result<int> RunOnce(PortalClient& client);

 private:
  // A pending item of `op` for the record, ready at now_ms (payload and key left to the caller).
  OutboxItem NewItem(const RecordRow& record, const std::string& op, int64_t now_ms) const;
  void SenderLoop(int index);
  Status Reconcile(PortalClient& client);
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

  OutboxConfig config_;
  Store* store_;
  std::shared_ptr<Clock> clock_;
  Logger logger_;
  ClientFactory factory_;
  SyncedHook on_synced_;
  AfterCommitHook after_commit_;

  std::atomic<int64_t> queued_{0};
  mutable std::mutex mappings_mu_;
  PortalMappings mappings_;  // guarded by mappings_mu_
  std::mutex log_mu_;        // export-log appends are serialised (hash chain)
  std::mutex claim_mu_;
  std::atomic<bool> reconcile_requested_{false};
  std::atomic<int64_t> paused_until_ms_{0};
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

}  // namespace danvan
