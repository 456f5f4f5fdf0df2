#include "core/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace danvan {
namespace {

std::string Holder(const std::string& instance) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
  char since[32] = {0};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return "pid " + std::to_string(getpid()) + ", host " + host + ", instance '" + instance +
         "', since " + since;
}

}  // namespace

Result<std::unique_ptr<StoreLock>> StoreLock::Acquire(const std::string& store_path,
                                                      const std::string& instance) {
  // A path that exists and is not a regular file (a directory, a device, a FIFO) cannot be a
  // SQLite store: refused here, before a lock file is created beside it (a misconfigured
  // storage.path of /dev/zero must not leave /dev/zero.lock behind).
  std::error_code ec;
  const auto store_status = std::filesystem::status(store_path, ec);
  if (!ec && std::filesystem::exists(store_status) && !std::filesystem::is_regular_file(store_status))
    return Status::IoError("storage.path " + store_path +
                           " không phải là tệp cơ sở dữ liệu (là thư mục, thiết bị hoặc tệp đặc biệt)");
  // The store's directory is created here as the engine would create it when opening the
  // store: the lock is taken first, so it must not fail on a directory not yet there.
  const auto parent = std::filesystem::path(store_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  // The lock beside the file the path leads to, symbolic links (of the file or of a directory)
  // followed: two paths of one store took two lock files, and both opens succeeded (two
  // writers, two outboxes sending the same dossiers). A hard link still has a lock file of its
  // own (nothing in a path tells it apart).
  std::string path = store_path + ".lock";
  if (auto real = std::filesystem::weakly_canonical(store_path, ec); !ec && !real.empty())
    path = real.string() + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::IoError("không tạo được tệp khóa " + store_path + ".lock" +
                           (path == store_path + ".lock" ? "" : " (" + path + ")") + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    char buf[512];
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) holder.assign(buf, static_cast<size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK)
      return Status::Conflict("kho dữ liệu " + store_path + " đang được một handle khác mở (" +
                              (holder.empty() ? std::string("không rõ") : holder) +
                              "); đóng handle đó (close) trước khi mở lại");
    return Status::IoError("không khóa được " + store_path + ".lock" +
                           (path == store_path + ".lock" ? "" : " (" + path + ")") + ": " + std::strerror(err));
  }
  const std::string line = Holder(instance) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) < 0) {
    // The lock holds even if the note cannot be written; the next opener just learns less.
  }
  return std::unique_ptr<StoreLock>(new StoreLock(fd, path));
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace danvan
