// Changes made on one node reach the other through the store's change feed within
// cluster.poll_interval (docs/cluster.md, "Changes between nodes"): two real nodes on one
// PostgreSQL schema, the change made through node A's API, its effect looked for on B.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "cluster_support.h"
#include "harness.h"
#include "herald/client.h"
#include "sdk_connection.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kPoll = 200ms;
// The documented bound is the poll interval; the margin covers a loaded test machine
// (a request and a TLS handshake per look, processes sharing two cores).
constexpr auto kBound = kPoll + 1300ms;

// Each node appends to its own audit log (docs/cluster.md), so audited routes work on both.
ClusterNodes fast_cluster() {
  return ClusterNodes({"--cluster.poll_interval=200ms"});
}

sdk::AdminClient admin(const Server& s) {
  return sdk::AdminClient(sdk::AdminClientOptions{connection(s), admin_token(s)});
}

sdk::ServerClient client(const Server& s, const std::string& key, const std::string& secret) {
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s), key, secret});
}

// How long until `holds` first answers true, looking every 20 ms; gives up (and answers
// the time spent) after five bounds, so that a failure shows how far off it was.
std::chrono::milliseconds time_until(const std::function<bool()>& holds) {
  auto start = SteadyClock::now();
  while (!holds()) {
    if (SteadyClock::now() - start > 5 * kBound) break;
    std::this_thread::sleep_for(20ms);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
}

// A signed request of the app to `s`; its error code, or "" when it was served.
std::string publish_code(const Server& s, const std::string& key, const std::string& secret) {
  auto c = client(s, key, secret);
  auto r = c.publish("news", R"({"n":1})");
  return r ? "" : r.error().code;
}

struct NewApp {
  std::string id, key, secret, secret_id, client_secret;
};

NewApp create_app(const Server& a, const std::string& name) {
  sdk::AppCreateOptions o;
  o.name = name;
  o.scopes = {"publish", "kms"};
  auto created = admin(a).create_app(o);
  if (!created) throw std::runtime_error("create_app: " + created.error().code);
  return NewApp{created->app.id, created->app.key, std::string(created->app_secret.view()), created->app_secret_id,
                std::string(created->client_secret.view())};
}

// A client connection of the app, connected; null if the connect was refused.
std::unique_ptr<Connection> ws_client(const Server& s, const NewApp& app) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  auto c = Connection::open(s.port(), true, o);
  if (ws_upgrade(*c, "/ws").status != 101) return nullptr;
  ws_send(
      *c, 1,
      R"({"id":1,"connect":{"app":")" + app.key + R"(","token":")" + client_token(app.client_secret, "u1") + "\"}}");
  auto r = ws_read(*c, 5s);
  if (!r || r->payload.find("\"connect\":{") == std::string::npos) return nullptr;
  return c;
}

// Reads until the server closes the connection (a close frame or EOF).
bool closed_by_server(Connection& c, std::chrono::milliseconds timeout) {
  auto end = SteadyClock::now() + timeout;
  while (SteadyClock::now() < end) {
    try {
      auto f = ws_read(c, 50ms);
      if (f && f->opcode == 8) return true;
    } catch (const std::exception&) {
      return true;  // EOF
    }
  }
  return false;
}

TEST(ClusterChanges, AnAppCreatedOnAWorksOnB) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  NewApp app = create_app(a, "shop");
  auto took = time_until([&] { return publish_code(b, app.key, app.secret).empty(); });
  EXPECT_LT(took, kBound) << publish_code(b, app.key, app.secret);
  // Its client connections too.
  EXPECT_NE(ws_client(b, app), nullptr);
}

TEST(ClusterChanges, AKeyRotatedOnADecryptsOnBAtOnceAndItsMinimumVersionFollows) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  DevApp d = dev_app(a);
  auto on_a = client(a, d.key, d.secret);
  auto on_b = client(b, d.key, d.secret);
  ASSERT_TRUE(on_a.kms_create_key("orders").ok());
  auto v1 = on_a.kms_encrypt("orders", "c2VjcmV0", "Y3R4");
  ASSERT_TRUE(v1.ok()) << v1.error().code;
  auto rotated = on_a.kms_rotate_key("orders");
  ASSERT_TRUE(rotated.ok()) << rotated.error().code;
  auto v2 = on_a.kms_encrypt("orders", "c2VjcmV0", "Y3R4");
  ASSERT_TRUE(v2.ok());
  ASSERT_EQ(v2->rfind("herald:v2:", 0), 0u) << *v2;
  // At once, without waiting for the feed: B looks in the store for a version it lacks.
  auto plain = on_b.kms_decrypt("orders", *v2, "Y3R4");
  ASSERT_TRUE(plain.ok()) << plain.error().code;
  EXPECT_EQ(plain->view(), "c2VjcmV0");
  // A raised minimum on A: B refuses version 1 within the bound.
  ASSERT_TRUE(on_a.kms_set_min_decryption_version("orders", 2).ok());
  auto took = time_until([&] {
    auto r = on_b.kms_decrypt("orders", *v1, "Y3R4");
    return !r && r.error().code == "version_not_allowed";
  });
  EXPECT_LT(took, kBound);
}

TEST(ClusterChanges, SuspendResumeAndDeleteOnATakeEffectOnBWithinTheBound) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  NewApp app = create_app(a, "shop");
  ASSERT_LT(time_until([&] { return publish_code(b, app.key, app.secret).empty(); }), kBound);
  auto live = ws_client(b, app);
  ASSERT_NE(live, nullptr);

  auto suspended_at = SteadyClock::now();
  ASSERT_TRUE(admin(a).suspend(app.id).ok());
  auto took = time_until([&] { return publish_code(b, app.key, app.secret) == "app_suspended"; });
  EXPECT_LT(took, kBound) << publish_code(b, app.key, app.secret);
  // B closed the app's open connection, as A does on its own suspend, and refuses new ones.
  auto remaining = kBound - std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - suspended_at);
  EXPECT_TRUE(closed_by_server(*live, std::max<std::chrono::milliseconds>(remaining, 100ms)));
  EXPECT_EQ(ws_client(b, app), nullptr);

  ASSERT_TRUE(admin(a).resume(app.id).ok());
  took = time_until([&] { return publish_code(b, app.key, app.secret).empty(); });
  EXPECT_LT(took, kBound);

  ASSERT_TRUE(admin(a).delete_app(app.id).ok());
  took = time_until([&] {
    auto code = publish_code(b, app.key, app.secret);
    return !code.empty() && code != "app_suspended";
  });
  EXPECT_LT(took, kBound) << publish_code(b, app.key, app.secret);
  EXPECT_EQ(ws_client(b, app), nullptr);
  EXPECT_EQ(b.log().find(app.secret), std::string::npos);
}

TEST(ClusterChanges, ASecretRotatedAndRevokedOnAIsTakenUpOnB) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  NewApp app = create_app(a, "shop");
  ASSERT_LT(time_until([&] { return publish_code(b, app.key, app.secret).empty(); }), kBound);
  auto rotated = admin(a).rotate_secret(app.id);
  ASSERT_TRUE(rotated.ok()) << rotated.error().code;
  std::string fresh(rotated->app_secret.view());
  EXPECT_LT(time_until([&] { return publish_code(b, app.key, fresh).empty(); }), kBound);
  ASSERT_TRUE(admin(a).revoke_secret(app.id, app.secret_id).ok());
  auto took = time_until([&] { return !publish_code(b, app.key, app.secret).empty(); });
  EXPECT_LT(took, kBound);
  EXPECT_EQ(publish_code(b, app.key, fresh), "");
}

TEST(ClusterChanges, DeliverySettingsAndTemplatesChangedOnAAreUsedOnB) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  DevApp d = dev_app(a);
  sdk::DeliverySettingsUpdate u;
  u.webhook_url = "https://hooks.example.com/herald";
  u.max_per_user_per_day = 7;
  auto changed = admin(a).set_delivery_settings(d.id, u);
  ASSERT_TRUE(changed.ok()) << changed.error().code;
  auto took = time_until([&] {
    auto s = admin(b).delivery_settings(d.id);
    return s && s->webhook_url == "https://hooks.example.com/herald" && s->max_per_user_per_day == 7;
  });
  EXPECT_LT(took, kBound);
  ASSERT_TRUE(admin(a).put_template(d.id, "welcome", R"({"locales":{"en":{"inapp":{"hi":"{{name}}"}}}})").ok());
  took = time_until([&] { return admin(b).template_json(d.id, "welcome").ok(); });
  EXPECT_LT(took, kBound);
  ASSERT_TRUE(admin(a).delete_template(d.id, "welcome").ok());
  took = time_until([&] { return !admin(b).template_json(d.id, "welcome").ok(); });
  EXPECT_LT(took, kBound);
}

// Two nodes changing one app at once: each change is made from the app as its node holds
// it, and one that would overwrite the other's is refused ("conflict"), never lost.
TEST(ClusterChanges, ARecipientBlockedOnAIsRefusedOnBAndAnUnblockFollows) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  DevApp demo = dev_app(a);
  const std::string to = "+4915123456789";
  auto send_code = [&] {
    auto r = client(b, demo.key, demo.secret)
                 .otp_send(sdk::OtpSendOptions{to, "sms", "dev-1", "login", "", "", "203.0.113.7"});
    return r ? std::string() : r.error().code;
  };
  ASSERT_TRUE(admin(a).otp_block(demo.id, to, "fraud report 1182").ok());
  auto took = time_until([&] { return send_code() == "otp_recipient_blocked"; });
  EXPECT_LT(took, kBound) << send_code();
  auto listed = admin(b).otp_blocklist(demo.id);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);

  ASSERT_TRUE(admin(a).otp_unblock(demo.id, to).ok());
  took = time_until([&] { return send_code().empty(); });
  EXPECT_LT(took, kBound) << send_code();
}

TEST(ClusterChanges, SecretRotationsOnBothNodesAtOnceLoseNothing) {
  auto cluster = fast_cluster();
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  NewApp app = create_app(a, "shop");
  ASSERT_LT(time_until([&] { return publish_code(b, app.key, app.secret).empty(); }), kBound);
  sdk::Result<sdk::NewSecret> on_a = sdk::Error{}, on_b = sdk::Error{};
  std::thread ta([&] { on_a = admin(a).rotate_secret(app.id); });
  std::thread tb([&] { on_b = admin(b).rotate_secret(app.id); });
  ta.join();
  tb.join();
  // The app holds two secrets at most: one rotation won; the other is refused.
  ASSERT_TRUE(on_a.ok() || on_b.ok());
  if (on_a.ok() && on_b.ok()) FAIL() << "both rotations were acknowledged; one of them was lost";
  const auto& loser = on_a.ok() ? on_b : on_a;
  EXPECT_TRUE(loser.error().code == "conflict" || loser.error().code == "too_many_secrets") << loser.error().code;
  std::string won(on_a.ok() ? on_a->app_secret.view() : on_b->app_secret.view());
  EXPECT_LT(time_until([&] { return publish_code(a, app.key, won).empty() && publish_code(b, app.key, won).empty(); }),
            kBound);
}

}  // namespace
}  // namespace herald::testing
