// The message reads and slots several nodes need (store/message_records.h): the inbox
// scan's pending page with its per-app share, the pending check of the sweep, and the
// sequence slots, unique among live nodes (PostgreSQL; SQLite serves one node).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class MessageClusterTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(MessageClusterTables);

MessageRecord message(std::uint64_t seq, std::string app) {
  MessageRecord m;
  m.seq = seq;
  m.id = "msg_" + std::to_string(seq);
  m.app_id = std::move(app);
  m.user_index = "u" + std::to_string(seq % 2);
  m.created_ms = 10;
  m.expires_ms = 1'000'000;
  m.due_ms = 100;
  m.sealed = "sealed";
  return m;
}

Status insert(MessageRecords& r, MessageRecord m) {
  return wait_for([&](Completion d) { r.insert_message(std::move(m), std::move(d)); });
}

Status ack(MessageRecords& r, std::uint64_t seq) {
  MessageChange c;
  c.seq = seq;
  c.state = MessageState::acked;
  return wait_for([&](Completion d) { r.change_message(std::move(c), nullptr, std::move(d)); });
}

std::vector<std::uint64_t> seqs(const std::vector<PendingRef>& v) {
  std::vector<std::uint64_t> out;
  for (const auto& p : v) out.push_back(p.seq);
  return out;
}

using Seqs = std::vector<std::uint64_t>;

TEST_P(MessageClusterTables, PendingAfterIsAscendingBoundedAndSharedBetweenApps) {
  testing::TempStore t(GetParam());
  MessageRecords& r = t.db->messages();
  for (std::uint64_t s = 1; s <= 6; ++s) ASSERT_TRUE(insert(r, message(s, "busy")).ok());
  for (std::uint64_t s = 7; s <= 8; ++s) ASSERT_TRUE(insert(r, message(s, "quiet")).ok());
  ASSERT_TRUE(ack(r, 2).ok());
  EXPECT_EQ(seqs(r.pending_after(0, 100, 100).value()), (Seqs{1, 3, 4, 5, 6, 7, 8}));
  // At most 3 of one app: the quiet app's messages come in the same page.
  auto page = r.pending_after(0, 100, 3).value();
  EXPECT_EQ(seqs(page), (Seqs{1, 3, 4, 7, 8}));
  EXPECT_EQ(page[3].app_id, "quiet");
  EXPECT_EQ(page[3].user_index, "u1");
  EXPECT_EQ(seqs(r.pending_after(4, 2, 100).value()), (Seqs{5, 6}));
  EXPECT_TRUE(r.pending_after(8, 10, 10).value().empty());
}

TEST_P(MessageClusterTables, StillPendingLeavesOutAcknowledgedAndMissingMessages) {
  testing::TempStore t(GetParam());
  MessageRecords& r = t.db->messages();
  for (std::uint64_t s = 1; s <= 4; ++s) ASSERT_TRUE(insert(r, message(s, "a")).ok());
  ASSERT_TRUE(ack(r, 3).ok());
  auto p = r.still_pending({4, 3, 2, 1, 99}).value();
  std::sort(p.begin(), p.end());
  EXPECT_EQ(p, (Seqs{1, 2, 4}));
  EXPECT_TRUE(r.still_pending({}).value().empty());
}

TEST_P(MessageClusterTables, SeqSlotsAreUniqueAmongLiveNodes) {
  testing::TempStore t(GetParam());
  MessageRecords& r = t.db->messages();
  auto first = r.claim_seq_slot("a/1", 1024, 30'000);
  ASSERT_TRUE(first.ok());
  if (GetParam() == "sqlite") {
    EXPECT_FALSE(first->has_value());  // one node: a plain counter
    return;
  }
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->slot, 0u);
  ASSERT_TRUE(insert(r, message(5000, "a")).ok());
  // Another node on the same database: the next slot, above every stored number.
  auto other = t.open_another();
  auto second = other->messages().claim_seq_slot("b/1", 1024, 30'000).value();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->slot, 1u);
  EXPECT_GE(second->above, 5000u);
  // Only the holder renews.
  EXPECT_TRUE(r.renew_seq_slot(0, "a/1", 30'000, 9000).value());
  EXPECT_FALSE(r.renew_seq_slot(0, "b/1", 30'000, 9000).value());
  // Released: the next node takes it, above what its holder recorded.
  ASSERT_TRUE(r.release_seq_slot(0, "a/1", 12'000).ok());
  auto third = r.claim_seq_slot("c/1", 1024, 30'000).value();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->slot, 0u);
  EXPECT_GE(third->above, 12'000u);
  EXPECT_FALSE(r.renew_seq_slot(0, "a/1", 30'000, 0).value());  // a's lease is gone
  // A lease that ran out (a node died): its slot is taken again.
  auto short_lived = r.claim_seq_slot("d/1", 1024, 1).value();
  ASSERT_TRUE(short_lived.has_value());
  EXPECT_EQ(short_lived->slot, 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(r.claim_seq_slot("e/1", 1024, 30'000).value()->slot, 2u);
  // Every slot leased: refused.
  auto none = r.claim_seq_slot("f/1", 3, 30'000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kStoreError);
}

// Slots are PostgreSQL's (SQLite serves one node and numbers with a counter): store
// instances claiming at once, as nodes starting together do.
TEST(PostgresMessageClusterTables, NodesClaimingAtOnceGetDifferentSlots) {
  testing::TempStore t("postgres");
  constexpr int kNodes = 12;
  std::vector<std::unique_ptr<Store>> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(t.open_another());
  std::vector<std::uint32_t> got(kNodes, 9999);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i)
    threads.emplace_back([&, i] {
      auto s = nodes[i]->messages().claim_seq_slot("n/" + std::to_string(i), 1024, 30'000);
      if (s.ok() && s->has_value()) got[i] = (*s)->slot;
    });
  for (auto& th : threads) th.join();
  std::set<std::uint32_t> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kNodes));
  EXPECT_FALSE(distinct.count(9999));
}

}  // namespace
}  // namespace herald::store
