#include "push/hub.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/metrics.h"
#include "fakes.h"

namespace herald::push {
namespace {

using testing::ManualExecutor;
using testing::RecordingSubscriber;

struct HubFixture : ::testing::Test {
  HubFixture() {
    cfg.namespaces["default"].history_size = 5;
    cfg.namespaces["chat"].presence = true;
    cfg.namespaces["chat"].max_subscribers = 2;
  }
  ChannelName ch(std::string_view name) { return *parse_channel(name); }
  ClientIdentity who(std::string user, std::string client) { return ClientIdentity{"app1", user, client, ""}; }
  Config cfg;
  ManualExecutor ex{2};
  metrics::Registry reg;
};

std::uint64_t offset_of(const std::string& frame) {
  auto at = frame.find("\"offset\":");
  return std::stoull(frame.substr(at + 9));
}

TEST_F(HubFixture, PublicationsReachSubscribersOnEveryShardInOrder) {
  Hub hub(cfg, ex, reg);
  RecordingSubscriber a, b, c;
  SubscriptionSlot sa, sb, sc;
  ASSERT_TRUE(hub.subscribe(0, &a, who("u1", "c1"), ch("news"), std::nullopt, sa).ok());
  ASSERT_TRUE(hub.subscribe(1, &b, who("u2", "c2"), ch("news"), std::nullopt, sb).ok());
  ASSERT_TRUE(hub.subscribe(1, &c, who("u3", "c3"), ch("other"), std::nullopt, sc).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(hub.publish("app1", ch("news"), "{\"n\":" + std::to_string(i) + "}").ok());
  EXPECT_EQ(ex.pending(0), 1u);  // one drain per shard, however many publications
  EXPECT_EQ(ex.pending(1), 1u);
  ex.run_all();
  ASSERT_EQ(a.frames.size(), 10u);
  ASSERT_EQ(b.frames.size(), 10u);
  EXPECT_TRUE(c.frames.empty());
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(offset_of(a.frames[i]), i + 1);
    EXPECT_EQ(a.frames[i], b.frames[i]);
    EXPECT_NE(a.frames[i].find("\"data\":{\"n\":" + std::to_string(i) + "}"), std::string::npos);
  }
  EXPECT_EQ(a.flushes, 1);  // one flush per batch
  EXPECT_EQ(hub.stats().deliveries, 20u);
  hub.unsubscribe(who("u1", "c1"), sa);
  hub.unsubscribe(who("u2", "c2"), sb);
  hub.unsubscribe(who("u3", "c3"), sc);
}

TEST_F(HubFixture, OtherAppsChannelsAreSeparate) {
  Hub hub(cfg, ex, reg);
  RecordingSubscriber a;
  SubscriptionSlot sa;
  ASSERT_TRUE(hub.subscribe(0, &a, who("u1", "c1"), ch("news"), std::nullopt, sa).ok());
  ASSERT_TRUE(hub.publish("app2", ch("news"), "1").ok());
  ex.run_all();
  EXPECT_TRUE(a.frames.empty());
  hub.unsubscribe(who("u1", "c1"), sa);
}

TEST_F(HubFixture, APublicationQueuedBeforeTheSubscribeIsNotDeliveredTwice) {
  Hub hub(cfg, ex, reg);
  RecordingSubscriber early, late;
  SubscriptionSlot se, sl;
  ASSERT_TRUE(hub.subscribe(0, &early, who("u1", "c1"), ch("news"), std::nullopt, se).ok());
  ASSERT_TRUE(hub.publish("app1", ch("news"), "1").ok());  // queued to shard 0, not yet drained
  auto r = hub.subscribe(0, &late, who("u2", "c2"), ch("news"), Since{0, ""}, sl);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->offset, 1u);
  ASSERT_TRUE(hub.publish("app1", ch("news"), "2").ok());
  ex.run_all();
  EXPECT_EQ(early.frames.size(), 2u);
  ASSERT_EQ(late.frames.size(), 1u);  // offset 1 came with the subscribe reply's offset, not twice
  EXPECT_EQ(offset_of(late.frames[0]), 2u);
  hub.unsubscribe(who("u1", "c1"), se);
  hub.unsubscribe(who("u2", "c2"), sl);
}

TEST_F(HubFixture, RecoveryReturnsWhatWasMissedOrSaysItCannot) {
  Hub hub(cfg, ex, reg);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(hub.publish("app1", ch("news"), std::to_string(i)).ok());
  RecordingSubscriber s;
  SubscriptionSlot slot;
  auto first = hub.subscribe(0, &s, who("u", "c"), ch("news"), std::nullopt, slot);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->offset, 8u);
  EXPECT_TRUE(first->recoverable);
  EXPECT_FALSE(first->recovered.has_value());
  std::string epoch = first->epoch;
  hub.unsubscribe(who("u", "c"), slot);

  // history_size 5 keeps offsets 4..8.
  auto ok = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{5, epoch}, slot);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->recovered.value());
  ASSERT_EQ(ok->publications.size(), 3u);
  EXPECT_EQ(ok->publications[0]->offset, 6u);
  EXPECT_EQ(ok->publications[2]->offset, 8u);
  EXPECT_EQ(ok->publications[0]->inner().substr(0, 20), "{\"channel\":\"news\",\"o");
  hub.unsubscribe(who("u", "c"), slot);

  auto edge = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{3, epoch}, slot);  // 4..8 all there
  ASSERT_TRUE(edge->recovered.value());
  EXPECT_EQ(edge->publications.size(), 5u);
  hub.unsubscribe(who("u", "c"), slot);

  auto lost = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{2, epoch}, slot);  // 3 is gone
  EXPECT_FALSE(lost->recovered.value());
  EXPECT_TRUE(lost->publications.empty());
  hub.unsubscribe(who("u", "c"), slot);

  auto other_epoch = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{7, "deadbeef"}, slot);
  EXPECT_FALSE(other_epoch->recovered.value());
  hub.unsubscribe(who("u", "c"), slot);

  auto up_to_date = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{8, epoch}, slot);
  EXPECT_TRUE(up_to_date->recovered.value());
  EXPECT_TRUE(up_to_date->publications.empty());
  hub.unsubscribe(who("u", "c"), slot);

  auto future = hub.subscribe(0, &s, who("u", "c"), ch("news"), Since{9, epoch}, slot);
  EXPECT_FALSE(future->recovered.value());
  hub.unsubscribe(who("u", "c"), slot);
}

TEST_F(HubFixture, HistoryExpiresAndIdleChannelsAreForgottenWithANewEpoch) {
  cfg.namespaces["default"].history_ttl = Millis(1000);
  Hub hub(cfg, ex, reg);
  ASSERT_TRUE(hub.publish("app1", ch("news"), "1").ok());
  auto h = hub.history("app1", ch("news"), 0, std::nullopt);
  ASSERT_EQ(h->publications.size(), 1u);
  std::string epoch = h->epoch;
  hub.sweep(clock::unix_ms() + 2000);  // expired, but the channel is kept a while
  EXPECT_TRUE(hub.history("app1", ch("news"), 0, std::nullopt)->publications.empty());
  EXPECT_EQ(hub.stats().channels, 1u);
  hub.sweep(clock::unix_ms() + 60'000);
  EXPECT_EQ(hub.stats().channels, 0u);
  auto again = hub.history("app1", ch("news"), 0, std::nullopt);
  EXPECT_NE(again->epoch, epoch);
  EXPECT_EQ(again->offset, 0u);
}

TEST_F(HubFixture, HistoryHonoursLimitAndSinceAndNeedsTheNamespaceToKeepIt) {
  Hub hub(cfg, ex, reg);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(hub.publish("app1", ch("news"), std::to_string(i)).ok());
  auto two = hub.history("app1", ch("news"), 2, std::nullopt);
  ASSERT_EQ(two->publications.size(), 2u);
  EXPECT_EQ(two->publications[0]->offset, 3u);
  auto since = hub.history("app1", ch("news"), 0, Since{1, two->epoch});
  EXPECT_EQ(since->publications.size(), 3u);
  auto off = hub.history("app1", ch("chat:x"), 0, std::nullopt);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().code, Errc::kHistoryDisabled);
}

TEST_F(HubFixture, LimitsAndUnknownNamespaces) {
  cfg.push.max_channels = 2;
  Hub hub(cfg, ex, reg);
  RecordingSubscriber s1, s2, s3;
  SubscriptionSlot a, b, c;
  ASSERT_TRUE(hub.subscribe(0, &s1, who("u1", "c1"), ch("chat:room"), std::nullopt, a).ok());
  ASSERT_TRUE(hub.subscribe(0, &s2, who("u2", "c2"), ch("chat:room"), std::nullopt, b).ok());
  auto full = hub.subscribe(0, &s3, who("u3", "c3"), ch("chat:room"), std::nullopt, c);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kChannelFull);
  EXPECT_FALSE(c.active());
  ASSERT_TRUE(hub.publish("app1", ch("news"), "1").ok());
  auto many = hub.publish("app1", ch("news2"), "1");
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, Errc::kTooManyChannels);
  auto unknown = hub.publish("app1", ch("nope:x"), "1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNamespaceNotFound);
  cfg.push.max_publication_bytes = 10;
  auto big = hub.publish("app1", ch("news"), "\"0123456789\"");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::kPublicationTooLarge);
  hub.unsubscribe(who("u1", "c1"), a);
  hub.unsubscribe(who("u2", "c2"), b);
}

TEST_F(HubFixture, UnsubscribeFromTheMiddleKeepsTheOthersReceiving) {
  Hub hub(cfg, ex, reg);
  RecordingSubscriber s[4];
  SubscriptionSlot slots[4];
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(hub.subscribe(0, &s[i], who("u" + std::to_string(i), "c" + std::to_string(i)), ch("news"), std::nullopt,
                              slots[i])
                    .ok());
  hub.unsubscribe(who("u1", "c1"), slots[1]);
  hub.unsubscribe(who("u0", "c0"), slots[0]);
  ASSERT_TRUE(hub.publish("app1", ch("news"), "1").ok());
  ex.run_all();
  EXPECT_TRUE(s[0].frames.empty());
  EXPECT_TRUE(s[1].frames.empty());
  EXPECT_EQ(s[2].frames.size(), 1u);
  EXPECT_EQ(s[3].frames.size(), 1u);
  hub.unsubscribe(who("u3", "c3"), slots[3]);
  hub.unsubscribe(who("u2", "c2"), slots[2]);
  EXPECT_EQ(hub.stats().subscriptions, 0u);
}

TEST_F(HubFixture, PresenceListsClientsAndCountsUsers) {
  Hub hub(cfg, ex, reg);
  RecordingSubscriber s1, s2;
  SubscriptionSlot a, b;
  ASSERT_TRUE(
      hub.subscribe(0, &s1, ClientIdentity{"app1", "42", "c1", "{\"name\":\"Ann\"}"}, ch("chat:r"), std::nullopt, a)
          .ok());
  ASSERT_TRUE(hub.subscribe(1, &s2, who("42", "c2"), ch("chat:r"), std::nullopt, b).ok());
  auto p = hub.presence("app1", ch("chat:r"));
  ASSERT_EQ(p->clients.size(), 2u);
  auto st = hub.presence_stats("app1", ch("chat:r"));
  EXPECT_EQ(st->num_clients, 2u);
  EXPECT_EQ(st->num_users, 1u);
  hub.unsubscribe(who("42", "c1"), a);
  EXPECT_EQ(hub.presence_stats("app1", ch("chat:r"))->num_clients, 1u);
  EXPECT_EQ(hub.presence("app1", ch("news")).error().code, Errc::kPresenceDisabled);
  hub.unsubscribe(who("42", "c2"), b);
}

TEST_F(HubFixture, ConnectionsPerUserAreCappedAndUsersCanBeDisconnected) {
  cfg.push.max_connections_per_user = 2;
  Hub hub(cfg, ex, reg);
  RecordingSubscriber s1, s2, s3;
  ASSERT_TRUE(hub.add_connection(0, &s1, who("42", "c1")).ok());
  ASSERT_TRUE(hub.add_connection(1, &s2, who("42", "c2")).ok());
  auto third = hub.add_connection(0, &s3, who("42", "c3"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, Errc::kTooManyConnections);
  EXPECT_TRUE(hub.add_connection(0, &s3, ClientIdentity{"app2", "42", "c3", ""}).ok());  // another app's user
  EXPECT_EQ(hub.disconnect_user("app1", "42", 4006, "bye"), 2u);
  ex.run_all();
  EXPECT_EQ(s1.disconnect_code, 4006);
  EXPECT_EQ(s2.disconnect_code, 4006);
  EXPECT_EQ(s3.disconnect_code, 0);
  hub.remove_connection(0, who("42", "c1"));
  EXPECT_TRUE(hub.add_connection(0, &s1, who("42", "c4")).ok());
  hub.remove_connection(0, who("42", "c4"));
  hub.remove_connection(1, who("42", "c2"));
  hub.remove_connection(0, ClientIdentity{"app2", "42", "c3", ""});
}

TEST(ChannelName, RulesAndNamespacesAndPersonalChannels) {
  EXPECT_EQ(parse_channel("news")->ns, "default");
  EXPECT_EQ(parse_channel("chat:room-7")->ns, "chat");
  auto personal = parse_channel("dialog#42,43");
  ASSERT_TRUE(personal.ok());
  EXPECT_TRUE(personal->allows_user("43"));
  EXPECT_FALSE(personal->allows_user("4"));
  EXPECT_EQ(parse_channel("user#42")->ns, "default");
  EXPECT_EQ(parse_channel("chat:dm#1,2")->ns, "chat");
  for (std::string bad : {std::string(), std::string(256, 'a'), std::string("sp ace"), std::string("q\"uote"),
                          std::string(":x"), std::string("u#"), std::string("u#1,,2"), std::string("a#1#2"),
                          std::string("new\nline"), std::string("\xc3\xa9")}) {
    auto r = parse_channel(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kChannelInvalid);
  }
  EXPECT_TRUE(parse_channel(std::string(255, 'a')).ok());
}

// Found by fuzz/api_fuzz.cpp: a personal channel could name a user id longer than any
// user may have, a channel no connection could ever be allowed into.
TEST(ChannelName, APersonalChannelNamesOnlyValidUserIds) {
  EXPECT_TRUE(parse_channel("user#" + std::string(128, 'u')).ok());
  auto r = parse_channel("dm#a," + std::string(129, 'u'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kChannelInvalid);
}

}  // namespace
}  // namespace herald::push
