// The embedded store: SQLite in WAL mode with synchronous=FULL. All writes go through
// one writer thread that folds whatever is queued into a single transaction (group
// commit), so one fsync makes a whole batch durable and no I/O thread ever waits on disk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace herald::metrics {
class Counter;
class Histogram;
}  // namespace herald::metrics

namespace herald::store {

// A unit of work run on the writer thread inside the batch's transaction. A failing
// write is rolled back alone (savepoint); the rest of its batch still commits.
using WriteFn = std::function<Status(sqlite3*)>;

class SqliteStore final : public Store, public AppRecords, public KmsRecords {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const StoreOptions& opts);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schema_version() override;
  void put_meta(std::string key, std::string value, Completion done) override;
  Result<std::optional<std::string>> get_meta(std::string_view key) override;
  bool healthy() override;
  StoreStats stats() override;
  void close() override;
  AppRecords& apps() override { return *this; }
  KmsRecords& kms() override { return *this; }

  Result<std::vector<KmsKeyRecord>> load_kms_keys() override;
  Result<std::vector<KmsVersionRecord>> load_kms_versions() override;
  void put_kms_key(KmsKeyRecord key, std::optional<KmsVersionRecord> version, Completion done) override;
  void delete_kms_key(std::string app_id, std::string name, Completion done) override;

  Result<std::vector<AppRecord>> load_apps() override;
  void put_app(AppRecord app, Completion done) override;
  void delete_app(std::string id, Completion done) override;

  // For modules that add their own tables: queue a write for the next group commit.
  void submit(WriteFn fn, Completion done);

 private:
  explicit SqliteStore(const StoreOptions& opts);
  Status open_connections(const std::string& path);
  Status migrate();
  void writer_loop();
  void commit_batch(std::deque<std::pair<WriteFn, Completion>>& batch);

  StoreOptions opts_;
  sqlite3* writer_db_ = nullptr;
  sqlite3* reader_db_ = nullptr;
  std::mutex reader_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<WriteFn, Completion>> queue_;
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> failed_{false};
  std::thread writer_;

  std::atomic<std::uint64_t> commits_{0}, writes_{0}, max_batch_{0};
  metrics::Counter* m_commits_ = nullptr;
  metrics::Counter* m_writes_ = nullptr;
  metrics::Histogram* m_batch_ = nullptr;
  metrics::Histogram* m_commit_seconds_ = nullptr;
};

}  // namespace herald::store
