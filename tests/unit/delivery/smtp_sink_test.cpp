// The SMTP sender against tests/fixtures/smtp_sink.py: STARTTLS and implicit TLS,
// refusal to send in clear, certificate checks, server refusals, AUTH.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/config.h"
#include "core/metrics.h"
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

class SmtpSink : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = make_cert(dir_, "server");
    out_ = dir_.file("mail.jsonl");
  }

  void start(std::vector<std::string> extra) {
    std::vector<std::string> args{"--cert", cert_.cert, "--key", cert_.key, "--out", out_};
    args.insert(args.end(), extra.begin(), extra.end());
    sink_ = std::make_unique<SinkProcess>("smtp_sink.py", args);
  }

  DeliveryConfig config(std::string scheme = "smtp") const {
    DeliveryConfig cfg;
    cfg.email_provider = "smtp";
    cfg.smtp.url = fmt::format("{}://127.0.0.1:{}", scheme, sink_->port());
    cfg.smtp.from = "Herald <no-reply@herald.test>";
    cfg.smtp.ca_file = cert_.cert;
    cfg.smtp.timeout = Millis(5000);
    cfg.workers = 1;
    return cfg;
  }

  Status send(const DeliveryConfig& cfg, OutboundMessage msg, metrics::Registry* reg = nullptr) {
    auto senders = make_senders(cfg, false, reg);
    if (!senders.ok()) return senders.error();
    auto s = send_and_wait(*(*senders)->for_channel("email"), std::move(msg));
    (*senders)->stop();
    return s;
  }

  static OutboundMessage code_mail() {
    return {.channel = "email",
            .to = "alice@example.org",
            .subject = "Ihr Bestätigungscode",
            .text = "Your code is 482913.\n.\nA line with only a dot above.",
            .secret = "482913",
            .reference = "ver_1"};
  }

  TempDir dir_;
  testing::TestCert cert_;
  std::string out_;
  std::unique_ptr<SinkProcess> sink_;
};

TEST_F(SmtpSink, StartTlsIsUsedAndTheCodeArrives) {
  start({});
  metrics::Registry reg;
  auto s = send(config(), code_mail(), &reg);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto recs = read_records(out_);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].at("tls").as_bool(), true);
  EXPECT_EQ(recs[0].at("mail_from").as_string(), "no-reply@herald.test");
  EXPECT_EQ(recs[0].at("helo").as_string(), "herald.test") << "EHLO names the From domain";
  ASSERT_EQ(recs[0].at("rcpt_tos").as_array().size(), 1u);
  EXPECT_EQ(recs[0].at("rcpt_tos").as_array()[0].as_string(), "alice@example.org");
  std::string data(recs[0].at("data").as_string());
  EXPECT_NE(data.find("Your code is 482913."), std::string::npos) << data;
  EXPECT_NE(data.find("\r\n.\r\nA line with only a dot above."), std::string::npos) << "dot-stuffing undone: " << data;
  EXPECT_NE(data.find("From: \"Herald\" <no-reply@herald.test>\r\n"), std::string::npos);
  EXPECT_NE(data.find("To: alice@example.org\r\n"), std::string::npos);
  EXPECT_NE(data.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(data.find("Message-ID: <"), std::string::npos);
  EXPECT_NE(reg.render().find(R"(herald_delivery_sends_total{channel="email",provider="smtp",result="ok"} 1)"),
            std::string::npos);
}

TEST_F(SmtpSink, ImplicitTls) {
  start({"--implicit-tls"});
  auto s = send(config("smtps"), code_mail());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto recs = read_records(out_);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].at("tls").as_bool(), true);
  EXPECT_NE(std::string(recs[0].at("data").as_string()).find("482913"), std::string::npos);
}

TEST_F(SmtpSink, ServerWithoutStartTlsIsRefusedNotSentInClear) {
  sink_ = std::make_unique<SinkProcess>("smtp_sink.py", std::vector<std::string>{"--no-tls", "--out", out_});
  auto s = send(config(), code_mail());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_EQ(s.error().message.find("482913"), std::string::npos);
  EXPECT_TRUE(read_records(out_).empty()) << "the message went out in clear";
}

TEST_F(SmtpSink, UntrustedCertificateIsRefused) {
  start({});
  auto other = make_cert(dir_, "other");
  auto cfg = config();
  cfg.smtp.ca_file = other.cert;
  auto s = send(cfg, code_mail());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(SmtpSink, ImplicitTlsWithUntrustedCertificateIsRefused) {
  start({"--implicit-tls"});
  auto other = make_cert(dir_, "other");
  auto cfg = config("smtps");
  cfg.smtp.ca_file = other.cert;
  auto s = send(cfg, code_mail());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(SmtpSink, RecipientRefusedIsDeliveryFailed) {
  start({"--fail"});
  metrics::Registry reg;
  auto s = send(config(), code_mail(), &reg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_NE(s.error().message.find("550"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find("alice"), std::string::npos) << "recipient in the error: " << s.error().message;
  EXPECT_TRUE(read_records(out_).empty());
  EXPECT_NE(reg.render().find(R"(herald_delivery_sends_total{channel="email",provider="smtp",result="failed"} 1)"),
            std::string::npos);
}

TEST_F(SmtpSink, AuthAfterTls) {
  start({"--auth", "mailer:s3cret-pw"});
  auto cfg = config();
  cfg.smtp.username = "mailer";
  cfg.smtp.password = "s3cret-pw";
  auto s = send(cfg, code_mail());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto recs = read_records(out_);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].at("auth").as_string(), "mailer");
  EXPECT_EQ(recs[0].at("tls").as_bool(), true);

  cfg.smtp.password = "wrong-pw";
  auto bad = send(cfg, code_mail());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kDeliveryFailed);
  EXPECT_EQ(bad.error().message.find("wrong-pw"), std::string::npos);
  EXPECT_EQ(read_records(out_).size(), 1u);

  cfg.smtp.username = "";
  cfg.smtp.password = "";
  EXPECT_FALSE(send(cfg, code_mail()).ok()) << "the sink requires AUTH";
}

TEST_F(SmtpSink, HeaderInjectionIsRefusedBeforeSending) {
  start({});
  auto msg = code_mail();
  msg.to = "alice@example.org\r\nBcc: eve@evil.test";
  auto s = send(config(), msg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  msg = code_mail();
  msg.subject = "Code\r\nBcc: eve@evil.test";
  s = send(config(), msg);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(read_records(out_).empty());
}

TEST_F(SmtpSink, UnreachableServerFailsWithinTheTimeout) {
  start({});
  auto cfg = config();
  cfg.smtp.url = "smtp://127.0.0.1:1";
  auto t0 = std::chrono::steady_clock::now();
  auto s = send(cfg, code_mail());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

}  // namespace
}  // namespace herald::delivery
