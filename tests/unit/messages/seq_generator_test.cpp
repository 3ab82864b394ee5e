// Message sequence numbers: the bit layout and its budget, strictly increasing under a
// clock that steps back or a counter that fills, slots that never meet, the lease.
#include "messages/seq_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace herald::messages {
namespace {

constexpr std::int64_t kNow = 1'795'428'000'000;  // 2026-11-22
constexpr std::int64_t kFar = kNow + 3'600'000;

TEST(SeqGenerator, LayoutIsTimeThenSlotThenCounter) {
  const std::uint64_t s = SeqGenerator::compose(SeqGenerator::kEpochMs + 5, 3, 7);
  EXPECT_EQ(s, (std::uint64_t{5} << 22) | (std::uint64_t{3} << 12) | 7u);
  EXPECT_EQ(SeqGenerator::slot_of(s), 3u);
  EXPECT_EQ(SeqGenerator::unix_ms_of(s), SeqGenerator::kEpochMs + 5);
  EXPECT_EQ(SeqGenerator::kSlots, 1024u);
  EXPECT_EQ(SeqGenerator::kCounterMax, 4095u);
  // A later ms is a larger number whatever the slot and counter.
  EXPECT_LT(SeqGenerator::compose(kNow, 1023, 4095), SeqGenerator::compose(kNow + 1, 0, 0));
}

TEST(SeqGenerator, TheBitBudgetLastsUntil2095AndStaysBelowTwoToThe63) {
  const std::uint64_t last = SeqGenerator::compose(SeqGenerator::kEpochMs + SeqGenerator::kMaxMs, 1023, 4095);
  EXPECT_LT(last, std::uint64_t{1} << 63);
  constexpr std::int64_t kYearMs = 31'557'600'000;  // 365.25 days
  EXPECT_GE(SeqGenerator::kMaxMs / kYearMs, 69);
  // Numbers from SQLite's counter (copied by herald store migrate) are far below the
  // first number of the first ms of 2026.
  EXPECT_GT(SeqGenerator::floor_at(SeqGenerator::kEpochMs + 1), std::uint64_t{1} << 21);
  EXPECT_GT(SeqGenerator::floor_at(kNow), std::uint64_t{1} << 50);
}

TEST(SeqGenerator, StrictlyIncreasingWhenTheClockStepsBack) {
  SeqGenerator g;
  g.use_slot(5, 0, kFar);
  auto a = g.next(kNow).value();
  auto b = g.next(kNow - 60'000).value();  // an NTP step back of a minute
  auto c = g.next(kNow - 60'000).value();
  auto d = g.next(kNow + 1).value();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  for (auto s : {a, b, c, d}) EXPECT_EQ(SeqGenerator::slot_of(s), 5u);
  EXPECT_EQ(SeqGenerator::unix_ms_of(a), kNow);
  EXPECT_EQ(SeqGenerator::unix_ms_of(c), kNow);  // held at the last ms until the clock catches up
  EXPECT_EQ(SeqGenerator::unix_ms_of(d), kNow + 1);
}

TEST(SeqGenerator, AFullCounterBorrowsTheNextMs) {
  SeqGenerator g;
  g.use_slot(9, 0, kFar);
  std::uint64_t prev = 0;
  for (int i = 0; i < 4096; ++i) {
    auto s = g.next(kNow).value();
    ASSERT_GT(s, prev);
    prev = s;
    ASSERT_EQ(SeqGenerator::unix_ms_of(s), kNow);
  }
  EXPECT_EQ(prev & SeqGenerator::kCounterMax, 4095u);
  auto borrowed = g.next(kNow).value();
  EXPECT_EQ(SeqGenerator::unix_ms_of(borrowed), kNow + 1);
  EXPECT_EQ(borrowed & SeqGenerator::kCounterMax, 0u);
  EXPECT_EQ(SeqGenerator::slot_of(borrowed), 9u);
  // The clock reaching the borrowed ms does not hand it out again.
  EXPECT_GT(g.next(kNow + 1).value(), borrowed);
}

TEST(SeqGenerator, NodesInDifferentSlotsNeverHandOutTheSameNumber) {
  SeqGenerator a, b;
  a.use_slot(0, 0, kFar);
  b.use_slot(1023, 0, kFar);
  std::set<std::uint64_t> all;
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t t = kNow + i / 7;  // both at the same ms, many per ms
    ASSERT_TRUE(all.insert(a.next(t).value()).second);
    ASSERT_TRUE(all.insert(b.next(t).value()).second);
  }
  EXPECT_EQ(all.size(), 40'000u);
}

TEST(SeqGenerator, StartsAboveWhatWasStoredOrRecorded) {
  // A number of another slot at a later ms (a node whose clock is ahead), and a small one
  // from SQLite: the slot's numbers start above both.
  const std::uint64_t ahead = SeqGenerator::compose(kNow + 5'000, 700, 12);
  SeqGenerator g;
  g.use_slot(3, ahead, kFar);
  auto s = g.next(kNow).value();
  EXPECT_GT(s, ahead);
  EXPECT_EQ(SeqGenerator::slot_of(s), 3u);
  EXPECT_EQ(SeqGenerator::unix_ms_of(s), kNow + 5'001);

  SeqGenerator h;
  h.use_slot(0, 42, kFar);
  EXPECT_EQ(h.next(kNow).value(), SeqGenerator::compose(kNow, 0, 0));
}

TEST(SeqGenerator, RefusesOnceTheLeaseRanOutUntilRenewed) {
  SeqGenerator g;
  g.use_slot(2, 0, kNow + 1000);
  EXPECT_TRUE(g.next(kNow + 999).ok());
  auto late = g.next(kNow + 1000);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kStoreUnavailable);
  g.extend(kNow + 5000);
  EXPECT_TRUE(g.next(kNow + 1000).ok());
  g.drop();
  EXPECT_FALSE(g.next(kNow + 1001).ok());
  EXPECT_FALSE(g.slot().has_value());
}

TEST(SeqGenerator, OneNodeCountsFromTheNextNumber) {
  SeqGenerator g;
  g.use_counter(10);
  EXPECT_EQ(g.next(kNow).value(), 10u);
  EXPECT_EQ(g.next(kNow - 1'000'000).value(), 11u);
  EXPECT_EQ(g.last(), 11u);
  EXPECT_FALSE(g.slot().has_value());
}

}  // namespace
}  // namespace herald::messages
