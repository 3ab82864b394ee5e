// The nonce stores: once per app while live, per-app quotas that keep one app from
// filling the store for others (S1), and the durable store that survives a restart (S2).
#include "auth/replay_guard.h"

#include <gtest/gtest.h>

#include <string>

#include "../store/store_fixture.h"
#include "auth/keyed_hash.h"
#include "core/config.h"
#include "store/store.h"

namespace herald::auth {
namespace {

constexpr std::size_t kNoQuota = 1'000'000;

NonceUse nonce(std::string_view app, std::string_view n, std::int64_t expires_ms, std::size_t quota = kNoQuota) {
  return NonceUse{app, n, expires_ms, quota};
}

TEST(ReplayGuard, ANonceIsUsableOncePerAppUntilItExpires) {
  auto store = make_memory_nonce_store(1000);
  EXPECT_FALSE(store->seen("app1", "n1", 1000));
  EXPECT_TRUE(store->use(nonce("app1", "n1", 601'000), 1000).ok());
  EXPECT_TRUE(store->seen("app1", "n1", 2000));
  auto again = store->use(nonce("app1", "n1", 601'000), 2000);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kNonceReplayed);
  EXPECT_TRUE(store->use(nonce("app2", "n1", 601'000), 2000).ok());  // another app's nonce space
  EXPECT_FALSE(store->use(nonce("app1", "n1", 601'000), 600'999).ok());
  EXPECT_FALSE(store->seen("app1", "n1", 601'000));
  EXPECT_TRUE(store->use(nonce("app1", "n1", 1'201'000), 601'000).ok());  // expired, forgotten
}

TEST(ReplayGuard, AnAppAtItsQuotaIsRefusedAndNothingLiveIsForgotten) {
  auto store = make_memory_nonce_store(100'000);
  int refused_full = 0;
  for (int i = 0; i < 200; ++i) {
    auto st = store->use(nonce("app", "nonce-" + std::to_string(i), 600'000, 64), 1000);
    if (!st.ok()) {
      EXPECT_EQ(st.error().code, Errc::kReplayGuardFull);
      ++refused_full;
    }
  }
  EXPECT_EQ(refused_full, 200 - 64);
  EXPECT_EQ(store->size(), 64u);
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(store->use(nonce("app", "nonce-" + std::to_string(i), 600'000, 64), 2000).error().code,
              Errc::kNonceReplayed);
  EXPECT_TRUE(store->use(nonce("app", "fresh", 1'200'000, 64), 600'000).ok());  // expired: room again
}

// S1: app A floods fresh nonces until the whole store is full; app B still gets in,
// and A is refused only for itself.
TEST(ReplayGuard, OneAppFillingTheStoreNeverRefusesAnother) {
  auto store = make_memory_nonce_store(1000);
  int a_accepted = 0;
  for (int i = 0; i < 5000; ++i)
    if (store->use(nonce("app-a", "a-" + std::to_string(i), 600'000), 1000).ok()) ++a_accepted;
  EXPECT_EQ(a_accepted, 1000);  // the whole store, while A is the only app in it
  auto refused = store->use(nonce("app-a", "a-more", 600'000), 1000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kReplayGuardFull);
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(store->use(nonce("app-b", "b-" + std::to_string(i), 600'000), 1000).ok()) << i;
  // A holds more than an equal share of a full store: still refused.
  EXPECT_FALSE(store->use(nonce("app-a", "a-again", 600'000), 1000).ok());
}

TEST(ReplayGuard, TheQuotaFollowsTheAppsRateLimitAndTheWindow) {
  Config cfg;
  cfg.api.signature_window = Millis(300'000);
  cfg.api.replay_max_nonces = 1'000'000;
  cfg.api.replay_max_nonces_per_app = 5000;
  EXPECT_EQ(nonce_quota(cfg, 0), 5000u);             // no rate limit: the configured share
  EXPECT_EQ(nonce_quota(cfg, 10), 10u * 603);        // burst 2·rate + rate·(2·300 + 1) s
  EXPECT_EQ(nonce_quota(cfg, 100'000), 1'000'000u);  // never more than the store
}

TEST(ReplayGuard, StripesAndBucketsUseAKeyedHash) {
  // SipHash-2-4 reference vector (key 00..0f, message 00..0e).
  std::string msg;
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(siphash24(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, ""), 0x726fdb47dd0e0e31ULL);
  // The process key is random: not the unkeyed std::hash an attacker can grind against.
  EXPECT_NE(keyed_hash("app\x1fnonce"), std::hash<std::string>{}("app\x1fnonce"));
  EXPECT_NE(keyed_hash("app\x1fnonce"), siphash24(0, 0, "app\x1fnonce"));
}

TEST(ReplayGuard, TheNonceStoreIsChosenByConfig) {
  Config cfg;
  cfg.api.nonce_store = "memory";
  auto store = make_nonce_store(cfg, nullptr, 0);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->use(nonce("app", "n", 2000), 0).ok());
  cfg.api.nonce_store = "store";
  auto needs_records = make_nonce_store(cfg, nullptr, 0);
  ASSERT_FALSE(needs_records.ok());
  EXPECT_EQ(needs_records.error().code, Errc::kInvalidConfig);
  cfg.api.nonce_store = "redis";
  auto unknown = make_nonce_store(cfg, nullptr, 0);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kInvalidConfig);
}

// S2: the durable store writes every nonce through the store; a store opened again
// (a restarted server) refuses the replay and forgets expired nonces.
TEST(ReplayGuard, TheDurableStoreRemembersNoncesAcrossARestart) {
  store::testing::TempStore t;
  {
    auto guard = make_durable_nonce_store(1000, t.db->nonces(), 1000);
    ASSERT_TRUE(guard.ok());
    EXPECT_TRUE((*guard)->use(nonce("app", "captured", 301'000), 1000).ok());
    EXPECT_TRUE((*guard)->use(nonce("app", "short-lived", 5000), 1000).ok());
  }
  t.reopen();  // a clean stop finishes every queued write
  auto guard = make_durable_nonce_store(1000, t.db->nonces(), 6000);
  ASSERT_TRUE(guard.ok());
  EXPECT_TRUE((*guard)->seen("app", "captured", 6000));
  auto replay = (*guard)->use(nonce("app", "captured", 301'000), 6000);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::kNonceReplayed);
  EXPECT_FALSE((*guard)->seen("app", "short-lived", 6000));  // expired before the restart
  EXPECT_EQ((*guard)->size(), 1u);
  auto rows = t.db->nonces().load_nonces(301'000);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

}  // namespace
}  // namespace herald::auth
