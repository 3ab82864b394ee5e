#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "store/migrations.h"

namespace herald::store {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/herald-store-XXXXXX";
    path = ::mkdtemp(t);
    path += "/data";  // the store creates it
  }
  ~Dir() { std::filesystem::remove_all(std::filesystem::path(path).parent_path()); }
};

std::unique_ptr<SqliteStore> open(const std::string& dir, std::uint64_t batch = 4096) {
  auto s = SqliteStore::open(StoreOptions{dir, batch, nullptr});
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

TEST(SqliteStore, MigratesAndIsPrivate) {
  Dir d;
  auto s = open(d.path);
  EXPECT_EQ(s->schema_version(), sqlite_migrations().back().version);
  struct stat st {};
  ASSERT_EQ(::stat(d.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((d.path + "/herald.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(s->healthy());
}

TEST(SqliteStore, WritesAreDurableAcrossReopen) {
  Dir d;
  {
    auto s = open(d.path);
    auto st = wait_for([&](Completion done) { s->put_meta("k", "v1", std::move(done)); });
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(wait_for([&](Completion done) { s->put_meta("k", "v2", std::move(done)); }).ok());
    EXPECT_EQ(s->get_meta("k")->value(), "v2");
    EXPECT_FALSE(s->get_meta("absent")->has_value());
  }
  auto s = open(d.path);
  EXPECT_EQ(s->get_meta("k")->value(), "v2");
}

TEST(SqliteStore, ConcurrentWritesAreGroupCommitted) {
  Dir d;
  auto s = open(d.path);
  constexpr int kWrites = 2000;
  std::atomic<int> ok{0};
  std::promise<void> all;
  std::atomic<int> left{kWrites};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kWrites / 4; ++i)
        s->put_meta("k" + std::to_string(t) + "-" + std::to_string(i), "v", [&](Status st) {
          if (st.ok()) ok++;
          if (--left == 0) all.set_value();
        });
    });
  for (auto& t : ts) t.join();
  all.get_future().wait();
  EXPECT_EQ(ok.load(), kWrites);
  auto stats = s->stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(kWrites));
  EXPECT_LT(stats.commits, static_cast<std::uint64_t>(kWrites));  // batches formed
  EXPECT_GT(stats.max_batch, 1u);
}

TEST(SqliteStore, BatchSizeIsBounded) {
  Dir d;
  auto s = open(d.path, 8);
  std::atomic<int> left{500};
  std::promise<void> all;
  for (int i = 0; i < 500; ++i)
    s->put_meta("k" + std::to_string(i), "v", [&](Status) {
      if (--left == 0) all.set_value();
    });
  all.get_future().wait();
  EXPECT_LE(s->stats().max_batch, 8u);
}

TEST(SqliteStore, AFailingWriteDoesNotSinkItsBatch) {
  Dir d;
  auto s = open(d.path);
  std::promise<Status> bad, good;
  s->submit(
      [](sqlite3* db) -> Status {
        sqlite3_exec(db, "INSERT INTO meta(key, value, updated_at) VALUES ('half', 'x', 0);", nullptr, nullptr,
                     nullptr);
        return make_error(Errc::kInternal, "refused");
      },
      [&](Status st) { bad.set_value(st); });
  s->put_meta("whole", "y", [&](Status st) { good.set_value(st); });
  EXPECT_FALSE(bad.get_future().get().ok());
  EXPECT_TRUE(good.get_future().get().ok());
  EXPECT_FALSE(s->get_meta("half")->has_value());  // rolled back alone
  EXPECT_TRUE(s->get_meta("whole")->has_value());
}

TEST(SqliteStore, CloseFinishesQueuedWritesThenRefusesNewOnes) {
  Dir d;
  auto s = open(d.path);
  std::atomic<int> done{0};
  for (int i = 0; i < 300; ++i)
    s->put_meta("k" + std::to_string(i), "v", [&](Status st) {
      if (st.ok()) done++;
    });
  s->close();
  EXPECT_EQ(done.load(), 300);
  std::promise<Status> late;
  s->put_meta("late", "v", [&](Status st) { late.set_value(st); });
  auto st = late.get_future().get();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kStoreClosed);
  EXPECT_FALSE(s->healthy());
}

TEST(SqliteStore, RefusesASchemaNewerThanItKnows) {
  Dir d;
  { open(d.path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((d.path + "/herald.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (9999, 'future', 0);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = SqliteStore::open(StoreOptions{d.path, 16, nullptr});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer than this herald"), std::string::npos);
}

}  // namespace
}  // namespace herald::store
