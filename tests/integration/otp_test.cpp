// Verification codes through the real binary: the code reaches a real SMTP server over
// STARTTLS and a local HTTPS SMS endpoint (exact request checked), verify and redeem
// behave once, and every abuse limit and the blocklist refuse when exceeded.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "../unit/delivery/sinks.h"
#include "harness.h"
#include "sdk_connection.h"
#include "herald/client.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace dt = herald::delivery::testing;


// The development app, which has every scope.
sdk::ServerClient demo_client(const Server& s) {
  auto v = json::parse(slurp(s.data_dir() + "/dev-app.json")).as_object();
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s), std::string(v.at("app_key").as_string()),
                                                    std::string(v.at("app_secret").as_string())});
}

std::string demo_app_id(const Server& s) {
  return std::string(json::parse(slurp(s.data_dir() + "/dev-app.json")).as_object().at("app_id").as_string());
}

sdk::AdminClient admin_client(const Server& s) {
  return sdk::AdminClient(sdk::AdminClientOptions{connection(s), admin_token(s)});
}

sdk::OtpSendOptions sms(std::string to, std::string device = "dev-1", std::string ip = "203.0.113.7") {
  return sdk::OtpSendOptions{std::move(to), "sms", std::move(device), "login", "", "", std::move(ip)};
}

// Polls a sink's record file until `n` records are there (at most 15 s).
std::vector<json::object> wait_records(const std::string& path, std::size_t n) {
  for (int i = 0; i < 300; ++i) {
    auto r = dt::read_records(path);
    if (r.size() >= n) return r;
    std::this_thread::sleep_for(50ms);
  }
  return dt::read_records(path);
}

// The code the development log provider wrote for `verification_id` (in --dev the log
// shows it in clear; in production it is masked).
std::string logged_code(const Server& s, const std::string& verification_id) {
  for (int i = 0; i < 100; ++i) {
    std::string log = s.log();
    auto at = log.find(verification_id);
    if (at != std::string::npos) {
      std::string line = log.substr(at, log.find('\n', at) - at);
      std::smatch m;
      if (std::regex_search(line, m, std::regex("code is ([0-9]{4,8})"))) return m[1];
    }
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

TEST(OtpEmail, TheCodeArrivesOverStartTlsAndVerifiesOnceForItsPurpose) {
  dt::TempDir dir;
  auto cert = dt::make_cert(dir, "smtp");
  std::string out = dir.file("mail.jsonl");
  dt::SinkProcess sink("smtp_sink.py", {"--cert", cert.cert, "--key", cert.key, "--out", out});
  Server s(Server::Options{{"--delivery.email_provider", "smtp", "--delivery.smtp.url",
                            "smtp://127.0.0.1:" + std::to_string(sink.port()), "--delivery.smtp.from",
                            "codes@herald.example", "--delivery.smtp.ca_file", cert.cert}});
  auto client = demo_client(s);
  auto sent = client.otp_send(
      sdk::OtpSendOptions{"Alice@Example.com", "email", "laptop-7", "password_change", "", "", "198.51.100.4"});
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  EXPECT_EQ(sent->expires_in_s, 300);
  EXPECT_EQ(sent->resend_after_s, 60);

  auto mails = wait_records(out, 1);
  ASSERT_EQ(mails.size(), 1u);
  const auto& mail = mails[0];
  EXPECT_TRUE(mail.at("tls").as_bool()) << "the message must travel over STARTTLS";
  ASSERT_EQ(mail.at("rcpt_tos").as_array().size(), 1u);
  EXPECT_EQ(mail.at("rcpt_tos").as_array()[0].as_string(), "Alice@Example.com");
  EXPECT_EQ(mail.at("mail_from").as_string(), "codes@herald.example");
  std::string data(mail.at("data").as_string());
  EXPECT_NE(data.find("Subject: Your demo verification code"), std::string::npos) << data;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(data, m, std::regex("code is ([0-9]{6})"))) << data;
  std::string code = m[1];

  // The server's log never shows the code or the address of a real provider's message.
  EXPECT_EQ(s.log().find(code), std::string::npos);
  EXPECT_EQ(s.log().find("Alice@Example.com"), std::string::npos);

  auto verified = client.otp_verify(sent->verification_id, code);
  ASSERT_TRUE(verified.ok()) << verified.error().code;
  EXPECT_EQ(verified->expires_in_s, 600);
  auto again = client.otp_verify(sent->verification_id, code);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "otp_already_verified");
  EXPECT_EQ(again.error().http_status, 409);

  auto wrong_purpose = client.otp_redeem(verified->success_token, "login");
  ASSERT_FALSE(wrong_purpose.ok());
  EXPECT_EQ(wrong_purpose.error().code, "otp_purpose_mismatch");
  EXPECT_EQ(wrong_purpose.error().http_status, 403);

  auto redeemed = client.otp_redeem(verified->success_token, "password_change");
  ASSERT_TRUE(redeemed.ok()) << redeemed.error().code;
  EXPECT_EQ(redeemed->to, "Alice@Example.com");
  EXPECT_EQ(redeemed->device_id, "laptop-7");
  EXPECT_EQ(redeemed->purpose, "password_change");
  auto twice = client.otp_redeem(verified->success_token, "password_change");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, "otp_token_used");
  EXPECT_EQ(twice.error().http_status, 409);
}

TEST(OtpEmail, AServerWithoutStartTlsGetsNothingAndTheSendFails) {
  dt::TempDir dir;
  auto cert = dt::make_cert(dir, "smtp");
  std::string out = dir.file("mail.jsonl");
  dt::SinkProcess sink("smtp_sink.py", {"--no-tls", "--out", out});
  Server s(Server::Options{{"--delivery.email_provider", "smtp", "--delivery.smtp.url",
                            "smtp://127.0.0.1:" + std::to_string(sink.port()), "--delivery.smtp.from",
                            "codes@herald.example", "--delivery.smtp.ca_file", cert.cert}});
  auto client = demo_client(s);
  auto sent = client.otp_send(sdk::OtpSendOptions{"bob@example.com", "email", "d", "login", "", "", "198.51.100.4"});
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, "delivery_failed");
  EXPECT_EQ(sent.error().http_status, 502);
  EXPECT_TRUE(dt::read_records(out).empty());
}

struct SmsSink {
  dt::TempDir dir;
  dt::TestCert cert = dt::make_cert(dir, "sms");
  std::string out = dir.file("sms.jsonl");
  std::unique_ptr<dt::SinkProcess> proc;
  explicit SmsSink(const std::string& status = "200") {
    proc = std::make_unique<dt::SinkProcess>(
        "http_sink.py",
        std::vector<std::string>{"--cert", cert.cert, "--key", cert.key, "--out", out, "--status", status});
  }
  std::vector<std::string> flags() const {
    return {"--delivery.sms.provider", "http",
            "--delivery.sms.url",      "https://127.0.0.1:" + std::to_string(proc->port()) + "/v1/messages?route=otp",
            "--delivery.sms.body",     R"({"to":"{to}","from":"{from}","text":"{text}"})",
            "--delivery.sms.headers",  "X-Tenant: acme",
            "--delivery.sms.auth",     "bearer",
            "--delivery.sms.token",    "sms-test-token-4711",
            "--delivery.sms.from",     "HeraldDev",
            "--delivery.sms.ca_file",  cert.cert};
  }
};

TEST(OtpSms, TheGenericProviderSendsExactlyTheConfiguredRequest) {
  SmsSink sink;
  Server s(Server::Options{sink.flags()});
  auto client = demo_client(s);
  auto sent = client.otp_send(sms("+4915123456789"));
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  auto reqs = wait_records(sink.out, 1);
  ASSERT_EQ(reqs.size(), 1u);
  const auto& r = reqs[0];
  EXPECT_EQ(r.at("method").as_string(), "POST");
  EXPECT_EQ(r.at("path").as_string(), "/v1/messages");
  EXPECT_EQ(r.at("query").as_string(), "route=otp");
  const auto& h = r.at("headers").as_object();
  EXPECT_EQ(h.at("authorization").as_string(), "Bearer sms-test-token-4711");
  EXPECT_EQ(h.at("content-type").as_string(), "application/json");
  EXPECT_EQ(h.at("x-tenant").as_string(), "acme");
  auto body = json::parse(std::string(r.at("body").as_string())).as_object();
  EXPECT_EQ(body.size(), 3u);
  EXPECT_EQ(body.at("to").as_string(), "+4915123456789");
  EXPECT_EQ(body.at("from").as_string(), "HeraldDev");
  std::string text(body.at("text").as_string());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m,
                                std::regex("^Your demo verification code is ([0-9]{6})\\. It expires in "
                                           "5 minutes\\. Do not share it\\.$")))
      << text;
  auto verified = client.otp_verify(sent->verification_id, m[1].str());
  ASSERT_TRUE(verified.ok()) << verified.error().code;
  EXPECT_TRUE(client.otp_redeem(verified->success_token, "login").ok());
  // The provider's token is a secret: not in the log.
  EXPECT_EQ(s.log().find("sms-test-token-4711"), std::string::npos);
}

TEST(OtpSms, AProviderRefusalIs502AndTheVerificationIsDead) {
  SmsSink sink("500");
  Server s(Server::Options{sink.flags()});
  auto client = demo_client(s);
  auto sent = client.otp_send(sms("+4915123456789"));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, "delivery_failed");
  EXPECT_EQ(sent.error().http_status, 502);
  EXPECT_EQ(wait_records(sink.out, 1).size(), 1u);  // it was tried
}

// ---- Limits, through the binary with the development log provider ---------------------

TEST(OtpLimits, WrongCodesUseUpTheAttemptsThenEvenTheRightCodeIsRefused) {
  Server s(Server::Options{{"--otp.max_attempts", "3"}});
  auto client = demo_client(s);
  auto sent = client.otp_send(sms("+4915123456789"));
  ASSERT_TRUE(sent.ok()) << sent.error().code;
  std::string code = logged_code(s, sent->verification_id);
  ASSERT_EQ(code.size(), 6u);
  std::string wrong = code;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  for (int left = 2; left >= 0; --left) {
    auto v = client.otp_verify(sent->verification_id, wrong);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, "otp_code_invalid");
    EXPECT_EQ(v.error().http_status, 400);
    EXPECT_EQ(v.error().attempts_left, left);
  }
  auto v = client.otp_verify(sent->verification_id, code);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "otp_verification_dead");
  EXPECT_EQ(v.error().http_status, 410);
}

TEST(OtpLimits, ResendCooldownThenPerRecipientPerDay) {
  Server s(Server::Options{{"--otp.resend_cooldown", "1s", "--otp.per_recipient_per_day", "2"}});
  auto client = demo_client(s);
  ASSERT_TRUE(client.otp_send(sms("+4915123456789", "d1", "203.0.113.1")).ok());
  auto soon = client.otp_send(sms("+4915123456789", "d2", "203.0.113.2"));
  ASSERT_FALSE(soon.ok());
  EXPECT_EQ(soon.error().code, "otp_resend_too_soon");
  EXPECT_EQ(soon.error().http_status, 429);
  EXPECT_EQ(soon.error().retry_after_s, 1);
  std::this_thread::sleep_for(1100ms);
  ASSERT_TRUE(client.otp_send(sms("+4915123456789", "d3", "203.0.113.3")).ok());
  std::this_thread::sleep_for(1100ms);
  auto day = client.otp_send(sms("+4915123456789", "d4", "203.0.113.4"));
  ASSERT_FALSE(day.ok());
  EXPECT_EQ(day.error().code, "otp_recipient_limit");
  EXPECT_GT(day.error().retry_after_s, 0);
  EXPECT_LE(day.error().retry_after_s, 86'400);
}

TEST(OtpLimits, PerDevicePerDay) {
  Server s(Server::Options{{"--otp.per_device_per_day", "2"}});
  auto client = demo_client(s);
  ASSERT_TRUE(client.otp_send(sms("+4915100000001", "phone-1", "203.0.113.1")).ok());
  ASSERT_TRUE(client.otp_send(sms("+4915100000002", "phone-1", "203.0.113.2")).ok());
  auto r = client.otp_send(sms("+4915100000003", "phone-1", "203.0.113.3"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "otp_device_limit");
  EXPECT_GT(r.error().retry_after_s, 0);
  EXPECT_TRUE(client.otp_send(sms("+4915100000003", "phone-2", "203.0.113.3")).ok());
}

TEST(OtpLimits, PerSourceAddressPerHourWithAndWithoutClientIp) {
  Server s(Server::Options{{"--otp.per_ip_per_hour", "2"}});
  auto client = demo_client(s);
  ASSERT_TRUE(client.otp_send(sms("+4915100000001", "d1", "203.0.113.9")).ok());
  ASSERT_TRUE(client.otp_send(sms("+4915100000002", "d2", "203.0.113.9")).ok());
  auto r = client.otp_send(sms("+4915100000003", "d3", "203.0.113.9"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "otp_ip_limit");
  EXPECT_GT(r.error().retry_after_s, 0);
  EXPECT_LE(r.error().retry_after_s, 3600);
  // Without client_ip the caller's own address (127.0.0.1) is counted.
  ASSERT_TRUE(client.otp_send(sms("+4915100000004", "d4", "")).ok());
  ASSERT_TRUE(client.otp_send(sms("+4915100000005", "d5", "")).ok());
  auto own = client.otp_send(sms("+4915100000006", "d6", ""));
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.error().code, "otp_ip_limit");
}

TEST(OtpLimits, PerAppPerMinuteCountsTestRecipientsAndShowsInMetrics) {
  Server s(Server::Options{{"--otp.per_app_per_minute", "3", "--otp.test_recipients", "+15550000001"}});
  auto client = demo_client(s);
  // A test recipient skips the cooldown...
  ASSERT_TRUE(client.otp_send(sms("+15550000001")).ok());
  auto again = client.otp_send(sms("+15550000001"));
  ASSERT_TRUE(again.ok()) << again.error().code;
  EXPECT_EQ(again->resend_after_s, 0);
  ASSERT_TRUE(client.otp_send(sms("+4915100000001", "d1", "203.0.113.1")).ok());
  // ...but not the app's rate.
  auto r = client.otp_send(sms("+4915100000002", "d2", "203.0.113.2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "otp_app_limit");
  EXPECT_GE(r.error().retry_after_s, 1);
  EXPECT_LE(r.error().retry_after_s, 60);
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_otp_limit_refusals_total{limit=\"app_per_minute\"}"), 1.0);
  EXPECT_EQ(metric_value(m, "herald_otp_sends_total{channel=\"sms\",result=\"ok\"}"), 3.0);
}

TEST(OtpLimits, TestRecipientsOnlyKeepsRealPeopleOutOfStaging) {
  Server s(
      Server::Options{{"--otp.test_recipients", "+15550000001,qa@example.com", "--otp.test_recipients_only", "true"}});
  auto client = demo_client(s);
  EXPECT_TRUE(client.otp_send(sms("+15550000001")).ok());
  auto r = client.otp_send(sms("+4915100000001"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "otp_recipient_not_allowed");
  EXPECT_EQ(r.error().http_status, 403);
}

TEST(OtpBlocklist, TheCliBlocksListsAndUnblocks) {
  Server s;
  std::string token_file = s.data_dir() + "/admin.token";
  std::vector<std::string> conn{"--server",           "https://127.0.0.1:" + std::to_string(s.port()),
                                "--ca-file",          s.ca_file(),
                                "--admin-token-file", token_file};
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.end(), conn.begin(), conn.end());
    return run_herald(args);
  };
  std::string app = demo_app_id(s);
  auto add = cli({"otp", "block", "add", app, "+4915123456789", "--reason", "fraud report 1182"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  auto client = demo_client(s);
  auto refused = client.otp_send(sms("+4915123456789"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "otp_recipient_blocked");
  EXPECT_EQ(refused.error().http_status, 403);

  auto list = cli({"otp", "block", "list", app, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  auto entries = json::parse(list.output).as_object().at("entries").as_array();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].as_object().at("to").as_string(), "+4915123456789");
  EXPECT_EQ(entries[0].as_object().at("reason").as_string(), "fraud report 1182");

  // The reason and number are stored encrypted, not in clear.
  EXPECT_EQ(slurp(s.data_dir() + "/herald.db").find("fraud report"), std::string::npos);

  auto remove = cli({"otp", "block", "remove", app, "+4915123456789"});
  ASSERT_EQ(remove.exit_code, 0) << remove.output;
  auto missing = cli({"otp", "block", "remove", app, "+4915123456789"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("otp_block_not_found"), std::string::npos) << missing.output;
  EXPECT_TRUE(client.otp_send(sms("+4915123456789")).ok());

  // The admin API refuses a request without the admin token.
  auto anon = https(s, "POST", "/admin/v1/apps/" + app + "/otp/blocklist", {{"Content-Type", "application/json"}},
                    R"({"to":"+4915100000009"})");
  EXPECT_EQ(anon.status, 401);
}

TEST(OtpApi, AnAppWithoutTheOtpScopeIsRefusedAndBadBodiesAreNamed) {
  Server s;
  auto admin = admin_client(s);
  sdk::AppCreateOptions o;
  o.name = "publisher-only";
  o.scopes = {"publish"};
  auto created = admin.create_app(o);
  ASSERT_TRUE(created.ok()) << created.error().code;
  sdk::ServerClient publisher(sdk::ServerClientOptions{connection(s), created->app.key, created->app_secret});
  auto r = publisher.otp_send(sms("+4915123456789"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "scope_missing");

  auto client = demo_client(s);
  auto bad = client.otp_send(sdk::OtpSendOptions{"0151 234567", "sms", "d", "login", "", "", ""});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_argument");
  EXPECT_NE(bad.error().message.find("E.164"), std::string::npos);
  auto tmpl = client.otp_send(sdk::OtpSendOptions{"+4915123456789", "sms", "d", "login", "nope", "", ""});
  ASSERT_FALSE(tmpl.ok());
  EXPECT_EQ(tmpl.error().code, "otp_template_not_found");
  auto unknown = client.otp_verify("otp_00000000000000000000000000000000", "123456");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "otp_verification_not_found");
  EXPECT_EQ(unknown.error().http_status, 404);
  auto forged = client.otp_redeem(sdk::SecretString("hst1.eyJ2IjoiYSJ9.AAAA"), "login");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().code, "otp_token_invalid");
}

TEST(OtpTemplates, ATemplatesFileChoosesTextByPurposeAndLocale) {
  dt::TempDir dir;
  std::string path = dir.file("templates.toml");
  std::ofstream(path) << "[login.de]\nsms = \"{app}: Ihr Code lautet {code}.\"\n";
  Server s(Server::Options{{"--otp.templates_file", path}});
  auto client = demo_client(s);
  auto o = sms("+4915123456789");
  o.locale = "de-AT";
  auto sent = client.otp_send(o);
  ASSERT_TRUE(sent.ok()) << sent.error().code;
  // The log channel writes the text from the delivery thread, a moment after the answer.
  std::regex text("demo: Ihr Code lautet [0-9]{6}\\.");
  std::string log = s.log();
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       !std::regex_search(log, text) && std::chrono::steady_clock::now() < until; log = s.log())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(std::regex_search(log, text)) << log;

  // A broken file stops the server with a message naming the table and key.
  std::string bad = dir.file("bad.toml");
  std::ofstream(bad) << "[login]\nsms = \"no code\"\n";
  auto r = run_herald({"serve", "--dev", "--otp.templates_file", bad, "--store.data_dir", dir.file("data"),
                       "--server.listen", "127.0.0.1", "--server.port", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("login.sms: must contain {code}"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace herald::testing
