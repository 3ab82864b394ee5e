#include "apps/app_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "../store/failing_store.h"
#include "apps/record_mac.h"
#include "core/metrics.h"
#include "crypto/aead.h"
#include "crypto/encoding.h"

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
    apps.reset();
    keys.reset();
    if (db) db->close();
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    apps = std::make_unique<AppStore>(db->apps(), *keys, &registry);
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
  // Runs `sql` on the database file with the server's store closed, as an attacker with
  // write access to the file (a backup, a shared volume) would.
  void edit_apps(const std::string& sql) {
    apps.reset();
    keys.reset();
    db->close();
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
  }
  std::string dir;
  metrics::Registry registry;
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
  EXPECT_EQ(made->app->secrets[0].secret.view(), made->app_secret.view());
  EXPECT_EQ(made->app_secret.view().rfind("as_", 0), 0u);
  std::string raw = raw_apps_table();
  EXPECT_EQ(raw.find(made->app_secret.view()), std::string::npos);
  EXPECT_EQ(raw.find(made->client_secret.view()), std::string::npos);
  reopen();
  auto a = apps->find("shop");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->key, made->app->key);
  EXPECT_EQ(a->secrets[0].secret.view(), made->app_secret.view());
  EXPECT_TRUE(a->may_publish_to("chat"));
  EXPECT_FALSE(a->may_publish_to("other"));
  EXPECT_TRUE(a->allowlist.allows("10.2.3.4"));
  EXPECT_EQ(scopes_text(a->scopes), "publish,otp");
  EXPECT_EQ(apps->client_secret(*a).value().view(), made->client_secret.view());
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
  EXPECT_EQ(now->secrets[0].secret.view(), second->secret.view());
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

// A sealed secret moved to another app's row: that app's record no longer verifies and it
// is unavailable; the unseal goes ahead and the other app serves (S22: one bad app).
TEST_F(AppStoreFixture, ASealedSecretCopiedToAnotherAppMakesOnlyThatAppUnavailable) {
  auto a = apps->create(named("a"));
  auto b = apps->create(named("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  edit_apps("UPDATE apps SET client_secret = (SELECT client_secret FROM apps WHERE name = 'a') WHERE name = 'b';");
  reopen();
  EXPECT_FALSE(keys->sealed());
  EXPECT_FALSE(apps->find("b"));
  ASSERT_TRUE(apps->find("a"));
  EXPECT_EQ(apps->client_secret(*apps->find("a")).value().view(), a->client_secret.view());
  ASSERT_EQ(apps->unavailable().size(), 1u);
  EXPECT_EQ(apps->unavailable()[0].name, "b");
  EXPECT_EQ(apps->unavailable()[0].reason, "mac_mismatch");
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

// S19: with write access to the database file but not the root key, an attacker adds a
// scope or clears the IP allowlist. That app is refused at load; every other app unseals
// and serves, and the admin can still delete the refused one.
TEST_F(AppStoreFixture, AnEditedScopeOrAllowlistMakesOnlyThatAppUnavailable) {
  AppOptions o = named("victim");
  o.allowed_cidrs = {"10.0.0.0/8"};
  ASSERT_TRUE(apps->create(o).ok());
  ASSERT_TRUE(apps->create(named("victim2")).ok());
  auto other = apps->create(named("other"));
  ASSERT_TRUE(other.ok());
  edit_apps(
      "UPDATE apps SET allowed_cidrs = '' WHERE name = 'victim';"
      "UPDATE apps SET scopes = 'publish,otp,kms,admin' WHERE name = 'victim2';");
  reopen();
  EXPECT_FALSE(keys->sealed());  // the unseal succeeds
  EXPECT_FALSE(apps->find("victim"));
  EXPECT_FALSE(apps->find("victim2"));
  auto ok = apps->find("other");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->secrets[0].secret.view(), other->app_secret.view());
  auto bad = apps->unavailable();
  ASSERT_EQ(bad.size(), 2u);
  for (const auto& u : bad) EXPECT_EQ(u.reason, "mac_mismatch") << u.name;
  EXPECT_EQ(registry.counter("herald_app_records_rejected_total", "", {"reason"}).with({"mac_mismatch"}).value(), 2u);
  EXPECT_EQ(registry.gauge("herald_apps_unavailable", "").with({}).value(), 2);
  // The other app still changes normally, and the refused one can be deleted.
  ASSERT_TRUE(apps->rotate_secret("other").ok());
  ASSERT_TRUE(apps->remove("victim").ok());
  reopen();
  ASSERT_EQ(apps->unavailable().size(), 1u);
  EXPECT_EQ(apps->unavailable()[0].name, "victim2");
  EXPECT_EQ(apps->find("other")->secrets.size(), 2u);
}

// S19: clearing the MAC does not get an edited row re-MACed once MACs are required.
TEST_F(AppStoreFixture, AClearedMacIsRefusedAndSoIsAnUnreadableRow) {
  ASSERT_TRUE(apps->create(named("a")).ok());
  ASSERT_TRUE(apps->create(named("b")).ok());
  ASSERT_TRUE(apps->create(named("c")).ok());
  edit_apps(
      "UPDATE apps SET record_mac = '', scopes = 'admin' WHERE name = 'a';"
      "DELETE FROM kms_key_versions WHERE app_id = (SELECT id FROM apps WHERE name = 'b');"
      "DELETE FROM kms_keys WHERE app_id = (SELECT id FROM apps WHERE name = 'b');");
  reopen();
  EXPECT_FALSE(keys->sealed());
  std::map<std::string, std::string> reasons;
  for (const auto& u : apps->unavailable()) reasons[u.name] = u.reason;
  EXPECT_EQ(reasons["a"], "mac_missing");
  EXPECT_EQ(reasons["b"], "unreadable");
  EXPECT_TRUE(apps->find("c"));
}

// Every column of the record is covered: changing any one changes what is MACed.
TEST(RecordMac, EveryColumnIsCovered) {
  store::AppRecord r;
  r.id = "app_1";
  r.key = "hk_1";
  r.name = "n";
  r.status = "active";
  r.created_ms = 5;
  r.client_secret_sealed = "s";
  r.client_public_keys_json = "[]";
  r.jwt_audience = "aud";
  r.jwt_issuer = "iss";
  r.app_secrets_json = "[]";
  r.scopes = "publish";
  r.namespaces = "*";
  r.allowed_cidrs = "10.0.0.0/8";
  r.rate_limit = 10;
  const std::string base = mac_input(r);
  std::vector<std::function<void(store::AppRecord&)>> edits = {
      [](auto& x) { x.id = "app_2"; },
      [](auto& x) { x.key = "hk_2"; },
      [](auto& x) { x.name = "m"; },
      [](auto& x) { x.status = "suspended"; },
      [](auto& x) { x.created_ms = 6; },
      [](auto& x) { x.client_secret_sealed = "t"; },
      [](auto& x) { x.client_public_keys_json = "[{}]"; },
      [](auto& x) { x.jwt_audience = ""; },
      [](auto& x) { x.jwt_issuer = ""; },
      [](auto& x) { x.require_exp = true; },
      [](auto& x) { x.app_secrets_json = "[{}]"; },
      [](auto& x) { x.scopes = "publish,admin"; },
      [](auto& x) { x.namespaces = "a"; },
      [](auto& x) { x.allowed_cidrs = ""; },
      [](auto& x) { x.rate_limit = 0; },
      // Values cannot slide from one field into the next.
      [](auto& x) {
        x.jwt_audience = "au";
        x.jwt_issuer = "diss";
      },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    store::AppRecord e = r;
    edits[i](e);
    EXPECT_NE(mac_input(e), base) << "edit " << i;
  }
}

// An installation from before record MACs: its rows are MACed at the first unseal (logged,
// trusted as they are this once), and from then on MACs are required.
TEST_F(AppStoreFixture, RecordsFromBeforeMacsAreMacedAtTheFirstUnsealThenRequired) {
  ASSERT_TRUE(apps->create(named("old1")).ok());
  ASSERT_TRUE(apps->create(named("old2")).ok());
  // Make it look like an older installation: the v1 check value and no MACs.
  std::ifstream f(kms::dev_share_path(dir));
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  crypto::SecretBytes root = kms::combine_shares({kms::parse_share(line).value()});
  auto meta = db->get_meta("kms").value().value();
  auto v = boost::json::parse(meta);
  v.as_object()["check"] =
      crypto::base64_encode(crypto::aead_seal(root, "herald root key check v1", "herald-kms-check"));
  ASSERT_TRUE(
      store::wait_for([&](store::Completion d) { db->put_meta("kms", boost::json::serialize(v), std::move(d)); }).ok());
  edit_apps("UPDATE apps SET record_mac = '';");
  reopen();
  EXPECT_TRUE(apps->unavailable().empty());
  EXPECT_TRUE(apps->find("old1") && apps->find("old2"));
  EXPECT_TRUE(keys->macs_required());
  EXPECT_NE(raw_apps_table().find("v1:"), std::string::npos);
  // Required now: the same trick no longer works.
  edit_apps("UPDATE apps SET record_mac = '', scopes = 'admin' WHERE name = 'old1';");
  reopen();
  ASSERT_EQ(apps->unavailable().size(), 1u);
  EXPECT_EQ(apps->unavailable()[0].reason, "mac_missing");
  EXPECT_TRUE(apps->find("old2"));
}

// S7: the store fails the write of a new app's keys. Creating the app answers the error,
// and nothing sealed under the lost key is committed.
TEST_F(AppStoreFixture, CreationFailsWhenTheAppKeysCannotBeWritten) {
  store::testing::FailingKmsStore failing(*db);
  kms::KeyService k2(failing, nullptr);
  AppStore a2(db->apps(), k2);
  k2.on_unsealed([&a2] { return a2.load(); });
  ASSERT_TRUE(kms::dev_unseal(k2, failing, dir, false).ok());
  failing.fail_key_inserts = true;
  auto r = a2.create(named("lost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kStoreUnavailable);
  EXPECT_FALSE(a2.find("lost"));
  EXPECT_TRUE(db->apps().load_apps()->empty());
  EXPECT_TRUE(db->kms().load_kms_keys()->empty());
  failing.fail_key_inserts = false;
  auto again = a2.create(named("lost"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  reopen();
  ASSERT_TRUE(apps->find("lost"));
  EXPECT_EQ(apps->find("lost")->secrets[0].secret.view(), again->app_secret.view());
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
  const std::string old_secret(made->client_secret.view());
  auto fresh = wait_for<NewSecret>([&](auto d) { apps->rotate_client_secret("shop", d); });
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  auto both = apps->find("shop");
  EXPECT_EQ(both->client_secrets.size(), 2u);
  EXPECT_TRUE(token_verifies(*both, old_secret));
  EXPECT_TRUE(token_verifies(*both, std::string(fresh->secret.view())));
  EXPECT_EQ(apps->client_secret(*both).value().view(), fresh->secret.view());  // tokens are minted with the newest
  EXPECT_EQ((wait_for<NewSecret>([&](auto d) { apps->rotate_client_secret("shop", d); }).error().code),
            Errc::kTooManySecrets);
  EXPECT_EQ(raw_apps_table().find(fresh->secret.view()), std::string::npos);

  ASSERT_TRUE((wait_for<Ok>([&](auto d) { apps->revoke_client_secret("shop", "c0", d); }).ok()));
  reopen();
  auto after = apps->find("shop");
  ASSERT_EQ(after->client_secrets.size(), 1u);
  EXPECT_EQ(after->client_secrets[0].id, fresh->id);
  EXPECT_FALSE(token_verifies(*after, old_secret));
  EXPECT_TRUE(token_verifies(*after, std::string(fresh->secret.view())));
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
