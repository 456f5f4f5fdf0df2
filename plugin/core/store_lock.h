// One owner per store: an exclusive flock(2) on "<store path>.lock" (the path with its symbolic
// links resolved, so every path to one store meets one lock), held for the life of a
// danvan handle. The kernel releases it when the holder closes it or dies (crash, kill -9),
// so a stale lock never needs cleaning. flock locks belong to the open file description: a
// second open of the same store is refused in another process and in the same one alike.
// The lock file holds a line naming the holder (pid, host, instance, since), for the message
// the next opener gets.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace danvan {

class StoreLock {
 public:
  // Takes the lock without waiting. Conflict naming the holder when another owner has it;
  // IoError when the lock file cannot be created.
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& store_path,
                                                    const std::string& instance);
  ~StoreLock();  // releases the lock (the file stays; its content is the last holder)
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  StoreLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace danvan
