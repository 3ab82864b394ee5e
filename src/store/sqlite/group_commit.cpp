// The store's writer and completer threads, and the writer's statement cache.
#include "store/sqlite/group_commit.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/log.h"
#include "core/metrics.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

struct StatementKey {
  sqlite3* db;
  const char* sql;
  bool operator==(const StatementKey&) const = default;
};
struct StatementKeyHash {
  std::size_t operator()(const StatementKey& k) const {
    return std::hash<const void*>{}(k.db) ^ (std::hash<const void*>{}(k.sql) << 1);
  }
};
thread_local std::unordered_map<StatementKey, sqlite3_stmt*, StatementKeyHash> t_writer_statements;

// One statement of the batch frame (BEGIN, SAVEPOINT, ...), from the writer's cache.
Status step_cached(sqlite3* db, const char* sql) {
  WriterStatement st(db, sql);
  if (!st.s) return db_error(db, sql);
  int rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(db, sql);
  return ok_status();
}

}  // namespace

sqlite3_stmt* writer_statement(sqlite3* db, const char* sql) {
  auto [it, fresh] = t_writer_statements.try_emplace(StatementKey{db, sql}, nullptr);
  if (fresh && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &it->second, nullptr) != SQLITE_OK) {
    t_writer_statements.erase(it);
    return nullptr;
  }
  return it->second;
}

void finalize_all(sqlite3* db) {
  for (auto it = t_writer_statements.begin(); it != t_writer_statements.end();)
    it = it->first.db == db ? t_writer_statements.erase(it) : std::next(it);
  while (sqlite3_stmt* s = sqlite3_next_stmt(db, nullptr)) sqlite3_finalize(s);
}

GroupCommitWriter::GroupCommitWriter(sqlite3* db, std::uint64_t batch_max, metrics::Registry* metrics)
    : db_(db), batch_max_(std::max<std::uint64_t>(batch_max, 1)), completer_(metrics) {}

GroupCommitWriter::~GroupCommitWriter() {
  close();
}

void GroupCommitWriter::start() {
  completer_.start();
  writer_ = std::thread([this] { writer_loop(); });
}

void GroupCommitWriter::submit(WriteFn fn, Completion done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.emplace_back(std::move(fn), std::move(done));
      cv_.notify_one();
      return;
    }
  }
  done(make_error(Errc::kStoreClosed, "the store is shutting down"));
}

bool GroupCommitWriter::healthy() {
  std::lock_guard lock(mu_);
  return !stopping_ && !failed_.load();
}

StoreStats GroupCommitWriter::stats() const {
  return completer_.stats();
}

void GroupCommitWriter::writer_loop() {
  mark_store_thread();
  Batch batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) {  // stopping, and everything queued is done
        lock.unlock();
        finalize_all(db_);
        return;
      }
      while (!queue_.empty() && batch.size() < batch_max_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    auto results = commit_batch(batch);
    completer_.record(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    completer_.hand_over_batch(batch, std::move(results));
    batch.clear();
  }
}

// A write that throws is a bug in it: it fails alone ("internal", logged) instead of
// taking the writer thread, and with it every later write, down.
Status GroupCommitWriter::run_write(const WriteFn& fn) {
  try {
    return fn(db_);
  } catch (const std::exception& e) {
    log::error("store_write_threw", {{"error", e.what()}});
  } catch (...) {
    log::error("store_write_threw", {{"error", "unknown exception"}});
  }
  completer_.count_exception();
  return make_error(Errc::kInternal, "the write failed on an internal error");
}

std::vector<Status> GroupCommitWriter::commit_batch(Batch& batch) {
  std::vector<Status> results(batch.size(), ok_status());
  if (!step_cached(db_, "BEGIN IMMEDIATE;")) {
    for (auto& r : results) r = make_error(Errc::kStoreUnavailable, "the store cannot start a transaction");
    return results;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    (void)step_cached(db_, "SAVEPOINT w;");
    results[i] = run_write(batch[i].first);
    if (!results[i]) (void)step_cached(db_, "ROLLBACK TO w;");
    (void)step_cached(db_, "RELEASE w;");
  }
  auto committed = step_cached(db_, "COMMIT;");
  if (committed) {
    failed_ = false;
    return results;
  }
  (void)exec(db_, "ROLLBACK;");
  failed_ = true;
  log::error("store_commit_failed", {{"error", committed.error().message}, {"writes", batch.size()}});
  for (auto& r : results) r = make_error(Errc::kStoreUnavailable, "the store could not commit the write");
  return results;
}

void GroupCommitWriter::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  completer_.stop();
}

}  // namespace herald::store
