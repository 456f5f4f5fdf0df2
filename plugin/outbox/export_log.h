// The export log: one tamper-evident entry per exchange with the national portal, kept
// WITHOUT personal data (Personal Data Protection Decree 13/2023/ND-CP, data minimisation).
//
// An entry (storage/store.h ExportLogRow) holds, in format 2:
//   * when, which destination, service (op), the dossier codes (record_id), URL, HTTP status,
//     outcome;
//   * request_hash: SHA-256 of the exact request bytes sent, response_hash: SHA-256 of the
//     exact response bytes received. Whoever holds a copy of an exchange (the portal, a
//     gateway's log) can prove it is the one logged; the log itself cannot be read back into
//     the citizen's data;
//   * request_summary (JSON): the service, madonvi, isUpdating, the item count and, per item,
//     MaHoSo, TrangThaiHoSo or TrangThai + ThoiDiemXuLy only. Never names, ID numbers, phone
//     numbers, e-mail addresses, addresses or free text;
//   * response_summary (JSON): the portal's error_code and, per item, MaHoSo, error_code and
//     status. The portal's messages are not kept (they may echo a refused value); the outbox
//     keeps them in the item's last error and the dead letter;
//   * prev_hash / entry_hash: the SHA-256 chain per destination (ExportLogEntryHash).
//
// Format 1 (databases written before this change) kept the whole request body (session
// masked) and the whole response. ScrubLegacyExportLog rewrites such entries as format 2 at
// open: it first checks their old chain, records the result in the setting
// "exportlog.migration.<destination>" (shown by exportlog.verify), then re-chains them.
// Thread-safety: free functions over their arguments; ScrubLegacyExportLog must run before the
// senders start (Outbox::Init).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/logger.h"
#include "core/status.h"
#include "outbox/portal_client.h"
#include "storage/store.h"

namespace danvan {

// The format written by this version (ExportLogRow::format).
inline constexpr int kExportLogFormat = 2;

// SHA-256 (OpenSSL) as lower-case hex.
std::string Sha256HexOpenSsl(std::string_view data);

// The non-personal summary of a request body (envelope object or bare array of items), as
// compact JSON. `service` is the operation name (DongBoHoSoMC, CapNhatTienDoHoSoMC).
std::string SummarizeExportRequest(const std::string& service, std::string_view body);
// The non-personal summary of a portal response body, as compact JSON.
std::string SummarizeExportResponse(std::string_view body);

// The entry for one exchange (format 2), without prev_hash/entry_hash.
ExportLogRow MakeExportLogRow(const std::string& destination, const std::string& op,
                              const std::string& record_ids, const SendResult& result,
                              int64_t fallback_ms);

// The hash of one entry given its predecessor's hash (row.prev_hash), per row.format.
std::string ExportLogEntryHash(const ExportLogRow& row);

// Checks the chain of `destination` (and its stored head); includes the migration record.
Result<nlohmann::json> VerifyExportLog(Store& store, const std::string& destination);

// Rewrites every format-1 entry (all destinations) as format 2 and re-chains, in transactions
// of at most 1,000 entries; resumable after a crash. Logs what it did.
Status ScrubLegacyExportLog(Store& store, const Logger& logger, int64_t now_ms);

}  // namespace danvan
