// Webhooks: Standard Webhooks signing and secrets, the URL and address checks that run
// before any connection, the sender's pool, and (WebhookSink) real attempts against
// tests/fixtures/http_sink.py: what arrives, and how each answer is classified.
#include "delivery/webhook.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "core/metrics.h"
#include "crypto/encoding.h"
#include "sinks.h"

namespace herald::delivery {
namespace {

using testing::make_cert;
using testing::read_records;
using testing::SinkProcess;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr std::string_view kSecret = "a 32 byte key for webhook tests!";

WebhookRequest request(std::string url) {
  WebhookRequest r;
  r.url = std::move(url);
  r.secret = std::string(kSecret);
  r.id = "msg_2b7Yq9";
  r.timestamp_s = 1'700'000'000;
  r.body = R"({"channel":"news","data":{"text":"hello ä"}})";
  r.timeout_ms = 3000;
  return r;
}

// --- signing and secrets ---------------------------------------------------------

TEST(Webhook, SignatureMatchesTheStandardWebhooksVector) {
  auto secret = decode_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(webhook_signature(*secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Webhook, SignatureCoversIdTimestampBodyAndKey) {
  const std::string base = webhook_signature(kSecret, "msg_1", 100, "{}");
  EXPECT_NE(webhook_signature(kSecret, "msg_2", 100, "{}"), base);
  EXPECT_NE(webhook_signature(kSecret, "msg_1", 101, "{}"), base);
  EXPECT_NE(webhook_signature(kSecret, "msg_1", 100, "{ }"), base);
  EXPECT_NE(webhook_signature("another key for the webhook tests", "msg_1", 100, "{}"), base);
  // The dots separate the parts: moving one between id and timestamp changes the signature.
  EXPECT_NE(webhook_signature(kSecret, "msg_1.1", 0, "{}"), webhook_signature(kSecret, "msg_1", 10, "{}"));
}

TEST(Webhook, DecodeSecretRejectsMalformedSecrets) {
  const std::string short_key = "whsec_" + crypto::base64_encode(std::string(23, 'k'));
  const std::string long_key = "whsec_" + crypto::base64_encode(std::string(65, 'k'));
  for (const std::string& bad :
       {std::string(), std::string("whsec_"), std::string("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        std::string("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"),
        std::string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w"), std::string("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        std::string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), short_key, long_key}) {
    auto r = decode_webhook_secret(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  EXPECT_TRUE(decode_webhook_secret("whsec_" + crypto::base64_encode(std::string(24, 'k'))).ok());
  EXPECT_TRUE(decode_webhook_secret("whsec_" + crypto::base64_encode(std::string(64, 'k'))).ok());
}

TEST(Webhook, MadeSecretsRoundTripAndDiffer) {
  const std::string a = make_webhook_secret();
  const std::string b = make_webhook_secret();
  EXPECT_NE(a, b);
  for (const auto& s : {a, b}) {
    EXPECT_TRUE(s.starts_with("whsec_")) << s;
    auto key = decode_webhook_secret(s);
    ASSERT_TRUE(key.ok()) << s;
    EXPECT_EQ(key->size(), 32u);
    EXPECT_EQ("whsec_" + crypto::base64_encode(*key), s);
  }
}

// --- checks before any connection ------------------------------------------------

TEST(Webhook, RefusesBadUrls) {
  for (const char* url :
       {"", "not a url", "ftp://example.com/", "http://example.com/hook", "https://user:pw@example.com/",
        "https://:pw@example.com/", "https://", "https://exa mple.com/", "https://bücher.example/",
        "https://[fe80::1%25eth0]/", "file:///etc/passwd", "gopher://example.com/"}) {
    auto o = post_webhook(request(url));
    EXPECT_EQ(o.error, "bad url") << url;
    EXPECT_FALSE(o.delivered);
    EXPECT_FALSE(o.retryable) << url;
    EXPECT_EQ(o.http_status, 0);
  }
}

TEST(Webhook, RefusesForbiddenDestinationsHoweverSpelled) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://127.0.0.1:1/", "127.0.0.1"},
      {"https://localhost:1/", nullptr},  // 127.0.0.1 or ::1, whichever the resolver lists first
      {"https://[::1]:1/", "::1"},
      {"https://[::ffff:127.0.0.1]:1/", "::ffff:127.0.0.1"},
      {"https://2130706433:1/", "127.0.0.1"},
      {"https://0x7f.1:1/", "127.0.0.1"},
      {"https://127.1:1/", "127.0.0.1"},
      {"https://169.254.169.254/latest/meta-data/", "169.254.169.254"},
      {"https://10.1.2.3/", "10.1.2.3"},
      {"https://[fd00::1]/", "fd00::1"},
      {"https://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"},
      {"https://0.0.0.0:1/", "0.0.0.0"},
  };
  for (const auto& [url, ip] : cases) {
    auto o = post_webhook(request(url));
    EXPECT_FALSE(o.delivered) << url;
    EXPECT_FALSE(o.retryable) << url;
    EXPECT_EQ(o.http_status, 0);
    if (ip) {
      EXPECT_EQ(o.error, std::string("address_forbidden: ") + ip) << url;
    } else {
      EXPECT_TRUE(o.error.starts_with("address_forbidden: ")) << url << " " << o.error;
    }
  }
}

TEST(Webhook, RefusesBadIdOrMissingSecret) {
  auto r = request("https://127.0.0.1:1/");
  r.id = "msg_1\r\nx-injected: 1";
  EXPECT_EQ(post_webhook(r).error, "bad id");
  r.id = "";
  EXPECT_EQ(post_webhook(r).error, "bad id");
  r = request("https://127.0.0.1:1/");
  r.secret.clear();
  auto o = post_webhook(r);
  EXPECT_EQ(o.error, "no secret");
  EXPECT_FALSE(o.retryable);
}

TEST(Webhook, ClosedPortIsRetryableConnectFailed) {
  // A bound socket that does not listen: connections to it are refused, and no one else can take the port.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  auto r = request(fmt::format("https://127.0.0.1:{}/", ntohs(a.sin_port)));
  r.allow_private = true;
  auto o = post_webhook(r);
  close(fd);
  EXPECT_FALSE(o.delivered);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(o.error, "connect failed");
  EXPECT_EQ(o.http_status, 0);
}

// --- the sender's pool -----------------------------------------------------------

TEST(WebhookSender, FullQueueAnswersBusyAtOnce) {
  metrics::Registry reg;
  WebhookSender sender(1, 1, &reg);
  std::promise<void> started, release;
  auto release_f = release.get_future().share();
  std::promise<WebhookOutcome> first, second;
  // The first job's `done` holds the only worker; the second waits in the queue; the third finds it full.
  sender.send(request("https://127.0.0.1:1/"), [&](WebhookOutcome o) {
    started.set_value();
    release_f.wait();
    first.set_value(std::move(o));
  });
  ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
  sender.send(request("https://127.0.0.1:1/"), [&](WebhookOutcome o) { second.set_value(std::move(o)); });

  std::optional<WebhookOutcome> busy;
  std::thread::id busy_thread;
  sender.send(request("https://127.0.0.1:1/"), [&](WebhookOutcome o) {
    busy = std::move(o);
    busy_thread = std::this_thread::get_id();
  });
  ASSERT_TRUE(busy.has_value()) << "answered inside send()";
  EXPECT_EQ(busy_thread, std::this_thread::get_id());
  EXPECT_FALSE(busy->delivered);
  EXPECT_TRUE(busy->retryable);
  EXPECT_EQ(busy->error, "busy");

  release.set_value();
  auto f1 = first.get_future();
  auto f2 = second.get_future();
  ASSERT_EQ(f1.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(f2.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f1.get().error, "address_forbidden: 127.0.0.1");
  EXPECT_EQ(f2.get().error, "address_forbidden: 127.0.0.1");
  sender.stop();
  const std::string text = reg.render();
  EXPECT_NE(text.find(R"(herald_webhook_requests_total{outcome="failed"} 2)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(herald_webhook_requests_total{outcome="delivered"} 0)"), std::string::npos);
  EXPECT_NE(text.find("herald_webhook_request_seconds_count 2"), std::string::npos);
}

TEST(WebhookSender, StoppedSenderAnswersBusy) {
  WebhookSender sender(1, 4, nullptr);
  sender.stop();
  sender.stop();
  std::optional<WebhookOutcome> o;
  sender.send(request("https://127.0.0.1:1/"), [&](WebhookOutcome out) { o = std::move(out); });
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->error, "busy");
  EXPECT_TRUE(o->retryable);
}

// --- against the HTTPS sink ------------------------------------------------------

class WebhookSink : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = make_cert(dir_, "server");
    out_ = dir_.file("requests.jsonl");
  }

  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--cert", cert_.cert, "--key", cert_.key, "--out", out_};
    args.insert(args.end(), extra.begin(), extra.end());
    sink_ = std::make_unique<SinkProcess>("http_sink.py", args);
  }

  std::string url(const char* host = "127.0.0.1", const char* path = "/hooks/in") const {
    return fmt::format("https://{}:{}{}", host, sink_->port(), path);
  }

  // A request the sink accepts: loopback allowed, its certificate trusted.
  WebhookRequest local(std::string u) const {
    auto r = request(std::move(u));
    r.allow_private = true;
    r.ca_file = cert_.cert;
    return r;
  }

  static std::string header(const boost::json::object& rec, const char* name) {
    const auto& h = rec.at("headers").as_object();
    auto it = h.find(name);
    return it == h.end() ? std::string("<absent>") : std::string(it->value().as_string());
  }
  static std::string str(const boost::json::object& rec, const char* key) {
    return std::string(rec.at(key).as_string());
  }

  TempDir dir_;
  testing::TestCert cert_;
  std::string out_;
  std::unique_ptr<SinkProcess> sink_;
};

TEST_F(WebhookSink, DeliversASignedPost) {
  start();
  const auto req = local(url());
  auto o = post_webhook(req);
  EXPECT_TRUE(o.delivered) << o.error;
  EXPECT_FALSE(o.retryable);
  EXPECT_EQ(o.http_status, 200);
  EXPECT_EQ(o.error, "");
  EXPECT_FALSE(o.retry_after_s.has_value());

  auto recs = read_records(out_);
  ASSERT_EQ(recs.size(), 1u);
  const auto& rec = recs[0];
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(str(rec, "path"), "/hooks/in");
  EXPECT_EQ(str(rec, "body"), req.body);
  EXPECT_EQ(header(rec, "content-type"), "application/json");
  EXPECT_EQ(header(rec, "user-agent"), "Herald-Webhook/1");
  EXPECT_EQ(header(rec, "webhook-id"), "msg_2b7Yq9");
  EXPECT_EQ(header(rec, "webhook-timestamp"), "1700000000");
  EXPECT_EQ(header(rec, "expect"), "<absent>");
  // What a receiver does: recompute over the id, timestamp and body it got.
  const std::string expected = webhook_signature(kSecret, header(rec, "webhook-id"),
                                                 std::stoll(header(rec, "webhook-timestamp")), str(rec, "body"));
  EXPECT_EQ(header(rec, "webhook-signature"), expected);
  EXPECT_TRUE(expected.starts_with("v1,"));
}

TEST_F(WebhookSink, DeliversToAHostNamePinnedToItsCheckedAddresses) {
  start();
  auto o = post_webhook(local(url("localhost")));
  EXPECT_TRUE(o.delivered) << o.error;
  EXPECT_EQ(read_records(out_).size(), 1u);
}

TEST_F(WebhookSink, LoopbackIsRefusedWithoutAllowPrivateAndNothingIsSent) {
  start();
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto r = local(url(host));
    r.allow_private = false;
    auto o = post_webhook(r);
    EXPECT_FALSE(o.delivered);
    EXPECT_FALSE(o.retryable);
    EXPECT_TRUE(o.error.starts_with("address_forbidden: ")) << o.error;
  }
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(WebhookSink, PlainHttpOnlyWithAllowPrivate) {
  sink_ = std::make_unique<SinkProcess>("http_sink.py", std::vector<std::string>{"--plain", "--out", out_});
  auto r = request(fmt::format("http://127.0.0.1:{}/hook", sink_->port()));
  auto o = post_webhook(r);
  EXPECT_EQ(o.error, "bad url");
  EXPECT_FALSE(o.retryable);
  EXPECT_TRUE(read_records(out_).empty());
  r.allow_private = true;
  o = post_webhook(r);
  EXPECT_TRUE(o.delivered) << o.error;
  EXPECT_EQ(read_records(out_).size(), 1u);
}

TEST_F(WebhookSink, ServerErrorIsRetryable) {
  start({"--status", "500", "--reply", R"({"error":"echo of the body"})"});
  auto o = post_webhook(local(url()));
  EXPECT_FALSE(o.delivered);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(o.http_status, 500);
  EXPECT_EQ(o.error, "http 500");
}

TEST_F(WebhookSink, ClientErrorIsNotRetryable) {
  start({"--status", "400"});
  auto o = post_webhook(local(url()));
  EXPECT_FALSE(o.delivered);
  EXPECT_FALSE(o.retryable);
  EXPECT_EQ(o.http_status, 400);
  EXPECT_EQ(o.error, "http 400");
}

TEST_F(WebhookSink, TooManyRequestsIsRetryableAfterRetryAfter) {
  start({"--status", "429", "--header", "Retry-After: 120"});
  auto o = post_webhook(local(url()));
  EXPECT_FALSE(o.delivered);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(o.http_status, 429);
  ASSERT_TRUE(o.retry_after_s.has_value());
  EXPECT_EQ(*o.retry_after_s, 120);
}

TEST_F(WebhookSink, RetryAfterIsCapped) {
  start({"--status", "503", "--header", "retry-after: 99999999999999999999999"});
  auto o = post_webhook(local(url()));
  EXPECT_TRUE(o.retryable);
  ASSERT_TRUE(o.retry_after_s.has_value());
  EXPECT_EQ(*o.retry_after_s, 3600);
}

TEST_F(WebhookSink, RetryAfterDateIsIgnored) {
  start({"--status", "503", "--header", "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"});
  auto o = post_webhook(local(url()));
  EXPECT_TRUE(o.retryable);
  EXPECT_FALSE(o.retry_after_s.has_value());
}

TEST_F(WebhookSink, RedirectIsNotFollowed) {
  start({"--status", "307", "--header", "Location: /elsewhere"});
  auto o = post_webhook(local(url()));
  EXPECT_FALSE(o.delivered);
  EXPECT_FALSE(o.retryable);
  EXPECT_EQ(o.http_status, 307);
  auto recs = read_records(out_);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(str(recs[0], "path"), "/hooks/in");
}

TEST_F(WebhookSink, LargeReplyIsNotReadToTheEnd) {
  start({"--reply", std::string(100 * 1024, 'x')});
  auto o = post_webhook(local(url()));
  EXPECT_TRUE(o.delivered) << o.error;
  EXPECT_EQ(o.http_status, 200);
}

TEST_F(WebhookSink, TimeoutIsRetryable) {
  start({"--delay", "3"});
  auto r = local(url());
  r.timeout_ms = 500;
  const auto t0 = std::chrono::steady_clock::now();
  auto o = post_webhook(r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
  EXPECT_FALSE(o.delivered);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(o.error, "timeout");
  EXPECT_EQ(o.http_status, 0);
}

TEST_F(WebhookSink, UntrustedCertificateIsRetryable) {
  start();
  auto other = make_cert(dir_, "other");
  auto r = local(url());
  r.ca_file = other.cert;
  auto o = post_webhook(r);
  EXPECT_FALSE(o.delivered);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(o.error, "certificate verification failed");
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(WebhookSink, SenderDeliversThroughThePool) {
  start();
  metrics::Registry reg;
  WebhookSender sender(2, 8, &reg);
  std::vector<std::promise<std::pair<WebhookOutcome, std::thread::id>>> results(3);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto r = local(url());
    r.id = fmt::format("msg_{}", i);
    sender.send(std::move(r), [&, i](WebhookOutcome o) {
      results[i].set_value({std::move(o), std::this_thread::get_id()});
    });
  }
  for (auto& p : results) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto [o, thread] = f.get();
    EXPECT_TRUE(o.delivered) << o.error;
    EXPECT_NE(thread, std::this_thread::get_id());
  }
  sender.stop();
  EXPECT_EQ(read_records(out_).size(), 3u);
  const std::string text = reg.render();
  EXPECT_NE(text.find(R"(herald_webhook_requests_total{outcome="delivered"} 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_webhook_request_seconds_count 3"), std::string::npos) << text;
}

}  // namespace
}  // namespace herald::delivery
