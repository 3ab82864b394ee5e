// Messages across two nodes on one PostgreSQL database, through the real binary
// (docs/cluster.md "Message sequence numbers" and "Inboxes across nodes"): ids unique
// while both nodes publish at once, a user connected to one node gets what the other
// accepted (live and on connect), acks reach the other node, and inbox pages through
// either node list every message once.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <cstdio>
#include <deque>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cluster_support.h"
#include "harness.h"
#include "herald/client.h"
#include "sdk_connection.h"
#include "user_ws_client.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace json = boost::json;

// The cluster scan runs every 200 ms; a message from the other node shows within
// that plus a commit, well inside this.
constexpr auto kBound = 5s;

// Quick polls; each node appends to its own audit log.
std::vector<std::string> flags() {
  return {"--cluster.poll_interval", "200ms", "--messages.poll_interval", "100ms"};
}

sdk::ServerClient demo_client(const Server& app_owner, const Server& via) {
  DevApp d = dev_app(app_owner);
  return sdk::ServerClient(sdk::ServerClientOptions{connection(via), d.key, d.secret});
}

sdk::MessageOptions message(std::string user, int n) {
  sdk::MessageOptions o;
  o.to_user = std::move(user);
  o.data_json = R"({"n":)" + std::to_string(n) + "}";
  return o;
}

template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// Every id in the user's inbox through `client`, page by page (7 a page).
std::vector<std::string> inbox_ids(sdk::ServerClient& client, const std::string& user) {
  std::vector<std::string> ids;
  std::string after;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = client.inbox(user, 7, after);
    if (!page) {
      ADD_FAILURE() << page.error().code << " " << page.error().message;
      break;
    }
    for (const auto& m : page->messages) ids.push_back(m.id);
    if (!page->next) break;
    after = *page->next;
  }
  return ids;
}

TEST(ClusterMessages, BothNodesPublishingAtOnceNeverShareAnIdAndPagesListEachMessageOnce) {
  ClusterNodes cluster(flags());
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  constexpr int kThreadsPerNode = 3, kEach = 40, kUsers = 4;
  std::mutex mu;
  std::vector<std::string> ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (Server* node : {&a, &b})
    for (int t = 0; t < kThreadsPerNode; ++t)
      threads.emplace_back([&, node, t] {
        auto client = demo_client(a, *node);
        for (int i = 0; i < kEach; ++i) {
          auto sent = client.send_message(message("u" + std::to_string(i % kUsers), t * 1000 + i));
          if (!sent) {
            ++failures;
            continue;
          }
          std::lock_guard lock(mu);
          ids.push_back(sent->id);
        }
      });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const std::size_t total = 2 * kThreadsPerNode * kEach;
  ASSERT_EQ(ids.size(), total);
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), total);
  // Every message is stored: its status reads through either node.
  auto via_a = demo_client(a, a);
  auto via_b = demo_client(a, b);
  for (std::size_t i = 0; i < ids.size(); i += 7) {
    auto st = (i % 2 ? via_a : via_b).message_status(ids[i]);
    ASSERT_TRUE(st.ok()) << ids[i] << ": " << st.error().code;
    EXPECT_EQ(st->state, "pending");
  }
  // Each node's inbox, once its scan has found the other's messages: every message once.
  for (auto* client : {&via_a, &via_b}) {
    std::multiset<std::string> listed;
    EXPECT_TRUE(eventually(
        [&] {
          listed.clear();
          for (int u = 0; u < kUsers; ++u)
            for (auto& id : inbox_ids(*client, "u" + std::to_string(u))) listed.insert(id);
          return listed.size() >= total;
        },
        kBound));
    EXPECT_EQ(listed.size(), total);
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), unique);
  }
}

// One idempotency key sent through both nodes at once, round after round: each node
// passes its own claim, the store's unique index takes one, and the other node answers
// with that message as a duplicate (not an error, not a second message).
TEST(ClusterMessages, OneIdempotencyKeyThroughBothNodesAtOnceStoresOneMessage) {
  ClusterNodes cluster(flags());
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  constexpr int kRounds = 15, kPerNode = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "order-" + std::to_string(round);
    std::vector<sdk::Result<sdk::MessageSent>> results;
    std::mutex mu;
    std::latch go(2 * kPerNode);
    std::vector<std::thread> threads;
    for (Server* node : {&a, &b})
      for (int t = 0; t < kPerNode; ++t)
        threads.emplace_back([&, node] {
          auto client = demo_client(a, *node);
          auto m = message("idem-user", round);
          m.idempotency_key = key;
          go.arrive_and_wait();
          auto sent = client.send_message(m);
          std::lock_guard lock(mu);
          results.push_back(std::move(sent));
        });
    for (auto& th : threads) th.join();
    int first = 0;
    std::set<std::string> ids;
    for (const auto& r : results) {
      ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.error().code << " " << r.error().message;
      if (!r->duplicate) ++first;
      ids.insert(r->id);
    }
    EXPECT_EQ(first, 1) << "round " << round;
    EXPECT_EQ(ids.size(), 1u) << "round " << round;
  }
  // One message a round, on either node once A's scan has found B's.
  auto via_a = demo_client(a, a);
  std::size_t listed = 0;
  EXPECT_TRUE(eventually(
      [&] {
        listed = inbox_ids(via_a, "idem-user").size();
        return listed >= static_cast<std::size_t>(kRounds);
      },
      kBound));
  EXPECT_EQ(listed, static_cast<std::size_t>(kRounds));
}

TEST(ClusterMessages, AUserOnNodeBGetsWhatNodeAAcceptedLiveAndOnConnect) {
  ClusterNodes cluster(flags());
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  DevApp d = dev_app(a);
  auto via_a = demo_client(a, a);
  auto via_b = demo_client(a, b);

  // Connected to B; sent through A: pushed by B within the bound, once.
  UserWsClient live(b, "live-user");
  auto t0 = SteadyClock::now();
  auto sent = via_a.send_message(message("live-user", 1));
  ASSERT_TRUE(sent.ok()) << sent.error().code;
  auto msg = live.next_msg(kBound);
  ASSERT_TRUE(msg) << "no push from node B of a message sent through node A";
  EXPECT_EQ(msg->at("id").as_string(), sent->id);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0);
  EXPECT_LT(took, kBound);
  std::printf("cross_node_push_ms %lld (cluster.poll_interval 200ms)\n", static_cast<long long>(took.count()));
  EXPECT_FALSE(live.next_msg(1s)) << "pushed twice";

  // Offline; sent through A; connects to B once B's inbox has it: replayed on connect.
  auto offline = via_a.send_message(message("offline-user", 2));
  ASSERT_TRUE(offline.ok());
  EXPECT_TRUE(eventually([&] { return inbox_ids(via_b, "offline-user").size() == 1; }, kBound));
  UserWsClient later(b, "offline-user");
  auto replayed = later.next_msg(kBound);
  ASSERT_TRUE(replayed) << "no push on connect to node B";
  EXPECT_EQ(replayed->at("id").as_string(), offline->id);
  EXPECT_FALSE(later.next_msg(1s)) << "pushed twice";
}

TEST(ClusterMessages, AnAckOnNodeBIsSeenThroughNodeA) {
  ClusterNodes cluster(flags());
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  DevApp d = dev_app(a);
  auto via_a = demo_client(a, a);
  auto via_b = demo_client(a, b);

  auto sent = via_a.send_message(message("acker", 1));
  ASSERT_TRUE(sent.ok()) << sent.error().code;
  auto kept = via_a.send_message(message("acker", 2));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(eventually([&] { return inbox_ids(via_b, "acker").size() == 2; }, kBound));
  {
    UserWsClient on_b(b, "acker");
    auto first = on_b.next_msg(kBound);
    ASSERT_TRUE(first);
    auto ack = on_b.call("ack", {{"id", sent->id}});
    ASSERT_TRUE(ack.contains("ack")) << json::serialize(ack);
  }
  // The state through A is the database's.
  EXPECT_TRUE(eventually(
      [&] {
        auto st = via_a.message_status(sent->id);
        return st.ok() && st->state == "acked";
      },
      kBound));
  // No longer pending on A: neither on connect nor in its inbox.
  EXPECT_TRUE(eventually([&] { return inbox_ids(via_a, "acker") == std::vector<std::string>{kept->id}; }, kBound));
  UserWsClient on_a(a, "acker");
  auto m = on_a.next_msg(kBound);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("id").as_string(), kept->id);
  EXPECT_FALSE(on_a.next_msg(1s)) << "the acked message came on connect to node A";
  // And paging through B shows the same one message.
  EXPECT_EQ(inbox_ids(via_b, "acker"), std::vector<std::string>{kept->id});
}

}  // namespace
}  // namespace herald::testing
