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
//  - Every change of a record's indicator contributions is logged (table contrib_log, by a
//    trigger): ChangeFeed lets each node's aggregates follow the others' commits.
#pragma once

#include <cstdint>
#include <functional>
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

// How each node's in-memory indicator aggregates follow the other nodes' commits (PostgreSQL
// only; the PgStore returned by OpenPgStore implements it: dynamic_cast the Store). A trigger
// logs every change of a record's contributions (old unit and contributions, new ones, the
// node that wrote it) with its transaction id; a node reads the entries committed since its
// cursor, a snapshot of the database, so each entry is read exactly once whatever the order
// in which transactions commit. The aggregates are sums: applying -old +new of every other
// node's change, in any order, gives the same totals as a recomputation.
struct ContribChange {
  int64_t record_pk = 0;
  std::string old_unit, old_contrib;  // old_contrib "[]" for a new record
  std::string new_unit, new_contrib;
};
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  // The cursor matching what the last ForEachContribution read (the snapshot it ran in).
  virtual std::string ContributionCursor() = 0;
  // Calls fn for every change committed after `cursor` by nodes other than `node`, oldest
  // first; returns the new cursor. Bounded memory (read in chunks).
  virtual Result<std::string> FollowContributions(const std::string& cursor, const std::string& node,
                                                  const std::function<void(const ContribChange&)>& fn) = 0;
};

}  // namespace danvan
