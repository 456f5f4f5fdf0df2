#include "sqlite/file_mode.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace danvan {
namespace {

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

Status SecureDatabaseFiles(const std::string& db_path, unsigned mode, const Logger& logger) {
  mode &= 0777;
  if (db_path.empty() || db_path == ":memory:") return Status::Ok();
  struct stat st {};
  if (lstat(db_path.c_str(), &st) != 0 && errno == ENOENT) {
    const int fd = open(db_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      // The umask may have removed bits of `mode`; set exactly what was asked.
      const int rc = fchmod(fd, mode);
      close(fd);
      if (rc != 0)
        return Status::IoError("không đặt được quyền " + Octal(mode) + " cho tệp " + db_path + ": " +
                               std::strerror(errno));
    } else if (errno != EEXIST) {
      return Status::IoError("không tạo được tệp " + db_path + ": " + std::strerror(errno));
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string path = db_path + suffix;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const unsigned current = st.st_mode & 0777;
    if ((current & ~mode) == 0) continue;
    const unsigned tightened = current & mode;
    if (chmod(path.c_str(), tightened) == 0) {
      logger.Log(LogLevel::kWarn, "storage_file_mode_tightened",
                 {{"path", path}, {"from", Octal(current)}, {"to", Octal(tightened)}});
    } else {
      logger.Log(LogLevel::kError, "storage_file_mode_too_wide",
                 {{"path", path}, {"mode", Octal(current)}, {"wanted", Octal(mode)},
                  {"error", std::strerror(errno)}});
    }
  }
  return Status::Ok();
}

}  // namespace danvan
