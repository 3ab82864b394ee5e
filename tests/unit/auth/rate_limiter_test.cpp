#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace herald::auth
