// SMS request templates: presets, overrides, placeholder escaping, and the checks
// make_senders makes on [delivery] before anything is sent.
#include "delivery/sms_request.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/config.h"
#include "sinks.h"

namespace herald::delivery {
namespace {

SmsConfig generic() {
  SmsConfig c;
  c.provider = "http";
  c.url = "https://sms.example.com/v1/{account}/send?to={to}";
  c.body = R"({"to":"{to}","from":"{from}","text":"{text}"})";
  c.from = "Herald";
  c.account = "acc 1/2";
  return c;
}

const OutboundMessage kMsg{
    .channel = "sms", .to = "+4915112345689", .text = "Code \"42\"\nä & more=yes", .secret = "42"};

TEST(SmsRequest, GenericSubstitutesAndEscapesPerPlace) {
  auto t = resolve_sms_template(generic());
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto r = render_sms_request(*t, kMsg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url, "https://sms.example.com/v1/acc%201%2F2/send?to=%2B4915112345689");
  EXPECT_EQ(r->body, R"({"to":"+4915112345689","from":"Herald","text":"Code \"42\"\nä & more=yes"})");
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "Content-Type");
  EXPECT_EQ(r->headers[0].second, "application/json");
}

TEST(SmsRequest, FormBodyIsPercentEncoded) {
  auto c = generic();
  c.content_type = "application/x-www-form-urlencoded";
  c.body = "to={to}&msg={text}";
  auto t = resolve_sms_template(c);
  ASSERT_TRUE(t.ok());
  auto r = render_sms_request(*t, kMsg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "to=%2B4915112345689&msg=Code%20%2242%22%0A%C3%A4%20%26%20more%3Dyes");
}

TEST(SmsRequest, HeadersAreTemplatesAndCannotBeInjected) {
  auto c = generic();
  c.headers = "X-Account: {account}\r\nX-Api-Key: {token}\n\nX-Note: {text}";
  c.token = "tok";
  auto t = resolve_sms_template(c);
  ASSERT_TRUE(t.ok()) << t.error().message;
  OutboundMessage plain{.to = "+15550001111", .text = "hello"};
  auto r = render_sms_request(*t, plain);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->headers.size(), 4u);
  EXPECT_EQ(r->headers[1], (std::pair<std::string, std::string>{"X-Account", "acc 1/2"}));
  EXPECT_EQ(r->headers[2], (std::pair<std::string, std::string>{"X-Api-Key", "tok"}));
  EXPECT_EQ(r->headers[3], (std::pair<std::string, std::string>{"X-Note", "hello"}));
  // The text lands in a header: a line break in it must not become a new header.
  auto injected = render_sms_request(*t, {.to = "+15550001111", .text = "hi\r\nX-Evil: 1"});
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.error().code, Errc::kDeliveryFailed);
}

TEST(SmsRequest, RecipientMustBeAPhoneNumber) {
  auto t = resolve_sms_template(generic());
  ASSERT_TRUE(t.ok());
  for (auto to : {"", "+", "abc", "+1555\r\n", "+1 555 000", "12"}) {
    auto r = render_sms_request(*t, {.to = to, .text = "x"});
    ASSERT_FALSE(r.ok()) << to;
    EXPECT_EQ(r.error().code, Errc::kDeliveryFailed);
  }
  EXPECT_TRUE(render_sms_request(*t, {.to = "4915112345689", .text = "x"}).ok());
}

SmsConfig preset(std::string name) {
  SmsConfig c;
  c.provider = std::move(name);
  c.account = "AC123";
  c.token = "secret-token";
  c.from = "+15550009999";
  return c;
}

TEST(SmsRequest, Presets) {
  OutboundMessage m{.to = "+4915112345689", .text = "Code 1 & 2"};
  {
    auto t = resolve_sms_template(preset("twilio"));
    ASSERT_TRUE(t.ok()) << t.error().message;
    auto r = render_sms_request(*t, m);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->url, "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
    EXPECT_EQ(r->body, "To=%2B4915112345689&From=%2B15550009999&Body=Code%201%20%26%202");
    EXPECT_EQ(r->headers[0].second, "application/x-www-form-urlencoded");
    EXPECT_EQ(r->auth, "basic");
    EXPECT_EQ(r->username, "AC123");
    EXPECT_EQ(r->password, "secret-token");
  }
  {
    auto t = resolve_sms_template(preset("vonage"));
    ASSERT_TRUE(t.ok());
    auto r = render_sms_request(*t, m);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->url, "https://rest.nexmo.com/sms/json");
    EXPECT_EQ(r->body,
              "api_key=AC123&api_secret=secret-token&from=%2B15550009999&to=%2B4915112345689&text=Code%201%20%26%202");
    EXPECT_EQ(r->auth, "none");
  }
  {
    auto t = resolve_sms_template(preset("messagebird"));
    ASSERT_TRUE(t.ok());
    auto r = render_sms_request(*t, m);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->url, "https://rest.messagebird.com/messages");
    EXPECT_EQ(r->body, R"({"originator":"+15550009999","recipients":["+4915112345689"],"body":"Code 1 & 2"})");
    ASSERT_EQ(r->headers.size(), 2u);
    EXPECT_EQ(r->headers[1], (std::pair<std::string, std::string>{"Authorization", "AccessKey secret-token"}));
  }
  {
    auto t = resolve_sms_template(preset("plivo"));
    ASSERT_TRUE(t.ok());
    auto r = render_sms_request(*t, m);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->url, "https://api.plivo.com/v1/Account/AC123/Message/");
    EXPECT_EQ(r->body, R"({"src":"+15550009999","dst":"+4915112345689","text":"Code 1 & 2"})");
    EXPECT_EQ(r->auth, "basic");
    EXPECT_EQ(r->username, "AC123");
    EXPECT_EQ(r->password, "secret-token");
  }
}

TEST(SmsRequest, ExplicitKeysOverridePresetDefaults) {
  auto c = preset("twilio");
  c.url = "https://127.0.0.1:8443/custom/{account}";
  c.username = "SK-api-key";
  c.password = "api-key-secret";
  c.headers = "X-Extra: 1";
  auto t = resolve_sms_template(c);
  ASSERT_TRUE(t.ok());
  auto r = render_sms_request(*t, {.to = "+4915112345689", .text = "x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "https://127.0.0.1:8443/custom/AC123");
  EXPECT_EQ(r->username, "SK-api-key");
  EXPECT_EQ(r->password, "api-key-secret");
  EXPECT_EQ(r->headers.back(), (std::pair<std::string, std::string>{"X-Extra", "1"}));

  auto b = preset("plivo");
  b.body = R"({"src":"{from}","dst":"{to}","text":"{text}","type":"sms"})";
  auto tb = resolve_sms_template(b);
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(tb->body, b.body);
}

void expect_invalid(const DeliveryConfig& cfg, std::string_view key_prefix) {
  auto r = make_senders(cfg, false, nullptr);
  ASSERT_FALSE(r.ok()) << "expected a refusal naming " << key_prefix;
  EXPECT_EQ(r.error().code, Errc::kInvalidConfig);
  EXPECT_EQ(r.error().message.rfind(key_prefix, 0), 0u) << r.error().message;
}

TEST(MakeSenders, RefusesUnworkableSmsConfig) {
  DeliveryConfig cfg;
  cfg.sms = generic();
  cfg.sms.url = "http://sms.example.com/send";
  expect_invalid(cfg, "delivery.sms.url: must be an https:// URL");
  cfg.sms.url = "ftp://sms.example.com/send";
  expect_invalid(cfg, "delivery.sms.url");
  cfg.sms.url = "https://user:pw@sms.example.com/send";
  expect_invalid(cfg, "delivery.sms.url");
  cfg.sms.url = "";
  expect_invalid(cfg, "delivery.sms.url");

  cfg.sms = generic();
  cfg.sms.body = "";
  expect_invalid(cfg, "delivery.sms.body");
  cfg.sms = generic();
  cfg.sms.auth = "bearer";
  expect_invalid(cfg, "delivery.sms.token");
  cfg.sms = generic();
  cfg.sms.auth = "basic";
  expect_invalid(cfg, "delivery.sms.username");
  cfg.sms = generic();
  cfg.sms.headers = "not a header";
  expect_invalid(cfg, "delivery.sms.headers: line 1");
  cfg.sms.headers = "X-Ok: 1\nContent-Length: 5";
  expect_invalid(cfg, "delivery.sms.headers: line 2");
  cfg.sms = generic();
  cfg.sms.ca_file = "/nonexistent/ca.pem";
  expect_invalid(cfg, "delivery.sms.ca_file");

  for (std::string name : {"twilio", "vonage", "plivo"}) {
    cfg.sms = preset(name);
    cfg.sms.account = "";
    expect_invalid(cfg, "delivery.sms.account");
  }
  for (std::string name : {"twilio", "vonage", "messagebird", "plivo"}) {
    cfg.sms = preset(name);
    cfg.sms.token = "";
    expect_invalid(cfg, "delivery.sms.token");
    cfg.sms = preset(name);
    cfg.sms.from = "";
    expect_invalid(cfg, "delivery.sms.from");
    cfg.sms = preset(name);
    cfg.sms.url = "http://127.0.0.1:8080/";
    expect_invalid(cfg, "delivery.sms.url");
    cfg.sms = preset(name);
    EXPECT_TRUE(make_senders(cfg, false, nullptr).ok()) << name;
  }
}

TEST(MakeSenders, RefusesUnworkableSmtpConfig) {
  DeliveryConfig cfg;
  cfg.email_provider = "smtp";
  cfg.smtp.url = "";
  cfg.smtp.from = "no-reply@example.com";
  expect_invalid(cfg, "delivery.smtp.url");
  cfg.smtp.url = "http://mail.example.com";
  expect_invalid(cfg, "delivery.smtp.url: must start with smtp:// or smtps://");
  cfg.smtp.url = "smtp://user:pw@mail.example.com:587";
  expect_invalid(cfg, "delivery.smtp.url");
  cfg.smtp.url = "smtp://mail.example.com:587";
  cfg.smtp.from = "";
  expect_invalid(cfg, "delivery.smtp.from");
  cfg.smtp.from = "not an address";
  expect_invalid(cfg, "delivery.smtp.from");
  cfg.smtp.from = "Herald <no-reply@example.com>";
  cfg.smtp.username = "user";
  expect_invalid(cfg, "delivery.smtp.password");
  cfg.smtp.password = "pw";
  cfg.smtp.ca_file = "/nonexistent/ca.pem";
  expect_invalid(cfg, "delivery.smtp.ca_file");
  cfg.smtp.ca_file = "";
  auto ok = make_senders(cfg, false, nullptr);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->for_channel("email")->name(), "smtp");
  cfg.smtp.url = "smtps://mail.example.com:465";
  EXPECT_TRUE(make_senders(cfg, false, nullptr).ok());
}

TEST(MakeSenders, ErrorsNeverCarrySecrets) {
  DeliveryConfig cfg;
  cfg.sms = preset("twilio");
  cfg.sms.token = "tok-SECRET";
  cfg.sms.url = "http://example.com/{token}";
  auto r = make_senders(cfg, false, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace herald::delivery
