// What only the PostgreSQL driver has: a database that goes away and comes back,
// migrations applied once by nodes starting together, and a URL kept out of errors.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

using namespace std::chrono_literals;

TEST(PostgresStore, NodesStartingTogetherApplyEachMigrationOnce) {
  auto url = herald::testing::PgServer::shared().fresh_schema_url();
  StoreOptions opts{"", 64, nullptr};
  opts.postgres.url = url;
  opts.postgres.pool_size = 1;
  std::vector<std::unique_ptr<Store>> stores(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto s = open_store("postgres", opts);
      if (s)
        stores[i] = std::move(*s);
      else
        errors[i] = s.error().message;
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stores[i]) << errors[i];
  auto schema = url.substr(url.rfind("%3D") + 3);
  auto applied = herald::testing::PgServer::shared().sql("SELECT count(*) FROM " + schema + ".schema_migrations;");
  EXPECT_EQ(std::stoi(applied), stores[0]->schema_version());
}

TEST(PostgresStore, AWrongPasswordFailsWithoutShowingIt) {
  StoreOptions opts{"", 64, nullptr};
  opts.postgres.url =
      "postgresql://herald:s3cret-pw@127.0.0.1:" + std::to_string(herald::testing::PgServer::shared().port()) +
      "/herald_test?sslmode=disable";
  auto s = open_store("postgres", opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kStoreUnavailable);
  EXPECT_EQ(s.error().message.find("s3cret-pw"), std::string::npos);
  opts.postgres.url.clear();
  auto none = open_store("postgres", opts);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kInvalidConfig);
}

// The database stops: writes and reads answer store_unavailable within the timeouts
// (no hang); it comes back: the same store instance works again by itself.
TEST(PostgresStore, ADatabaseThatGoesAwayIsUnavailableThenRecovers) {
  store::testing::TempStore t("postgres");
  ASSERT_TRUE(wait_for([&](Completion d) { t.db->put_meta("k", "before", std::move(d)); }).ok());
  auto& server = herald::testing::PgServer::shared();
  server.pause();
  auto t0 = std::chrono::steady_clock::now();
  auto st = wait_for([&](Completion d) { t.db->put_meta("k", "during", std::move(d)); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kStoreUnavailable);
  auto read = t.db->get_meta("k");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, Errc::kStoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_FALSE(t.db->healthy());
  server.resume();
  Status again = make_error(Errc::kStoreUnavailable, "");
  for (int i = 0; i < 50 && !again.ok(); ++i) {
    again = wait_for([&](Completion d) { t.db->put_meta("k", "after", std::move(d)); });
    if (!again.ok()) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(t.db->healthy());
  EXPECT_EQ(t.db->get_meta("k").value().value_or(""), "after");
}

// After a failure nothing may write again (a load balancer reading /readyz sends the
// node no traffic): the store must see by itself that the database is back.
TEST(PostgresStore, AnIdleStoreBecomesHealthyAgainWithoutAWrite) {
  store::testing::TempStore t("postgres");
  auto& server = herald::testing::PgServer::shared();
  server.pause();
  auto st = wait_for([&](Completion d) { t.db->put_meta("k", "during", std::move(d)); });
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(t.db->healthy());
  std::this_thread::sleep_for(2500ms);  // probes while the database is still away fail
  EXPECT_FALSE(t.db->healthy());
  server.resume();
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!t.db->healthy() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(t.db->healthy()) << "no probe found the database back";
}

}  // namespace
}  // namespace herald::store
