// Leases on due work through store::MessageRecords (docs/cluster.md#leases), against both
// drivers: claims split the due rows between claimers, a lease keeps a row from other
// claims until it runs out (then it is taken over), and a holder that lost its lease
// cannot write its late result over the new holder's.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class MessageLeases : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(MessageLeases);

MessageRecord message(std::uint64_t seq, std::int64_t due_ms) {
  MessageRecord m;
  m.seq = seq;
  m.id = "msg_" + std::to_string(seq);
  m.app_id = "app";
  m.user_index = "u1";
  m.created_ms = 1;
  m.expires_ms = 1'000'000;
  m.due_ms = due_ms;
  m.sealed = "sealed-" + std::to_string(seq);
  return m;
}

Status insert(MessageRecords& r, MessageRecord m) {
  return wait_for([&](Completion d) { r.insert_message(std::move(m), std::move(d)); });
}

Status put_job(MessageRecords& r, WebhookJobRecord j) {
  return wait_for([&](Completion d) { r.put_webhook_job(std::move(j), {}, std::move(d)); });
}

template <class T>
std::set<std::uint64_t> seqs(const Claimed<T>& c) {
  std::set<std::uint64_t> out;
  for (const auto& r : c.rows) out.insert(r.seq);
  return out;
}

// The step a lease holder writes: the next step, due later, with its event.
MessageChange step_under(const std::string& owner, int at, std::uint64_t seq, std::int64_t due_ms) {
  MessageChange c;
  c.seq = seq;
  c.step = at + 1;
  c.due_ms = due_ms;
  c.lease = LeaseHolder{owner, at};
  c.events.push_back(MessageEventRecord{seq, due_ms, "failed", "sms", owner, -1});
  return c;
}

bool change(MessageRecords& r, MessageChange c) {
  auto applied = std::make_shared<bool>(false);
  EXPECT_TRUE(wait_for([&](Completion d) { r.change_message(std::move(c), applied, std::move(d)); }).ok());
  return *applied;
}

bool settle(MessageRecords& r, WebhookJobRecord j, LeaseHolder held, std::string event) {
  auto applied = std::make_shared<bool>(false);
  std::vector<MessageEventRecord> ev{MessageEventRecord{j.seq, j.updated_ms, std::move(event), "webhook", "", -1}};
  EXPECT_TRUE(wait_for([&](Completion d) {
                r.settle_webhook_job(std::move(j), std::move(held), std::move(ev), applied, std::move(d));
              }).ok());
  return *applied;
}

TEST_P(MessageLeases, EachDueMessageGoesToExactlyOneClaimer) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  for (std::uint64_t seq = 1; seq <= 20; ++seq) ASSERT_TRUE(insert(msgs, message(seq, 100 + seq)).ok());
  ASSERT_TRUE(insert(msgs, message(21, 5000)).ok());  // not due

  auto a = msgs.claim_due_messages(1000, 7, "node-a/1", 2000).value();
  auto b = msgs.claim_due_messages(1000, 100, "node-b/2", 2000).value();
  ASSERT_EQ(a.rows.size(), 7u);
  ASSERT_EQ(b.rows.size(), 13u);
  EXPECT_EQ(a.takeovers + b.takeovers, 0u);
  // Earliest first, and none twice.
  EXPECT_EQ(a.rows.front().seq, 1u);
  EXPECT_TRUE(
      std::is_sorted(a.rows.begin(), a.rows.end(), [](const auto& x, const auto& y) { return x.due_ms < y.due_ms; }));
  auto sa = seqs(a), sb = seqs(b);
  for (auto s : sa) EXPECT_EQ(sb.count(s), 0u) << s;
  EXPECT_EQ(sa.size() + sb.size(), 20u);
  EXPECT_EQ(a.rows.front().sealed, "sealed-1");
  // Everything due is leased: nobody, not even a holder, claims it again meanwhile.
  EXPECT_TRUE(msgs.claim_due_messages(1500, 100, "node-a/1", 2500).value().rows.empty());
  EXPECT_TRUE(msgs.claim_due_messages(1999, 100, "node-c/3", 2999).value().rows.empty());
}

TEST_P(MessageLeases, ALeaseThatRunsOutIsTakenOverAndAReleasedOneIsNot) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(insert(msgs, message(1, 100)).ok());
  ASSERT_TRUE(insert(msgs, message(2, 100)).ok());
  auto a = msgs.claim_due_messages(1000, 10, "node-a/1", 2000).value();
  ASSERT_EQ(a.rows.size(), 2u);
  // Node A finishes message 2 (its write releases the lease) and dies holding message 1.
  EXPECT_TRUE(change(msgs, step_under("node-a/1", 0, 2, 1500)));

  auto early = msgs.claim_due_messages(1600, 10, "node-b/2", 2600).value();
  ASSERT_EQ(early.rows.size(), 1u);
  EXPECT_EQ(early.rows[0].seq, 2u);
  EXPECT_EQ(early.rows[0].step, 1);
  EXPECT_EQ(early.takeovers, 0u) << "a released lease is not a takeover";

  auto late = msgs.claim_due_messages(2000, 10, "node-b/2", 3000).value();
  ASSERT_EQ(late.rows.size(), 1u);
  EXPECT_EQ(late.rows[0].seq, 1u);
  EXPECT_EQ(late.takeovers, 1u);
}

TEST_P(MessageLeases, AStaleHoldersWriteAfterATakeoverIsNotApplied) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(insert(msgs, message(1, 100)).ok());
  ASSERT_EQ(msgs.claim_due_messages(1000, 10, "node-a/1", 2000).value().rows.size(), 1u);
  // A overruns its lease; B takes the message over and moves it on.
  ASSERT_EQ(msgs.claim_due_messages(2000, 10, "node-b/2", 3000).value().takeovers, 1u);
  EXPECT_FALSE(change(msgs, step_under("node-a/1", 0, 1, 2100))) << "A no longer holds the lease";
  EXPECT_TRUE(change(msgs, step_under("node-b/2", 0, 1, 2200)));
  // A claims the message again at its next step; its late write of the first step still
  // does not apply (the step moved on).
  auto again = msgs.claim_due_messages(2200, 10, "node-a/1", 3200).value();
  ASSERT_EQ(again.rows.size(), 1u);
  EXPECT_FALSE(change(msgs, step_under("node-a/1", 0, 1, 2300)));
  // An expiry under a lease the holder lost is refused too.
  MessageChange expire;
  expire.seq = 1;
  expire.state = MessageState::expired;
  expire.lease = LeaseHolder{"node-b/2", 1};
  EXPECT_FALSE(change(msgs, expire));

  auto m = msgs.message(1).value().value();
  EXPECT_EQ(m.step, 1);
  EXPECT_EQ(m.due_ms, 2200);
  EXPECT_EQ(m.state, MessageState::pending);
  auto events = msgs.message_events(1, 10).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].detail, "node-b/2");
}

TEST_P(MessageLeases, AnAckAppliesUnderALeaseAndTheHoldersStepIsThenRefused) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(insert(msgs, message(1, 100)).ok());
  ASSERT_EQ(msgs.claim_due_messages(1000, 10, "node-a/1", 2000).value().rows.size(), 1u);
  MessageChange ack;
  ack.seq = 1;
  ack.state = MessageState::acked;
  ack.due_ms = 9000;
  EXPECT_TRUE(change(msgs, ack));
  EXPECT_FALSE(change(msgs, step_under("node-a/1", 0, 1, 1500)));
  EXPECT_EQ(msgs.message(1).value()->state, MessageState::acked);
  // The ack released the lease: the row's claim for its purge is not a takeover.
  auto purge = msgs.claim_due_messages(9000, 10, "node-b/2", 9999).value();
  ASSERT_EQ(purge.rows.size(), 1u);
  EXPECT_EQ(purge.takeovers, 0u);
}

TEST_P(MessageLeases, WebhookAttemptsAreClaimedOnceAndSettledOnlyByTheirHolder) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  for (std::uint64_t seq : {1u, 2u, 3u}) ASSERT_TRUE(insert(msgs, message(seq, 100)).ok());
  ASSERT_TRUE(put_job(msgs, WebhookJobRecord{1, "app", 0, 100, WebhookJobState::pending, "", 10}).ok());
  ASSERT_TRUE(put_job(msgs, WebhookJobRecord{2, "app", 0, 100, WebhookJobState::pending, "", 10}).ok());
  ASSERT_TRUE(put_job(msgs, WebhookJobRecord{3, "app", 8, 100, WebhookJobState::dead, "http 500", 10}).ok());

  auto a = msgs.claim_due_webhook_jobs(1000, 1, "node-a/1", 2000).value();
  auto b = msgs.claim_due_webhook_jobs(1000, 10, "node-b/2", 2000).value();
  ASSERT_EQ(a.rows.size(), 1u);
  ASSERT_EQ(b.rows.size(), 1u);
  EXPECT_NE(a.rows[0].seq, b.rows[0].seq);
  EXPECT_TRUE(msgs.claim_due_webhook_jobs(1500, 10, "node-c/3", 2500).value().rows.empty());

  // B's attempt fails and is retried later (its lease released); A overruns its lease.
  const std::uint64_t bs = b.rows[0].seq, as = a.rows[0].seq;
  EXPECT_TRUE(settle(msgs, WebhookJobRecord{bs, "app", 1, 1800, WebhookJobState::pending, "http 500", 1100},
                     LeaseHolder{"node-b/2", 0}, "retry_scheduled"));
  auto next = msgs.claim_due_webhook_jobs(2000, 10, "node-b/2", 3000).value();
  ASSERT_EQ(next.rows.size(), 2u);
  EXPECT_EQ(next.takeovers, 1u);
  // A's late result of attempt 1 is refused; B's of the same attempt applies.
  EXPECT_FALSE(settle(msgs, WebhookJobRecord{as, "app", 1, 2100, WebhookJobState::delivered, "", 2100},
                      LeaseHolder{"node-a/1", 0}, "fallback_sent"));
  EXPECT_TRUE(settle(msgs, WebhookJobRecord{as, "app", 1, 2200, WebhookJobState::delivered, "", 2200},
                     LeaseHolder{"node-b/2", 0}, "fallback_sent"));
  // A stale write at an attempt count the job has left is refused, even by a holder.
  EXPECT_FALSE(settle(msgs, WebhookJobRecord{bs, "app", 1, 2300, WebhookJobState::dead, "x", 2300},
                      LeaseHolder{"node-b/2", 0}, "dead_lettered"));
  EXPECT_TRUE(settle(msgs, WebhookJobRecord{bs, "app", 2, 2400, WebhookJobState::delivered, "", 2400},
                     LeaseHolder{"node-b/2", 1}, "fallback_sent"));

  EXPECT_EQ(msgs.webhook_job(as).value()->updated_ms, 2200);
  EXPECT_EQ(msgs.webhook_job(bs).value()->attempts, 2);
  EXPECT_EQ(msgs.message_events(as, 10).value().size(), 1u);
  EXPECT_EQ(msgs.message_events(bs, 10).value().size(), 2u);
  EXPECT_TRUE(msgs.claim_due_webhook_jobs(9000, 10, "node-c/3", 9999).value().rows.empty());
  // A replay puts the job back as new: claimable at once, not a takeover.
  ASSERT_TRUE(put_job(msgs, WebhookJobRecord{3, "app", 0, 9000, WebhookJobState::pending, "", 9000}).ok());
  auto replayed = msgs.claim_due_webhook_jobs(9000, 10, "node-c/3", 9999).value();
  ASSERT_EQ(replayed.rows.size(), 1u);
  EXPECT_EQ(replayed.takeovers, 0u);
}

// Two store instances (two nodes, for PostgreSQL: SKIP LOCKED under real concurrency)
// claim from two threads at once until nothing is left: every row exactly once.
TEST_P(MessageLeases, ConcurrentClaimsFromTwoInstancesAreDisjoint) {
  testing::TempStore t(GetParam());
  auto other = t.open_another();
  constexpr std::uint64_t kRows = 300;
  for (std::uint64_t seq = 1; seq <= kRows; ++seq)
    ASSERT_TRUE(insert(t.db->messages(), message(seq, static_cast<std::int64_t>(seq))).ok());

  std::atomic<bool> go{false};
  auto claimer = [&](MessageRecords& r, const std::string& owner, std::vector<std::uint64_t>& got) {
    while (!go) std::this_thread::yield();
    for (int empty = 0; empty < 3;) {
      auto c = r.claim_due_messages(1000, 7, owner, 100'000);
      ASSERT_TRUE(c.ok()) << c.error().message;
      if (c->rows.empty()) ++empty;
      for (const auto& m : c->rows) got.push_back(m.seq);
    }
  };
  std::vector<std::uint64_t> ga, gb;
  std::thread ta([&] { claimer(t.db->messages(), "node-a/1", ga); });
  std::thread tb([&] { claimer(other->messages(), "node-b/2", gb); });
  go = true;
  ta.join();
  tb.join();
  std::set<std::uint64_t> all(ga.begin(), ga.end());
  all.insert(gb.begin(), gb.end());
  EXPECT_EQ(ga.size() + gb.size(), kRows) << "a row was claimed twice";
  EXPECT_EQ(all.size(), kRows) << "a row was never claimed";
  if (GetParam() == "postgres") {
    // Both really claimed at once (SQLite's single writer may serve one thread throughout).
    EXPECT_FALSE(ga.empty());
    EXPECT_FALSE(gb.empty());
  }
}

}  // namespace
}  // namespace herald::store
