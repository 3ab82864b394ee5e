// Messages to users through the real binary: the push on connect and in real time, the
// inbox and acks over the client protocol and the server API, the fallback to a signed
// webhook and to e-mail (the delivery fixtures), retries, dead letters and replay, a
// restart in the middle of retries, idempotency, the SSRF guard, templates, frequency
// caps, and contacts stored sealed. The SDK is the back end's client.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "../unit/delivery/sinks.h"
#include "harness.h"
#include "herald/client.h"
#include "pg_server.h"
#include "sdk_connection.h"
#include "user_ws_client.h"

namespace herald::testing {
namespace {

using WsClient = UserWsClient;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;
namespace dt = herald::delivery::testing;

// The development app, which has every scope.
sdk::ServerClient demo_client(const Server& s) {
  DevApp d = dev_app(s);
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s), d.key, d.secret});
}

sdk::AdminClient admin_client(const Server& s) {
  return sdk::AdminClient(sdk::AdminClientOptions{connection(s), admin_token(s)});
}

// The flags every test here runs with: a quick scheduler and short webhook backoff.
std::vector<std::string> flags(std::vector<std::string> extra = {}) {
  std::vector<std::string> f{"--messages.poll_interval",        "50ms", "--messages.webhook_backoff", "200ms",
                             "--messages.webhook_max_attempts", "3"};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string b64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string unb64(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// Polls `done` every 50 ms until it holds or `timeout` passes; returns its last answer.
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// A sink's records once there are at least `n` (or what is there after `timeout`).
std::vector<json::object> wait_records(const std::string& path, std::size_t n,
                                       std::chrono::milliseconds timeout = 15s) {
  std::vector<json::object> r;
  eventually([&] { return (r = dt::read_records(path)).size() >= n; }, timeout);
  return r;
}

std::string trail_text(const sdk::MessageStatus& m) {
  std::string out;
  for (const auto& e : m.trail) {
    out += e.event;
    if (!e.channel.empty()) out += "/" + e.channel;
    if (!e.detail.empty()) out += "(" + e.detail + ")";
    out += " ";
  }
  return out;
}

// Index of the first event `name` (on `channel` when given) in the trail, or -1.
int find_event(const sdk::MessageStatus& m, const std::string& name, const std::string& channel = {}) {
  for (std::size_t i = 0; i < m.trail.size(); ++i)
    if (m.trail[i].event == name && (channel.empty() || m.trail[i].channel == channel)) return static_cast<int>(i);
  return -1;
}

int count_events(const sdk::MessageStatus& m, const std::string& name) {
  return static_cast<int>(
      std::count_if(m.trail.begin(), m.trail.end(), [&](const auto& e) { return e.event == name; }));
}

// The message's status once `done` holds for it, or its last status after `timeout`.
template <class Pred>
sdk::MessageStatus wait_status(sdk::ServerClient& c, const std::string& id, Pred done,
                               std::chrono::milliseconds timeout) {
  sdk::MessageStatus last;
  eventually(
      [&] {
        auto st = c.message_status(id);
        if (!st) return false;
        last = *st;
        return done(last);
      },
      timeout);
  return last;
}

// The message's status once its trail holds `event` (on `channel`).
sdk::MessageStatus wait_event(sdk::ServerClient& c, const std::string& id, const std::string& event,
                              const std::string& channel = {}, std::chrono::milliseconds timeout = 15s) {
  return wait_status(
      c, id, [&](const sdk::MessageStatus& m) { return find_event(m, event, channel) >= 0; }, timeout);
}

sdk::MessageOptions message(std::string user, std::string data_json) {
  sdk::MessageOptions o;
  o.to_user = std::move(user);
  o.data_json = std::move(data_json);
  return o;
}

// An HTTPS sink on 127.0.0.1 for the webhook, answering `status`.
struct WebhookSink {
  dt::TempDir dir;
  dt::TestCert cert = dt::make_cert(dir, "hook");
  std::string out = dir.file("hook.jsonl");
  std::unique_ptr<dt::SinkProcess> proc;
  explicit WebhookSink(const std::string& status = "200") {
    proc = std::make_unique<dt::SinkProcess>(
        "http_sink.py",
        std::vector<std::string>{"--cert", cert.cert, "--key", cert.key, "--out", out, "--status", status});
  }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(proc->port()) + "/hooks/herald";
  }
};

// The app's webhook pointed at `url`, private addresses allowed (the sinks are on
// loopback); returns the signing secret the answer showed.
std::string point_webhook(const Server& s, const std::string& url, bool allow_private = true) {
  auto admin = admin_client(s);
  sdk::DeliverySettingsUpdate u;
  u.webhook_url = url;
  u.allow_private_webhooks = allow_private;
  auto r = admin.set_delivery_settings(dev_app(s).id, u);
  EXPECT_TRUE(r.ok()) << r.error().code << " " << r.error().message;
  if (!r || !r->webhook_secret) return {};
  return std::string(r->webhook_secret->view());
}

// ---- In-app delivery, inbox, acks ---------------------------------------------------

TEST(Messages, AnOfflineUserGetsTheMessageOnConnectThenAcksIt) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  auto sent = client.send_message(message("u1", R"({"text":"hello","n":1})"));
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  EXPECT_EQ(sent->id.rfind("msg_", 0), 0u) << sent->id;
  EXPECT_EQ(sent->state, "pending");
  EXPECT_FALSE(sent->duplicate);
  EXPECT_EQ(sent->connections, 0u);

  WsClient ws(s, "u1");
  auto msg = ws.next_msg(5s);
  ASSERT_TRUE(msg) << "no msg push after connect";
  EXPECT_EQ(msg->at("id").as_string(), sent->id);
  EXPECT_EQ(msg->at("data"), json::parse(R"({"text":"hello","n":1})"));
  EXPECT_EQ(msg->at("priority").as_string(), "normal");
  EXPECT_FALSE(msg->contains("template"));
  EXPECT_GT(msg->at("ts").to_number<std::int64_t>(), 0);

  // The inbox over the protocol and over the server API: the same one message.
  auto page = ws.inbox();
  ASSERT_EQ(page.at("messages").as_array().size(), 1u) << json::serialize(page);
  EXPECT_EQ(page.at("messages").as_array()[0].as_object().at("id").as_string(), sent->id);
  EXPECT_TRUE(page.at("next").is_null());
  auto api_page = client.inbox("u1");
  ASSERT_TRUE(api_page.ok()) << api_page.error().code;
  ASSERT_EQ(api_page->messages.size(), 1u);
  EXPECT_EQ(api_page->messages[0].id, sent->id);
  EXPECT_EQ(json::parse(api_page->messages[0].data_json), json::parse(R"({"text":"hello","n":1})"));
  EXPECT_FALSE(api_page->messages[0].cursor.empty());
  EXPECT_FALSE(api_page->next);

  auto ack = ws.call("ack", {{"id", sent->id}});
  ASSERT_TRUE(ack.contains("ack")) << json::serialize(ack);
  EXPECT_TRUE(ws.call("ack", {{"id", sent->id}}).contains("ack")) << "acking twice is fine";

  // The ack reply comes once the id is checked; the write follows with the next group
  // commit (docs/messages.md), so the inbox empties within moments, not at the reply.
  EXPECT_TRUE(eventually([&] { return ws.inbox().at("messages").as_array().empty(); }, 2s));
  auto after = client.inbox("u1");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->messages.empty());

  auto st = wait_event(client, sent->id, "acked");
  EXPECT_EQ(st.state, "acked") << trail_text(st);
  EXPECT_EQ(st.user, "u1");
  EXPECT_EQ(json::parse(st.data_json), json::parse(R"({"text":"hello","n":1})"));
  int accepted = find_event(st, "accepted"), stored = find_event(st, "stored");
  int delivered = find_event(st, "delivered"), acked = find_event(st, "acked");
  ASSERT_GE(accepted, 0) << trail_text(st);
  EXPECT_LT(accepted, stored) << trail_text(st);
  EXPECT_LT(stored, delivered) << trail_text(st);
  EXPECT_LT(delivered, acked) << trail_text(st);
  if (delivered >= 0) {
    EXPECT_EQ(st.trail[static_cast<std::size_t>(delivered)].connections.value_or(0), 1u);
  }
  EXPECT_EQ(count_events(st, "acked"), 1) << trail_text(st);

  // A second connection of the user gets nothing more: the message is acked.
  WsClient again(s, "u1");
  EXPECT_FALSE(again.next_msg(700ms));
}

TEST(Messages, AConnectedUserGetsTheMessageInRealTime) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  WsClient ws(s, "u2");
  EXPECT_FALSE(ws.next_msg(200ms)) << "nothing pending yet";
  auto t0 = Clock::now();
  auto o = message("u2", R"({"alert":"now"})");
  o.priority = "high";
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  EXPECT_EQ(sent->connections, 1u);
  auto msg = ws.next_msg(3s);
  ASSERT_TRUE(msg);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(msg->at("id").as_string(), sent->id);
  EXPECT_EQ(msg->at("priority").as_string(), "high");
  EXPECT_EQ(msg->at("data"), json::parse(R"({"alert":"now"})"));
  auto st = wait_event(client, sent->id, "delivered");
  int d = find_event(st, "delivered");
  ASSERT_GE(d, 0) << trail_text(st);
  EXPECT_EQ(st.trail[static_cast<std::size_t>(d)].connections.value_or(0), 1u);
  EXPECT_EQ(st.priority, "high");
  EXPECT_EQ(st.state, "pending");
}

TEST(Messages, AcksAndInboxRefuseWhatIsNotTheUsers) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  auto sent = client.send_message(message("owner", R"({"x":1})"));
  ASSERT_TRUE(sent.ok()) << sent.error().code;
  WsClient other(s, "someone-else");
  auto unknown = other.call("ack", {{"id", "msg_00000000000000000000000000"}});
  ASSERT_TRUE(unknown.contains("error")) << json::serialize(unknown);
  EXPECT_EQ(unknown.at("error").at("code").as_string(), "message_not_found");
  auto foreign = other.call("ack", {{"id", sent->id}});
  ASSERT_TRUE(foreign.contains("error")) << json::serialize(foreign);
  EXPECT_EQ(foreign.at("error").at("code").as_string(), "message_not_found");
  EXPECT_TRUE(other.inbox().at("messages").as_array().empty());
  auto st = client.message_status(sent->id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "pending");

  auto missing = client.message_status("msg_00000000000000000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "message_not_found");
  EXPECT_EQ(missing.error().http_status, 404);
}

TEST(Messages, BadRequestsAreRefusedWithTheirCodes) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  auto bad_user = client.send_message(message("a,b", R"({"x":1})"));
  ASSERT_FALSE(bad_user.ok());
  EXPECT_EQ(bad_user.error().code, "invalid_argument");
  EXPECT_EQ(bad_user.error().http_status, 400);
  auto o = message("u", R"({"x":1})");
  o.channels = std::vector<std::string>{"email"};  // without a text or a template
  auto no_text = client.send_message(o);
  ASSERT_FALSE(no_text.ok());
  EXPECT_EQ(no_text.error().code, "invalid_argument");
  o = message("u", R"({"x":1})");
  o.ttl = "31d";  // over messages.max_ttl
  auto long_ttl = client.send_message(o);
  ASSERT_FALSE(long_ttl.ok());
  EXPECT_EQ(long_ttl.error().code, "invalid_argument");
  auto big = client.send_message(message("u", "\"" + std::string(70'000, 'x') + "\""));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, "message_too_large");
  EXPECT_EQ(big.error().http_status, 413);
  auto page = client.inbox("u", 501);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().code, "invalid_argument");
  EXPECT_EQ(page.error().http_status, 400);
  auto nothing = client.inbox("u");
  ASSERT_TRUE(nothing.ok()) << nothing.error().code;
  EXPECT_TRUE(nothing->messages.empty()) << "refused messages are not stored";
}

TEST(Messages, TheSameIdempotencyKeyPublishesOnce) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  WsClient ws(s, "u3");
  auto o = message("u3", R"({"order":1234})");
  o.idempotency_key = "order-1234-shipped";
  auto first = client.send_message(o);
  ASSERT_TRUE(first.ok()) << first.error().code;
  EXPECT_FALSE(first->duplicate);
  auto second = client.send_message(o);
  ASSERT_TRUE(second.ok()) << second.error().code;
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->state, "pending");

  auto msg = ws.next_msg(3s);
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->at("id").as_string(), first->id);
  EXPECT_FALSE(ws.next_msg(1s)) << "a duplicate must not be pushed";
  auto page = client.inbox("u3");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->messages.size(), 1u);
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_messages_duplicates_total"), 1.0);
  EXPECT_EQ(metric_value(m, "herald_messages_published_total"), 1.0);
}

// ---- Fallback ------------------------------------------------------------------------

TEST(MessagesFallback, AnAckWithinTheDelayStopsTheWebhook) {
  WebhookSink sink;
  Server s(Server::Options{flags({"--messages.webhook_ca_file", sink.cert.cert})});
  point_webhook(s, sink.url());
  auto client = demo_client(s);
  WsClient ws(s, "u4");
  auto o = message("u4", R"({"n":4})");
  o.channels = std::vector<std::string>{"webhook"};
  o.fallback_after = "1s";
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  auto msg = ws.next_msg(3s);
  ASSERT_TRUE(msg);
  ASSERT_TRUE(ws.call("ack", {{"id", sent->id}}).contains("ack"));
  std::this_thread::sleep_for(2500ms);
  EXPECT_TRUE(dt::read_records(sink.out).empty()) << "the webhook was called for an acked message";
  auto st = client.message_status(sent->id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, "acked");
  EXPECT_EQ(find_event(*st, "fallback_started"), -1) << trail_text(*st);
  EXPECT_EQ(find_event(*st, "fallback_sent"), -1) << trail_text(*st);
}

TEST(MessagesFallback, WithoutAnAckTheSignedWebhookThenTheEmailGoOut) {
  WebhookSink hook;
  dt::TempDir dir;
  auto smtp_cert = dt::make_cert(dir, "smtp");
  std::string mail_out = dir.file("mail.jsonl");
  dt::SinkProcess smtp("smtp_sink.py", {"--cert", smtp_cert.cert, "--key", smtp_cert.key, "--out", mail_out});
  Server s(Server::Options{
      flags({"--messages.webhook_ca_file", hook.cert.cert, "--delivery.email_provider", "smtp", "--delivery.smtp.url",
             "smtp://127.0.0.1:" + std::to_string(smtp.port()), "--delivery.smtp.from", "messages@herald.example",
             "--delivery.smtp.ca_file", smtp_cert.cert})});
  std::string secret = point_webhook(s, hook.url());
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u) << "the first webhook_url makes a secret";
  auto client = demo_client(s);
  auto c = client.set_contacts("u5", std::string("carol@example.com"), std::nullopt);
  ASSERT_TRUE(c.ok()) << c.error().code << " " << c.error().message;

  auto o = message("u5", R"({"parcel":"at the door"})");
  o.channels = std::vector<std::string>{"webhook", "email"};
  o.fallback_after = "1s";
  o.subject = "Parcel update";
  o.text = "Your parcel is at the door.";
  auto t0 = Clock::now();
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;

  auto hooks = wait_records(hook.out, 1);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_GE(Clock::now() - t0, 900ms) << "the webhook came before fallback_after";
  const auto& r = hooks[0];
  EXPECT_EQ(r.at("method").as_string(), "POST");
  EXPECT_EQ(r.at("path").as_string(), "/hooks/herald");
  const auto& h = r.at("headers").as_object();
  std::string body(r.at("body").as_string());
  ASSERT_TRUE(h.contains("webhook-id") && h.contains("webhook-timestamp") && h.contains("webhook-signature"))
      << json::serialize(h);
  std::string wid(h.at("webhook-id").as_string()), wts(h.at("webhook-timestamp").as_string());
  EXPECT_EQ(wid, sent->id);
  EXPECT_NEAR(std::stoll(wts), static_cast<long long>(time(nullptr)), 30);
  // Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret, id.timestamp.body)).
  std::string expected = "v1," + b64(hmac_sha256(unb64(secret.substr(6)), wid + "." + wts + "." + body));
  std::string sigs(h.at("webhook-signature").as_string());
  bool matched = false;
  std::istringstream each(sigs);
  for (std::string sig; each >> sig;) matched = matched || sig == expected;
  EXPECT_TRUE(matched) << "signature " << sigs << ", expected " << expected;
  auto payload = json::parse(body).as_object();
  EXPECT_EQ(payload.at("type").as_string(), "message.fallback");
  const auto& data = payload.at("data").as_object();
  EXPECT_EQ(data.at("id").as_string(), sent->id);
  EXPECT_EQ(data.at("user").as_string(), "u5");
  EXPECT_EQ(data.at("data"), json::parse(R"({"parcel":"at the door"})"));

  auto mails = wait_records(mail_out, 1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_GE(Clock::now() - t0, 1900ms) << "the e-mail came before its step";
  const auto& mail = mails[0];
  EXPECT_TRUE(mail.at("tls").as_bool());
  ASSERT_EQ(mail.at("rcpt_tos").as_array().size(), 1u);
  EXPECT_EQ(mail.at("rcpt_tos").as_array()[0].as_string(), "carol@example.com");
  std::string text(mail.at("data").as_string());
  EXPECT_NE(text.find("Subject: Parcel update"), std::string::npos) << text;
  EXPECT_NE(text.find("Your parcel is at the door."), std::string::npos) << text;

  auto st = wait_event(client, sent->id, "fallback_sent", "email");
  int hook_sent = find_event(st, "fallback_sent", "webhook"), mail_sent = find_event(st, "fallback_sent", "email");
  ASSERT_GE(hook_sent, 0) << trail_text(st);
  ASSERT_GE(mail_sent, 0) << trail_text(st);
  EXPECT_LT(hook_sent, mail_sent) << trail_text(st);
  EXPECT_LT(find_event(st, "fallback_started", "webhook"), hook_sent) << trail_text(st);
  for (std::size_t i = 1; i < st.trail.size(); ++i)
    EXPECT_LE(st.trail[i - 1].at_ms, st.trail[i].at_ms) << trail_text(st);
  EXPECT_GE(st.trail[static_cast<std::size_t>(mail_sent)].at_ms - st.created_ms, 2000) << trail_text(st);
  EXPECT_EQ(st.state, "pending");
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_messages_fallback_total{channel=\"webhook\",outcome=\"sent\"}"), 1.0) << m;
  EXPECT_EQ(metric_value(m, "herald_messages_fallback_total{channel=\"email\",outcome=\"sent\"}"), 1.0);
}

TEST(MessagesFallback, AMissingContactFailsTheStepWithNoContact) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  auto o = message("nobody-known", R"({"n":1})");
  o.channels = std::vector<std::string>{"sms"};
  o.fallback_after = "1s";
  o.text = "hello";
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  auto st = wait_event(client, sent->id, "failed", "sms", 10s);
  int f = find_event(st, "failed", "sms");
  ASSERT_GE(f, 0) << trail_text(st);
  EXPECT_EQ(st.trail[static_cast<std::size_t>(f)].detail, "no_contact");
}

TEST(MessagesFallback, AFailingWebhookIsRetriedThenDeadLetteredAndReplayDeliversIt) {
  WebhookSink failing("500");
  Server s(Server::Options{flags({"--messages.webhook_ca_file", failing.cert.cert})});
  point_webhook(s, failing.url());
  auto client = demo_client(s);
  auto admin = admin_client(s);
  std::string app = dev_app(s).id;
  auto o = message("u6", R"({"n":6})");
  o.channels = std::vector<std::string>{"webhook"};
  o.fallback_after = "1s";
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;

  auto st = wait_event(client, sent->id, "dead_lettered", "webhook", 20s);
  ASSERT_GE(find_event(st, "dead_lettered", "webhook"), 0) << trail_text(st);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(dt::read_records(failing.out).size(), 3u) << "webhook_max_attempts is 3";
  EXPECT_EQ(count_events(st, "retry_scheduled"), 2) << trail_text(st);
  int retry = find_event(st, "retry_scheduled");
  ASSERT_GE(retry, 0);
  EXPECT_EQ(st.trail[static_cast<std::size_t>(retry)].channel, "webhook");
  EXPECT_EQ(st.trail[static_cast<std::size_t>(retry)].detail, "http 500") << trail_text(st);
  EXPECT_LT(retry, find_event(st, "dead_lettered")) << trail_text(st);
  EXPECT_EQ(find_event(st, "fallback_sent"), -1) << trail_text(st);

  auto dead = admin.dead_letters(app);
  ASSERT_TRUE(dead.ok()) << dead.error().code << " " << dead.error().message;
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message_id, sent->id);
  EXPECT_EQ((*dead)[0].channel, "webhook");
  EXPECT_EQ((*dead)[0].attempts, 3u);
  EXPECT_EQ((*dead)[0].last_error, "http 500");
  EXPECT_GT((*dead)[0].dead_at_ms, 0);
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_messages_dead_letters_total"), 1.0);

  auto nothing = admin.replay_dead_letter(app, "msg_00000000000000000000000000");
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.error().code, "dead_letter_not_found");
  EXPECT_EQ(nothing.error().http_status, 404);

  // A working endpoint with the failing one's certificate, which the server trusts.
  dt::SinkProcess good("http_sink.py", {"--cert", failing.cert.cert, "--key", failing.cert.key, "--out",
                                        failing.dir.file("good.jsonl"), "--status", "200"});
  point_webhook(s, "https://127.0.0.1:" + std::to_string(good.port()) + "/hooks/herald");
  auto replay = admin.replay_dead_letter(app, sent->id);
  ASSERT_TRUE(replay.ok()) << replay.error().code << " " << replay.error().message;
  auto delivered = wait_records(failing.dir.file("good.jsonl"), 1, 10s);
  ASSERT_EQ(delivered.size(), 1u);
  auto body = json::parse(std::string(delivered[0].at("body").as_string())).as_object();
  EXPECT_EQ(body.at("data").at("id").as_string(), sent->id);
  st = wait_event(client, sent->id, "fallback_sent", "webhook", 10s);
  int replayed = find_event(st, "replayed", "webhook"), ok = find_event(st, "fallback_sent", "webhook");
  ASSERT_GE(ok, 0) << trail_text(st);
  EXPECT_GE(replayed, 0) << trail_text(st);
  EXPECT_LT(replayed, ok) << trail_text(st);
}

TEST(MessagesFallback, ARestartInTheMiddleOfRetriesResumesThem) {
  WebhookSink failing("500");
  dt::TempDir data;
  std::vector<std::string> args{"--store.data_dir=" + data.path(),
                                "--messages.poll_interval",
                                "50ms",
                                "--messages.webhook_backoff",
                                "1s",
                                "--messages.webhook_backoff_max",
                                "2s",
                                "--messages.webhook_max_attempts",
                                "5",
                                "--messages.webhook_ca_file",
                                failing.cert.cert};
  std::string id;
  {
    Server s(Server::Options{args});
    point_webhook(s, failing.url());
    auto client = demo_client(s);
    auto o = message("u7", R"({"n":7})");
    o.channels = std::vector<std::string>{"webhook"};
    o.fallback_after = "1s";
    auto sent = client.send_message(o);
    ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
    id = sent->id;
    ASSERT_EQ(wait_records(failing.out, 1, 10s).size(), 1u) << "the first attempt";
    auto st = wait_event(client, id, "retry_scheduled", "webhook", 5s);
    ASSERT_GE(find_event(st, "retry_scheduled"), 0) << trail_text(st);
    s.stop(SIGKILL);
  }
  std::size_t before_restart = dt::read_records(failing.out).size();
  EXPECT_LT(before_restart, 3u) << "the kill came too late to test anything";

  Server s(Server::Options{args});
  auto client = demo_client(s);
  auto st = wait_event(client, id, "dead_lettered", "webhook", 40s);
  ASSERT_GE(find_event(st, "dead_lettered", "webhook"), 0) << trail_text(st);
  std::this_thread::sleep_for(300ms);
  auto n = dt::read_records(failing.out).size();
  // Every attempt after the restart happens; an attempt in flight at the kill may repeat.
  EXPECT_GE(n, 5u);
  EXPECT_LE(n, 6u);
  auto dead = admin_client(s).dead_letters(dev_app(s).id);
  ASSERT_TRUE(dead.ok()) << dead.error().code;
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message_id, id);
  EXPECT_EQ((*dead)[0].attempts, 5u);
}

TEST(MessagesFallback, AWebhookToAPrivateAddressIsRefusedUnlessAllowed) {
  WebhookSink sink;
  Server s(Server::Options{flags({"--messages.webhook_ca_file", sink.cert.cert})});
  auto client = demo_client(s);
  auto admin = admin_client(s);
  std::string app = dev_app(s).id;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    sdk::DeliverySettingsUpdate u;
    u.webhook_url = sink.url(host);
    u.allow_private_webhooks = false;
    auto set = admin.set_delivery_settings(app, u);
    ASSERT_TRUE(set.ok()) << set.error().code << " " << set.error().message;
    auto o = message("u8", R"({"n":8})");
    o.channels = std::vector<std::string>{"webhook"};
    o.fallback_after = "1s";
    auto sent = client.send_message(o);
    ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
    auto st = wait_status(
        client, sent->id,
        [](const sdk::MessageStatus& m) {
          return find_event(m, "failed", "webhook") >= 0 || find_event(m, "dead_lettered", "webhook") >= 0;
        },
        10s);
    int failed = find_event(st, "failed", "webhook"), dead = find_event(st, "dead_lettered", "webhook");
    ASSERT_TRUE(failed >= 0 || dead >= 0) << trail_text(st);
    EXPECT_NE(trail_text(st).find("address_forbidden"), std::string::npos) << trail_text(st);
    EXPECT_EQ(find_event(st, "fallback_sent"), -1) << trail_text(st);
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(dt::read_records(sink.out).empty()) << "a refused webhook reached the sink";
}

TEST(MessagesFallback, SettingsNeverShowTheSecretAndRotationMakesANewOne) {
  WebhookSink sink;
  Server s(Server::Options{flags({"--messages.webhook_ca_file", sink.cert.cert})});
  auto admin = admin_client(s);
  std::string app = dev_app(s).id;
  std::string first = point_webhook(s, sink.url());
  ASSERT_FALSE(first.empty());
  auto got = admin.delivery_settings(app);
  ASSERT_TRUE(got.ok()) << got.error().code;
  EXPECT_EQ(got->webhook_url, sink.url());
  EXPECT_TRUE(got->allow_private_webhooks);
  EXPECT_TRUE(got->has_webhook_secret);
  EXPECT_EQ(got->json.find("whsec_"), std::string::npos) << got->json;

  sdk::DeliverySettingsUpdate same;
  same.fallback = std::vector<std::string>{"webhook"};
  same.fallback_after = "2s";
  auto merged = admin.set_delivery_settings(app, same);
  ASSERT_TRUE(merged.ok()) << merged.error().code;
  EXPECT_FALSE(merged->webhook_secret) << "no secret without a new one";
  EXPECT_EQ(merged->settings.webhook_url, sink.url()) << "PUT merges";
  EXPECT_EQ(merged->settings.fallback, std::vector<std::string>{"webhook"});

  sdk::DeliverySettingsUpdate rotate;
  rotate.rotate_webhook_secret = true;
  auto rotated = admin.set_delivery_settings(app, rotate);
  ASSERT_TRUE(rotated.ok()) << rotated.error().code;
  ASSERT_TRUE(rotated->webhook_secret);
  EXPECT_NE(std::string(rotated->webhook_secret->view()), first);
  EXPECT_EQ(rotated->webhook_secret->view().rfind("whsec_", 0), 0u);
}

// ---- Templates and caps -----------------------------------------------------------------

TEST(MessagesTemplates, VariablesAreRenderedAndMissingOnesRefused) {
  Server s(Server::Options{flags()});
  auto admin = admin_client(s);
  auto client = demo_client(s);
  std::string app = dev_app(s).id;
  auto put = admin.put_template(app, "welcome", R"({"locales":{"en":{
      "inapp":{"title":"Hello {{name}}","count":3},
      "email":{"subject":"Hi {{name}}","text":"Welcome, {{name}}."}}}})");
  ASSERT_TRUE(put.ok()) << put.error().code << " " << put.error().message;
  auto names = admin.list_templates(app);
  ASSERT_TRUE(names.ok()) << names.error().code;
  EXPECT_EQ(*names, std::vector<std::string>{"welcome"});
  auto back = admin.template_json(app, "welcome");
  ASSERT_TRUE(back.ok()) << back.error().code;
  EXPECT_NE(back->find("Hello {{name}}"), std::string::npos) << *back;

  sdk::MessageOptions o;
  o.to_user = "u9";
  o.template_name = "welcome";
  auto no_vars = client.send_message(o);
  ASSERT_FALSE(no_vars.ok());
  EXPECT_EQ(no_vars.error().code, "template_render_failed");
  EXPECT_EQ(no_vars.error().http_status, 400);
  o.template_name = "no-such-template";
  o.vars_json = R"({"name":"Ada"})";
  auto unknown = client.send_message(o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "template_not_found");
  EXPECT_EQ(unknown.error().http_status, 404);

  WsClient ws(s, "u9");
  o.template_name = "welcome";
  o.locale = "en-GB";  // falls back to "en"
  auto sent = client.send_message(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  auto msg = ws.next_msg(3s);
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->at("id").as_string(), sent->id);
  EXPECT_EQ(msg->at("template").as_string(), "welcome");
  EXPECT_EQ(msg->at("data"), json::parse(R"({"title":"Hello Ada","count":3})"));
  auto st = client.message_status(sent->id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->template_name, "welcome");

  o.locale = "fr";  // no French and no default_locale set
  auto french = client.send_message(o);
  if (!french.ok()) {
    EXPECT_EQ(french.error().code, "template_render_failed");
  }

  ASSERT_TRUE(admin.delete_template(app, "welcome").ok());
  o.locale.clear();
  auto gone = client.send_message(o);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "template_not_found");
  auto again = admin.template_json(app, "welcome");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "template_not_found");
}

TEST(MessagesTemplates, TheFrequencyCapRefusesTheThirdMessageOfTheDay) {
  Server s(Server::Options{flags()});
  auto admin = admin_client(s);
  auto client = demo_client(s);
  std::string app = dev_app(s).id;
  auto put = admin.put_template(app, "promo",
                                R"({"max_per_user_per_day":2,"locales":{"en":{"inapp":{"offer":"{{pct}}% off"}}}})");
  ASSERT_TRUE(put.ok()) << put.error().code << " " << put.error().message;
  sdk::MessageOptions o;
  o.to_user = "u10";
  o.template_name = "promo";
  o.vars_json = R"({"pct":20})";
  for (int i = 0; i < 2; ++i) {
    auto r = client.send_message(o);
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().code << " " << r.error().message;
  }
  auto third = client.send_message(o);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, "message_cap_exceeded");
  EXPECT_EQ(third.error().http_status, 429);
  EXPECT_GT(third.error().retry_after_s, 0);
  EXPECT_LE(third.error().retry_after_s, 86'400);
  o.to_user = "u11";
  EXPECT_TRUE(client.send_message(o).ok()) << "the cap is per user";
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_messages_refused_total{reason=\"cap\"}"), 1.0);
  auto page = client.inbox("u10");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(json::parse(page->messages[0].data_json), json::parse(R"({"offer":"20% off"})"));
}

// ---- Contacts -------------------------------------------------------------------------

TEST(MessagesContacts, AreStoredSealedAndServedBack) {
  Server s(Server::Options{flags()});
  auto client = demo_client(s);
  auto admin = admin_client(s);
  std::string app = dev_app(s).id;
  const std::string email = "dora.private@example.org", phone = "+4915187654321";
  auto set = client.set_contacts("u12", email, phone);
  ASSERT_TRUE(set.ok()) << set.error().code << " " << set.error().message;
  EXPECT_EQ(set->user, "u12");
  EXPECT_EQ(set->email, email);
  EXPECT_EQ(set->phone, phone);
  auto got = client.contacts("u12");
  ASSERT_TRUE(got.ok()) << got.error().code;
  EXPECT_EQ(got->email, email);
  auto by_admin = admin.contacts(app, "u12");
  ASSERT_TRUE(by_admin.ok()) << by_admin.error().code;
  EXPECT_EQ(by_admin->phone, phone);

  // Neither the database nor its write-ahead log holds them in clear.
  for (const char* file : {"/herald.db", "/herald.db-wal"}) {
    std::string bytes = slurp(s.data_dir() + file);
    EXPECT_EQ(bytes.find(email), std::string::npos) << file;
    EXPECT_EQ(bytes.find(phone), std::string::npos) << file;
    EXPECT_EQ(bytes.find("dora.private"), std::string::npos) << file;
  }

  auto no_phone = admin.set_contacts(app, "u12", email, std::nullopt);
  ASSERT_TRUE(no_phone.ok()) << no_phone.error().code;
  EXPECT_FALSE(no_phone->phone);
  ASSERT_TRUE(client.delete_contacts("u12").ok());
  auto gone = client.contacts("u12");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "contacts_not_found");
  EXPECT_EQ(gone.error().http_status, 404);
}

// store.driver = postgres: a signed publish of a durable message, herald restarted, and
// the user still gets it: the data lived in PostgreSQL. The database holds none of the
// message's plaintext, and the URL's password shows neither in the log nor in
// --print-config.
TEST(MessagesPostgres, ADurableMessageSurvivesARestartOfHerald) {
  auto& pg = PgServer::shared();
  std::string url = pg.fresh_schema_url();
  std::string password = url.substr(url.find(':', 13) + 1);
  password = password.substr(0, password.find('@'));
  dt::TempDir data;
  Server::Options opts{flags({"--store.data_dir=" + data.path(), "--store.driver=postgres"})};
  opts.env.push_back("HERALD_STORE_POSTGRES_URL=" + url);
  std::string id;
  {
    Server s(opts);
    auto client = demo_client(s);
    auto sent = client.send_message(message("u1", R"({"text":"plaintext-marker-7f3a","n":1})"));
    ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
    id = sent->id;
    EXPECT_EQ(s.stop(SIGTERM), 0);
    EXPECT_EQ(s.log().find(password), std::string::npos) << "the store URL's password is in the log";
  }
  auto printed =
      run_herald({"serve", "--dev", "--store.data_dir=" + data.path(), "--store.driver=postgres", "--print-config"},
                 {"HERALD_STORE_POSTGRES_URL=" + url});
  EXPECT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_EQ(printed.output.find(password), std::string::npos);
  EXPECT_NE(printed.output.find("<redacted>"), std::string::npos);

  Server s(opts);
  WsClient ws(s, "u1");
  auto msg = ws.next_msg(5s);
  ASSERT_TRUE(msg) << "no msg push after the restart";
  EXPECT_EQ(msg->at("id").as_string(), id);
  EXPECT_EQ(msg->at("data"), json::parse(R"({"text":"plaintext-marker-7f3a","n":1})"));
  std::string schema = url.substr(url.rfind("%3D") + 3);
  EXPECT_EQ(std::stoi(pg.sql("SELECT count(*) FROM " + schema + ".messages;")), 1) << "the row is in PostgreSQL";
  auto dump = pg.dump();
  EXPECT_EQ(dump.find("plaintext-marker-7f3a"), std::string::npos) << "message plaintext in PostgreSQL";
}

}  // namespace
}  // namespace herald::testing
