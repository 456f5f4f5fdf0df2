// One owner per store: an exclusive flock(2) on "<store path>.lock" (the path with its symbolic
// links resolved, so every path to one store meets one lock), held for the life of a
// danvan handle. The kernel releases it when the holder closes it or dies (crash, kill -9),
// so a stale lock never needs cleaning. flock locks belong to the open file description: a
// second open of the same store is refused in another process and in the same one alike.
// The lock file holds a line naming the holder (pid, host, instance, since), for the message
// the next opener gets.
//
// A second lock is per file identity (device + inode), for the names a path cannot tell apart:
// a hard link (another name of the same file, possibly in another directory) took a lock file
// of its own, and two handles then wrote one database, each with its own -wal file (SQLite
// names it after the path), both outboxes sending the same dossiers. It is an exclusive flock
// on the database file itself, held on a descriptor kept open for the life of the handle
// (created, with the store's file mode, when the file does not exist yet). flock and SQLite's
// fcntl locks are independent on a local file system; the POSIX trap is the other way round:
// closing ANY descriptor of the database file drops every fcntl lock this process holds on it,
// SQLite's included. So a descriptor of the file is never opened while another handle of this
// process holds it (a process-wide table of held identities answers first), and the handle's
// descriptor is closed only after its engine, and so every SQLite connection of it, is gone.
// Not taken (the name lock alone, as before) on a network file system (NFS emulates flock with
// fcntl locks, which would then conflict with SQLite's own; SQLite's WAL mode does not work
// there anyway), for ":memory:", or when the file cannot be opened (the store's open then
// reports why).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace danvan {

class StoreLock {
 public:
  // Takes the lock without waiting. Conflict naming the holder when another owner has it;
  // IoError when the lock file cannot be created.
  // `file_mode`: the mode a database file created here gets (storage.file_mode).
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& store_path,
                                                    const std::string& instance,
                                                    unsigned file_mode = 0600);
  ~StoreLock();  // releases the locks (the files stay; the lock file's content is the last holder)
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  const std::string& path() const { return path_; }
  // The database file's identity lock is held (see above for when it is not taken).
  bool identity_locked() const { return db_fd_ >= 0; }

 private:
  StoreLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
  int db_fd_ = -1;  // the database file, flock'ed; -1 when not taken
  unsigned long long dev_ = 0, ino_ = 0;
  std::string db_path_;     // the store path it was opened by, for the message
  std::vector<int> spare_;  // descriptors of the file opened by refused Acquires: closed with it
  StoreLock* next_ = nullptr;  // the process's held files (store_lock.cc), a list of the holders
};

}  // namespace danvan
