// Permissions of the SQLite database file and its write-ahead log (-wal) and shared-memory
// index (-shm): they hold citizens' personal data, so no other local user may read them.
//
// * A missing database file is created with exactly `mode` (0600, or 0640 for a backup group:
//   storage.file_mode), whatever the process umask. SQLite then creates -wal and -shm with the
//   database file's permissions.
// * An existing file (database, -wal or -shm) with wider permissions is tightened to `mode`
//   (its bits outside `mode` are removed) and a warning is logged: the plugin fixes rather than
//   refuses, so an upgrade does not stop the host, and says so. A file that cannot be
//   tightened (owned by another user) is logged as an error; open continues, as SQLite decides
//   whether it can use the file.
// Symbolic links are not followed when creating. Threading: call before the store opens.
#pragma once

#include <string>

#include "core/logger.h"
#include "core/status.h"

namespace danvan {

Status SecureDatabaseFiles(const std::string& db_path, unsigned mode, const Logger& logger);

}  // namespace danvan
