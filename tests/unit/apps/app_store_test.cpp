#include "apps/app_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>

#include "auth/jwt.h"
#include "core/clock.h"
#include "crypto/signature.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::apps {
namespace {

AppOptions named(const std::string& name) {
  AppOptions o;
  o.name = name;
  return o;
}

struct AppStoreFixture : ::testing::Test {
  AppStoreFixture() {
    std::string t = ::testing::TempDir() + "/apps-XXXXXX";
    dir = mkdtemp(t.data());
    reopen();
  }
  ~AppStoreFixture() override {
    if (db) db->close();
    std::filesystem::remove_all(dir);
  }
  // A development key service (one share in the data dir) unseals, and apps load.
  void reopen() {
    if (db) db->close();
    apps.reset();
    keys.reset();
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    apps = std::make_unique<AppStore>(db->apps(), *keys);
    keys->on_unsealed([this] { return apps->load(); });
    auto st = kms::dev_unseal(*keys, *db, dir, true);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  // Raw column text from the database file, as an attacker with the file would see it.
  std::string raw_apps_table() {
    sqlite3* h = nullptr;
    sqlite3_open_v2((dir + "/herald.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
    std::string all;
    sqlite3_exec(
        h, "SELECT * FROM apps",
        [](void* out, int n, char** vals, char**) {
          for (int i = 0; i < n; ++i) *static_cast<std::string*>(out) += vals[i] ? vals[i] : "";
          return 0;
        },
        &all, nullptr);
    sqlite3_close(h);
    return all;
  }
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<AppStore> apps;
};

TEST_F(AppStoreFixture, CreateKeepsSecretsSealedAndReloadsThem) {
  AppOptions o;
  o.name = "shop";
  o.scopes = kScopePublish | kScopeOtp;
  o.namespaces = {"news", "chat"};
  o.allowed_cidrs = {"10.0.0.0/8"};
  auto made = apps->create(o);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->app->secrets.size(), 1u);
  EXPECT_EQ(made->app->secrets[0].secret.view(), made->app_secret);
  EXPECT_EQ(made->app_secret.rfind("as_", 0), 0u);
  std::string raw = raw_apps_table();
  EXPECT_EQ(raw.find(made->app_secret), std::string::npos);
  EXPECT_EQ(raw.find(made->client_secret), std::string::npos);
  reopen();
  auto a = apps->find("shop");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->key, made->app->key);
  EXPECT_EQ(a->secrets[0].secret.view(), made->app_secret);
  EXPECT_TRUE(a->may_publish_to("chat"));
  EXPECT_FALSE(a->may_publish_to("other"));
  EXPECT_TRUE(a->allowlist.allows("10.2.3.4"));
  EXPECT_EQ(scopes_text(a->scopes), "publish,otp");
  EXPECT_EQ(apps->client_secret(*a).value(), made->client_secret);
}

TEST_F(AppStoreFixture, RotateRevokeSuspendDeleteAndTheirRefusals) {
  auto made = apps->create(named("shop"));
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(apps->create(named("shop")).error().code, Errc::kConflict);
  EXPECT_EQ(apps->create(named("bad name")).error().code, Errc::kInvalidArgument);
  auto second = apps->rotate_secret("shop");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(apps->find("shop")->secrets.size(), 2u);
  EXPECT_EQ(apps->rotate_secret("shop").error().code, Errc::kTooManySecrets);
  EXPECT_EQ(apps->revoke_secret("shop", "nope").error().code, Errc::kNotFound);
  ASSERT_TRUE(apps->revoke_secret("shop", made->app_secret_id).ok());
  auto now = apps->find("shop");
  ASSERT_EQ(now->secrets.size(), 1u);
  EXPECT_EQ(now->secrets[0].secret.view(), second->secret);
  EXPECT_EQ(apps->revoke_secret("shop", second->id).error().code, Errc::kLastSecret);
  ASSERT_TRUE(apps->set_status("shop", AppStatus::Suspended).ok());
  reopen();
  EXPECT_EQ(apps->find("shop")->status, AppStatus::Suspended);
  ASSERT_TRUE(apps->remove("shop").ok());
  EXPECT_FALSE(apps->find("shop"));
  EXPECT_FALSE(apps->find_by_key(made->app->key));
  reopen();
  EXPECT_FALSE(apps->find("shop"));
  EXPECT_EQ(apps->rotate_secret("shop").error().code, Errc::kNotFound);
}

TEST_F(AppStoreFixture, ASealedSecretCopiedToAnotherAppDoesNotOpen) {
  auto a = apps->create(named("a"));
  auto b = apps->create(named("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  db->close();
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &h), SQLITE_OK);
  // Move a's sealed client secret into b's row.
  ASSERT_EQ(sqlite3_exec(h,
                         "UPDATE apps SET client_secret = (SELECT client_secret FROM apps WHERE name = 'a') "
                         "WHERE name = 'b';",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
  kms::KeyService fresh_keys(*db, nullptr);
  AppStore fresh(db->apps(), fresh_keys);
  fresh_keys.on_unsealed([&fresh] { return fresh.load(); });
  auto st = kms::dev_unseal(fresh_keys, *db, dir, false);
  ASSERT_FALSE(st.ok());  // the moved secret does not open: the unseal is refused, sealed again
  EXPECT_EQ(st.error().code, Errc::kDecryptFailed);
  EXPECT_NE(st.error().message.find("app b"), std::string::npos);
  EXPECT_TRUE(fresh_keys.sealed());
}

TEST_F(AppStoreFixture, BadOptionsAreRefused) {
  AppOptions o;
  o.name = "x";
  o.allowed_cidrs = {"10.0.0.1/8"};
  EXPECT_EQ(apps->create(o).error().code, Errc::kInvalidCidr);
  o.allowed_cidrs = {};
  o.namespaces = {"Bad NS"};
  EXPECT_EQ(apps->create(o).error().code, Errc::kInvalidArgument);
  o.namespaces = {"*"};
  o.client_public_keys_pem = {"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"};
  EXPECT_EQ(apps->create(o).error().code, Errc::kInvalidArgument);
  o.client_public_keys_pem = {};
  o.scopes = 0;
  EXPECT_EQ(apps->create(o).error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(apps->list().empty());
}

}  // namespace
// The blocking form of an AppStore change that completes through a callback.
template <class T, class Start>
Result<T> wait_for(Start start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

bool token_verifies(const App& app, const std::string& secret, const auth::JwtPolicy& policy = {}) {
  std::string payload = R"({"sub":"u1","exp":)" + std::to_string(clock::unix_ms() / 1000 + 600) + "}";
  auto token = auth::sign_jwt_hs256(payload, crypto::SecretBytes(secret));
  return auth::verify_jwt(token, app.client_keys, policy, clock::unix_ms() / 1000).ok();
}

TEST_F(AppStoreFixture, NewAppsRequireExpByDefault) {
  auto made = apps->create(named("shop"));
  ASSERT_TRUE(made.ok());
  EXPECT_TRUE(made->app->require_exp);
}

// S12: a leaked client secret is rotated out without deleting the app (whose id every
// KMS key and record is bound to); the new secret is sealed and survives a restart.
TEST_F(AppStoreFixture, ClientSecretRotatesAndTheRevokedOneStopsWorking) {
  auto made = apps->create(named("shop"));
  ASSERT_TRUE(made.ok());
  const std::string old_secret = made->client_secret;
  auto fresh = wait_for<NewSecret>([&](auto d) { apps->rotate_client_secret("shop", d); });
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  auto both = apps->find("shop");
  EXPECT_EQ(both->client_secrets.size(), 2u);
  EXPECT_TRUE(token_verifies(*both, old_secret));
  EXPECT_TRUE(token_verifies(*both, fresh->secret));
  EXPECT_EQ(apps->client_secret(*both).value(), fresh->secret);  // tokens are minted with the newest
  EXPECT_EQ((wait_for<NewSecret>([&](auto d) { apps->rotate_client_secret("shop", d); }).error().code),
            Errc::kTooManySecrets);
  EXPECT_EQ(raw_apps_table().find(fresh->secret), std::string::npos);

  ASSERT_TRUE((wait_for<Ok>([&](auto d) { apps->revoke_client_secret("shop", "c0", d); }).ok()));
  reopen();
  auto after = apps->find("shop");
  ASSERT_EQ(after->client_secrets.size(), 1u);
  EXPECT_EQ(after->client_secrets[0].id, fresh->id);
  EXPECT_FALSE(token_verifies(*after, old_secret));
  EXPECT_TRUE(token_verifies(*after, fresh->secret));
  EXPECT_EQ((wait_for<Ok>([&](auto d) { apps->revoke_client_secret("shop", fresh->id, d); }).error().code),
            Errc::kLastSecret);
  EXPECT_EQ((wait_for<Ok>([&](auto d) { apps->revoke_client_secret("shop", "c0", d); }).error().code), Errc::kNotFound);
}

TEST_F(AppStoreFixture, PublicKeysNeedAnAudienceAndRotate) {
  auto made = apps->create(named("shop"));
  ASSERT_TRUE(made.ok());
  auto k1 = crypto::PrivateKey::generate(crypto::KeyKind::Ed25519);
  auto k2 = crypto::PrivateKey::generate(crypto::KeyKind::EcP256);
  auto pem1 = k1.public_key().to_pem(), pem2 = k2.public_key().to_pem();
  EXPECT_EQ((wait_for<std::string>([&](auto d) { apps->add_client_key("shop", pem1, d); }).error().code),
            Errc::kInvalidArgument);
  JwtPolicyChange aud;
  aud.audience = "herald:shop";
  ASSERT_TRUE((wait_for<Ok>([&](auto d) { apps->set_jwt_policy("shop", aud, d); }).ok()));
  auto kid1 = wait_for<std::string>([&](auto d) { apps->add_client_key("shop", pem1, d); });
  auto kid2 = wait_for<std::string>([&](auto d) { apps->add_client_key("shop", pem2, d); });
  ASSERT_TRUE(kid1.ok() && kid2.ok());
  EXPECT_EQ((wait_for<std::string>([&](auto d) { apps->add_client_key("shop", pem1, d); }).error().code),
            Errc::kTooManySecrets);
  // The audience cannot be cleared while public keys are configured.
  JwtPolicyChange clear;
  clear.audience = "";
  EXPECT_EQ((wait_for<Ok>([&](auto d) { apps->set_jwt_policy("shop", clear, d); }).error().code),
            Errc::kInvalidArgument);

  auto token1 = auth::sign_jwt(
      R"({"sub":"u","aud":"herald:shop","exp":)" + std::to_string(clock::unix_ms() / 1000 + 60) + "}", k1);
  auth::JwtPolicy p;
  p.audience = "herald:shop";
  EXPECT_TRUE(auth::verify_jwt(token1, apps->find("shop")->client_keys, p, clock::unix_ms() / 1000).ok());
  ASSERT_TRUE((wait_for<Ok>([&](auto d) { apps->remove_client_key("shop", *kid1, d); }).ok()));
  reopen();
  auto r = auth::verify_jwt(token1, apps->find("shop")->client_keys, p, clock::unix_ms() / 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTokenAlgNotAllowed);  // no EdDSA key is left
}

TEST_F(AppStoreFixture, JwtPolicyChangesPersist) {
  ASSERT_TRUE(apps->create(named("shop")).ok());
  JwtPolicyChange c;
  c.issuer = "https://idp.example";
  c.require_exp = false;
  c.max_token_lifetime_s = 900;
  c.tokens_issued_after = 1'700'000'000;
  ASSERT_TRUE((wait_for<Ok>([&](auto d) { apps->set_jwt_policy("shop", c, d); }).ok()));
  reopen();
  auto a = apps->find("shop");
  EXPECT_EQ(a->jwt_issuer, "https://idp.example");
  EXPECT_FALSE(a->require_exp);
  EXPECT_EQ(a->max_token_lifetime_s, 900);
  EXPECT_EQ(a->tokens_issued_after, 1'700'000'000);
  EXPECT_EQ(a->client_secrets.size(), 1u);  // the original secret still loads
  JwtPolicyChange bad;
  bad.max_token_lifetime_s = -1;
  EXPECT_EQ((wait_for<Ok>([&](auto d) { apps->set_jwt_policy("shop", bad, d); }).error().code), Errc::kInvalidArgument);
}

}  // namespace herald::apps
