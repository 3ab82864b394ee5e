// Two key services on one store, as two nodes of a cluster: what one changes, the other
// takes over by reload_keys (the change feed's call) or, for a decrypt that meets a
// version it does not hold, by itself; a change made from a stale copy is a conflict.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "kms/key_service.h"
#include "store/store.h"

namespace herald::kms {
namespace {

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

struct TwoNodes : ::testing::Test {
  TwoNodes() {
    std::string t = ::testing::TempDir() + "/kmsr-XXXXXX";
    dir = mkdtemp(t.data());
    opts.deletion_delay_ms = 0;
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    auto shares = KeyService::initialize(*db, 1, 1).value();
    for (auto* k : {&a, &b}) {
      *k = std::make_unique<KeyService>(*db, nullptr, opts);
      EXPECT_TRUE((*k)->load().ok());
      EXPECT_TRUE((*k)->unseal(shares[0]).ok());
    }
  }
  ~TwoNodes() override {
    a.reset();
    b.reset();
    db->close();
    std::filesystem::remove_all(dir);
  }
  Result<KeyInfo> create(KeyService& k, const std::string& name) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { k.create_key("app1", name, {}, std::move(d)); });
  }
  Result<KeyInfo> rotate(KeyService& k, const std::string& name) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { k.rotate_key("app1", name, std::move(d)); });
  }
  Result<KeyInfo> configure(KeyService& k, const std::string& name, KeyConfig cfg) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { k.configure_key("app1", name, cfg, Actor::Admin, std::move(d)); });
  }

  std::string dir;
  KeyServiceOptions opts;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<KeyService> a, b;
};

TEST_F(TwoNodes, ACiphertextOfAVersionMadeOnTheOtherNodeDecryptsAtOnce) {
  ASSERT_TRUE(create(*a, "orders").ok());
  // B never heard of the key: its decrypt looks in the store.
  auto v1 = a->encrypt("app1", "orders", "card", "ctx");
  ASSERT_TRUE(v1.ok());
  auto p1 = b->decrypt("app1", "orders", *v1, "ctx");
  ASSERT_TRUE(p1.ok()) << p1.error().message;
  EXPECT_EQ(p1->view(), "card");
  // A rotates; B holds version 1 only, and a version-2 ciphertext still decrypts there.
  ASSERT_TRUE(rotate(*a, "orders").ok());
  auto v2 = a->encrypt("app1", "orders", "card", "ctx");
  ASSERT_EQ(v2->rfind("herald:v2:", 0), 0u);
  auto p2 = b->decrypt("app1", "orders", *v2, "ctx");
  ASSERT_TRUE(p2.ok()) << p2.error().message;
  EXPECT_EQ(b->key_info("app1", "orders")->latest_version, 2u);
  // A version that exists nowhere is still refused.
  std::string v9 = "herald:v9:" + v2->substr(10);
  EXPECT_EQ(b->decrypt("app1", "orders", v9, "ctx").error().code, Errc::kVersionNotAllowed);
}

TEST_F(TwoNodes, AReloadTakesOverSettingsNewKeysAndDeletions) {
  ASSERT_TRUE(create(*a, "orders").ok());
  ASSERT_TRUE(rotate(*a, "orders").ok());
  ASSERT_TRUE(b->reload_keys("app1").ok());
  ASSERT_TRUE(configure(*a, "orders", KeyConfig{2u, true, std::nullopt}).ok());
  ASSERT_TRUE(create(*a, "later").ok());
  EXPECT_EQ(b->key_info("app1", "orders")->min_decryption_version, 1u);  // stale until told
  ASSERT_TRUE(b->reload_keys("app1").ok());
  auto info = b->key_info("app1", "orders");
  EXPECT_EQ(info->min_decryption_version, 2u);
  EXPECT_TRUE(info->deletion_allowed);
  EXPECT_EQ(info->latest_version, 2u);
  EXPECT_TRUE(b->key_info("app1", "later").ok());
  ASSERT_TRUE(wait<KeyInfo>([&](Done<KeyInfo> d) { a->delete_key("app1", "orders", std::move(d)); }).ok());
  ASSERT_TRUE(b->reload_keys().ok());
  EXPECT_EQ(b->key_info("app1", "orders").error().code, Errc::kKeyNotFound);
  EXPECT_TRUE(b->key_info("app1", "later").ok());
  // Another app's keys are untouched by a reload of app1's.
  EXPECT_TRUE(b->ensure_app_keys("app2").ok());
  ASSERT_TRUE(b->reload_keys("app1").ok());
  EXPECT_TRUE(b->blind_index("app2", "p", "v").ok());
}

TEST_F(TwoNodes, AChangeDecidedOnAStaleCopyIsAConflictAndLosesNothing) {
  ASSERT_TRUE(create(*a, "orders").ok());
  ASSERT_TRUE(rotate(*a, "orders").ok());
  ASSERT_TRUE(b->reload_keys("app1").ok());
  // A allows deletion; B, not yet told, raises the minimum from its copy.
  ASSERT_TRUE(configure(*a, "orders", KeyConfig{std::nullopt, true, std::nullopt}).ok());
  auto stale = configure(*b, "orders", KeyConfig{2u, std::nullopt, std::nullopt});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::kConflict);
  // A rotation from B's stale latest_version is refused too.
  ASSERT_TRUE(rotate(*a, "orders").ok());
  EXPECT_EQ(rotate(*b, "orders").error().code, Errc::kConflict);
  // Told (the feed's reload), B's retry lands, and A's change is still there.
  ASSERT_TRUE(b->reload_keys("app1").ok());
  ASSERT_TRUE(configure(*b, "orders", KeyConfig{2u, std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(a->reload_keys("app1").ok());
  auto info = a->key_info("app1", "orders");
  EXPECT_EQ(info->min_decryption_version, 2u);
  EXPECT_TRUE(info->deletion_allowed);
  EXPECT_EQ(info->latest_version, 3u);
}

}  // namespace
}  // namespace herald::kms
