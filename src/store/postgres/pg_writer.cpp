// The PostgreSQL store's writer and completer threads: pipelined group commit.
#include "store/postgres/pg_writer.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "core/metrics.h"

namespace herald::store::pg {
namespace {

// Between sends, the writer drains what the server has answered so far once this many
// statements are queued: a batch far bigger than the socket buffers cannot deadlock
// (both sides blocked on a full buffer).
constexpr std::size_t kDrainEvery = 128;
// Batches sent again after a deadlock or serialization failure before the write that
// met it fails.
constexpr int kMaxRetries = 5;
// How often an idle writer whose last batch failed checks whether the database is back.
constexpr std::chrono::seconds kProbeInterval{1};

enum class Kind { frame, prepare, statement };
struct Item {
  Kind kind;
  std::size_t stmt = 0;  // prepare, statement: the statement
};

}  // namespace

void WriteTx::run(const char* sql, Params p, Check check, std::optional<Error> on_unique) {
  entries_.push_back(Entry{sql, std::move(p), std::move(check), std::move(on_unique), write_});
}

void WriteTx::insert(const BulkTable& table, Cells row, std::optional<Error> on_conflict) {
  entries_.push_back(Entry{table.row_sql, {}, {}, std::move(on_conflict), write_, &table, std::move(row)});
}

struct Writer::Outcome {
  // retry: a deadlock or serialization failure (another node's transaction), which
  // says nothing about the write it hit: the whole batch is sent again. bulk_failed: a
  // multi-row statement failed, which names no write: the batch goes again row by row.
  enum { committed, write_failed, retry, bulk_failed, broken } kind = committed;
  std::size_t write = 0;
  Error error{};
};

Writer::Writer(std::unique_ptr<Connection> conn, std::uint64_t batch_max, std::chrono::milliseconds io_timeout,
               metrics::Registry* metrics, BulkLimits bulk)
    : conn_(std::move(conn)),
      batch_max_(std::max<std::uint64_t>(batch_max, 1)),
      io_timeout_(io_timeout),
      bulk_{std::max<std::size_t>(bulk.rows, 1), bulk.bytes},
      completer_(metrics) {}

Writer::~Writer() {
  close();
}

void Writer::start() {
  completer_.start();
  writer_ = std::thread([this] { writer_loop(); });
}

void Writer::submit(WriteFn fn, Completion done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.emplace_back(std::move(fn), std::move(done));
      cv_.notify_one();
      return;
    }
  }
  if (done) done(make_error(Errc::kStoreClosed, "the store is shutting down"));
}

bool Writer::healthy() {
  std::lock_guard lock(mu_);
  return !stopping_ && !failed_.load();
}

StoreStats Writer::stats() const {
  return completer_.stats();
}

void Writer::writer_loop() {
  mark_store_thread();
  Batch batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return !queue_.empty() || stopping_; };
      if (!failed_) {
        cv_.wait(lock, ready);
      } else if (!cv_.wait_for(lock, kProbeInterval, ready)) {
        // Unhealthy and idle: /readyz keeps the load balancer away, so no write may come
        // to show that the database is back. Probe it instead.
        lock.unlock();
        probe();
        continue;
      }
      if (queue_.empty()) return;
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

// One transaction with a `SELECT 1`: a commit clears failed_ (commit_batch), a failure
// keeps it and the connection is rebuilt on the next try.
void Writer::probe() {
  Batch b;
  b.emplace_back(
      [](WriteTx& tx) {
        tx.run("SELECT 1", Params{});
        return ok_status();
      },
      [](Status) {});
  commit_batch(b);
}

Status Writer::ensure_connected() {
  if (pipeline_ && conn_->ok()) return ok_status();
  pipeline_ = false;
  prepared_.clear();
  if (!conn_->ok() || PQpipelineStatus(conn_->raw()) != PQ_PIPELINE_OFF) {
    if (auto st = conn_->reconnect(); !st) return st;
  }
  if (PQsetnonblocking(conn_->raw(), 1) != 0 || PQenterPipelineMode(conn_->raw()) != 1)
    return make_error(Errc::kStoreUnavailable, "cannot enter pipeline mode");
  pipeline_ = true;
  return ok_status();
}

// A write that throws is a bug in it: it fails alone instead of taking the writer down.
static Status run_write(const WriteFn& fn, WriteTx& tx) {
  try {
    return fn(tx);
  } catch (const std::exception& e) {
    log::error("store_write_threw", {{"error", e.what()}});
  } catch (...) {
    log::error("store_write_threw", {{"error", "unknown exception"}});
  }
  return make_error(Errc::kInternal, "the write failed on an internal error");
}

std::vector<Status> Writer::commit_batch(Batch& batch) {
  std::vector<Status> results(batch.size(), ok_status());
  std::vector<bool> active(batch.size(), true);
  int retries = 0;
  bool bulk = true;
  // Each round commits, drops one failed write, counts a retry or turns to row by row
  // (once), so this ends.
  for (;;) {
    // One WriteTx gathers every write's statements (no per-write vector to move).
    WriteTx tx;
    tx.entries_.reserve(batch.size() + batch.size() / 4);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!active[i]) continue;
      tx.write_ = i;
      auto before = tx.entries_.size();
      if (auto st = run_write(batch[i].first, tx); !st) {
        tx.entries_.erase(tx.entries_.begin() + static_cast<std::ptrdiff_t>(before), tx.entries_.end());
        results[i] = st;
        active[i] = false;
      }
    }
    auto& entries = tx.entries_;
    if (entries.empty()) return results;
    std::vector<Status> checks(batch.size(), ok_status());
    auto stmts = plan(entries, bulk);
    auto out = run_pipeline(entries, stmts, checks);
    if (out.kind == Outcome::committed) {
      failed_ = false;
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (active[i]) results[i] = checks[i];
      return results;
    }
    if (out.kind == Outcome::bulk_failed) {
      log::warn("store_bulk_insert_failed", {{"error", out.error.message}});
      bulk = false;
      continue;
    }
    if (out.kind == Outcome::retry && ++retries <= kMaxRetries) continue;
    if (out.kind == Outcome::write_failed || out.kind == Outcome::retry) {
      results[out.write] = out.error;
      active[out.write] = false;
      continue;
    }
    failed_ = true;
    pipeline_ = false;  // reconnect before the next batch
    log::error("store_commit_failed", {{"error", out.error.message}, {"writes", batch.size()}});
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (active[i]) results[i] = make_error(Errc::kStoreUnavailable, "the store could not commit the write");
    return results;
  }
}

std::vector<Writer::Statement> Writer::plan(std::vector<WriteTx::Entry>& entries, bool bulk) const {
  std::vector<std::size_t> per_write;  // entries of each write
  for (const auto& e : entries) {
    if (e.write >= per_write.size()) per_write.resize(e.write + 1);
    ++per_write[e.write];
  }
  auto full = [&](const BulkInsert& b) { return b.rows() >= bulk_.rows || b.bytes() >= bulk_.bytes; };
  std::vector<Statement> out;
  // Tables whose multi-row statement still takes rows: the one at out[second].
  std::vector<std::pair<const BulkTable*, std::size_t>> open;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    if (!bulk || !e.table || (e.on_unique && per_write[e.write] > 1)) {
      open.clear();  // a row queued after this statement may rely on it: it goes after it
      if (e.table) e.params = e.cells.params(e.table->cols);
      out.push_back(Statement{e.sql, i, nullptr, {}});
      continue;
    }
    auto it = std::find_if(open.begin(), open.end(), [&](const auto& o) { return o.first == e.table; });
    if (it != open.end() && full(*out[it->second].bulk)) {
      open.erase(it);
      it = open.end();
    }
    if (it == open.end()) {
      out.push_back(Statement{e.table->bulk_sql, i, std::make_unique<BulkInsert>(*e.table), {}});
      open.emplace_back(e.table, out.size() - 1);
      it = std::prev(open.end());
    }
    out[it->second].bulk->add(e.cells, i);
  }
  return out;
}

Status Writer::send_all(std::vector<WriteTx::Entry>& entries, std::vector<Statement>& stmts,
                        std::vector<const char*>& preparing) {
  PGconn* c = conn_->raw();
  auto fail = [&](const char* what) {
    return make_error(Errc::kStoreUnavailable, std::string(what) + ": " + PQerrorMessage(c));
  };
  if (!PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 1)) return fail("BEGIN");
  for (std::size_t i = 0; i < stmts.size(); ++i) {
    auto& st = stmts[i];
    auto it = std::find_if(prepared_.begin(), prepared_.end(), [&](const auto& p) { return p.first == st.sql; });
    if (it == prepared_.end()) {
      prepared_.emplace_back(st.sql, "herald_w" + std::to_string(prepared_.size()));
      it = std::prev(prepared_.end());
      preparing.push_back(st.sql);
      if (!PQsendPrepare(c, it->second.c_str(), st.sql, 0, nullptr)) return fail("prepare");
    }
    if (st.bulk) st.bulk_params = st.bulk->params();
    const Params& p = st.bulk ? st.bulk_params : entries[st.entry].params;
    if (!PQsendQueryPrepared(c, it->second.c_str(), p.size(), p.values(), p.lengths(), p.formats(), 1))
      return fail("send");
    statements_sent_.fetch_add(1, std::memory_order_relaxed);
    if (st.bulk) {
      bulk_rows_sent_.fetch_add(st.bulk->rows(), std::memory_order_relaxed);
      st.bulk_params = Params{};  // libpq holds its own copy now
    }
    if (st.bulk || i % kDrainEvery == kDrainEvery - 1) {
      if (PQflush(c) < 0 || !PQconsumeInput(c)) return fail("send");
    }
  }
  if (!PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 1)) return fail("COMMIT");
  if (!PQpipelineSync(c)) return fail("sync");
  for (;;) {
    int f = PQflush(c);
    if (f == 0) return ok_status();
    if (f < 0) return fail("send");
    pollfd p{PQsocket(c), POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(io_timeout_.count())) <= 0)
      return make_error(Errc::kStoreUnavailable, "the database did not take the batch in time");
    if ((p.revents & POLLIN) && !PQconsumeInput(c)) return fail("send");
  }
}

Status Writer::wait_readable() {
  PGconn* c = conn_->raw();
  while (PQisBusy(c)) {
    pollfd p{PQsocket(c), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(io_timeout_.count()));
    if (n <= 0) return make_error(Errc::kStoreUnavailable, "the database did not answer in time");
    if (!PQconsumeInput(c))
      return make_error(Errc::kStoreUnavailable, std::string("lost the database: ") + PQerrorMessage(c));
  }
  return ok_status();
}

Writer::Outcome Writer::run_pipeline(std::vector<WriteTx::Entry>& entries, std::vector<Statement>& stmts,
                                     std::vector<Status>& checks) {
  Outcome out;
  auto broken = [&](Error e) {
    out.kind = Outcome::broken;
    out.error = std::move(e);
    return out;
  };
  if (auto st = ensure_connected(); !st) return broken(st.error());
  std::vector<const char*> preparing;
  if (auto st = send_all(entries, stmts, preparing); !st) return broken(st.error());
  PGconn* c = conn_->raw();

  // The results come back in the order sent: BEGIN, [prepare] statement ..., COMMIT, sync.
  std::vector<Item> items{{Kind::frame, 0}};
  {
    std::vector<const char*> seen;
    for (std::size_t i = 0; i < stmts.size(); ++i) {
      if (std::find(preparing.begin(), preparing.end(), stmts[i].sql) != preparing.end() &&
          std::find(seen.begin(), seen.end(), stmts[i].sql) == seen.end()) {
        seen.push_back(stmts[i].sql);
        items.push_back({Kind::prepare, i});
      }
      items.push_back({Kind::statement, i});
    }
  }
  items.push_back({Kind::frame, 0});

  bool failed = false;
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (auto st = wait_readable(); !st) return broken(st.error());
    ResultSet r(PQgetResult(c));
    if (!r.get()) return broken(make_error(Errc::kStoreUnavailable, "lost the database mid-batch"));
    auto status = PQresultStatus(r.get());
    const auto& item = items[k];
    bool good = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!good && item.kind == Kind::prepare)
      std::erase_if(prepared_, [&](const auto& p) { return p.first == stmts[item.stmt].sql; });
    if (status == PGRES_FATAL_ERROR && !failed) {
      failed = true;
      if (item.kind == Kind::frame)
        out = Outcome{Outcome::broken, 0, result_error(r.get(), c, k == 0 ? "BEGIN" : "COMMIT")};
      else
        out = statement_failed(stmts[item.stmt], entries, r);
    }
    if (good && item.kind == Kind::statement) read_result(stmts[item.stmt], r, entries, checks);
    if (auto st = wait_readable(); !st) return broken(st.error());
    ResultSet end(PQgetResult(c));  // NULL closes each statement's results
  }
  if (auto st = wait_readable(); !st) return broken(st.error());
  ResultSet sync(PQgetResult(c));
  if (!sync.get() || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    return broken(make_error(Errc::kStoreUnavailable, "the pipeline lost its place"));
  if (!failed) return out;
  if (auto st = roll_back(); !st) return broken(st.error());
  if (out.kind == Outcome::broken) log::warn("store_batch_failed", {{"error", out.error.message}});
  return out;
}

Writer::Outcome Writer::statement_failed(const Statement& st, const std::vector<WriteTx::Entry>& entries,
                                         const ResultSet& r) const {
  const auto& e = entries[st.entry];  // a multi-row statement's: its first row's
  if (is_retryable(r.get())) return Outcome{Outcome::retry, e.write, result_error(r.get(), conn_->raw(), "write")};
  if (st.bulk) return Outcome{Outcome::bulk_failed, e.write, result_error(r.get(), conn_->raw(), "bulk insert")};
  return Outcome{
      Outcome::write_failed, e.write,
      e.on_unique && is_unique_violation(r.get()) ? *e.on_unique : result_error(r.get(), conn_->raw(), "write")};
}

void Writer::read_result(const Statement& st, const ResultSet& r, const std::vector<WriteTx::Entry>& entries,
                         std::vector<Status>& checks) const {
  if (!st.bulk) {
    const auto& e = entries[st.entry];
    if (e.check && checks[e.write]) checks[e.write] = e.check(r);
    return;
  }
  // The rows a unique constraint refused were skipped (ON CONFLICT DO NOTHING); as their
  // writes have no other statement (plan()), failing them leaves nothing behind.
  for (auto i : st.bulk->losers(r)) {
    const auto& e = entries[i];
    if (checks[e.write])
      checks[e.write] =
          e.on_unique ? Status(*e.on_unique) : make_error(Errc::kStoreError, "a unique constraint refused the row");
  }
}

// A failed transaction block stays open on the server until rolled back.
Status Writer::roll_back() {
  PGconn* c = conn_->raw();
  if (!PQsendQueryParams(c, "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr, 1) || !PQpipelineSync(c) ||
      PQflush(c) != 0)
    return make_error(Errc::kStoreUnavailable, "cannot roll back");
  for (int k = 0; k < 3; ++k) {  // ROLLBACK's result, its NULL, the sync
    if (auto st = wait_readable(); !st) return st;
    ResultSet x(PQgetResult(c));
    if (k == 2 && (!x.get() || PQresultStatus(x.get()) != PGRES_PIPELINE_SYNC))
      return make_error(Errc::kStoreUnavailable, "the pipeline lost its place");
  }
  return ok_status();
}

void Writer::close() {
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

}  // namespace herald::store::pg
