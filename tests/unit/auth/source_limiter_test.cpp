// Pre-authentication budgets per client address: a flood from one address is cut, its
// refusals cost it its budget, another address is unaffected, and memory stays bounded.
#include "auth/source_limiter.h"

#include <gtest/gtest.h>

namespace herald::auth {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

SourceLimiter::Options opts(double rate, double burst, double refusal_rate = 0, double refusal_burst = 0) {
  SourceLimiter::Options o;
  o.requests = {rate, burst};
  o.refusals = {refusal_rate, refusal_burst};
  o.operator_routes = {1, 3};
  return o;
}

TEST(SourceKey, IPv4AsItIsMappedAsIPv4AndIPv6ByItsSlash64) {
  EXPECT_EQ(source_key("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(source_key("::ffff:203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(source_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(source_key("2001:db8:1:2:bbbb::9"), source_key("2001:0db8:0001:0002::"));
  EXPECT_NE(source_key("2001:db8:1:3::1"), source_key("2001:db8:1:2::1"));
}

TEST(SourceLimiter, AFloodFromOneAddressIsCutAndAnotherAddressIsServed) {
  SourceLimiter l(opts(10, 20));
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += l.admit("198.51.100.1", false, kT0).allowed;
  EXPECT_EQ(allowed, 20);
  auto d = l.admit("198.51.100.1", false, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 100);
  EXPECT_TRUE(l.admit("198.51.100.2", false, kT0).allowed);
  EXPECT_TRUE(l.admit("198.51.100.1", false, kT0 + 100).allowed);  // refilled at 10/s
}

TEST(SourceLimiter, OneHostCannotMultiplyItsBudgetAcrossItsIPv6Slash64) {
  SourceLimiter l(opts(1, 5));
  int allowed = 0;
  for (int i = 0; i < 50; ++i) allowed += l.admit("2001:db8::" + std::to_string(i + 1), false, kT0).allowed;
  EXPECT_EQ(allowed, 5);
}

TEST(SourceLimiter, SpentRefusalsStopEvenRequestsThatWouldAuthenticate) {
  SourceLimiter l(opts(1000, 1000, 1, 3));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(l.admit("198.51.100.1", false, kT0).allowed);
    l.refused("198.51.100.1", kT0);
  }
  auto d = l.admit("198.51.100.1", false, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 1000);
  EXPECT_TRUE(l.admit("198.51.100.2", false, kT0).allowed);
  EXPECT_TRUE(l.admit("198.51.100.1", false, kT0 + 1000).allowed);
}

TEST(SourceLimiter, OperatorRoutesHaveTheirOwnSmallerBudget) {
  SourceLimiter l(opts(1000, 1000));
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += l.admit("198.51.100.1", true, kT0).allowed;
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(l.admit("198.51.100.1", false, kT0).allowed);  // other routes still served
}

TEST(SourceLimiter, TrackedSourcesStayBoundedAndTheExtraShareOneBudget) {
  auto o = opts(1, 2);
  o.max_sources = 64;  // 4 per shard
  SourceLimiter l(o);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i)
    allowed += l.admit("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), false, kT0).allowed;
  EXPECT_LE(l.tracked(), 64u);
  EXPECT_LT(allowed, 64 * 2 + 16 * 2 + 1);
  // Once their buckets are full again, idle sources make room for new ones.
  EXPECT_TRUE(l.admit("192.0.2.1", false, kT0 + 10'000).allowed);
}

}  // namespace
}  // namespace herald::auth
