// The HTTP SMS sender against tests/fixtures/http_sink.py: the exact request of the
// generic provider and of each preset, provider refusals, timeouts and TLS checks.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/config.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "delivery/sender.h"
#include "sinks.h"

namespace herald::delivery {
namespace {

using testing::make_cert;
using testing::read_records;
using testing::send_and_wait;
using testing::SinkProcess;
using testing::TempDir;
using namespace std::chrono_literals;

class HttpSink : public ::testing::Test {
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

  std::string base() const { return fmt::format("https://127.0.0.1:{}", sink_->port()); }

  DeliveryConfig config(SmsConfig sms) const {
    DeliveryConfig cfg;
    cfg.sms = std::move(sms);
    cfg.sms.ca_file = cert_.cert;
    cfg.sms.timeout = Millis(5000);
    cfg.workers = 1;
    return cfg;
  }

  Status send(const DeliveryConfig& cfg, OutboundMessage msg, metrics::Registry* reg = nullptr) {
    auto senders = make_senders(cfg, false, reg);
    if (!senders.ok()) return senders.error();
    auto s = send_and_wait(*(*senders)->for_channel("sms"), std::move(msg));
    (*senders)->stop();
    return s;
  }

  boost::json::object only_request() const {
    auto recs = read_records(out_);
    EXPECT_EQ(recs.size(), 1u);
    return recs.empty() ? boost::json::object{} : recs[0];
  }

  static std::string header(const boost::json::object& rec, const char* name) {
    const auto& h = rec.at("headers").as_object();
    auto it = h.find(name);
    return it == h.end() ? std::string("<absent>") : std::string(it->value().as_string());
  }
  static std::string str(const boost::json::object& rec, const char* key) {
    return std::string(rec.at(key).as_string());
  }

  static std::string basic(std::string_view user, std::string_view password) {
    return "Basic " + crypto::base64_encode(std::string(user) + ":" + std::string(password));
  }

  static OutboundMessage code_sms() {
    return {.channel = "sms",
            .to = "+4915112345689",
            .text = "Your code is 482913. \"Quote\" & ä\nbye",
            .secret = "482913",
            .reference = "ver_9"};
  }

  TempDir dir_;
  testing::TestCert cert_;
  std::string out_;
  std::unique_ptr<SinkProcess> sink_;
};

TEST_F(HttpSink, GenericProviderSendsTheConfiguredRequest) {
  start();
  SmsConfig sms;
  sms.provider = "http";
  sms.method = "PUT";
  sms.url = base() + "/v2/{account}/sms?to={to}";
  sms.headers = "X-Tenant: {account}\nX-Sender: {from}";
  sms.body = R"({"to":"{to}","from":"{from}","text":"{text}"})";
  sms.content_type = "application/json";
  sms.auth = "bearer";
  sms.token = "bearer-token-1";
  sms.from = "Herald";
  sms.account = "acme corp";
  metrics::Registry reg;
  auto s = send(config(sms), code_sms(), &reg);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "PUT");
  EXPECT_EQ(str(rec, "path"), "/v2/acme%20corp/sms");
  EXPECT_EQ(str(rec, "query"), "to=%2B4915112345689");
  EXPECT_EQ(header(rec, "content-type"), "application/json");
  EXPECT_EQ(header(rec, "authorization"), "Bearer bearer-token-1");
  EXPECT_EQ(header(rec, "x-tenant"), "acme corp");
  EXPECT_EQ(header(rec, "x-sender"), "Herald");
  EXPECT_EQ(header(rec, "expect"), "<absent>");
  EXPECT_EQ(str(rec, "body"),
            R"({"to":"+4915112345689","from":"Herald","text":"Your code is 482913. \"Quote\" & ä\nbye"})");
  auto parsed = boost::json::parse(str(rec, "body")).as_object();
  EXPECT_EQ(parsed.at("text").as_string(), "Your code is 482913. \"Quote\" & ä\nbye");
  EXPECT_NE(reg.render().find(R"(herald_delivery_sends_total{channel="sms",provider="http",result="ok"} 1)"),
            std::string::npos);
}

TEST_F(HttpSink, GenericFormWithBasicAuth) {
  start();
  SmsConfig sms;
  sms.provider = "http";
  sms.url = base() + "/send";
  sms.body = "to={to}&text={text}";
  sms.content_type = "application/x-www-form-urlencoded";
  sms.auth = "basic";
  sms.username = "user";
  sms.password = "pass:word";
  ASSERT_TRUE(send(config(sms), code_sms()).ok());
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(header(rec, "content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(rec, "authorization"), basic("user", "pass:word"));
  EXPECT_EQ(str(rec, "body"), "to=%2B4915112345689&text=Your%20code%20is%20482913.%20%22Quote%22%20%26%20%C3%A4%0Abye");
}

SmsConfig preset(std::string name) {
  SmsConfig c;
  c.provider = std::move(name);
  c.account = "AC0123";
  c.token = "tok-987";
  c.from = "+15550009999";
  return c;
}

TEST_F(HttpSink, TwilioPreset) {
  start();
  auto sms = preset("twilio");
  sms.url = base() + "/2010-04-01/Accounts/{account}/Messages.json";
  ASSERT_TRUE(send(config(sms), code_sms()).ok());
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(str(rec, "path"), "/2010-04-01/Accounts/AC0123/Messages.json");
  EXPECT_EQ(header(rec, "content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(rec, "authorization"), basic("AC0123", "tok-987"));
  EXPECT_EQ(
      str(rec, "body"),
      "To=%2B4915112345689&From=%2B15550009999&Body=Your%20code%20is%20482913.%20%22Quote%22%20%26%20%C3%A4%0Abye");
}

TEST_F(HttpSink, VonagePreset) {
  start();
  auto sms = preset("vonage");
  sms.url = base() + "/sms/json";
  ASSERT_TRUE(send(config(sms), code_sms()).ok());
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(str(rec, "path"), "/sms/json");
  EXPECT_EQ(header(rec, "content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(rec, "authorization"), "<absent>");
  EXPECT_EQ(str(rec, "body"),
            "api_key=AC0123&api_secret=tok-987&from=%2B15550009999&to=%2B4915112345689"
            "&text=Your%20code%20is%20482913.%20%22Quote%22%20%26%20%C3%A4%0Abye");
}

TEST_F(HttpSink, MessagebirdPreset) {
  start();
  auto sms = preset("messagebird");
  sms.account = "";
  sms.url = base() + "/messages";
  ASSERT_TRUE(send(config(sms), code_sms()).ok());
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(str(rec, "path"), "/messages");
  EXPECT_EQ(header(rec, "content-type"), "application/json");
  EXPECT_EQ(header(rec, "authorization"), "AccessKey tok-987");
  auto body = boost::json::parse(str(rec, "body")).as_object();
  EXPECT_EQ(body.at("originator").as_string(), "+15550009999");
  ASSERT_EQ(body.at("recipients").as_array().size(), 1u);
  EXPECT_EQ(body.at("recipients").as_array()[0].as_string(), "+4915112345689");
  EXPECT_EQ(body.at("body").as_string(), "Your code is 482913. \"Quote\" & ä\nbye");
}

TEST_F(HttpSink, PlivoPreset) {
  start();
  auto sms = preset("plivo");
  sms.url = base() + "/v1/Account/{account}/Message/";
  ASSERT_TRUE(send(config(sms), code_sms()).ok());
  auto rec = only_request();
  EXPECT_EQ(str(rec, "method"), "POST");
  EXPECT_EQ(str(rec, "path"), "/v1/Account/AC0123/Message/");
  EXPECT_EQ(header(rec, "content-type"), "application/json");
  EXPECT_EQ(header(rec, "authorization"), basic("AC0123", "tok-987"));
  auto body = boost::json::parse(str(rec, "body")).as_object();
  EXPECT_EQ(body.at("src").as_string(), "+15550009999");
  EXPECT_EQ(body.at("dst").as_string(), "+4915112345689");
  EXPECT_EQ(body.at("text").as_string(), "Your code is 482913. \"Quote\" & ä\nbye");
}

TEST_F(HttpSink, Non2xxIsDeliveryFailedWithTheStatusOnly) {
  start({"--status", "401", "--reply", R"({"error":"bad token tok-987 for code 482913"})"});
  metrics::Registry reg;
  auto sms = preset("messagebird");
  sms.url = base() + "/messages";
  auto s = send(config(sms), code_sms(), &reg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_NE(s.error().message.find("401"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find("482913"), std::string::npos);
  EXPECT_EQ(s.error().message.find("tok-987"), std::string::npos);
  EXPECT_NE(reg.render().find(R"(herald_delivery_sends_total{channel="sms",provider="messagebird",result="failed"} 1)"),
            std::string::npos);
}

TEST_F(HttpSink, ServerErrorIsDeliveryFailed) {
  start({"--status", "503"});
  SmsConfig sms;
  sms.provider = "http";
  sms.url = base() + "/send";
  sms.body = "{}";
  auto s = send(config(sms), code_sms());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("503"), std::string::npos);
}

TEST_F(HttpSink, TimeoutIsDeliveryFailed) {
  start({"--delay", "3"});
  SmsConfig sms;
  sms.provider = "http";
  sms.url = base() + "/send";
  sms.body = "{}";
  auto cfg = config(sms);
  cfg.sms.timeout = Millis(500);
  auto t0 = std::chrono::steady_clock::now();
  auto s = send(cfg, code_sms());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
}

TEST_F(HttpSink, UntrustedCertificateIsRefused) {
  start();
  auto other = make_cert(dir_, "other");
  SmsConfig sms;
  sms.provider = "http";
  sms.url = base() + "/send";
  sms.body = "{\"text\":\"{text}\"}";
  auto cfg = config(sms);
  cfg.sms.ca_file = other.cert;
  auto s = send(cfg, code_sms());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(HttpSink, HostNameIsVerified) {
  // A certificate the client trusts, but for another name than the 127.0.0.1 it dials.
  cert_ = make_cert(dir_, "elsewhere", "DNS:elsewhere.test");
  start();
  SmsConfig sms;
  sms.provider = "http";
  sms.url = base() + "/send";
  sms.body = "{}";
  auto s = send(config(sms), code_sms());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_TRUE(read_records(out_).empty());
}

}  // namespace
}  // namespace herald::delivery
