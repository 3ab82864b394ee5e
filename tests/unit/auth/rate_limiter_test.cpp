#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

#include "core/config.h"

namespace herald::auth {
namespace {

TEST(RateLimiter, BurstThenSustainedRateWithRetryAfter) {
  auto rl = make_memory_rate_limiter(1000);
  int allowed = 0;
  for (int i = 0; i < 30; ++i) allowed += rl->take("app:a", 10, 20, 1000).allowed;
  EXPECT_EQ(allowed, 20);
  auto refused = rl->take("app:a", 10, 20, 1000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after_ms, 0);
  EXPECT_LE(refused.retry_after_ms, 101);
  EXPECT_TRUE(rl->take("app:a", 10, 20, 1100).allowed);  // 100 ms later: one token back
  EXPECT_FALSE(rl->take("app:a", 10, 20, 1100).allowed);
  EXPECT_TRUE(rl->take("app:b", 10, 20, 1100).allowed);  // keys are separate
}

TEST(RateLimiter, TheCountersAreChosenByConfig) {
  Config cfg;
  auto rl = make_rate_limiter(cfg);
  ASSERT_TRUE(rl.ok());
  EXPECT_TRUE((*rl)->take("app:a", 1, 1, 0).allowed);
  auto refused = (*rl)->take("app:a", 1, 1, 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after_ms, 0);
  cfg.api.rate_limit_store = "redis";
  auto unknown = make_rate_limiter(cfg);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kInvalidConfig);
}

}  // namespace
}  // namespace herald::auth
