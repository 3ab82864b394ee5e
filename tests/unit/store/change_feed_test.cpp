// What several nodes on one database need from the store: a change one node writes is
// reported to the other's change feed (within the poll interval, a lost notification or a
// killed connection included), and a change made from a stale read is refused, not lost.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kPoll = 200ms;
constexpr auto kMargin = 800ms;  // a loaded test machine

AppRecord app(std::string id, std::string mac) {
  AppRecord a;
  a.id = id;
  a.key = "key-" + id;
  a.name = "name-" + id;
  a.status = "active";
  a.created_ms = 10;
  a.app_secrets_json = "[]";
  a.scopes = "publish";
  a.namespaces = "*";
  a.record_mac = std::move(mac);
  return a;
}

KmsKeyRecord key(std::string app_id, std::string name) {
  KmsKeyRecord k;
  k.app_id = std::move(app_id);
  k.name = std::move(name);
  k.kind = "aes256-gcm";
  k.latest_version = 1;
  k.created_ms = 1000;
  return k;
}

KmsVersionRecord version(const std::string& app_id, const std::string& name, std::uint32_t v) {
  return KmsVersionRecord{app_id, name, v, "wrapped" + std::to_string(v), 1000 + v};
}

Status put(Store& s, AppRecord a) {
  return wait_for([&](Completion d) { s.apps().put_app(std::move(a), std::move(d)); });
}

// ---- both drivers: conditional writes ----

class StoreChanges : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(StoreChanges);

// The second node of the test: another store on the same database, or (SQLite, one
// node) the same store, whose single writer sees the same stale-read conflicts.
struct TwoNodes {
  testing::TempStore t;
  std::unique_ptr<Store> other;
  explicit TwoNodes(const std::string& driver) : t(driver) {
    if (driver == "postgres") other = t.open_another();
  }
  Store& a() { return *t.db; }
  Store& b() { return other ? *other : *t.db; }
};

TEST_P(StoreChanges, AKeyChangeMadeFromAStaleReadIsAConflictAndLosesNothing) {
  TwoNodes n(GetParam());
  ASSERT_TRUE(wait_for([&](Completion d) {
                n.a().kms().insert_kms_key(key("app", "k"), version("app", "k", 1), std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { n.a().kms().add_kms_version(version("app", "k", 2), std::move(d)); }).ok());
  KmsKeySettings read{1, false, false, 0};  // what both nodes read
  // Both at once, each decided on that read: exactly one lands.
  Status on_a = ok_status(), on_b = ok_status();
  std::thread ta([&] {
    on_a = wait_for([&](Completion d) {
      n.a().kms().update_kms_key(KmsKeyChange{"app", "k", 2u, std::nullopt, std::nullopt, std::nullopt, read},
                                 std::move(d));
    });
  });
  std::thread tb([&] {
    on_b = wait_for([&](Completion d) {
      n.b().kms().update_kms_key(KmsKeyChange{"app", "k", std::nullopt, std::nullopt, true, std::nullopt, read},
                                 std::move(d));
    });
  });
  ta.join();
  tb.join();
  ASSERT_NE(on_a.ok(), on_b.ok()) << "exactly one of two changes from one read may land";
  const Status& loser = on_a.ok() ? on_b : on_a;
  EXPECT_EQ(loser.error().code, Errc::kConflict);
  auto keys = n.b().kms().load_kms_keys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().min_decryption_version, on_a.ok() ? 2u : 1u);
  EXPECT_EQ(keys->front().deletion_allowed, on_b.ok());
  // Made again from a fresh read, the loser's change lands, and the winner's stays.
  KmsKeySettings fresh{keys->front().min_decryption_version, false, keys->front().deletion_allowed, 0};
  KmsKeyChange retry{"app", "k", 2u, std::nullopt, true, std::nullopt, fresh};
  ASSERT_TRUE(wait_for([&](Completion d) { n.b().kms().update_kms_key(retry, std::move(d)); }).ok());
  keys = n.a().kms().load_kms_keys();
  EXPECT_EQ(keys->front().min_decryption_version, 2u);
  EXPECT_TRUE(keys->front().deletion_allowed);
  // A change without `expected` writes as before; one for a key that is gone is not_found.
  auto gone = wait_for([&](Completion d) {
    n.a().kms().update_kms_key(KmsKeyChange{"app", "nope", 1u, std::nullopt, std::nullopt, std::nullopt, fresh},
                               std::move(d));
  });
  EXPECT_EQ(gone.error().code, Errc::kNotFound);
}

TEST_P(StoreChanges, TwoRotationsToOneVersionOnTwoNodesAtOnceMakeOneWinner) {
  TwoNodes n(GetParam());
  ASSERT_TRUE(wait_for([&](Completion d) {
                n.a().kms().insert_kms_key(key("app", "k"), version("app", "k", 1), std::move(d));
              }).ok());
  Status on_a = ok_status(), on_b = ok_status();
  std::thread ta([&] {
    on_a = wait_for([&](Completion d) { n.a().kms().add_kms_version(version("app", "k", 2), std::move(d)); });
  });
  std::thread tb([&] {
    on_b = wait_for([&](Completion d) { n.b().kms().add_kms_version(version("app", "k", 2), std::move(d)); });
  });
  ta.join();
  tb.join();
  ASSERT_NE(on_a.ok(), on_b.ok());
  EXPECT_EQ((on_a.ok() ? on_b : on_a).error().code, Errc::kConflict);
  auto versions = n.a().kms().load_kms_versions();
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);
}

TEST_P(StoreChanges, AnAppWrittenFromAStaleRecordIsAConflict) {
  TwoNodes n(GetParam());
  ASSERT_TRUE(put(n.a(), app("a1", "v1:first")).ok());
  // Two nodes change the app, both from the record with MAC "v1:first".
  AppRecord from_a = app("a1", "v1:by-a");
  from_a.status = "suspended";
  from_a.if_record_mac = "v1:first";
  AppRecord from_b = app("a1", "v1:by-b");
  from_b.scopes = "publish,otp";
  from_b.if_record_mac = "v1:first";
  Status on_a = ok_status(), on_b = ok_status();
  std::thread ta([&] { on_a = put(n.a(), from_a); });
  std::thread tb([&] { on_b = put(n.b(), from_b); });
  ta.join();
  tb.join();
  ASSERT_NE(on_a.ok(), on_b.ok());
  EXPECT_EQ((on_a.ok() ? on_b : on_a).error().code, Errc::kConflict);
  auto apps = n.b().apps().load_apps();
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_EQ(apps->front().record_mac, on_a.ok() ? "v1:by-a" : "v1:by-b");
  // A change of an app deleted meanwhile is not_found; a plain put still inserts.
  AppRecord ghost = app("a2", "v1:x");
  ghost.if_record_mac = "v1:old";
  EXPECT_EQ(put(n.a(), ghost).error().code, Errc::kNotFound);
  ghost.if_record_mac.clear();
  EXPECT_TRUE(put(n.a(), ghost).ok());
}

// ---- PostgreSQL: the change feed ----

// What a feed reported, for the test to wait on.
class Reports {
 public:
  ChangeFeed::Listener listener() {
    return [this](ChangeKind kind, const std::string& app_id) {
      std::lock_guard lock(mu_);
      seen_.emplace_back(kind, app_id);
      cv_.notify_all();
      return true;
    };
  }
  // How long until (kind, app_id) was reported, from `since`; nullopt if not within `timeout`.
  std::optional<std::chrono::milliseconds> wait_for(ChangeKind kind, const std::string& app_id,
                                                    SteadyClock::time_point since, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    bool found = cv_.wait_for(lock, timeout, [&] {
      for (const auto& s : seen_)
        if (s.first == kind && s.second == app_id) return true;
      return false;
    });
    if (!found) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since);
  }
  bool saw(ChangeKind kind) {
    std::lock_guard lock(mu_);
    for (const auto& s : seen_)
      if (s.first == kind) return true;
    return false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<ChangeKind, std::string>> seen_;
};

std::string schema_of(const std::string& url) {
  return url.substr(url.rfind("%3D") + 3);
}

TEST(PostgresChangeFeed, EveryKindOfChangeOnOneNodeIsReportedToTheOther) {
  testing::TempStore t("postgres");
  auto b = t.open_another();
  Reports reports;
  b->changes().start(reports.listener(), kPoll);
  EXPECT_TRUE(b->changes().connected());
  auto start = SteadyClock::now();
  ASSERT_TRUE(put(*t.db, app("a1", "v1:m")).ok());
  auto took = reports.wait_for(ChangeKind::kApp, "a1", start, kPoll + kMargin);
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, kPoll + kMargin);
  ASSERT_TRUE(wait_for([&](Completion d) {
                t.db->kms().insert_kms_key(key("a1", "k"), version("a1", "k", 1), std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                t.db->messages().put_message_settings(MessageSettingsRecord{"a1", "sealed"}, std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                t.db->messages().put_message_template(MessageTemplateRecord{"a1", "t", "{}"}, std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { t.db->apps().delete_app("a1", std::move(d)); }).ok());
  start = SteadyClock::now();
  for (auto kind : {ChangeKind::kKmsKey, ChangeKind::kMessageSettings, ChangeKind::kMessageTemplate})
    EXPECT_TRUE(reports.wait_for(kind, "a1", start, kPoll + kMargin).has_value()) << change_kind_name(kind);
  b->changes().stop();
  // Nothing but kinds and app ids in the table the notifications come from.
  auto rows = herald::testing::PgServer::shared().sql("SELECT string_agg(kind || ':' || app_id, ',') FROM " +
                                                      schema_of(t.opts.postgres.url) + ".cluster_changes;");
  EXPECT_EQ(rows.find("sealed"), std::string::npos) << rows;
  EXPECT_FALSE(reports.saw(ChangeKind::kAll));
}

// A change whose notification never came (here: a row written without one) is found by
// the next poll, within the poll interval.
TEST(PostgresChangeFeed, AChangeWithoutANotificationIsFoundByPolling) {
  testing::TempStore t("postgres");
  Reports reports;
  t.db->changes().start(reports.listener(), kPoll);
  std::this_thread::sleep_for(50ms);  // the feed waits on its socket
  auto start = SteadyClock::now();
  herald::testing::PgServer::shared().sql("INSERT INTO " + schema_of(t.opts.postgres.url) +
                                          ".cluster_changes(kind, app_id) VALUES ('app', 'silent');");
  auto took = reports.wait_for(ChangeKind::kApp, "silent", start, kPoll + kMargin);
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, kPoll + kMargin);
}

// The table stays small: rows older than the retention are deleted by the feeds.
TEST(PostgresChangeFeed, RowsOlderThanTheRetentionArePurged) {
  testing::TempStore t("postgres");
  auto& pg = herald::testing::PgServer::shared();
  std::string table = schema_of(t.opts.postgres.url) + ".cluster_changes";
  pg.sql("INSERT INTO " + table + "(kind, app_id, at_ms) VALUES ('app', 'old', 1000);");
  ASSERT_TRUE(put(*t.db, app("a1", "v1:m")).ok());
  Reports reports;
  t.db->changes().start(reports.listener(), kPoll);
  auto until = SteadyClock::now() + 3s;
  std::string left;
  while (SteadyClock::now() < until) {
    left = pg.sql("SELECT string_agg(app_id, ',') FROM " + table + ";");
    if (left.find("old") == std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(left.find("old"), std::string::npos) << left;
  EXPECT_NE(left.find("a1"), std::string::npos) << left;
}

// The feed's connection is killed (as by a PostgreSQL restart): it reconnects by itself
// and reports the change made meanwhile, not "reload everything".
TEST(PostgresChangeFeed, AKilledConnectionReconnectsAndLosesNoChange) {
  testing::TempStore t("postgres");
  auto b = t.open_another();
  Reports reports;
  b->changes().start(reports.listener(), kPoll);
  ASSERT_TRUE(b->changes().connected());
  auto& pg = herald::testing::PgServer::shared();
  auto killed = pg.sql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'herald' AND "
      "pid <> pg_backend_pid() AND query LIKE '%cluster_changes%';");
  ASSERT_EQ(std::stoi(killed), 1) << killed;
  auto start = SteadyClock::now();
  ASSERT_TRUE(put(*t.db, app("a1", "v1:m")).ok());
  auto took = reports.wait_for(ChangeKind::kApp, "a1", start, kPoll + kMargin);
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, kPoll + kMargin);
  EXPECT_FALSE(reports.saw(ChangeKind::kAll));
  auto until = SteadyClock::now() + 2s;
  while (!b->changes().connected() && SteadyClock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(b->changes().connected());
}

}  // namespace
}  // namespace herald::store
