// PostgreSQL storage engine (libpq): several host nodes share one database. Same interface and
// semantics as the SQLite engine (sqlite/sqlite_store.h); what differs:
//  - Writes of one node are serialised by the node's single writer connection, as on SQLite;
//    nodes write concurrently and are kept apart by row locks and transaction-scoped advisory
//    locks: a record key (GetRecord/GetRecords), a record's outbox queue (EnqueueOutbox), a
//    destination's export-log chain (LastExportLog, so each chain stays one chain).
//  - ClaimOutbox runs `SELECT ... FOR UPDATE SKIP LOCKED` inside the explicit transaction of
//    Begin(): two nodes claiming at once never get the same item; the lease (lease_until_ms)
//    keeps it theirs after commit and gives it back when a node dies.
//  - Migrations are applied once under a session advisory lock, so nodes starting together
//    wait for the first one.
//  - The second-open guard is per node: a session advisory lock on the node id, held by a
//    dedicated connection for the life of the store (released by the server when the node's
//    connection drops, e.g. after SIGKILL).
//  - Every committed write transaction bumps a change sequence (table change_seq) and sends
//    NOTIFY danvan_changes: ChangedSince lets a node see the others' commits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/logger.h"
#include "core/status.h"
#include "storage/store.h"

namespace danvan {

struct PgOptions {
  // libpq connection string (key=value or postgresql:// URI) without the password.
  std::string conninfo;
  std::string password;  // secret: never logged, never in StoreStats::location
  std::string node = "local";  // this node's id (the instance name): the second-open guard
  int read_connections = 4;
  int read_wait_ms = 30000;
  bool synchronous_full = true;  // false: synchronous_commit=off for this node's writes
  Logger logger;
};

// Connects, takes the node guard, applies pending migrations. Conflict when another process
// holds the node id; IoError when the server cannot be reached (message without the password).
Result<std::unique_ptr<Store>> OpenPgStore(const PgOptions& options);

// The change sequence of the store (PostgreSQL only): a number that grows with every committed
// write transaction of any node, and the pks of records changed after `after` by other nodes
// than `node` (bounded by limit, oldest first). For the in-memory aggregates of each node to
// follow the others' commits.
struct RecordChanges {
  int64_t seq = 0;                 // the highest change seen
  std::vector<int64_t> record_pks; // records written by other nodes since `after`
  bool truncated = false;          // more than `limit`: rebuild instead
};
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  virtual Result<RecordChanges> ChangedSince(int64_t after, const std::string& node, int64_t limit) = 0;
};

}  // namespace danvan
