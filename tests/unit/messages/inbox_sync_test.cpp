// Inboxes across nodes: two MessageServices on one store (ClusterRecords) act as two
// cluster nodes; each one's scan finds the other's messages, pushes them to users
// connected to it once, and drops entries the other acknowledged.
#include "messages/inbox_sync.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "api/message_requests.h"
#include "cluster_records.h"
#include "core/metrics.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "messages/inbox_index.h"
#include "messages/message_metrics.h"
#include "messages/message_service.h"
#include "messages/seq_generator.h"
#include "store/store.h"

namespace herald::messages {
namespace {

using testing::ClusterRecords;
using testing::SharedSlots;

constexpr std::int64_t kStart = 1'795'428'000'000;

// One node: its records view, clock, service and what it pushed.
struct Node {
  Node(store::MessageRecords& real, SharedSlots& slots, kms::KeyService& keys, const MessagesConfig& cfg,
       const std::string& name)
      : records(real, slots) {
    service =
        std::make_unique<MessageService>(cfg, records, keys, nullptr, WebhookPoster{}, &registry, clock.as_clock());
    service->set_cluster(name, Millis(1000), Millis(30'000));
    service->set_pusher([this](const std::string&, const std::string& user, std::string frame) -> std::size_t {
      std::lock_guard lock(mu);
      if (!connected.count(user)) return 0;
      pushed.emplace_back(user, std::move(frame));
      return 1;
    });
  }
  std::vector<std::pair<std::string, std::string>> pushes() {
    std::lock_guard lock(mu);
    return pushed;
  }
  void connect(const std::string& user) {
    {
      std::lock_guard lock(mu);
      connected.insert(user);
    }
    (void)service->pending_frames(push::ClientIdentity{"app1", user, "c1", ""});
  }
  InboxSync::Pass tick() {
    auto p = service->cluster_tick(clock.now());
    EXPECT_TRUE(p.ok()) << p.error().message;
    return p.ok() ? *p : InboxSync::Pass{};
  }

  ClusterRecords records;
  ManualClock clock{kStart};
  metrics::Registry registry;
  std::unique_ptr<MessageService> service;
  std::mutex mu;
  std::set<std::string> connected;
  std::vector<std::pair<std::string, std::string>> pushed;
};

struct InboxSyncTest : ::testing::Test {
  InboxSyncTest() {
    std::string t = ::testing::TempDir() + "/inbox-sync-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    EXPECT_TRUE(keys->ensure_app_keys("app1").ok());
    EXPECT_TRUE(keys->ensure_app_keys("app2").ok());
    slots.clock.set(kStart);
    a = std::make_unique<Node>(db->messages(), slots, *keys, cfg, "node-a");
    b = std::make_unique<Node>(db->messages(), slots, *keys, cfg, "node-b");
    EXPECT_TRUE(a->service->load().ok());
    EXPECT_TRUE(b->service->load().ok());
  }
  ~InboxSyncTest() override {
    a.reset();
    b.reset();
    keys.reset();
    db->close();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  static std::string publish(Node& n, const std::string& user, const std::string& app = "app1") {
    auto req = api::parse_publish(
        boost::json::parse(R"({"to_user": ")" + user + R"(", "data": {"n": 1}, "channels": []})").as_object(),
        n.service->publish_limits());
    EXPECT_TRUE(req.ok());
    std::promise<Result<Published>> p;
    n.service->publish(app, std::move(*req), [&](Result<Published> o) { p.set_value(std::move(o)); });
    auto o = p.get_future().get();
    EXPECT_TRUE(o.ok()) << o.error().message;
    return o.ok() ? o->id : "";
  }
  // Every write queued so far is committed.
  void flush() {
    ASSERT_TRUE(
        store::wait_for([&](store::Completion d) { db->messages().add_message_events({}, std::move(d)); }).ok());
  }
  static std::vector<std::string> inbox_ids(Node& n, const std::string& user, const std::string& app = "app1") {
    std::vector<std::string> ids;
    std::string after;
    for (;;) {
      auto page = n.service->inbox(app, user, after, 7);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      for (const auto& m : page->messages) ids.push_back(m.id);
      if (page->next == 0) break;
      after = std::to_string(page->next);
    }
    return ids;
  }

  MessagesConfig cfg;
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  SharedSlots slots;
  std::unique_ptr<Node> a, b;
};

TEST_F(InboxSyncTest, NodesTakeDifferentSlotsAndTheirIdsNeverMeet) {
  ASSERT_TRUE(a->service->seq_slot().has_value());
  ASSERT_TRUE(b->service->seq_slot().has_value());
  EXPECT_NE(*a->service->seq_slot(), *b->service->seq_slot());
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(ids.insert(publish(*a, "u1")).second);
    ASSERT_TRUE(ids.insert(publish(*b, "u1")).second);
  }
  flush();
  auto pending = db->messages().pending_messages();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 200u);
  for (const auto& p : *pending) EXPECT_GT(p.seq, SeqGenerator::floor_at(kStart - 1));
}

TEST_F(InboxSyncTest, AMessageFromAnotherNodeIsIndexedAndPushedOnce) {
  a->connect("u1");
  const std::string id = publish(*b, "u1");
  flush();
  EXPECT_TRUE(inbox_ids(*a, "u1").empty());  // not yet seen by A
  auto pass = a->tick();
  EXPECT_EQ(pass.found, 1u);
  EXPECT_EQ(pass.pushed, 1u);
  auto pushes = a->pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_NE(pushes[0].second.find(id), std::string::npos);
  EXPECT_EQ(inbox_ids(*a, "u1"), std::vector<std::string>{id});
  // Found again by later passes (the lookback), never pushed again.
  a->clock.advance(1000);
  EXPECT_EQ(a->tick().found, 0u);
  EXPECT_EQ(a->pushes().size(), 1u);
  EXPECT_EQ(a->registry.counter("herald_messages_cluster_found_total", "").with({}).value(), 1u);
}

TEST_F(InboxSyncTest, ANodeDoesNotFindItsOwnMessages) {
  a->connect("u1");
  const std::string id = publish(*a, "u1");
  flush();
  EXPECT_EQ(a->pushes().size(), 1u);  // by the publish
  EXPECT_EQ(a->tick().found, 0u);
  EXPECT_EQ(a->pushes().size(), 1u);
  EXPECT_EQ(inbox_ids(*a, "u1"), std::vector<std::string>{id});
}

TEST_F(InboxSyncTest, NoPushToAUserNotConnectedHere) {
  publish(*b, "u2");
  flush();
  auto pass = a->tick();
  EXPECT_EQ(pass.found, 1u);
  EXPECT_EQ(pass.pushed, 0u);
  EXPECT_TRUE(a->pushes().empty());
  EXPECT_EQ(inbox_ids(*a, "u2").size(), 1u);
}

TEST_F(InboxSyncTest, AnAckOnOneNodeLeavesTheOthersInbox) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(publish(*b, "u1"));
  flush();
  EXPECT_EQ(a->tick().found, 3u);
  ASSERT_TRUE(b->service->ack_now(push::ClientIdentity{"app1", "u1", "c1", ""}, ids[1]).ok());
  flush();
  // Paging drops the stale entry at once; the sweep would have too.
  EXPECT_EQ(inbox_ids(*a, "u1"), (std::vector<std::string>{ids[0], ids[2]}));
  ASSERT_TRUE(b->service->ack_now(push::ClientIdentity{"app1", "u1", "c1", ""}, ids[0]).ok());
  flush();
  a->clock.advance(1000);
  EXPECT_EQ(a->tick().stale, 1u);
  EXPECT_EQ(inbox_ids(*a, "u1"), std::vector<std::string>{ids[2]});
  // An ack here of a message from B: not found again while its write is on its way.
  ASSERT_TRUE(a->service->ack_now(push::ClientIdentity{"app1", "u1", "c1", ""}, ids[2]).ok());
  a->clock.advance(1000);
  EXPECT_EQ(a->tick().found, 0u);
  flush();
  EXPECT_TRUE(inbox_ids(*a, "u1").empty());
  EXPECT_TRUE(inbox_ids(*b, "u1").empty());
}

TEST_F(InboxSyncTest, ALateCommitWithinTheLookbackIsFound) {
  EXPECT_EQ(a->tick().found, 0u);
  a->clock.advance(5000);
  EXPECT_EQ(a->tick().found, 0u);
  // B's clock is 8 s behind A's: its message's number is older than A's last pass.
  b->clock.set(a->clock.now() - 8000);
  const std::string id = publish(*b, "u1");
  flush();
  a->clock.advance(1000);
  EXPECT_EQ(a->tick().found, 1u);
  EXPECT_EQ(inbox_ids(*a, "u1"), std::vector<std::string>{id});
}

TEST_F(InboxSyncTest, TheSlotLeaseIsRenewedAndALapsedLeaseRefusesPublishes) {
  a->clock.advance(11'000);  // past a third of the lease
  a->tick();
  EXPECT_EQ(a->records.renewals, 1);
  // No pass for a whole lease (the node hung): publishes are refused, not numbered in a
  // slot that another node may hold by now.
  a->clock.advance(30'000);
  auto req = api::parse_publish(boost::json::parse(R"({"to_user": "u1", "data": {}})").as_object(),
                                a->service->publish_limits());
  std::promise<Result<Published>> p;
  a->service->publish("app1", std::move(*req), [&](Result<Published> o) { p.set_value(std::move(o)); });
  auto o = p.get_future().get();
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::kStoreUnavailable);
  a->tick();  // renewed
  publish(*a, "u1");
}

TEST_F(InboxSyncTest, ANodeWhoseSlotWasTakenClaimsAnotherAndKeepsNumbersUnique) {
  const std::uint32_t old_slot = *a->service->seq_slot();
  const std::string before = publish(*a, "u1");
  {
    // A's lease ran out while it hung, and another node took the slot.
    std::lock_guard lock(slots.mu);
    slots.slots[old_slot].holder = "node-c/x";
  }
  a->clock.advance(11'000);
  a->tick();
  ASSERT_TRUE(a->service->seq_slot().has_value());
  EXPECT_NE(*a->service->seq_slot(), old_slot);
  EXPECT_NE(*a->service->seq_slot(), *b->service->seq_slot());
  const std::string after = publish(*a, "u1");
  flush();
  auto seq = [](const std::string& id) { return std::stoull(id.substr(4, id.find('_', 4) - 4)); };
  EXPECT_GT(seq(after), seq(before));
  EXPECT_EQ(SeqGenerator::slot_of(seq(after)), *a->service->seq_slot());
}

// InboxSync alone: a scan limit and a per-app share, one app's burst first.
TEST_F(InboxSyncTest, EachPassIsBoundedAndOneAppsBurstDoesNotHoldUpAnother) {
  for (int i = 0; i < 10; ++i) publish(*b, "u1", "app1");
  for (int i = 0; i < 2; ++i) publish(*b, "u1", "app2");
  flush();
  InboxIndex index;
  metrics::Registry r;
  MessageMetrics m(r);
  InboxSync sync(InboxSync::Deps{db->messages(), *keys, index, m}, InboxSync::Limits{100, 3, 100, 15'000, 10});
  sync.reset(kStart);
  auto p1 = sync.run(kStart + 1000);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->found, 5u);  // 3 of app1's, both of app2's
  EXPECT_EQ(index.app_size("app2"), 2u);
  std::size_t total = p1->found;
  for (int i = 0; i < 5; ++i) total += sync.run(kStart + 1000).value().found;
  EXPECT_EQ(total, 12u);
  EXPECT_EQ(index.size(), 12u);
}

}  // namespace
}  // namespace herald::messages
