// flock(2) on <dir>/herald.lock. flock, not fcntl: SQLite's own fcntl locks on
// herald.db are separate, and an flock is released when the process dies.
#include "store/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace herald::store {

Result<DataDirLock> DataDirLock::acquire(const std::string& dir, bool exclusive) {
  std::string path = dir + "/herald.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kStoreError, "cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return make_error(Errc::kConflict,
                        exclusive
                            ? "the data directory " + dir + " is in use by a running herald; stop it first"
                            : "the data directory " + dir + " is being migrated (herald store migrate); wait for it");
    return make_error(Errc::kStoreError, "cannot lock " + path + ": " + std::strerror(err));
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

DataDirLock& DataDirLock::operator=(DataDirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

}  // namespace herald::store
