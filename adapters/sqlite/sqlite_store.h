// SQLite storage engine through Poco::Data: one file, WAL journal, versioned migrations
// applied at open, synchronous=FULL by default so a committed submit survives a crash or
// power loss.
#pragma once

#include <memory>
#include <string>

#include "core/logger.h"
#include "core/status.h"
#include "storage/store.h"

namespace danvan {

struct SqliteOptions {
  std::string path;
  bool synchronous_full = true;
  int busy_timeout_ms = 10000;
  int read_connections = 4;
  // Permission bits of the database file, -wal and -shm (sqlite/file_mode.h): created so,
  // tightened at open when wider.
  unsigned file_mode = 0600;
  Logger logger;  // warnings about the files' permissions
  // How long a read waits for a free read connection before RETRY_LATER.
  int read_wait_ms = 30000;
};

// Opens (creating if needed) the database and applies pending migrations.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace danvan
