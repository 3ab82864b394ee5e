#include "otp/limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace herald::otp {
namespace {

constexpr std::int64_t kDay = 86'400'000;
// 2026-11-23 10:00:00 UTC
constexpr std::int64_t kNow = 1'795'428'000'000;

LimitCheck per_day(std::string key, std::uint64_t max) {
  return LimitCheck{Limit::Recipient, std::move(key), max, kDay, true};
}

TEST(LimitCounters, CountsUpToTheLimitThenRefusesUntilTheUtcDayEnds) {
  auto c = make_memory_limit_counters(100);
  std::vector<LimitCheck> checks{per_day("r:a:x", 3)};
  for (int i = 0; i < 3; ++i) {
    auto r = c->take(checks, kNow + i);
    ASSERT_TRUE(std::holds_alternative<std::vector<store::OtpCounterRecord>>(r));
    EXPECT_EQ(std::get<0>(r)[0].count, static_cast<std::uint64_t>(i + 1));
  }
  auto refused = c->take(checks, kNow + 10);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(refused));
  EXPECT_EQ(std::get<LimitRefusal>(refused).limit, Limit::Recipient);
  // 14 hours to midnight UTC.
  EXPECT_EQ(std::get<LimitRefusal>(refused).retry_after_s, 14 * 3600);
  std::int64_t midnight = kNow - kNow % kDay + kDay;
  EXPECT_TRUE(std::holds_alternative<LimitRefusal>(c->take(checks, midnight - 1)));
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(checks, midnight)));
}

TEST(LimitCounters, ACooldownWindowStartsAtTheEvent) {
  auto c = make_memory_limit_counters(100);
  std::vector<LimitCheck> checks{LimitCheck{Limit::Cooldown, "c:a:x", 1, 60'000, false}};
  ASSERT_FALSE(std::holds_alternative<LimitRefusal>(c->take(checks, kNow + 123)));
  auto r = c->take(checks, kNow + 123 + 59'001);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(r));
  EXPECT_EQ(std::get<LimitRefusal>(r).limit, Limit::Cooldown);
  EXPECT_EQ(std::get<LimitRefusal>(r).retry_after_s, 1);
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(checks, kNow + 123 + 60'000)));
}

TEST(LimitCounters, ARefusalCountsAgainstNoOtherLimit) {
  auto c = make_memory_limit_counters(100);
  ASSERT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("full", 1)}, kNow)));
  // "other" comes first and has room, "full" does not: nothing may be counted on "other".
  std::vector<LimitCheck> both{per_day("other", 1), per_day("full", 1)};
  auto r = c->take(both, kNow);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(r));
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("other", 1)}, kNow)));
}

TEST(LimitCounters, TheFirstFullCheckInOrderIsNamed) {
  auto c = make_memory_limit_counters(100);
  std::vector<LimitCheck> checks{LimitCheck{Limit::App, "a", 1, 60'000, true},
                                 LimitCheck{Limit::Ip, "i", 1, 3'600'000, true}};
  ASSERT_FALSE(std::holds_alternative<LimitRefusal>(c->take(checks, kNow)));
  auto r = c->take(checks, kNow);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(r));
  EXPECT_EQ(std::get<LimitRefusal>(r).limit, Limit::App);
  EXPECT_EQ(limit_error_code(Limit::App), Errc::kOtpAppLimit);
}

TEST(LimitCounters, NewCountersBeyondTheBoundAreRefusedAndPurgeFreesRoom) {
  auto c = make_memory_limit_counters(2);
  ASSERT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("k1", 5)}, kNow)));
  ASSERT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("k2", 5)}, kNow)));
  auto r = c->take(std::vector{per_day("k3", 5)}, kNow);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(r));
  EXPECT_EQ(std::get<LimitRefusal>(r).limit, Limit::Capacity);
  // Existing counters still count.
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("k1", 5)}, kNow)));
  EXPECT_EQ(c->purge(kNow + kDay), 2u);
  EXPECT_EQ(c->size(), 0u);
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("k3", 5)}, kNow + kDay)));
}

TEST(LimitCounters, RestoredCountersKeepCounting) {
  auto c = make_memory_limit_counters(100);
  std::int64_t start = kNow - kNow % kDay;
  c->restore({store::OtpCounterRecord{"r", start, 2, start + kDay}, store::OtpCounterRecord{"old", 0, 9, 1}}, kNow);
  EXPECT_EQ(c->size(), 1u);
  EXPECT_FALSE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("r", 3)}, kNow)));
  EXPECT_TRUE(std::holds_alternative<LimitRefusal>(c->take(std::vector{per_day("r", 3)}, kNow)));
}

TEST(LimitCounters, ConcurrentTakesNeverExceedTheLimit) {
  auto c = make_memory_limit_counters(1000);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        std::vector<LimitCheck> checks{LimitCheck{Limit::App, "app", 300, 60'000, true},
                                       per_day("r" + std::to_string((t * 500 + i) % 7), 1000)};
        if (!std::holds_alternative<LimitRefusal>(c->take(checks, kNow))) ++allowed;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 300);
}

}  // namespace
}  // namespace herald::otp
