// The core's view of the national public service portal (Cổng DVC quốc gia), see
// shared docs domain.md §1. The outbox (plugin/outbox) depends only on this header; the HTTPS
// implementation lives in adapters/portal (MakePortalClient in adapters/portal/portal_http_client.h).
//
// How the outbox is meant to use it
// ---------------------------------
// * Threading: a PortalClient instance is NOT thread-safe (Cancel excepted). Create one instance
//   per sender thread (each holds its own keep-alive HTTPS connection and its own session /
//   bearer token). Instances share nothing mutable, so N sender threads = N instances. All calls
//   block (network I/O bounded by the configured connect/read timeouts, plus at most one
//   transparent re-login or token refresh and one reconnect of a stale keep-alive connection);
//   never call them from a thread the host called into.
// * Every operation returns a classified result, never throws:
//     kSuccess        the portal accepted the whole batch.
//     kAlreadyExists  a create (is_update=false) hit a dossier the portal already has ("đã tồn
//                     tại", domain.md §1): resend the same items with is_update=true. Nothing in
//                     the batch needs a retry as create.
//     kRetryable      transport failure (connect, TLS handshake, reset, timeout), HTTP 408, 425,
//                     429, 5xx, an expired session that a re-login did not cure, a malformed
//                     response body, or a portal error code listed as retryable in the config.
//                     Retry later with backoff; if retry_after_ms >= 0 wait at least that long.
//                     NOTE: after a timeout or a dropped connection the portal MAY have applied
//                     the batch (the response was lost). Resending a dossier is harmless (create
//                     then answers kAlreadyExists -> update). For progress steps, send the same
//                     deterministic idempotency_key on the resend; gateways that honour it will
//                     not apply the step twice, and TraCuuHoSo (Lookup) can reconcile.
//     kPermanent      other 4xx, schema rejections, non-zero error codes not listed as retryable:
//                     retrying the same bytes will not help -> dead letter (with error_code,
//                     message and response_body). If auth_failed is set, the log-in / token
//                     request itself was refused: that is a configuration problem of the whole
//                     destination, not of the item; the outbox should pause the destination
//                     rather than dead-letter every item.
// * Batches: one call = one HTTP request for one portal unit (madonvi). DongBoHoSoMC and
//   CapNhatTienDoHoSoMC take arrays (domain.md §1), so one call may carry several dossiers, or
//   the progress steps of several dossiers (each dossier's steps consecutive and in their
//   order). Never send a dossier's next chunk before the previous one is done, so a later status
//   never reaches the portal before an earlier one.
// * Per-item answers: when the portal answers result[i] for data[i] (an object naming the same
//   MaHoSo and carrying its own error_code), SendResult::items holds one classified answer per
//   sent item, in order: one dossier "already exists" -> resend just that one as update, one
//   rejected -> dead-letter just that one. When it does not (domain.md §1 documents only the
//   call-level answer), items is empty and the call-level outcome applies to every item.
// * Idempotency key of a batch: see PortalCallOptions::idempotency_key.
// * Items must already be wire items (see portal_payload.h: MapDossierItem / MapProgressItem).
// * Export log: `exchange` holds the exact bytes of the final attempt of the operation request
//   (request_body) and of its response (response_body), the URL (without credentials) and the
//   HTTP status. Log-in and token requests are never exposed (they carry credentials). In the
//   envelope style the operation body carries the session token: request_body is the exact
//   bytes (hash those), request_body_masked has the session replaced by "***" (store that).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

enum class PortalOutcome { kSuccess, kAlreadyExists, kRetryable, kPermanent };

// "success", "already_exists", "retryable", "permanent".
const char* PortalOutcomeName(PortalOutcome outcome);

// One HTTP exchange of an operation (the final attempt when the client retried internally).
struct PortalExchange {
  std::string method;               // "POST"
  std::string url;                  // scheme://host:port/path?query, never credentials
  std::string idempotency_key;      // as sent in the header, "" if none
  std::string request_body;         // exact bytes sent
  std::string request_body_masked;  // request_body with the envelope "session" masked
  std::string response_body;        // exact bytes received ("" when no response)
  int http_status = 0;              // 0 = no HTTP response (transport failure)
  int64_t started_ms = 0;           // wall clock (ms since epoch) when the request was sent
  int64_t duration_ms = 0;
};

// One item's answer inside a batch call (see "Per-item answers" above).
struct ItemResult {
  PortalOutcome outcome = PortalOutcome::kPermanent;
  std::string error_code;  // the item's error_code as text
  std::string message;
};

struct SendResult {
  PortalOutcome outcome = PortalOutcome::kRetryable;
  int http_status = 0;            // 0 when no response was received
  std::string error_code;         // the portal's error_code as text ("0", "-3"...), "" if none
  std::string message;            // portal message, or a description of the transport failure
  int64_t retry_after_ms = -1;    // from Retry-After (seconds or HTTP date); -1 if not given
  bool auth_failed = false;       // the log-in / token request was refused (see above)
  // kRetryable only: the request may have been applied although no usable answer came back
  // (sent, then the connection failed, timed out or was cancelled; an unreadable 2xx body;
  // HTTP 502/504 from a gateway). Re-sending may apply it twice.
  bool ambiguous = false;
  // kPermanent only: the refusal means the configuration is wrong (dstcode, unit code, unknown
  // service or path, HTTP 404/405/501; PortalConfig::configuration_error_*), not the data.
  bool config_error = false;
  int attempts = 0;               // HTTP requests made for the operation (re-login, reconnect)
  nlohmann::json result = nlohmann::json::array();  // the response's "result", if any
  // One answer per sent item, in order, when the portal answered per item; empty otherwise.
  // Never filled for a kRetryable call (nothing is known about its items then).
  std::vector<ItemResult> items;
  PortalExchange exchange;

  bool ok() const { return outcome == PortalOutcome::kSuccess; }
};

struct LookupResult : SendResult {
  bool found = false;  // kSuccess and a non-empty result[] (domain.md §1, TraCuuHoSo)
};

// Per-call options.
struct PortalCallOptions {
  // Portal unit code (madonvi in the envelope, MaDinhDanhDV in the per-operation query string).
  // "" = the configured default unit.
  std::string madonvi;
  // Sent as the configured idempotency header (default "Idempotency-Key") when non-empty and the
  // config enables it. Must be deterministic per logical item/batch so a resend carries the same
  // key, e.g. "<dossier-id>:progress:<first-step-seq>-<last-step-seq>".
  // A call carrying several dossiers sends one key per dossier, comma-separated, in the order of
  // the dossiers in data[] (each key covers that dossier's consecutive items; commas inside a key
  // are written %2C). Why per dossier and not one key per batch: the outbox cannot re-form a
  // failed multi-dossier batch identically (other senders, the claim limit, new items with an
  // earlier due time or a crash regroup the records), while each dossier's own part of a batch is
  // stable across retries (the store keeps a record's step batch, and a dossier key names the
  // version sent). A gateway that keys per request still dedupes an identical resend; the
  // stand-in keys per dossier (tools/portal-standin/README.md), so a regrouped retry is applied
  // once too.
  std::string idempotency_key;
};

class PortalClient {
 public:
  virtual ~PortalClient() = default;

  // DongBoHoSoMC: create (is_update=false) or update (is_update=true) dossiers.
  virtual SendResult SyncDossiers(const std::vector<nlohmann::json>& items, bool is_update,
                                  const PortalCallOptions& options = {}) = 0;
  // CapNhatTienDoHoSoMC: progress steps, in the order given.
  virtual SendResult SyncProgress(const std::vector<nlohmann::json>& steps,
                                  const PortalCallOptions& options = {}) = 0;
  // TraCuuHoSo: does the portal have this dossier? result holds what it answered.
  virtual LookupResult Lookup(const std::string& ma_ho_so, const PortalCallOptions& options = {}) = 0;
  // LayThuTuc: procedure details (channels, processing time and unit, fees) as the portal sends
  // them (the first element of result[] when result is an array, else result). Errors:
  // RetryLater for retryable outcomes, NotFound when the portal has no such procedure,
  // InvalidInput for other permanent outcomes.
  virtual Result<nlohmann::json> GetProcedure(const std::string& ma_tthc,
                                              const PortalCallOptions& options = {}) = 0;
  // Logs in afresh (envelope: a new session; per_operation with OAuth2: a new token) without
  // sending an operation: the adapter test's log-in step. kSuccess with message "none" when the
  // style has no log-in. A refusal has auth_failed set.
  virtual SendResult Authenticate() {
    SendResult r;
    r.outcome = PortalOutcome::kSuccess;
    r.message = "none";
    return r;
  }
  // LayDanhSachTTHC: the procedure list (result[]). Same error mapping as GetProcedure.
  virtual Result<nlohmann::json> ListProcedures(const PortalCallOptions& options = {}) = 0;
  // The one call that may come from another thread while an operation runs: aborts the request
  // in flight (connect, handshake, send or receive) and makes every later operation fail at
  // once as kRetryable ("cancelled"). Non-blocking; used by the plugin's close so that joining a
  // sender thread never waits for a hung portal. A cancelled request may have been applied.
  virtual void Cancel() = 0;
};

}  // namespace danvan
