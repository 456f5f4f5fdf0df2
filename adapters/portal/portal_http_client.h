// HTTPS implementation of PortalClient (plugin/outbox/portal_client.h) for both styles of
// domain.md §1:
//  * envelope: POST {base}{auth_path} {"username","password"} -> {"session"}; then every call
//    POSTs {"session","madonvi","service",...} to {base}{integration_path} (catalogue calls,
//    LayThuTuc and LayDanhSachTTHC, to {base}{share_path}) with the `dstcode` header. On an
//    expired session (HTTP 401/403, a configured session_expired_code, or a message with a
//    session_expired_marker) it logs in again and resends once.
//  * per_operation: one path per operation, body a bare JSON array of items; the unit code and
//    isUpdating=True|False in the query string; optional OAuth2 client-credentials bearer token
//    fetched from token_url and cached until expires_in (minus a margin); on 401 the token is
//    fetched again and the request resent once. Look-up and procedure calls POST
//    {"mahoso": ...} / {"maTTHC": ...} [unconfirmed for this style].
//
// Thread-safety: an instance is used by one thread at a time (see portal_client.h); create one
// per sender thread. Credentials never appear in results or error messages.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "outbox/portal_client.h"
#include "portal/http_transport.h"
#include "portal/portal_config.h"

namespace danvan {

using TransportFactory = std::function<Result<std::unique_ptr<HttpTransport>>(
    const std::string& url, const PortalConfig& config)>;

// clock: for token expiry and Retry-After HTTP dates; nullptr = system clock. Must outlive the
// client. factory: MakePocoTransport unless a test injects another.
Result<std::unique_ptr<PortalClient>> MakePortalClient(const PortalConfig& config,
                                                       const Clock* clock = nullptr,
                                                       TransportFactory factory = MakePocoTransport);

// --- Pure pieces, exposed for tests -------------------------------------------------------

// Retry-After: delta seconds ("120") or an HTTP date; -1 when absent or unparseable.
int64_t ParseRetryAfter(const std::string& value, int64_t now_ms);

// The portal's error_code as text: 0 -> "0", "00" -> "00", absent -> "".
std::string ErrorCodeText(const nlohmann::json& body);

// Classifies one HTTP response to an operation (not log-in). Sets outcome, http_status,
// error_code, message, retry_after_ms and result; `session_expired` tells the caller to log in
// again (envelope) or refresh the token (per_operation) and resend.
SendResult ClassifyResponse(const PortalConfig& config, const HttpResponse& response,
                            int64_t now_ms, bool* session_expired);

// Per-item answers of a batch call (portal_client.h "Per-item answers"): fills r->items when
// r->result is an array with one object per sent item, each naming that item's MaHoSo and
// carrying an error_code (classified like a call: success codes, "already exists" marker,
// retryable codes, otherwise permanent). Leaves r->items empty when the answer is not per item
// or the call is retryable.
void ClassifyItems(const PortalConfig& config, const std::vector<nlohmann::json>& sent,
                   SendResult* r);

// Classifies a transport failure (always retryable: connect, TLS, timeout, closed).
SendResult ClassifyTransportError(const TransportResult& tr);

}  // namespace danvan
