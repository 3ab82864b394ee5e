// GroupCommitWriter on its own, over a bare SQLite connection: batching, the per-write
// savepoint, completion order, the batch bound, and close.
#include "store/sqlite/group_commit.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

class GroupCommit : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/herald-gc-XXXXXX";
    dir_ = ::mkdtemp(t);
    path_ = dir_ + "/t.db";
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db_), SQLITE_OK);
    ASSERT_TRUE(exec(db_, "PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);").ok());
  }
  void TearDown() override {
    sqlite3_close_v2(db_);
    std::filesystem::remove_all(dir_);
  }
  static WriteFn insert(int k) {
    return [k](sqlite3* db) { return write_row(db, "INSERT INTO t(k, v) VALUES (?, ?);", "insert", k, "v"); };
  }
  // Occupies the writer with a write that waits for the returned promise, so that what is
  // submitted next queues up behind it.
  static std::promise<void> hold(GroupCommitWriter& w) {
    std::promise<void> release;
    auto running = std::make_shared<std::promise<void>>();
    auto started = running->get_future();
    w.submit(
        [released = release.get_future().share(), running](sqlite3*) {
          running->set_value();
          released.wait();
          return ok_status();
        },
        nullptr);
    started.wait();
    return release;
  }
  // Rows as another connection sees them: only what is committed.
  int committed_rows() {
    sqlite3* other = nullptr;
    sqlite3_open_v2(path_.c_str(), &other, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(other, "SELECT COUNT(*) FROM t;", -1, &s, nullptr);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close_v2(other);
    return n;
  }

  std::string dir_, path_;
  sqlite3* db_ = nullptr;
};

TEST_F(GroupCommit, WritesQueuedBehindABusyWriterShareOneCommitAndCompleteInOrder) {
  GroupCommitWriter w(db_, 4096, nullptr);
  w.start();
  auto release = hold(w);
  std::mutex mu;
  std::vector<int> order;
  std::vector<int> seen_committed;
  std::promise<void> all_done;
  constexpr int kWrites = 100;
  for (int i = 0; i < kWrites; ++i)
    w.submit(insert(i), [&, i](Status st) {
      EXPECT_TRUE(st.ok());
      std::lock_guard lock(mu);
      order.push_back(i);
      if (i == 0) seen_committed.push_back(committed_rows());  // durable before it is told
      if (i == kWrites - 1) all_done.set_value();
    });
  release.set_value();
  all_done.get_future().wait();
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(order[i], i);
  ASSERT_EQ(seen_committed.size(), 1u);
  EXPECT_EQ(seen_committed[0], kWrites);
  auto st = w.stats();
  EXPECT_EQ(st.commits, 2u);  // the blocker's batch, then one for all the rest
  EXPECT_EQ(st.writes, kWrites + 1u);
  EXPECT_EQ(st.max_batch, static_cast<std::uint64_t>(kWrites));
  EXPECT_TRUE(w.healthy());
}

TEST_F(GroupCommit, BatchesNeverExceedTheBound) {
  GroupCommitWriter w(db_, 8, nullptr);
  w.start();
  auto release = hold(w);
  std::promise<void> last;
  for (int i = 0; i < 50; ++i) w.submit(insert(i), i == 49 ? Completion([&](Status) { last.set_value(); }) : nullptr);
  release.set_value();
  last.get_future().wait();
  EXPECT_EQ(w.stats().max_batch, 8u);
  EXPECT_EQ(committed_rows(), 50);
}

TEST_F(GroupCommit, AFailingWriteIsRolledBackAloneAndItsBatchCommits) {
  GroupCommitWriter w(db_, 4096, nullptr);
  w.start();
  auto release = hold(w);
  std::vector<std::promise<Status>> results(3);
  w.submit(insert(1), [&](Status st) { results[0].set_value(st); });
  // Writes a row, then fails: its row must not survive.
  w.submit(
      [](sqlite3* db) -> Status {
        if (auto st = write_row(db, "INSERT INTO t(k, v) VALUES (?, ?);", "insert", 2, "v"); !st) return st;
        return make_error(Errc::kInternal, "after a write");
      },
      [&](Status st) { results[1].set_value(st); });
  w.submit(insert(1), [&](Status st) { results[2].set_value(st); });  // a constraint failure
  release.set_value();
  EXPECT_TRUE(results[0].get_future().get().ok());
  auto failed = results[1].get_future().get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::kInternal);
  auto dup = results[2].get_future().get();
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::kStoreError);
  EXPECT_EQ(committed_rows(), 1);
  EXPECT_EQ(w.stats().commits, 2u);
}

TEST_F(GroupCommit, CloseFinishesQueuedWritesThenRefusesNewOnes) {
  GroupCommitWriter w(db_, 4096, nullptr);
  w.start();
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i)
    w.submit(insert(i), [&](Status st) {
      if (st.ok()) ++ok;
    });
  w.close();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(committed_rows(), 200);
  EXPECT_FALSE(w.healthy());
  std::promise<Status> late;
  w.submit(insert(1000), [&](Status st) { late.set_value(st); });
  auto st = late.get_future().get();  // answered at once, on this thread
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kStoreClosed);
  w.close();  // idempotent
}

// S22: a completion callback (or a write) that throws answers internal and is logged; it
// does not terminate the process or stop the store's threads, and the next write completes.
TEST_F(GroupCommit, AThrowingCallbackOrWriteDoesNotStopTheStore) {
  metrics::Registry registry;
  GroupCommitWriter w(db_, 4096, &registry);
  w.start();
  std::promise<void> threw;
  w.submit(insert(1), [&](Status) {
    threw.set_value();
    throw std::runtime_error("a bug in a caller's completion");
  });
  threw.get_future().get();
  std::promise<Status> write_threw;
  w.submit([](sqlite3*) -> Status { throw std::out_of_range("map::at"); },
           [&](Status st) { write_threw.set_value(st); });
  auto st = write_threw.get_future().get();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kInternal);
  std::promise<Status> next;
  w.submit(insert(2), [&](Status st) { next.set_value(st); });
  EXPECT_TRUE(next.get_future().get().ok());
  EXPECT_TRUE(w.healthy());
  EXPECT_EQ(committed_rows(), 2);
  EXPECT_EQ(registry.counter("herald_store_callback_exceptions_total", "").with({}).value(), 2u);
  w.close();
}

}  // namespace
}  // namespace herald::store
