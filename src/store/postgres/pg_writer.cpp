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
  std::size_t entry = 0;  // prepare, statement: the entry
};

}  // namespace

void WriteTx::run(const char* sql, Params p, Check check, std::optional<Error> on_unique) {
  entries_.push_back(Entry{sql, std::move(p), std::move(check), std::move(on_unique), write_});
}

struct Writer::Outcome {
  // retry: a deadlock or serialization failure (another node's transaction), which
  // says nothing about the write it hit: the whole batch is sent again.
  enum { committed, write_failed, retry, broken } kind = committed;
  std::size_t write = 0;
  Error error{};
};

Writer::Writer(std::unique_ptr<Connection> conn, std::uint64_t batch_max, std::chrono::milliseconds io_timeout,
               metrics::Registry* metrics)
    : conn_(std::move(conn)),
      batch_max_(std::max<std::uint64_t>(batch_max, 1)),
      io_timeout_(io_timeout),
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
  // Each round commits, drops one failed write, or counts a retry, so this ends.
  for (;;) {
    std::vector<WriteTx::Entry> entries;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!active[i]) continue;
      WriteTx tx;
      tx.write_ = i;
      if (auto st = run_write(batch[i].first, tx); !st) {
        results[i] = st;
        active[i] = false;
        continue;
      }
      for (auto& e : tx.entries_) entries.push_back(std::move(e));
    }
    if (entries.empty()) return results;
    std::vector<Status> checks(batch.size(), ok_status());
    auto out = run_pipeline(entries, checks);
    if (out.kind == Outcome::committed) {
      failed_ = false;
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (active[i]) results[i] = checks[i];
      return results;
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

Status Writer::send_all(std::vector<WriteTx::Entry>& entries, std::vector<const char*>& preparing) {
  PGconn* c = conn_->raw();
  auto fail = [&](const char* what) {
    return make_error(Errc::kStoreUnavailable, std::string(what) + ": " + PQerrorMessage(c));
  };
  if (!PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 1)) return fail("BEGIN");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    auto it = std::find_if(prepared_.begin(), prepared_.end(), [&](const auto& p) { return p.first == e.sql; });
    if (it == prepared_.end()) {
      prepared_.emplace_back(e.sql, "herald_w" + std::to_string(prepared_.size()));
      it = std::prev(prepared_.end());
      preparing.push_back(e.sql);
      if (!PQsendPrepare(c, it->second.c_str(), e.sql, 0, nullptr)) return fail("prepare");
    }
    if (!PQsendQueryPrepared(c, it->second.c_str(), e.params.size(), e.params.values(), e.params.lengths(),
                             e.params.formats(), 1))
      return fail("send");
    if (i % kDrainEvery == kDrainEvery - 1) {
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

Writer::Outcome Writer::run_pipeline(std::vector<WriteTx::Entry>& entries, std::vector<Status>& checks) {
  Outcome out;
  auto broken = [&](Error e) {
    out.kind = Outcome::broken;
    out.error = std::move(e);
    return out;
  };
  if (auto st = ensure_connected(); !st) return broken(st.error());
  std::vector<const char*> preparing;
  if (auto st = send_all(entries, preparing); !st) return broken(st.error());
  PGconn* c = conn_->raw();

  // The results come back in the order sent: BEGIN, [prepare] statement ..., COMMIT, sync.
  std::vector<Item> items{{Kind::frame, 0}};
  {
    std::vector<const char*> seen;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (std::find(preparing.begin(), preparing.end(), entries[i].sql) != preparing.end() &&
          std::find(seen.begin(), seen.end(), entries[i].sql) == seen.end()) {
        seen.push_back(entries[i].sql);
        items.push_back({Kind::prepare, i});
      }
      items.push_back({Kind::statement, i});
    }
  }
  items.push_back({Kind::frame, 0});

  std::optional<std::size_t> failed_item;
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (auto st = wait_readable(); !st) return broken(st.error());
    ResultSet r(PQgetResult(c));
    if (!r.get()) return broken(make_error(Errc::kStoreUnavailable, "lost the database mid-batch"));
    auto status = PQresultStatus(r.get());
    const auto& item = items[k];
    bool good = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!good && item.kind == Kind::prepare)
      std::erase_if(prepared_, [&](const auto& p) { return p.first == entries[item.entry].sql; });
    if (status == PGRES_FATAL_ERROR && !failed_item) {
      failed_item = k;
      const auto& item_entry = entries[item.entry];
      if (item.kind == Kind::frame) {
        out.kind = Outcome::broken;
        out.error = result_error(r.get(), c, k == 0 ? "BEGIN" : "COMMIT");
      } else {
        out.kind = is_retryable(r.get()) ? Outcome::retry : Outcome::write_failed;
        out.write = item_entry.write;
        out.error = item_entry.on_unique && is_unique_violation(r.get()) ? *item_entry.on_unique
                                                                         : result_error(r.get(), c, "write");
      }
    }
    if (good && item.kind == Kind::statement && entries[item.entry].check) {
      auto& slot = checks[entries[item.entry].write];
      if (slot) slot = entries[item.entry].check(r);
    }
    if (auto st = wait_readable(); !st) return broken(st.error());
    ResultSet end(PQgetResult(c));  // NULL closes each statement's results
  }
  if (auto st = wait_readable(); !st) return broken(st.error());
  ResultSet sync(PQgetResult(c));
  if (!sync.get() || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    return broken(make_error(Errc::kStoreUnavailable, "the pipeline lost its place"));
  if (!failed_item) return out;
  // The failed transaction block stays open on the server until rolled back.
  if (!PQsendQueryParams(c, "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr, 1) || !PQpipelineSync(c) ||
      PQflush(c) != 0)
    return broken(make_error(Errc::kStoreUnavailable, "cannot roll back"));
  for (int k = 0; k < 3; ++k) {  // ROLLBACK's result, its NULL, the sync
    if (auto st = wait_readable(); !st) return broken(st.error());
    ResultSet x(PQgetResult(c));
    if (k == 2 && (!x.get() || PQresultStatus(x.get()) != PGRES_PIPELINE_SYNC))
      return broken(make_error(Errc::kStoreUnavailable, "the pipeline lost its place"));
  }
  if (out.kind == Outcome::broken) log::warn("store_batch_failed", {{"error", out.error.message}});
  return out;
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
