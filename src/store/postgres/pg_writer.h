// The PostgreSQL store's writer: one thread folds the queued writes into one
// transaction, sends all their statements in one pipeline (a round trip per batch, not
// per row), the rows they add to the same table as one multi-row INSERT (pg_bulk.h), and
// commits with synchronous_commit=on; a completer thread then tells the callers, in
// commit order, while the writer starts on the next batch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "store/commit_completer.h"
#include "store/postgres/pg_bulk.h"
#include "store/postgres/pg_conn.h"
#include "store/store.h"

namespace herald::store {
namespace pg {

// What a write adds to the batch: statements, each with a check of its result. A write
// never waits for a result (that would cost a round trip): a condition between its
// statements is written in SQL (a CTE, or set_config read by the next statement).
class WriteTx {
 public:
  using Check = std::function<Status(const ResultSet&)>;
  // Queues `sql` (a string literal: it names the prepared statement). `check` (may be
  // empty) reads the result once the batch is back and may fail the write, which must
  // then have changed nothing. `on_unique` is the write's error if a unique constraint
  // refuses the statement (else "store_error").
  void run(const char* sql, Params p, Check check = {}, std::optional<Error> on_unique = {});
  // Queues a row of `table` (a static): sent with the batch's other rows of the table in
  // one multi-row statement, placed where the first of them was queued (rows of different
  // tables may thus change order; a run() statement is never passed). `on_conflict` is
  // the write's error if a unique constraint refuses the row; a write with such a row and
  // other statements sends its row alone, so that its failure leaves nothing behind.
  void insert(const BulkTable& table, Cells row, std::optional<Error> on_conflict = {});

  struct Entry {
    const char* sql;
    Params params;
    Check check;
    std::optional<Error> on_unique;
    std::size_t write;
    const BulkTable* table = nullptr;  // insert(): sql is its row_sql, the row in cells
    Cells cells;
  };

 private:
  friend class Writer;
  std::vector<Entry> entries_;
  std::size_t write_ = 0;
};

// A write: queues its statements; it may be run more than once (when another write of
// its batch fails, the batch is sent again without that one), so it must be repeatable.
using WriteFn = std::function<Status(WriteTx&)>;

// How big one multi-row statement may grow before the next starts (a batch's rows of
// one table may take several).
struct BulkLimits {
  std::size_t rows = 1000;
  std::size_t bytes = 4 << 20;
};

class Writer {
 public:
  Writer(std::unique_ptr<Connection> conn, std::uint64_t batch_max, std::chrono::milliseconds io_timeout,
         metrics::Registry* metrics, BulkLimits bulk = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void start();
  void submit(WriteFn fn, Completion done);
  void close();
  bool healthy();
  StoreStats stats() const;
  // Statements sent and rows sent in multi-row statements, since start (for tests).
  std::uint64_t statements_sent() const { return statements_sent_.load(); }
  std::uint64_t bulk_rows_sent() const { return bulk_rows_sent_.load(); }

 private:
  using Batch = std::deque<std::pair<WriteFn, Completion>>;
  struct Outcome;
  // One statement of a batch: a queued entry's, or a multi-row insert of several.
  struct Statement {
    const char* sql;
    std::size_t entry = 0;
    std::unique_ptr<BulkInsert> bulk;
    Params bulk_params;
  };
  void writer_loop();
  void probe();
  std::vector<Status> commit_batch(Batch& batch);
  std::vector<Statement> plan(std::vector<WriteTx::Entry>& entries, bool bulk) const;
  Outcome run_pipeline(std::vector<WriteTx::Entry>& entries, std::vector<Statement>& stmts,
                       std::vector<Status>& checks);
  Status send_all(std::vector<WriteTx::Entry>& entries, std::vector<Statement>& stmts,
                  std::vector<const char*>& preparing);
  Outcome statement_failed(const Statement& st, const std::vector<WriteTx::Entry>& entries, const ResultSet& r) const;
  void read_result(const Statement& st, const ResultSet& r, const std::vector<WriteTx::Entry>& entries,
                   std::vector<Status>& checks) const;
  Status roll_back();
  Status wait_readable();
  Status ensure_connected();

  std::unique_ptr<Connection> conn_;
  bool pipeline_ = false;
  std::uint64_t batch_max_;
  std::chrono::milliseconds io_timeout_;
  BulkLimits bulk_;
  std::atomic<std::uint64_t> statements_sent_{0};
  std::atomic<std::uint64_t> bulk_rows_sent_{0};
  // Statements prepared on the connection: name by SQL text (the literal's address).
  std::vector<std::pair<const char*, std::string>> prepared_;

  std::mutex mu_;
  std::condition_variable cv_;
  Batch queue_;
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> failed_{false};
  std::thread writer_;

  CommitCompleter completer_;
};

}  // namespace pg
}  // namespace herald::store
