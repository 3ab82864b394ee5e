// The lock on a data directory's <dir>/herald.lock: every process that opens the SQLite
// store holds it shared; `herald store migrate` holds it exclusively, so neither runs
// while the other does.
#pragma once

#include <string>

#include "core/result.h"

namespace herald::store {

class DataDirLock {
 public:
  DataDirLock() = default;
  // Non-blocking: a lock held in the other mode is an error (kConflict), not a wait.
  static Result<DataDirLock> acquire(const std::string& dir, bool exclusive);
  ~DataDirLock();
  DataDirLock(DataDirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& o) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace herald::store
