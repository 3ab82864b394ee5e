// Frequency caps per user and UTC day: the app-wide and per-template counts, giving back,
// seeding at load, the day boundary and the counter bound.
#include "messages/daily_caps.h"

#include <gtest/gtest.h>

namespace herald::messages {
namespace {

constexpr std::int64_t kTenOClock = 1'795'428'000'000;  // 2026-11-23 10:00 UTC
constexpr std::int64_t kHour = 3'600'000;

TEST(DailyCaps, TheAppCapCountsEveryMessageOfTheUser) {
  DailyCaps caps;
  EXPECT_TRUE(caps.take("a", "u", "", 2, 0, kTenOClock));
  EXPECT_TRUE(caps.take("a", "u", "promo", 2, 0, kTenOClock));
  EXPECT_FALSE(caps.take("a", "u", "", 2, 0, kTenOClock));
  // Other users and apps have their own counts.
  EXPECT_TRUE(caps.take("a", "v", "", 2, 0, kTenOClock));
  EXPECT_TRUE(caps.take("b", "u", "", 2, 0, kTenOClock));
}

TEST(DailyCaps, TheTemplateCapCountsOnlyThatTemplateAndARefusalCountsNothing) {
  DailyCaps caps;
  EXPECT_TRUE(caps.take("a", "u", "promo", 0, 1, kTenOClock));
  EXPECT_FALSE(caps.take("a", "u", "promo", 0, 1, kTenOClock));
  EXPECT_TRUE(caps.take("a", "u", "receipt", 0, 1, kTenOClock));
  // Refused by the template cap: the app-wide count is not taken either.
  EXPECT_TRUE(caps.take("a", "w", "promo", 2, 1, kTenOClock));
  EXPECT_FALSE(caps.take("a", "w", "promo", 2, 1, kTenOClock));
  EXPECT_TRUE(caps.take("a", "w", "", 2, 0, kTenOClock));
  EXPECT_FALSE(caps.take("a", "w", "", 2, 0, kTenOClock));
}

TEST(DailyCaps, NoCapMeansNoLimit) {
  DailyCaps caps;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(caps.take("a", "u", "t", 0, 0, kTenOClock));
}

TEST(DailyCaps, GiveBackUndoesATake) {
  DailyCaps caps;
  ASSERT_TRUE(caps.take("a", "u", "t", 1, 1, kTenOClock));
  EXPECT_FALSE(caps.take("a", "u", "t", 1, 1, kTenOClock));
  caps.give_back("a", "u", "t", 1, 1);
  EXPECT_TRUE(caps.take("a", "u", "t", 1, 1, kTenOClock));
  // Never below zero.
  caps.give_back("a", "x", "t", 1, 1);
  caps.give_back("a", "x", "t", 1, 1);
  EXPECT_TRUE(caps.take("a", "x", "t", 1, 1, kTenOClock));
  EXPECT_FALSE(caps.take("a", "x", "t", 1, 1, kTenOClock));
}

TEST(DailyCaps, ANewUtcDayStartsFromZero) {
  DailyCaps caps;
  ASSERT_TRUE(caps.take("a", "u", "", 1, 0, kTenOClock));
  EXPECT_FALSE(caps.take("a", "u", "", 1, 0, kTenOClock + 13 * kHour));
  EXPECT_TRUE(caps.take("a", "u", "", 1, 0, kTenOClock + 14 * kHour));
}

TEST(DailyCaps, SeedRestoresTodaysCounts) {
  DailyCaps caps;
  caps.seed("a", "u", "", 2, kTenOClock);
  caps.seed("a", "u", "promo", 1, kTenOClock);
  EXPECT_FALSE(caps.take("a", "u", "", 2, 0, kTenOClock));
  EXPECT_FALSE(caps.take("a", "u", "promo", 0, 1, kTenOClock));
  EXPECT_TRUE(caps.take("a", "u", "receipt", 0, 1, kTenOClock));
  caps.clear();
  EXPECT_TRUE(caps.take("a", "u", "", 2, 0, kTenOClock));
}

TEST(DailyCaps, RetryAfterIsTheTimeToUtcMidnight) {
  EXPECT_EQ(DailyCaps::retry_after_s(kTenOClock), 14 * 3600);
  EXPECT_EQ(DailyCaps::retry_after_s(kTenOClock + 1), 14 * 3600);  // rounded up
  EXPECT_EQ(DailyCaps::retry_after_s(kTenOClock + 14 * kHour - 1), 1);
}

TEST(DailyCaps, AFullTableForgetsYesterdayThenRefuses) {
  DailyCaps caps(2);
  ASSERT_TRUE(caps.take("a", "u1", "", 5, 0, kTenOClock - 24 * kHour));
  ASSERT_TRUE(caps.take("a", "u2", "", 5, 0, kTenOClock - 24 * kHour));
  // Yesterday's counters make room.
  EXPECT_TRUE(caps.take("a", "u3", "", 5, 0, kTenOClock));
  EXPECT_TRUE(caps.take("a", "u4", "", 5, 0, kTenOClock));
  // Two of today's: full.
  EXPECT_FALSE(caps.take("a", "u5", "", 5, 0, kTenOClock));
}

}  // namespace
}  // namespace herald::messages
