// The memory Broker and PresenceManager on their own, through their interfaces (the
// tests a second implementation must pass too), and the factory's driver check.
#include "push/broker.h"

#include <gtest/gtest.h>

#include "core/metrics.h"
#include "fakes.h"
#include "push/hub.h"
#include "push/memory_broker.h"
#include "push/memory_presence.h"

namespace herald::push {
namespace {

struct Received final : BrokerEventHandler {
  std::vector<std::string> frames;
  void handle_publication(std::string_view app_id, std::string_view channel, const PublicationPtr& pub) override {
    frames.push_back(std::string(app_id) + "|" + std::string(channel) + "|" + std::to_string(pub->offset));
  }
};

struct BrokerFixture : ::testing::Test {
  BrokerFixture() {
    cfg.namespaces["default"].history_size = 3;
    cfg.namespaces["default"].history_ttl = Millis(10'000);
    broker.set_handler(&received);
  }
  ChannelName ch(std::string_view name) { return *parse_channel(name); }
  const NamespaceConfig& ns() { return cfg.namespaces["default"]; }
  Result<PublishResult> publish(std::string_view channel, std::string_view id = "p") {
    return broker.publish("app", ch(channel), ns(), id, "1");
  }

  Config cfg;
  metrics::Registry reg;
  ManualClock clock;
  MemoryBroker broker{cfg, reg, clock.as_clock()};
  Received received;
};

TEST_F(BrokerFixture, PublishNumbersEachChannelAndHandsEveryPublicationOver) {
  auto a1 = publish("a", "id-1");
  auto a2 = publish("a");
  auto b1 = publish("b");
  ASSERT_TRUE(a1 && a2 && b1);
  EXPECT_EQ(a1->offset, 1u);
  EXPECT_EQ(a1->id, "id-1");
  EXPECT_EQ(a2->offset, 2u);
  EXPECT_EQ(a2->epoch, a1->epoch);
  EXPECT_EQ(b1->offset, 1u);
  EXPECT_EQ(received.frames, (std::vector<std::string>{"app|a|1", "app|a|2", "app|b|1"}));
  EXPECT_EQ(broker.channel_count(), 2u);
}

TEST_F(BrokerFixture, HistoryKeepsTheNewestAndAnswersSince) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publish("a"));
  auto all = broker.history("app", ch("a"), ns(), 0, std::nullopt);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->publications.size(), 3u);
  EXPECT_EQ(all->publications.front()->offset, 3u);
  EXPECT_EQ(all->offset, 5u);
  auto two = broker.history("app", ch("a"), ns(), 2, std::nullopt);
  EXPECT_EQ(two->publications.front()->offset, 4u);
  auto since = broker.history("app", ch("a"), ns(), 0, Since{3, all->epoch});
  EXPECT_TRUE(since->recovered);
  EXPECT_EQ(since->publications.size(), 2u);
  auto gone = broker.history("app", ch("a"), ns(), 0, Since{1, all->epoch});
  EXPECT_FALSE(gone->recovered);
  clock.advance(11'000);
  EXPECT_TRUE(broker.history("app", ch("a"), ns(), 0, std::nullopt)->publications.empty());
}

TEST_F(BrokerFixture, RecoverFromOffsetAndEpoch) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(publish("a"));
  auto now = broker.recover("app", ch("a"), ns(), std::nullopt);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->offset, 4u);
  EXPECT_TRUE(now->recoverable);
  EXPECT_FALSE(now->recovered.has_value());
  auto ok = broker.recover("app", ch("a"), ns(), Since{2, now->epoch});
  EXPECT_TRUE(ok->recovered.value());
  ASSERT_EQ(ok->publications.size(), 2u);
  EXPECT_EQ(ok->publications[0]->offset, 3u);
  EXPECT_TRUE(broker.recover("app", ch("a"), ns(), Since{4, now->epoch})->recovered.value());
  EXPECT_FALSE(broker.recover("app", ch("a"), ns(), Since{0, now->epoch})->recovered.value());  // 1 is gone
  EXPECT_FALSE(broker.recover("app", ch("a"), ns(), Since{2, "other"})->recovered.value());
  EXPECT_FALSE(broker.recover("app", ch("a"), ns(), Since{5, now->epoch})->recovered.value());
}

TEST_F(BrokerFixture, IdleChannelsAreForgottenUnlessSubscribedAndComeBackWithANewEpoch) {
  ASSERT_TRUE(broker.subscribe("app", ch("kept"), ns()));
  auto first = publish("gone");
  ASSERT_TRUE(first);
  clock.advance(11'000);
  broker.maintain(clock.now());  // history expired; the grace is not over
  EXPECT_EQ(broker.channel_count(), 2u);
  clock.advance(60'000);
  broker.maintain(clock.now());
  EXPECT_EQ(broker.channel_count(), 1u);  // the subscribed one stays
  auto again = publish("gone");
  EXPECT_NE(again->epoch, first->epoch);
  EXPECT_EQ(again->offset, 1u);
  broker.unsubscribe("app", "kept");
  clock.advance(60'000);
  broker.maintain(clock.now());
  EXPECT_EQ(broker.channel_count(), 0u);
}

TEST_F(BrokerFixture, ChannelsAreCapped) {
  cfg.push.max_channels = 1;
  ASSERT_TRUE(publish("a"));
  auto refused = publish("b");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kTooManyChannels);
  EXPECT_EQ(broker.subscribe("app", ch("c"), ns()).error().code, Errc::kTooManyChannels);
}

// S9: one tenant's back end publishing big payloads to many channels with history
// cannot hold more than push.max_history_bytes_per_app; its own oldest go first, and
// another app's history is untouched.
TEST_F(BrokerFixture, OneAppsHistoryIsCappedInBytesAndItsOldestGoFirst) {
  cfg.namespaces["default"].history_size = 100;
  const std::string big = "\"" + std::string(16 * 1024, 'x') + "\"";
  const std::size_t one = make_publication("c0", 1, "e", "p", 0, big)->bytes();
  cfg.push.max_history_bytes_per_app = 20 * one;

  ASSERT_TRUE(broker.publish("victim", ch("keep"), ns(), "v1", big));
  ASSERT_TRUE(broker.publish("victim", ch("keep"), ns(), "v2", big));
  const std::uint64_t victim_bytes = broker.app_history_bytes("victim");

  std::vector<std::string> epochs;
  for (int i = 0; i < 200; ++i) {  // 10x the cap, over 50 channels
    clock.advance(1);
    auto r = broker.publish("tenant", ch("c" + std::to_string(i % 50)), ns(), "p", big);
    ASSERT_TRUE(r) << "a publish beyond the cap is delivered, not refused";
    EXPECT_LE(broker.app_history_bytes("tenant"), cfg.push.max_history_bytes_per_app);
  }
  EXPECT_GT(broker.app_history_bytes("tenant"), cfg.push.max_history_bytes_per_app / 2);
  EXPECT_EQ(reg.counter("herald_push_history_evicted_total", "").with({}).value() > 0, true);

  // The newest survive, the oldest went: channel c49 got publications 49, 99, 149, 199;
  // only the last still in history; channel c0's early ones are gone too.
  auto newest = broker.history("tenant", ch("c49"), ns(), 0, std::nullopt);
  ASSERT_TRUE(newest);
  ASSERT_FALSE(newest->publications.empty());
  EXPECT_EQ(newest->publications.back()->offset, 4u);
  auto oldest = broker.history("tenant", ch("c0"), ns(), 0, std::nullopt);
  ASSERT_TRUE(oldest);
  for (const auto& p : oldest->publications) EXPECT_GT(p->offset, 1u) << "the oldest publication was kept";
  auto since = broker.history("tenant", ch("c0"), ns(), 0, Since{0, oldest->epoch});
  EXPECT_FALSE(since->recovered) << "recovery across an evicted publication must not claim completeness";

  // The other app keeps all of its history.
  EXPECT_EQ(broker.app_history_bytes("victim"), victim_bytes);
  EXPECT_EQ(broker.history("victim", ch("keep"), ns(), 0, std::nullopt)->publications.size(), 2u);

  // Expired history gives the bytes back.
  clock.advance(11'000);
  broker.maintain(clock.now());
  EXPECT_EQ(broker.app_history_bytes("tenant"), 0u);
  EXPECT_EQ(reg.gauge("herald_push_history_bytes", "").with({}).value(), 0);
}

TEST(MemoryPresence, AddsRemovesListsAndCounts) {
  MemoryPresenceManager p;
  PresenceManager& pm = p;
  pm.add("app", "room", {"c1", "u1", ""});
  pm.add("app", "room", {"c2", "u1", "{\"a\":1}"});
  pm.add("app", "room", {"c3", "u2", ""});
  pm.add("other", "room", {"c9", "u9", ""});
  auto stats = pm.stats("app", "room");
  EXPECT_EQ(stats.num_clients, 3u);
  EXPECT_EQ(stats.num_users, 2u);
  auto two = pm.list("app", "room", 2);
  EXPECT_EQ(two.clients.size(), 2u);
  EXPECT_TRUE(two.truncated);
  EXPECT_FALSE(pm.list("app", "room", 3).truncated);
  pm.remove("app", "room", "c1");
  pm.remove("app", "room", "c2");
  pm.remove("app", "room", "nobody");
  auto left = pm.list("app", "room", 10);
  ASSERT_EQ(left.clients.size(), 1u);
  EXPECT_EQ(left.clients[0].user, "u2");
  pm.remove("app", "room", "c3");
  EXPECT_EQ(pm.stats("app", "room").num_clients, 0u);
  EXPECT_TRUE(pm.list("nope", "room", 10).clients.empty());
}

TEST(BrokerFactory, MemoryIsTheOnlyDriverAndAnUnknownOneRefusesToStart) {
  Config cfg;
  metrics::Registry reg;
  EXPECT_EQ(cfg.broker.driver, "memory");
  EXPECT_TRUE(make_broker(cfg, reg));
  EXPECT_TRUE(make_presence_manager(cfg));
  cfg.broker.driver = "redis";
  auto b = make_broker(cfg, reg);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kInvalidConfig);
  EXPECT_NE(b.error().message.find("'redis'"), std::string::npos) << b.error().message;
  EXPECT_FALSE(make_presence_manager(cfg));
  testing::ManualExecutor ex(1);
  EXPECT_THROW(Hub hub(cfg, ex, reg), std::runtime_error);
}

}  // namespace
}  // namespace herald::push
