// The app table through store::AppRecords: insert, read back, update, conflicts, delete.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class AppTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(AppTables);

AppRecord app(std::string id, std::string key, std::string name, std::int64_t created_ms) {
  AppRecord a;
  a.id = std::move(id);
  a.key = std::move(key);
  a.name = std::move(name);
  a.status = "active";
  a.created_ms = created_ms;
  a.client_secret_sealed = std::string("\x00\x01sealed\xff", 9);  // bytes, NUL included
  a.client_public_keys_json = R"([{"alg":"ES256","kid":"k1","pem":"-----"}])";
  a.jwt_audience = "aud";
  a.jwt_issuer = "iss";
  a.require_exp = true;
  a.app_secrets_json = "[]";
  a.scopes = "publish,otp";
  a.namespaces = "*";
  a.allowed_cidrs = "10.0.0.0/8";
  a.rate_limit = 250;
  return a;
}

TEST_P(AppTables, WriteReadUpdateListAndDelete) {
  testing::TempStore t(GetParam());
  AppRecords& apps = t.db->apps();
  ASSERT_TRUE(wait_for([&](Completion d) { apps.put_app(app("a2", "key2", "second", 20), std::move(d)); }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { apps.put_app(app("a1", "key1", "first", 10), std::move(d)); }).ok());

  auto all = apps.load_apps();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a1");  // listed by creation time
  const AppRecord& a = (*all)[0];
  AppRecord want = app("a1", "key1", "first", 10);
  EXPECT_EQ(a.key, want.key);
  EXPECT_EQ(a.client_secret_sealed, want.client_secret_sealed);
  EXPECT_EQ(a.client_public_keys_json, want.client_public_keys_json);
  EXPECT_EQ(a.jwt_audience, "aud");
  EXPECT_EQ(a.jwt_issuer, "iss");
  EXPECT_TRUE(a.require_exp);
  EXPECT_EQ(a.scopes, "publish,otp");
  EXPECT_EQ(a.namespaces, "*");
  EXPECT_EQ(a.allowed_cidrs, "10.0.0.0/8");
  EXPECT_EQ(a.rate_limit, 250u);

  AppRecord changed = want;
  changed.status = "suspended";
  changed.rate_limit = 0;
  changed.require_exp = false;
  ASSERT_TRUE(wait_for([&](Completion d) { apps.put_app(changed, std::move(d)); }).ok());
  t.reopen();
  all = t.db->apps().load_apps();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].status, "suspended");
  EXPECT_EQ((*all)[0].rate_limit, 0u);
  EXPECT_FALSE((*all)[0].require_exp);

  ASSERT_TRUE(wait_for([&](Completion d) { t.db->apps().delete_app("a2", std::move(d)); }).ok());
  all = t.db->apps().load_apps();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, "a1");
}

TEST_P(AppTables, AnotherAppsKeyIsAConflictAndAMissingAppIsNotFound) {
  testing::TempStore t(GetParam());
  AppRecords& apps = t.db->apps();
  ASSERT_TRUE(wait_for([&](Completion d) { apps.put_app(app("a1", "key1", "first", 10), std::move(d)); }).ok());
  auto st = wait_for([&](Completion d) { apps.put_app(app("a2", "key1", "other", 11), std::move(d)); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kConflict);
  st = wait_for([&](Completion d) { apps.delete_app("nope", std::move(d)); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kNotFound);
  EXPECT_EQ(apps.load_apps()->size(), 1u);  // the failed writes left nothing behind
}

}  // namespace
}  // namespace herald::store
