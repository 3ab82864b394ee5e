// Reads on the store's reader pool: a read in progress (a background scan) does not hold
// up another read, and reads beyond the pool's size wait for a free connection.
#include "store/sqlite/reader_pool.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <thread>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<SqliteStore> open_sqlite(const std::string& dir, std::size_t readers) {
  auto s = SqliteStore::open(StoreOptions{dir, 64, nullptr, readers});
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

TEST(ReaderPool, AReadInProgressDoesNotBlockAnotherRead) {
  testing::TempStore t;
  t.db.reset();
  auto s = open_sqlite(t.dir, 4);
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(wait_for([&](Completion d) { s->put_meta("k" + std::to_string(i), "v", std::move(d)); }).ok());

  // A scan stopped half-way: its connection is checked out and its read transaction open.
  auto scan = s->reader();
  auto st = scan.statement("SELECT key FROM meta ORDER BY key;");
  ASSERT_TRUE(st);
  ASSERT_EQ(sqlite3_step(st.get()), SQLITE_ROW);

  // Another thread (a WebSocket connect) reads at once, and a write still commits.
  auto read = std::async(std::launch::async, [&] { return s->get_meta("k7"); });
  ASSERT_EQ(read.wait_for(5s), std::future_status::ready);
  auto v = read.get();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value_or(""), "v");
  EXPECT_TRUE(wait_for([&](Completion d) { s->put_meta("during", "scan", std::move(d)); }).ok());
  EXPECT_EQ(s->get_meta("during")->value_or(""), "scan");
}

TEST(ReaderPool, ReadsBeyondThePoolWaitForAFreeConnection) {
  testing::TempStore t;
  t.db.reset();
  auto s = open_sqlite(t.dir, 1);
  ASSERT_TRUE(wait_for([&](Completion d) { s->put_meta("k", "v", std::move(d)); }).ok());
  std::future<Result<std::optional<std::string>>> read;
  {
    auto held = s->reader();  // the only connection
    read = std::async(std::launch::async, [&] { return s->get_meta("k"); });
    EXPECT_EQ(read.wait_for(200ms), std::future_status::timeout);
  }
  ASSERT_EQ(read.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(read.get()->value_or(""), "v");
}

TEST(ReaderPool, StatementsAreCachedPerConnectionAndReset) {
  testing::TempStore t;
  t.db.reset();
  auto s = open_sqlite(t.dir, 1);
  sqlite3_stmt* first = nullptr;
  {
    auto r = s->reader();
    auto st = r.statement("SELECT 1;");
    first = st.get();
    ASSERT_EQ(sqlite3_step(st.get()), SQLITE_ROW);  // left mid-way: the statement resets it when dropped
  }
  auto r = s->reader();
  auto st = r.statement("SELECT 1;");
  EXPECT_EQ(st.get(), first);
  EXPECT_FALSE(sqlite3_stmt_busy(st.get()));
}

TEST(ReaderPool, ReadsAfterCloseFailInsteadOfWaiting) {
  testing::TempStore t;
  t.db->close();
  auto v = t.db->get_meta("k");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::kStoreError);
}

}  // namespace
}  // namespace herald::store
