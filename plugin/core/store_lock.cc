#include "core/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

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

// The database files this process holds (store_lock.h): the holders themselves, linked, so
// that nothing here owns memory (a library unloaded by the host leaves nothing behind) or needs
// destroying at exit (std::mutex is trivially destructible here).
std::mutex g_held_mu;
StoreLock* g_held = nullptr;  // guarded by g_held_mu

// NFS emulates flock with fcntl locks (they would conflict with SQLite's own), and SMB/CIFS
// may; SQLite's WAL mode does not work on a network file system either.
bool OnNetworkFileSystem(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969UL:      // NFS_SUPER_MAGIC
    case 0xFF534D42UL:  // CIFS
    case 0xFE534D42UL:  // SMB2
    case 0x517BUL:      // SMB
      return true;
    default:
      return false;
  }
}

Status SameFileHeld(const std::string& store_path, const std::string& holder) {
  return Status::Conflict("kho dữ liệu " + store_path +
                          " là cùng một tệp (liên kết cứng, tên khác của cùng tệp) với kho đang được một handle khác mở (" +
                          holder + "); đóng handle đó (close) trước khi mở lại");
}

// Where `path` leads when the symbolic links at its end are followed, whether or not the file
// they lead to exists yet (std::filesystem's canonical forms stop at a link whose target is
// missing). At most 40 links, the kernel's own limit (ELOOP); a link that cannot be read ends
// the walk there.
std::string FollowFinalLinks(const std::string& path) {
  std::filesystem::path p = path;
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec)) || ec) break;
    std::filesystem::path target = std::filesystem::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p.string();
}

}  // namespace

Result<std::unique_ptr<StoreLock>> StoreLock::Acquire(const std::string& store_path,
                                                      const std::string& instance, unsigned file_mode) {
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
  // writers, two outboxes sending the same dossiers). A link to a file not yet there (a new
  // store) is followed too: canonical forms stop at it, and the link's name and the target's
  // then took a lock each, and the identity lock below none (O_EXCL does not create through
  // a link). A hard link still has a lock file of its own (nothing in a path tells it apart):
  // the identity lock below.
  const std::string file = store_path == ":memory:" ? store_path : FollowFinalLinks(store_path);
  std::string path = store_path + ".lock";
  if (auto real = std::filesystem::weakly_canonical(file, ec); !ec && !real.empty())
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
  std::unique_ptr<StoreLock> lock(new StoreLock(fd, path));  // closes fd if refused below
  if (!store_path.empty() && store_path != ":memory:") {
    // The identity lock (store_lock.h). Held by another handle of this process: refused before
    // any descriptor of the file is opened (closing it would drop that handle's SQLite locks).
    std::lock_guard held_lock(g_held_mu);
    auto holder = [](unsigned long long dev, unsigned long long ino) -> StoreLock* {
      for (StoreLock* l = g_held; l; l = l->next_)
        if (l->dev_ == dev && l->ino_ == ino) return l;
      return nullptr;
    };
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0) {
      if (StoreLock* h = holder(st.st_dev, st.st_ino))
        return SameFileHeld(store_path, "handle khác của tiến trình này, mở qua " + h->db_path_);
    }
    // O_NONBLOCK: a FIFO put in the file's place must not block the open.
    int db = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (db < 0 && errno == ENOENT) {
      // A new store: the file is created here (where the links lead), with the store's mode
      // exactly (whatever the umask), so that it is locked before anything else can give it a
      // second name.
      db = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                  file_mode & 0777);
      // A failure is left to SecureDatabaseFiles, which tightens the mode at the store's open
      // and says so if it cannot.
      if (db >= 0) (void)::fchmod(db, file_mode & 0777);
    }
    struct stat fst {};
    if (db >= 0 && (::fstat(db, &fst) != 0 || !S_ISREG(fst.st_mode))) {
      ::close(db);  // not a regular file: no SQLite lock on it; the store's open refuses it
      db = -1;
    }
    if (db >= 0) {
      if (StoreLock* h = holder(fst.st_dev, fst.st_ino)) {
        // The file was replaced between stat and open by a name of a file held here: this
        // descriptor cannot be closed while the holder has it open.
        h->spare_.push_back(db);
        return SameFileHeld(store_path, "handle khác của tiến trình này, mở qua " + h->db_path_);
      }
      if (!OnNetworkFileSystem(db) && ::flock(db, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        // Held by another process (no handle of this one has the file: the table above).
        ::close(db);
        return SameFileHeld(store_path, "một tiến trình khác, mở qua tên khác của tệp");
      }
      // Kept, flock'ed or not (a network file system, or flock unsupported): registered, so that
      // another handle of this process never opens and closes a descriptor of it.
      lock->db_fd_ = db;
      lock->dev_ = fst.st_dev;
      lock->ino_ = fst.st_ino;
      lock->db_path_ = store_path;
      lock->next_ = g_held;
      g_held = lock.get();
    }
  }
  const std::string line = Holder(instance) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) < 0) {
    // The lock holds even if the note cannot be written; the next opener just learns less.
  }
  return lock;
}

StoreLock::~StoreLock() {
  if (db_fd_ >= 0) {
    // After the engine (danvan_handle declares the lock first): no SQLite connection of this
    // handle is open, and no other handle of this process has the file (the table).
    std::lock_guard held_lock(g_held_mu);
    for (StoreLock** l = &g_held; *l; l = &(*l)->next_) {
      if (*l == this) {
        *l = next_;
        break;
      }
    }
    for (int spare : spare_) ::close(spare);
    ::close(db_fd_);
  }
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace danvan
