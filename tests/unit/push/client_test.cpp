#include "push/client.h"

#include <gtest/gtest.h>

#include "apps/memory_directory.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "fakes.h"

namespace herald::push {
namespace {

using testing::FakeTransport;
using testing::ManualExecutor;

constexpr std::string_view kSecret = "test-client-secret-0123456789abcdef";

std::int64_t now_s() {
  return clock::unix_ms() / 1000;
}

std::string token(const std::string& claims) {
  return auth::sign_jwt_hs256(claims, crypto::SecretBytes(kSecret));
}
std::string user_token(const std::string& user, std::int64_t exp_in = 3600, const std::string& extra = "") {
  return token("{\"sub\":\"" + user + "\",\"exp\":" + std::to_string(now_s() + exp_in) + extra + "}");
}

// A user's messages as the protocol sees them: one pending message "msg_1_a" of user 1.
struct Acks final : MessageInbox {
  std::vector<std::string> ids;
  std::vector<std::string> pages;
  void on_connect(const ClientIdentity& who, std::function<void(std::vector<std::string>)> done) override {
    if (who.user != "1") return done({});
    done({R"({"msg":{"id":"msg_1_a","ts":1,"priority":"normal","data":{"x":1}}})"});
  }
  void ack(const ClientIdentity& who, std::string_view id, std::function<void(Status)> done) override {
    if (who.user != "1" || id != "msg_1_a")
      return done(make_error(Errc::kMessageNotFound, "you have no message with this id"));
    ids.emplace_back(id);
    done(ok_status());
  }
  void page(const ClientIdentity& who, std::string_view after, std::size_t limit,
            std::function<void(Result<std::string>)> done) override {
    pages.push_back(who.user + "/" + std::string(after) + "/" + std::to_string(limit));
    if (after == "x") return done(make_error(Errc::kInvalidArgument, "after must be a cursor from an earlier page"));
    done(std::string(R"({"messages":[],"next":null})"));
  }
};

struct ClientFixture : ::testing::Test {
  ClientFixture() {
    cfg.namespaces["default"].history_size = 10;
    cfg.namespaces["chat"].publish = "subscribers";
    cfg.namespaces["chat"].presence = true;
    cfg.namespaces["open"].publish = "authenticated";
    cfg.namespaces["vip"].subscribe = "claims";
    cfg.namespaces["secret"].subscribe = "token";
    apps::App app;
    app.id = "app-1";
    app.key = "key-1";
    app.name = "test";
    auth::JwtKey k;
    k.alg = auth::JwtAlg::HS256;
    k.secret = crypto::SecretBytes(kSecret);
    app.client_keys.push_back(std::move(k));
    directory.put(app);
    app.id = "app-3";
    app.key = "key-3";
    directory.put(app);
    app.id = "app-2";
    app.key = "key-2";
    app.status = apps::AppStatus::Suspended;
    directory.put(app);
  }

  struct Conn {
    FakeTransport t;
    std::unique_ptr<Client> c;
  };
  std::unique_ptr<Conn> open(std::size_t shard = 0) {
    auto conn = std::make_unique<Conn>();
    conn->c = std::make_unique<Client>(ctx, conn->t, shard);
    return conn;
  }
  std::unique_ptr<Conn> connected(const std::string& user, std::size_t shard = 0, const std::string& extra = "") {
    auto conn = open(shard);
    conn->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" + user_token(user, 3600, extra) + "\"}}");
    EXPECT_TRUE(conn->c->connected()) << conn->t.reply(1);
    return conn;
  }

  Config cfg;
  ManualExecutor ex{2};
  metrics::Registry reg;
  Hub hub{cfg, ex, reg};
  apps::MemoryAppDirectory directory;
  ProtocolMetrics pm{reg};
  Acks acks;
  ClientContext ctx{hub, directory, cfg, pm, &acks, "9.9.9"};
};

TEST_F(ClientFixture, ConnectAnswersWithClientUserExpiryAndVersion) {
  auto c = connected("42");
  auto r = c->t.reply(1);
  EXPECT_NE(r.find("\"connect\":{\"client\":\""), std::string::npos) << r;
  EXPECT_NE(r.find("\"user\":\"42\""), std::string::npos);
  EXPECT_NE(r.find("\"expires_in\":3600"), std::string::npos);
  EXPECT_NE(r.find("\"version\":\"9.9.9\""), std::string::npos);
  EXPECT_LT(c->t.deadline, Client::Clock::now() + std::chrono::seconds(3700));
  EXPECT_EQ(c->t.close_code, 0);
}

TEST_F(ClientFixture, AFarFutureExpiryIsNoExpiry) {
  // exp 253402300799 (year 9999) in steady-clock nanoseconds would overflow. Such a token
  // passes only when no lifetime cap is configured (push.max_token_lifetime = 0).
  cfg.push.max_token_lifetime = Millis(0);
  auto c = open();
  c->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" + token(R"({"sub":"far","exp":253402300799})") +
                "\"}}");
  ASSERT_TRUE(c->c->connected()) << c->t.reply(1);
  EXPECT_EQ(c->t.deadline, Transport::TimePoint::max());
  c->c->on_deadline(Client::Clock::now() + std::chrono::hours(24 * 365));
  EXPECT_EQ(c->t.close_code, 0);
  c->c->on_text(R"({"id":2,"refresh":{"token":")" + token(R"({"sub":"far","exp":9223372036854775807})") + "\"}}");
  EXPECT_NE(c->t.reply(2).find("\"refresh\":{\"expires_in\":"), std::string::npos) << c->t.reply(2);
  EXPECT_EQ(c->t.deadline, Transport::TimePoint::max());
}

TEST_F(ClientFixture, CommandsBeforeConnectAreRefusedAndConnectTimesOut) {
  auto c = open();
  EXPECT_LT(c->t.deadline, Client::Clock::now() + cfg.push.connect_timeout + std::chrono::seconds(1));
  c->c->on_text(R"({"id":5,"subscribe":{"channel":"news"}})");
  EXPECT_NE(c->t.reply(5).find("\"code\":\"not_connected\""), std::string::npos);
  c->c->on_deadline(Client::Clock::now() + cfg.push.connect_timeout);
  EXPECT_EQ(c->t.close_code, close_code::kConnectTimeout);
  EXPECT_NE(c->t.written.back().find("\"disconnect\":{\"code\":4501,\"reason\":\"connect_timeout\",\"reconnect\":true"),
            std::string::npos);
}

TEST_F(ClientFixture, BadConnectsAreRefusedAndClosed) {
  struct Case {
    std::string frame;
    std::string code;
    int close;
  };
  std::vector<Case> cases = {
      {R"({"id":1,"connect":{"app":"nope","token":"x"}})", "unknown_app", close_code::kUnauthorized},
      {R"({"id":1,"connect":{"app":"key-2","token":")" + user_token("1") + "\"}}", "app_suspended",
       close_code::kUnauthorized},
      {R"({"id":1,"connect":{"app":"key-1","token":"not.a.jwt"}})", "token_invalid", close_code::kUnauthorized},
      {R"({"id":1,"connect":{"app":"key-1","token":")" + user_token("1", -3600) + "\"}}", "token_expired",
       close_code::kTokenExpired},
      {R"({"id":1,"connect":{"app":"key-1","token":")" +
           auth::sign_jwt_hs256("{\"sub\":\"1\"}", crypto::SecretBytes(std::string_view("wrong-secret"))) + "\"}}",
       "token_invalid", close_code::kUnauthorized},
      {R"({"id":1,"connect":{"app":"key-1","token":")" + user_token("1", 3600, ",\"channel\":\"news\"") + "\"}}",
       "token_invalid", close_code::kUnauthorized},
  };
  for (const auto& k : cases) {
    auto c = open();
    c->c->on_text(k.frame);
    EXPECT_FALSE(c->c->connected()) << k.frame;
    EXPECT_NE(c->t.reply(1).find("\"code\":\"" + k.code + "\""), std::string::npos) << c->t.reply(1);
    EXPECT_EQ(c->t.close_code, k.close) << k.frame;
  }
}

TEST_F(ClientFixture, MalformedInputIsAnsweredOrClosed) {
  auto c = connected("1");
  c->c->on_text(R"({"subscribe":{"channel":"news"}})");
  EXPECT_NE(c->t.reply(0).find("bad_request"), std::string::npos);
  c->c->on_text(R"({"id":2,"subscribe":{"channel":"news"},"ping":{}})");
  EXPECT_NE(c->t.reply(2).find("bad_request"), std::string::npos);
  c->c->on_text(R"({"id":3,"teleport":{}})");
  EXPECT_NE(c->t.reply(3).find("unknown_method"), std::string::npos);
  c->c->on_text(R"({"id":4,"subscribe":"news"})");
  EXPECT_NE(c->t.reply(4).find("bad_request"), std::string::npos);
  c->c->on_text(R"({"id":5,"subscribe":{"channel":"bad channel"}})");
  EXPECT_NE(c->t.reply(5).find("channel_invalid"), std::string::npos);
  c->c->on_text(R"({"id":6,"subscribe":{"channel":"nope:x"}})");
  EXPECT_NE(c->t.reply(6).find("namespace_not_found"), std::string::npos);
  c->c->on_text(R"({"id":7,"connect":{"app":"key-1","token":"x"}})");
  EXPECT_NE(c->t.reply(7).find("already_connected"), std::string::npos);
  EXPECT_EQ(c->t.close_code, 0);
  c->c->on_text("{not json");
  EXPECT_EQ(c->t.close_code, close_code::kBadFrame);

  auto d = connected("1");
  d->c->on_text("[1,2]");
  EXPECT_EQ(d->t.close_code, close_code::kBadFrame);
  auto e = connected("1");
  e->c->on_binary();
  EXPECT_EQ(e->t.close_code, close_code::kBadFrame);
  auto f = connected("1");
  f->c->on_text(std::string(100, '[') + std::string(100, ']'));  // nested too deep
  EXPECT_EQ(f->t.close_code, close_code::kBadFrame);
}

TEST_F(ClientFixture, SeveralCommandsInOneFrameAreAnsweredInOrder) {
  auto c = connected("1");
  c->t.written.clear();
  c->c->on_text("{\"id\":2,\"ping\":{}}\n{\"id\":3,\"subscribe\":{\"channel\":\"news\"}}\n\n{\"id\":4,\"ping\":{}}");
  ASSERT_EQ(c->t.written.size(), 3u);
  EXPECT_EQ(c->t.written[0], "{\"id\":2,\"pong\":{}}");
  EXPECT_EQ(c->t.written[1].rfind("{\"id\":3,\"subscribe\":", 0), 0u);
  EXPECT_EQ(c->t.written[2], "{\"id\":4,\"pong\":{}}");
}

TEST_F(ClientFixture, SubscribePublishAndReceive) {
  auto sub = connected("1", 0);
  auto pub = connected("2", 1);
  sub->c->on_text(R"({"id":2,"subscribe":{"channel":"open:room"}})");
  EXPECT_NE(sub->t.reply(2).find("\"offset\":0"), std::string::npos) << sub->t.reply(2);
  pub->c->on_text(R"({"id":2,"publish":{"channel":"open:room","data":{"text":"hi","n":[1,2]}}})");
  auto r = pub->t.reply(2);
  EXPECT_NE(r.find("\"publish\":{\"offset\":1,\"epoch\":\""), std::string::npos) << r;
  ex.run_all();
  ASSERT_FALSE(sub->t.written.empty());
  auto& push = sub->t.written.back();
  EXPECT_EQ(push.rfind("{\"pub\":{\"channel\":\"open:room\",\"offset\":1,", 0), 0u) << push;
  EXPECT_NE(push.find("\"data\":{\"text\":\"hi\",\"n\":[1,2]}}}"), std::string::npos);
  sub->c->on_text(R"({"id":3,"subscribe":{"channel":"open:room"}})");
  EXPECT_NE(sub->t.reply(3).find("already_subscribed"), std::string::npos);
  sub->c->on_text(R"({"id":4,"unsubscribe":{"channel":"open:room"}})");
  EXPECT_EQ(sub->t.reply(4), "{\"id\":4,\"unsubscribe\":{}}");
  sub->c->on_text(R"({"id":5,"unsubscribe":{"channel":"open:room"}})");
  EXPECT_NE(sub->t.reply(5).find("not_subscribed"), std::string::npos);
}

TEST_F(ClientFixture, PublishPermissionsFollowTheNamespace) {
  auto c = connected("1");
  c->c->on_text(R"({"id":2,"publish":{"channel":"news","data":1}})");  // default: server only
  EXPECT_NE(c->t.reply(2).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":3,"publish":{"channel":"chat:r","data":1}})");  // subscribers only
  EXPECT_NE(c->t.reply(3).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":4,"subscribe":{"channel":"chat:r"}})");
  c->c->on_text(R"({"id":5,"publish":{"channel":"chat:r","data":1}})");
  EXPECT_NE(c->t.reply(5).find("\"publish\":{\"offset\":1"), std::string::npos) << c->t.reply(5);
  c->c->on_text(R"({"id":6,"publish":{"channel":"open:dm#2,3","data":1}})");  // personal, not his
  EXPECT_NE(c->t.reply(6).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":7,"publish":{"channel":"open:dm#1,3","data":1}})");
  EXPECT_NE(c->t.reply(7).find("\"publish\":{"), std::string::npos);
  cfg.push.max_publication_bytes = 16;
  c->c->on_text(R"({"id":8,"publish":{"channel":"open:x","data":"01234567890123456789"}})");
  EXPECT_NE(c->t.reply(8).find("publication_too_large"), std::string::npos);
}

TEST_F(ClientFixture, PublishRefusesNumbersBeyondTheDoubleRange) {
  // Parsed as infinity, such a number would be written back as `Infinity`: not JSON.
  auto sub = connected("1", 0);
  auto pub = connected("2", 1);
  sub->c->on_text(R"({"id":2,"subscribe":{"channel":"open:inf"}})");
  pub->c->on_text(R"({"id":2,"publish":{"channel":"open:inf","data":1e400}})");
  EXPECT_NE(pub->t.reply(2).find("bad_request"), std::string::npos) << pub->t.reply(2);
  pub->c->on_text(R"({"id":3,"publish":{"channel":"open:inf","data":[1,{"a":-1e999}]}})");
  EXPECT_NE(pub->t.reply(3).find("bad_request"), std::string::npos) << pub->t.reply(3);
  pub->c->on_text(R"({"id":4,"publish":{"channel":"open:inf","data":[1.5e308,-2.5e-300,0]}})");
  EXPECT_NE(pub->t.reply(4).find("\"publish\":{\"offset\":1,"), std::string::npos) << pub->t.reply(4);
  ex.run_all();
  for (const auto& frame : sub->t.written) EXPECT_EQ(frame.find("Infinity"), std::string::npos) << frame;
}

TEST_F(ClientFixture, PersonalClaimsAndTokenNamespaces) {
  auto c = connected("42", 0, ",\"channels\":[\"vip:lounge\"]");
  c->c->on_text(R"({"id":2,"subscribe":{"channel":"user#42"}})");
  EXPECT_NE(c->t.reply(2).find("\"subscribe\":{"), std::string::npos) << c->t.reply(2);
  c->c->on_text(R"({"id":3,"subscribe":{"channel":"user#43"}})");
  EXPECT_NE(c->t.reply(3).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":4,"subscribe":{"channel":"vip:lounge"}})");
  EXPECT_NE(c->t.reply(4).find("\"subscribe\":{"), std::string::npos);
  c->c->on_text(R"({"id":5,"subscribe":{"channel":"vip:other"}})");
  EXPECT_NE(c->t.reply(5).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":6,"subscribe":{"channel":"secret:a"}})");
  EXPECT_NE(c->t.reply(6).find("permission_denied"), std::string::npos);
  std::string good = user_token("42", 600, ",\"channel\":\"secret:a\"");
  std::string other_user = user_token("43", 600, ",\"channel\":\"secret:a\"");
  std::string other_channel = user_token("42", 600, ",\"channel\":\"secret:b\"");
  std::string expired = user_token("42", -600, ",\"channel\":\"secret:a\"");
  c->c->on_text(R"({"id":7,"subscribe":{"channel":"secret:a","token":")" + other_user + "\"}}");
  EXPECT_NE(c->t.reply(7).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":8,"subscribe":{"channel":"secret:a","token":")" + other_channel + "\"}}");
  EXPECT_NE(c->t.reply(8).find("permission_denied"), std::string::npos);
  c->c->on_text(R"({"id":9,"subscribe":{"channel":"secret:a","token":")" + expired + "\"}}");
  EXPECT_NE(c->t.reply(9).find("token_expired"), std::string::npos);
  c->c->on_text(R"({"id":10,"subscribe":{"channel":"secret:a","token":")" + good + "\"}}");
  EXPECT_NE(c->t.reply(10).find("\"subscribe\":{"), std::string::npos) << c->t.reply(10);
}

TEST_F(ClientFixture, RecoveryThroughSubscribeSince) {
  auto pub = connected("p");
  pub->c->on_text(R"({"id":2,"subscribe":{"channel":"news"}})");
  auto sub_reply = pub->t.reply(2);
  auto e = sub_reply.find("\"epoch\":\"");
  std::string epoch = sub_reply.substr(e + 9, 8);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hub.publish("app-1", *parse_channel("news"), std::to_string(i)).ok());
  auto c = connected("1");
  c->c->on_text(R"({"id":2,"subscribe":{"channel":"news","since":{"offset":1,"epoch":")" + epoch + "\"}}}");
  auto r = c->t.reply(2);
  EXPECT_NE(r.find("\"recovered\":true"), std::string::npos) << r;
  EXPECT_NE(r.find("\"publications\":[{\"channel\":\"news\",\"offset\":2,"), std::string::npos) << r;
  EXPECT_NE(r.find("\"offset\":3,"), std::string::npos);
  c->c->on_text(R"({"id":3,"history":{"channel":"news","limit":1}})");
  EXPECT_NE(c->t.reply(3).find("\"publications\":[{\"channel\":\"news\",\"offset\":3,"), std::string::npos)
      << c->t.reply(3);
  auto d = connected("2");
  d->c->on_text(R"({"id":2,"subscribe":{"channel":"news","since":{"offset":1,"epoch":"00000000"}}})");
  EXPECT_NE(d->t.reply(2).find("\"recovered\":false,\"publications\":[]"), std::string::npos) << d->t.reply(2);
  d->c->on_text(R"({"id":3,"subscribe":{"channel":"x","since":{"offset":"1"}}})");
  EXPECT_NE(d->t.reply(3).find("bad_request"), std::string::npos);
}

TEST_F(ClientFixture, PresenceNeedsTheNamespaceAndTheRight) {
  auto a = connected("1", 0, ",\"info\":{\"name\":\"Ann\"}");
  a->c->on_text(R"({"id":2,"subscribe":{"channel":"chat:r"}})");
  a->c->on_text(R"({"id":3,"presence":{"channel":"chat:r"}})");
  auto r = a->t.reply(3);
  EXPECT_NE(r.find("{\"user\":\"1\",\"info\":{\"name\":\"Ann\"}}"), std::string::npos) << r;
  a->c->on_text(R"({"id":4,"presence_stats":{"channel":"chat:r"}})");
  EXPECT_EQ(a->t.reply(4), "{\"id\":4,\"presence_stats\":{\"num_clients\":1,\"num_users\":1}}");
  a->c->on_text(R"({"id":5,"presence":{"channel":"news"}})");
  EXPECT_NE(a->t.reply(5).find("presence_disabled"), std::string::npos);
  a->c->on_text(R"({"id":6,"presence":{"channel":"secret:x"}})");
  EXPECT_NE(a->t.reply(6).find("permission_denied"), std::string::npos);
}

TEST_F(ClientFixture, PendingMessagesFollowTheConnectReply) {
  auto c = connected("1");
  ASSERT_EQ(c->t.sent.size(), 2u);
  EXPECT_NE(c->t.sent[0].find("\"connect\""), std::string::npos);
  EXPECT_EQ(c->t.sent[1].rfind(R"({"msg":{"id":"msg_1_a")", 0), 0u) << c->t.sent[1];
  auto other = connected("2");
  EXPECT_EQ(other->t.sent.size(), 1u);
}

TEST_F(ClientFixture, MessageAcksAreCheckedAndPublicationAcksCounted) {
  auto c = connected("1");
  c->c->on_text(R"({"id":2,"ack":{"id":"abc-1","channel":"news"}})");
  EXPECT_EQ(c->t.reply(2), "{\"id\":2,\"ack\":{}}");
  EXPECT_TRUE(acks.ids.empty());  // a channel publication's ack is only counted
  c->c->on_text(R"({"id":3,"ack":{"id":"msg_1_a"}})");
  EXPECT_EQ(c->t.reply(3), "{\"id\":3,\"ack\":{}}");
  ASSERT_EQ(acks.ids.size(), 1u);
  c->c->on_text(R"({"id":4,"ack":{"id":"msg_9_zz"}})");
  EXPECT_NE(c->t.reply(4).find("message_not_found"), std::string::npos);
  auto other = connected("2");
  other->c->on_text(R"({"id":2,"ack":{"id":"msg_1_a"}})");
  EXPECT_NE(other->t.reply(2).find("message_not_found"), std::string::npos);
  EXPECT_EQ(acks.ids.size(), 1u);
  c->c->on_text(R"({"id":5,"ack":{}})");
  EXPECT_NE(c->t.reply(5).find("bad_request"), std::string::npos);
}

TEST_F(ClientFixture, InboxPagesAreCheckedAndAnswered) {
  auto c = connected("1");
  c->c->on_text(R"({"id":2,"inbox":{}})");
  EXPECT_EQ(c->t.reply(2), R"({"id":2,"inbox":{"messages":[],"next":null}})");
  c->c->on_text(R"({"id":3,"inbox":{"limit":10,"after":"7"}})");
  EXPECT_NE(c->t.reply(3).find("\"inbox\""), std::string::npos);
  ASSERT_EQ(acks.pages.size(), 2u);
  EXPECT_EQ(acks.pages[0], "1//50");
  EXPECT_EQ(acks.pages[1], "1/7/10");
  for (const char* bad :
       {R"({"id":4,"inbox":{"limit":0}})", R"({"id":4,"inbox":{"limit":501}})", R"({"id":4,"inbox":{"limit":"5"}})",
        R"({"id":4,"inbox":{"after":5}})", R"({"id":4,"inbox":{"after":"x"}})"}) {
    c->c->on_text(bad);
    EXPECT_NE(c->t.reply(4).find("bad_request"), std::string::npos) << bad;
  }
}

TEST_F(ClientFixture, RefreshExtendsTheTokenForTheSameUserOnly) {
  auto c = connected("1");
  c->c->on_text(R"({"id":2,"refresh":{"token":")" + user_token("1", 7200) + "\"}}");
  EXPECT_NE(c->t.reply(2).find("\"refresh\":{\"expires_in\":7200}"), std::string::npos) << c->t.reply(2);
  c->c->on_text(R"({"id":3,"refresh":{"token":")" + user_token("2", 7200) + "\"}}");
  EXPECT_NE(c->t.reply(3).find("token_invalid"), std::string::npos);
  // Expiry without refresh closes with 4003.
  auto d = connected("1");
  d->c->on_deadline(Client::Clock::now() + std::chrono::hours(2));
  EXPECT_EQ(d->t.close_code, close_code::kTokenExpired);
}

TEST_F(ClientFixture, RateLimitRefusesThenFloodingCloses) {
  cfg.push.commands_per_second = 5;
  cfg.push.command_burst = 5;
  auto c = open();
  std::string frame;
  for (int i = 1; i <= 8; ++i) frame += "{\"id\":" + std::to_string(i) + ",\"ping\":{}}\n";
  c->c->on_text(frame);
  EXPECT_NE(c->t.reply(5).find("not_connected"), std::string::npos);
  EXPECT_NE(c->t.reply(6).find("rate_limited"), std::string::npos);
  EXPECT_EQ(c->t.close_code, 0);
  std::string more;
  for (int i = 10; i <= 20; ++i) more += "{\"id\":" + std::to_string(i) + ",\"ping\":{}}\n";
  c->c->on_text(more);
  EXPECT_EQ(c->t.close_code, close_code::kFlood);
}

TEST_F(ClientFixture, ASlowConsumerIsCutOffAndTheOthersKeepReceiving) {
  cfg.push.send_queue_max_bytes = 2000;
  cfg.push.max_publication_bytes = 500;
  auto slow = connected("1");
  auto fast = connected("2");
  slow->c->on_text(R"({"id":2,"subscribe":{"channel":"news"}})");
  fast->c->on_text(R"({"id":2,"subscribe":{"channel":"news"}})");
  slow->t.stuck = true;
  std::string data = "\"" + std::string(400, 'x') + "\"";
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(hub.publish("app-1", *parse_channel("news"), data).ok());
    ex.run_all();
  }
  EXPECT_EQ(slow->t.close_code, close_code::kSlowConsumer);
  EXPECT_LE(slow->t.queued_bytes(), 200u);  // the backlog was dropped, only the notice is left
  EXPECT_NE(slow->t.sent.back().find("\"disconnect\":{\"code\":4500,\"reason\":\"slow_consumer\",\"reconnect\":true}"),
            std::string::npos);
  std::size_t fast_pubs = 0;
  for (const auto& l : fast->t.written) fast_pubs += l.rfind("{\"pub\":", 0) == 0;
  EXPECT_EQ(fast_pubs, 10u);
  EXPECT_EQ(hub.stats().subscriptions, 1u);  // the slow one left the hub
  EXPECT_NE(reg.render().find("herald_push_slow_consumers_total 1"), std::string::npos);
}

// S8: a client that sends commands and reads nothing. Every reply (history pages, error
// replies) counts against the send queue, so the queue stays within its bound and the
// client is cut off as a slow consumer, while another client keeps being answered.
TEST_F(ClientFixture, CommandRepliesCountAgainstTheSendQueue) {
  cfg.push.send_queue_max_bytes = 64 * 1024;
  cfg.push.command_burst = 100'000;
  cfg.push.commands_per_second = 100'000;
  std::string data = "\"" + std::string(2000, 'h') + "\"";
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(hub.publish("app-1", *parse_channel("news"), data).ok());
  auto reader = connected("2");
  auto stuck = connected("1");
  stuck->t.stuck = true;
  std::size_t most = 0;
  for (int i = 2; i < 2000 && !stuck->c->closing(); ++i) {
    stuck->c->on_text("{\"id\":" + std::to_string(i) + R"(,"history":{"channel":"news"}})");
    most = std::max(most, stuck->t.queued_bytes());
  }
  EXPECT_EQ(stuck->t.close_code, close_code::kSlowConsumer);
  EXPECT_LE(most, cfg.push.send_queue_max_bytes + 1024);
  EXPECT_NE(stuck->t.sent.back().find("\"disconnect\":{\"code\":4500"), std::string::npos);
  reader->c->on_text(R"({"id":2,"history":{"channel":"news"}})");
  EXPECT_NE(reader->t.reply(2).find("\"history\":{"), std::string::npos);
  EXPECT_EQ(reader->t.close_code, 0);
}

TEST_F(ClientFixture, ErrorRepliesCountAgainstTheSendQueueToo) {
  cfg.push.send_queue_max_bytes = 8 * 1024;
  cfg.push.command_burst = 100'000;
  cfg.push.commands_per_second = 100'000;
  auto c = connected("1");
  c->t.stuck = true;
  for (int i = 2; i < 5000 && !c->c->closing(); ++i)
    c->c->on_text("{\"id\":" + std::to_string(i) + R"(,"nosuchmethod":{}})");
  EXPECT_EQ(c->t.close_code, close_code::kSlowConsumer);
  EXPECT_LE(c->t.queued_bytes(), 200u);
}

// S9: reading fresh names creates nothing, whatever the number of names.
TEST_F(ClientFixture, HistoryAndPresenceOnFreshNamesCreateNoChannel) {
  cfg.push.command_burst = 100'000;
  cfg.push.commands_per_second = 100'000;
  auto c = connected("1");
  for (int i = 0; i < 10'000; ++i) {
    c->c->on_text("{\"id\":" + std::to_string(i + 2) + R"(,"history":{"channel":"fresh)" + std::to_string(i) + "\"}}");
    c->c->on_text("{\"id\":" + std::to_string(i + 20'000) + R"(,"presence":{"channel":"chat:fresh)" +
                  std::to_string(i) + "\"}}");
  }
  EXPECT_NE(c->t.reply(2).find("\"history\":{\"epoch\":\"\",\"offset\":0"), std::string::npos) << c->t.reply(2);
  EXPECT_EQ(hub.stats().channels, 0u);
  EXPECT_EQ(hub.app_channel_count("app-1"), 0u);
}

// S9: one app's users fill its channel quota; another app still subscribes and publishes.
TEST_F(ClientFixture, OneAppsChannelQuotaLeavesOtherAppsServed) {
  cfg.push.max_channels_per_app = 5;
  cfg.push.command_burst = 1000;
  auto a = connected("1");
  for (int i = 0; i < 5; ++i) {
    a->c->on_text("{\"id\":" + std::to_string(i + 2) + R"(,"subscribe":{"channel":"q)" + std::to_string(i) + "\"}}");
    EXPECT_NE(a->t.reply(i + 2).find("\"subscribe\":{"), std::string::npos) << a->t.reply(i + 2);
  }
  a->c->on_text(R"({"id":20,"subscribe":{"channel":"q5"}})");
  EXPECT_NE(a->t.reply(20).find("too_many_channels"), std::string::npos) << a->t.reply(20);
  EXPECT_EQ(hub.publish("app-1", *parse_channel("q6"), "1").error().code, Errc::kTooManyChannels);

  auto b = open();
  b->c->on_text(R"({"id":1,"connect":{"app":"key-3","token":")" + user_token("9") + "\"}}");
  ASSERT_TRUE(b->c->connected()) << b->t.reply(1);
  b->c->on_text(R"({"id":2,"subscribe":{"channel":"open:room"}})");
  EXPECT_NE(b->t.reply(2).find("\"subscribe\":{"), std::string::npos) << b->t.reply(2);
  b->c->on_text(R"({"id":3,"publish":{"channel":"open:room","data":{"hi":1}}})");
  EXPECT_NE(b->t.reply(3).find("\"publish\":{\"offset\":1"), std::string::npos) << b->t.reply(3);
  EXPECT_EQ(hub.app_channel_count("app-3"), 1u);
}

TEST_F(ClientFixture, AConnectionMayCreateOnlySoManyChannelsPerMinute) {
  cfg.push.channels_created_per_minute = 3;
  auto c = connected("1");
  auto other = connected("2");
  other->c->on_text(R"({"id":2,"subscribe":{"channel":"existing"}})");
  for (int i = 0; i < 3; ++i) {
    c->c->on_text("{\"id\":" + std::to_string(i + 2) + R"(,"subscribe":{"channel":"new)" + std::to_string(i) + "\"}}");
    EXPECT_NE(c->t.reply(i + 2).find("\"subscribe\":{"), std::string::npos);
  }
  c->c->on_text(R"({"id":10,"subscribe":{"channel":"new3"}})");
  EXPECT_NE(c->t.reply(10).find("rate_limited"), std::string::npos) << c->t.reply(10);
  // Joining a channel that exists creates nothing and is not limited.
  c->c->on_text(R"({"id":11,"subscribe":{"channel":"existing"}})");
  EXPECT_NE(c->t.reply(11).find("\"subscribe\":{"), std::string::npos) << c->t.reply(11);
}

// S12 at connect: the app's defaults refuse a token without exp and one that lives too long.
TEST_F(ClientFixture, TokensWithoutExpOrTooLongLivedAreRefusedByDefault) {
  auto no_exp = open();
  no_exp->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" + token(R"({"sub":"1"})") + "\"}}");
  EXPECT_FALSE(no_exp->c->connected());
  EXPECT_EQ(no_exp->t.close_code, close_code::kUnauthorized);
  auto long_lived = open();
  long_lived->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" + user_token("1", 30 * 86'400) + "\"}}");
  EXPECT_FALSE(long_lived->c->connected());
  EXPECT_NE(long_lived->t.reply(1).find("token_invalid"), std::string::npos);
}

TEST_F(ClientFixture, TheAppsTokenCutOffRefusesOlderTokens) {
  apps::App app = *directory.find_by_id("app-1");
  app.tokens_issued_after = now_s() - 60;
  app.max_token_lifetime_s = 600;
  directory.put(app);
  auto old = open();
  old->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" +
                  user_token("1", 300, ",\"iat\":" + std::to_string(now_s() - 3600)) + "\"}}");
  EXPECT_FALSE(old->c->connected());
  auto fresh = open();
  fresh->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" +
                    user_token("1", 300, ",\"iat\":" + std::to_string(now_s())) + "\"}}");
  EXPECT_TRUE(fresh->c->connected()) << fresh->t.reply(1);
  // The app's own cap is lower than the server's: 20 minutes is too long for it.
  auto capped = open();
  capped->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" +
                     user_token("1", 1200, ",\"iat\":" + std::to_string(now_s())) + "\"}}");
  EXPECT_FALSE(capped->c->connected());
}

// S22: a narrower token given on refresh ends the subscriptions it no longer allows.
TEST_F(ClientFixture, RefreshDropsSubscriptionsTheNewClaimsNoLongerAllow) {
  auto c = connected("42", 0, ",\"channels\":[\"vip:a\",\"vip:b\"]");
  c->c->on_text(R"({"id":2,"subscribe":{"channel":"vip:a"}})");
  c->c->on_text(R"({"id":3,"subscribe":{"channel":"vip:b"}})");
  c->c->on_text(R"({"id":4,"subscribe":{"channel":"news"}})");
  ASSERT_NE(c->t.reply(3).find("\"subscribe\":{"), std::string::npos);
  c->c->on_text(R"({"id":5,"refresh":{"token":")" + user_token("42", 3600, ",\"channels\":[\"vip:a\"]") + "\"}}");
  EXPECT_NE(c->t.reply(5).find("\"refresh\":{"), std::string::npos) << c->t.reply(5);
  bool told = false;
  for (const auto& l : c->t.written)
    told |= l == R"({"unsubscribe":{"channel":"vip:b","reason":"permission_revoked"}})";
  EXPECT_TRUE(told);
  c->t.written.clear();
  ASSERT_TRUE(hub.publish("app-1", *parse_channel("vip:b"), "1").ok());
  ASSERT_TRUE(hub.publish("app-1", *parse_channel("vip:a"), "2").ok());
  ASSERT_TRUE(hub.publish("app-1", *parse_channel("news"), "3").ok());
  ex.run_all();
  std::size_t pubs = 0;
  for (const auto& l : c->t.written) {
    EXPECT_EQ(l.find("\"channel\":\"vip:b\""), std::string::npos) << l;
    pubs += l.rfind("{\"pub\":", 0) == 0;
  }
  EXPECT_EQ(pubs, 2u);
  EXPECT_EQ(hub.stats().subscriptions, 2u);
}

// S22: a subscription granted by a subscription token ends with that token.
TEST_F(ClientFixture, ASubscriptionEndsWhenItsTokenExpires) {
  auto c = connected("42");
  std::string sub_token = user_token("42", 60, ",\"channel\":\"secret:a\"");
  c->c->on_text(R"({"id":2,"subscribe":{"channel":"secret:a","token":")" + sub_token + "\"}}");
  ASSERT_NE(c->t.reply(2).find("\"subscribe\":{"), std::string::npos) << c->t.reply(2);
  EXPECT_LT(c->t.deadline,
            Client::Clock::now() + std::chrono::seconds(60) + cfg.push.jwt_max_skew + std::chrono::seconds(5));
  c->c->on_deadline(Client::Clock::now() + std::chrono::minutes(5));
  EXPECT_EQ(c->t.close_code, 0);  // the connection's own token lasts an hour
  EXPECT_EQ(c->t.written.back(), R"({"unsubscribe":{"channel":"secret:a","reason":"token_expired"}})");
  EXPECT_EQ(hub.stats().subscriptions, 0u);
  EXPECT_GT(c->t.deadline, Client::Clock::now() + std::chrono::minutes(30));
}

}  // namespace
}  // namespace herald::push
