// Leases on due work across two nodes on one PostgreSQL database (docs/cluster.md#leases),
// through the real binary: a webhook fallback step runs once while both nodes poll, the
// node holding a stalled webhook request is killed and the other finishes the step once
// the lease runs out, and webhook retries after a 500 happen once per attempt.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <thread>

#include "../unit/delivery/sinks.h"
#include "cluster_support.h"
#include "herald/client.h"
#include "sdk_connection.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;
namespace dt = herald::delivery::testing;

sdk::ServerClient demo_client(const Server& s) {
  DevApp d = dev_app(s);
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s), d.key, d.secret});
}

template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// An HTTPS sink on 127.0.0.1 for the webhook, answering `status` (after holding the
// first request `stall_first` seconds).
struct WebhookSink {
  dt::TempDir dir;
  dt::TestCert cert = dt::make_cert(dir, "hook");
  std::string out = dir.file("hook.jsonl");
  std::unique_ptr<dt::SinkProcess> proc;
  explicit WebhookSink(const std::string& status = "200", int stall_first = 0) {
    proc = std::make_unique<dt::SinkProcess>(
        "http_sink.py", std::vector<std::string>{"--cert", cert.cert, "--key", cert.key, "--out", out, "--status",
                                                 status, "--stall-first", std::to_string(stall_first)});
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(proc->port()) + "/hooks/herald"; }
  // Requests received, by message id (the webhook-id header).
  std::map<std::string, int> by_message() const {
    std::map<std::string, int> n;
    for (const auto& r : dt::read_records(out)) ++n[std::string(r.at("headers").at("webhook-id").as_string())];
    return n;
  }
  std::size_t total() const { return dt::read_records(out).size(); }
};

// The flags of every node: a quick scheduler and the sink's CA.
std::vector<std::string> flags(const WebhookSink& sink, std::vector<std::string> extra) {
  std::vector<std::string> f{"--messages.poll_interval=50ms", "--messages.webhook_ca_file=" + sink.cert.cert};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

// The demo app's webhook pointed at the sink (loopback allowed). Before the second node
// starts: a node reads delivery settings when it is unsealed.
void point_webhook(const Server& s, const std::string& url) {
  sdk::AdminClient admin(sdk::AdminClientOptions{connection(s), admin_token(s)});
  sdk::DeliverySettingsUpdate u;
  u.webhook_url = url;
  u.allow_private_webhooks = true;
  auto r = admin.set_delivery_settings(dev_app(s).id, u);
  ASSERT_TRUE(r.ok()) << r.error().code << " " << r.error().message;
}

std::string send_webhook_message(sdk::ServerClient& c, int n) {
  sdk::MessageOptions o;
  o.to_user = "lease-user-" + std::to_string(n);
  o.data_json = R"({"n":)" + std::to_string(n) + "}";
  o.channels = std::vector<std::string>{"webhook"};
  o.fallback_after = "1s";
  auto sent = c.send_message(o);
  EXPECT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  return sent ? sent->id : std::string();
}

int count_events(const sdk::MessageStatus& m, const std::string& name) {
  return static_cast<int>(
      std::count_if(m.trail.begin(), m.trail.end(), [&](const auto& e) { return e.event == name; }));
}

std::string trail_text(const sdk::MessageStatus& m) {
  std::string out;
  for (const auto& e : m.trail) out += e.event + (e.channel.empty() ? "" : "/" + e.channel) + " ";
  return out;
}

// The message's status once its trail holds `event`, or its last status after `timeout`.
sdk::MessageStatus wait_event(sdk::ServerClient& c, const std::string& id, const std::string& event,
                              std::chrono::milliseconds timeout) {
  sdk::MessageStatus last;
  eventually(
      [&] {
        auto st = c.message_status(id);
        if (!st) return false;
        last = *st;
        return count_events(last, event) > 0;
      },
      timeout);
  return last;
}

double metric(const Server& s, const std::string& sample) {
  return metric_value(https(s, "GET", "/metrics").body, sample).value_or(0);
}

TEST(ClusterLeases, AWebhookStepRunsOnceWhileBothNodesPoll) {
  WebhookSink sink;
  ClusterNodes cluster(flags(sink, {"--cluster.lease=5s", "--messages.webhook_timeout=3s"}));
  Server& a = cluster.start("node-a");
  point_webhook(a, sink.url());
  Server& b = cluster.start("node-b");
  auto client = demo_client(a);
  constexpr int kMessages = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kMessages; ++i) ids.push_back(send_webhook_message(client, i));

  ASSERT_TRUE(eventually([&] { return sink.total() >= kMessages; }, 30s)) << sink.total();
  std::this_thread::sleep_for(1500ms);  // room for a duplicate to show up
  auto got = sink.by_message();
  EXPECT_EQ(sink.total(), static_cast<std::size_t>(kMessages));
  for (const auto& id : ids) EXPECT_EQ(got[id], 1) << id;
  for (const auto& id : ids) {
    auto st = wait_event(client, id, "fallback_sent", 10s);
    EXPECT_EQ(count_events(st, "fallback_started"), 1) << trail_text(st);
    EXPECT_EQ(count_events(st, "fallback_sent"), 1) << trail_text(st);
  }
  const std::string steps = "herald_messages_lease_claims_total{work=\"step\"}";
  const std::string hooks = "herald_messages_lease_claims_total{work=\"webhook\"}";
  std::cout << "step claims: node-a " << metric(a, steps) << ", node-b " << metric(b, steps) << "\n";
  EXPECT_GE(metric(a, steps) + metric(b, steps), kMessages);
  EXPECT_EQ(metric(a, hooks) + metric(b, hooks), kMessages);
  EXPECT_EQ(metric(a, "herald_messages_lease_takeovers_total{work=\"webhook\"}") +
                metric(b, "herald_messages_lease_takeovers_total{work=\"webhook\"}"),
            0);
}

TEST(ClusterLeases, KillingTheHolderOfAStalledWebhookLetsTheOtherNodeFinishTheStep) {
  WebhookSink sink("200", 120);
  // The webhook timeout outlasts the test: the holder is stuck on its request when killed.
  ClusterNodes cluster(flags(sink, {"--cluster.lease=3s", "--messages.webhook_timeout=60s"}));
  Server& a = cluster.start("node-a");
  point_webhook(a, sink.url());
  Server& b = cluster.start("node-b");
  auto on_a = demo_client(a);
  std::string id = send_webhook_message(on_a, 1);
  ASSERT_TRUE(eventually([&] { return sink.total() >= 1; }, 15s)) << "the first attempt never came";

  const std::string claims = "herald_messages_lease_claims_total{work=\"webhook\"}";
  double on_a_claims = metric(a, claims), on_b_claims = metric(b, claims);
  ASSERT_EQ(on_a_claims + on_b_claims, 1) << "one node holds the attempt";
  Server& holder = on_a_claims == 1 ? a : b;
  Server& other = on_a_claims == 1 ? b : a;
  auto t0 = Clock::now();
  holder.stop(SIGKILL);

  auto client = demo_client(other);
  auto st = wait_event(client, id, "fallback_sent", 20s);
  ASSERT_EQ(count_events(st, "fallback_sent"), 1) << trail_text(st);
  EXPECT_GE(Clock::now() - t0, 1s) << "taken over before the lease ran out";
  EXPECT_EQ(count_events(st, "fallback_started"), 1) << trail_text(st);
  EXPECT_EQ(st.trail.back().event, "fallback_sent") << trail_text(st);
  // At least once: the dead holder's request and the new holder's, both for this message.
  EXPECT_EQ(sink.by_message()[id], 2);
  EXPECT_EQ(metric(other, "herald_messages_lease_takeovers_total{work=\"webhook\"}"), 1);
  EXPECT_EQ(metric(other, "herald_messages_fallback_total{channel=\"webhook\",outcome=\"sent\"}"), 1);
}

TEST(ClusterLeases, WebhookRetriesAfterA500HappenOncePerAttemptAcrossNodes) {
  WebhookSink sink("500");
  ClusterNodes cluster(flags(sink, {"--cluster.lease=5s", "--messages.webhook_timeout=3s",
                                    "--messages.webhook_backoff=200ms", "--messages.webhook_max_attempts=3"}));
  Server& a = cluster.start("node-a");
  point_webhook(a, sink.url());
  Server& b = cluster.start("node-b");
  auto client = demo_client(a);
  constexpr int kMessages = 10;
  std::vector<std::string> ids;
  for (int i = 0; i < kMessages; ++i) ids.push_back(send_webhook_message(client, i));

  for (const auto& id : ids) {
    auto st = wait_event(client, id, "dead_lettered", 30s);
    EXPECT_EQ(count_events(st, "dead_lettered"), 1) << trail_text(st);
    EXPECT_EQ(count_events(st, "retry_scheduled"), 2) << trail_text(st);
    EXPECT_EQ(count_events(st, "fallback_started"), 1) << trail_text(st);
  }
  std::this_thread::sleep_for(1s);
  auto got = sink.by_message();
  for (const auto& id : ids) EXPECT_EQ(got[id], 3) << id << ": webhook_max_attempts is 3";
  const std::string dead = "herald_messages_dead_letters_total";
  EXPECT_EQ(metric(a, dead) + metric(b, dead), kMessages);
}

}  // namespace
}  // namespace herald::testing
