// Group commit: one writer thread folds whatever writes are queued into a single
// transaction, so one fsync makes a whole batch durable; a completer thread then tells
// their callers, in commit order, while the writer starts on the next batch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/commit_completer.h"
#include "store/store.h"

struct sqlite3;

namespace herald::store {

// A unit of work run on the writer thread inside the batch's transaction. A failing
// write is rolled back alone (savepoint); the rest of its batch still commits.
using WriteFn = std::function<Status(sqlite3*)>;

class GroupCommitWriter {
 public:
  // `db` is a read-write connection that only this writer uses from start() to close();
  // it stays the caller's to open and close.
  GroupCommitWriter(sqlite3* db, std::uint64_t batch_max, metrics::Registry* metrics);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  void start();
  // Queues `fn` for the next group commit; `done` gets its result once the batch is on
  // disk. After close() begins, `done` gets "store_closed" at once.
  void submit(WriteFn fn, Completion done);
  // Commits everything queued, tells every caller, then stops both threads. Idempotent.
  void close();
  // True while writes are taken and the last commit succeeded.
  bool healthy();
  StoreStats stats() const;

 private:
  using Batch = std::deque<std::pair<WriteFn, Completion>>;
  void writer_loop();
  std::vector<Status> commit_batch(Batch& batch);
  Status run_write(const WriteFn& fn);

  sqlite3* db_;
  std::uint64_t batch_max_;

  std::mutex mu_;
  std::condition_variable cv_;
  Batch queue_;
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> failed_{false};
  std::thread writer_;

  CommitCompleter completer_;
};

}  // namespace herald::store
