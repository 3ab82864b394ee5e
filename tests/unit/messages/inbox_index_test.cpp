// The in-memory inbox index: per-user ascending sequences, pages, removal, the gauge.
#include "messages/inbox_index.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"

namespace herald::messages {
namespace {

using Seqs = std::vector<std::uint64_t>;

TEST(InboxIndex, KeepsEachUsersSequencesAscendingWhateverTheOrderOfAdds) {
  InboxIndex index;
  for (std::uint64_t s : {5, 1, 9, 3, 7}) index.add("app1", "u1", s);
  index.add("app1", "u2", 4);
  index.add("app2", "u1", 2);
  EXPECT_EQ(index.page("app1", "u1", 0, 10), (Seqs{1, 3, 5, 7, 9}));
  EXPECT_EQ(index.page("app1", "u2", 0, 10), (Seqs{4}));
  EXPECT_EQ(index.page("app2", "u1", 0, 10), (Seqs{2}));
  EXPECT_EQ(index.page("app1", "nobody", 0, 10), Seqs{});
  EXPECT_EQ(index.size(), 7u);
}

TEST(InboxIndex, PagesStartAfterTheCursorAndStopAtTheLimit) {
  InboxIndex index;
  for (std::uint64_t s = 1; s <= 10; ++s) index.add("a", "u", s * 10);
  EXPECT_EQ(index.page("a", "u", 0, 3), (Seqs{10, 20, 30}));
  EXPECT_EQ(index.page("a", "u", 30, 3), (Seqs{40, 50, 60}));
  EXPECT_EQ(index.page("a", "u", 35, 2), (Seqs{40, 50}));
  EXPECT_EQ(index.page("a", "u", 90, 3), (Seqs{100}));
  EXPECT_EQ(index.page("a", "u", 100, 3), Seqs{});
}

TEST(InboxIndex, RemoveTakesOnlyWhatIsThere) {
  InboxIndex index;
  index.add("a", "u", 1);
  index.add("a", "u", 2);
  EXPECT_TRUE(index.remove("a", "u", 1));
  EXPECT_FALSE(index.remove("a", "u", 1));
  EXPECT_FALSE(index.remove("a", "other", 2));
  EXPECT_FALSE(index.remove("b", "u", 2));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.remove("a", "u", 2));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.page("a", "u", 0, 10), Seqs{});
}

TEST(InboxIndex, ResetRebuildsFromTheStoresPendingRowsAndTheGaugeFollows) {
  metrics::Registry registry;
  auto* gauge = &registry.gauge("test_pending", "pending").with({});
  InboxIndex index(gauge);
  index.add("a", "stale", 1);
  index.reset({{2, "a", "u"}, {5, "a", "u"}, {3, "b", "v"}});
  EXPECT_EQ(index.page("a", "stale", 0, 10), Seqs{});
  EXPECT_EQ(index.page("a", "u", 0, 10), (Seqs{2, 5}));
  EXPECT_EQ(index.size(), 3u);
  EXPECT_NE(registry.render().find("test_pending 3"), std::string::npos) << registry.render();
  index.remove("a", "u", 2);
  EXPECT_NE(registry.render().find("test_pending 2"), std::string::npos) << registry.render();
  index.clear();
  EXPECT_EQ(index.size(), 0u);
}

TEST(InboxIndex, ConcurrentAddsAndRemovesKeepTheCount) {
  InboxIndex index;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      // A sequence number is one message's: each user's are their own.
      const std::uint64_t base = 10'000 * static_cast<std::uint64_t>(t);
      for (std::uint64_t i = 0; i < 1000; ++i) index.add("a", "u" + std::to_string(t), base + i);
      for (std::uint64_t i = 0; i < 1000; i += 2) index.remove("a", "u" + std::to_string(t), base + i);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(index.size(), 4u * 500);
  EXPECT_EQ(index.page("a", "u2", 0, 3), (Seqs{20'001, 20'003, 20'005}));
}

TEST(InboxIndex, AddingTwiceKeepsOneEntry) {
  InboxIndex index;
  EXPECT_TRUE(index.add("a", "u", 7));
  EXPECT_FALSE(index.add("a", "u", 7));  // found again by the cluster scan
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.app_size("a"), 1u);
  EXPECT_EQ(index.page("a", "u", 0, 10), Seqs{7});
  EXPECT_TRUE(index.contains(7));
}

TEST(InboxIndex, EntriesAreFoundAndRemovedBySequenceAlone) {
  InboxIndex index;
  index.add("a", "u1", 30);
  index.add("b", "u2", 10);
  index.add("a", "u3", 20);
  EXPECT_EQ(index.seqs_after(0, 10), (Seqs{10, 20, 30}));
  EXPECT_EQ(index.seqs_after(10, 1), Seqs{20});
  EXPECT_TRUE(index.remove(std::uint64_t{20}));
  EXPECT_FALSE(index.remove(std::uint64_t{20}));
  EXPECT_FALSE(index.contains(20));
  EXPECT_EQ(index.app_size("a"), 1u);
  EXPECT_EQ(index.page("a", "u3", 0, 10), Seqs{});
  EXPECT_TRUE(index.remove("b", "u2", 10));
  EXPECT_EQ(index.seqs_after(0, 10), Seqs{30});
  EXPECT_EQ(index.size(), 1u);
  index.reset({store::PendingRef{5, "a", "u"}, store::PendingRef{6, "a", "u"}});
  EXPECT_EQ(index.seqs_after(0, 10), (Seqs{5, 6}));
}

}  // namespace
}  // namespace herald::messages
