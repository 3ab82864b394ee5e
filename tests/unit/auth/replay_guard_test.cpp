#include "auth/replay_guard.h"

#include <gtest/gtest.h>

#include <string>

#include "core/config.h"

namespace herald::auth {
namespace {

TEST(ReplayGuard, ANonceIsUsableOncePerAppUntilItExpires) {
  auto store = make_memory_nonce_store(1000, 600'000);
  EXPECT_TRUE(store->use("app1", "n1", 1000).ok());
  auto again = store->use("app1", "n1", 2000);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kNonceReplayed);
  EXPECT_TRUE(store->use("app2", "n1", 2000).ok());  // another app's nonce space
  EXPECT_FALSE(store->use("app1", "n1", 1000 + 599'999).ok());
  EXPECT_TRUE(store->use("app1", "n1", 1000 + 600'000).ok());  // expired, forgotten
}

TEST(ReplayGuard, MemoryIsBoundedAndFullMeansRefusedNotForgotten) {
  auto store = make_memory_nonce_store(16 * 4, 600'000);  // 4 per stripe
  int refused_full = 0;
  for (int i = 0; i < 200; ++i) {
    auto st = store->use("app", "nonce-" + std::to_string(i), 1000);
    if (!st.ok()) {
      EXPECT_EQ(st.error().code, Errc::kReplayGuardFull);
      ++refused_full;
    }
  }
  EXPECT_GT(refused_full, 0);
  EXPECT_LE(store->size(), 64u);
  // Every nonce that was accepted is still refused: nothing live was evicted.
  for (int i = 0; i < 200; ++i) {
    auto st = store->use("app", "nonce-" + std::to_string(i), 2000);
    EXPECT_FALSE(st.ok());
  }
  // Once they expire there is room again.
  EXPECT_TRUE(store->use("app", "fresh", 1000 + 600'000).ok());
}

TEST(ReplayGuard, TheNonceStoreIsChosenByConfigAndKeepsNoncesForTwiceTheWindow) {
  Config cfg;
  cfg.api.signature_window = Millis(1000);
  auto store = make_nonce_store(cfg);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->use("app", "n", 0).ok());
  EXPECT_FALSE((*store)->use("app", "n", 1999).ok());
  EXPECT_TRUE((*store)->use("app", "n", 2000).ok());
  cfg.api.nonce_store = "redis";
  auto unknown = make_nonce_store(cfg);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kInvalidConfig);
}

}  // namespace
}  // namespace herald::auth
