#include "otp/otp_service.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <regex>

#include "delivery/sender.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::otp {
namespace {

constexpr std::int64_t kStart = 1'795'428'000'000;  // 2026-11-23 10:00 UTC

// Records what would have been sent; can be told to fail.
class RecordingSender final : public delivery::Sender {
 public:
  std::string_view name() const override { return "recording"; }
  void send(delivery::OutboundMessage msg, delivery::SendDone done) override {
    {
      std::lock_guard lock(mu);
      sent.push_back(msg);
    }
    if (fail) return done(make_error(Errc::kDeliveryFailed, "provider said 500"));
    done(ok_status());
  }
  std::mutex mu;
  std::vector<delivery::OutboundMessage> sent;
  std::atomic<bool> fail{false};
};

class RecordingSenders final : public delivery::Senders {
 public:
  delivery::Sender* for_channel(std::string_view c) override { return c == "sms" || c == "email" ? &sender : nullptr; }
  void stop() override {}
  RecordingSender sender;
};

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> o) { p.set_value(std::move(o)); });
  return f.get();
}

struct OtpFixture : ::testing::Test {
  OtpFixture() {
    std::string t = ::testing::TempDir() + "/otp-XXXXXX";
    dir = mkdtemp(t.data());
    open();
  }
  ~OtpFixture() override {
    close();
    std::filesystem::remove_all(dir);
  }
  void open() {
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    EXPECT_TRUE(keys->ensure_app_keys("app1").ok());
    EXPECT_TRUE(keys->ensure_app_keys("app2").ok());
    make_service();
  }
  void make_service(std::size_t max_counters = 10'000) {
    service = std::make_unique<OtpService>(cfg, *db, *keys, &senders, make_memory_limit_counters(max_counters),
                                           Templates(), nullptr, [this] { return clock.load(); });
    ASSERT_TRUE(service->load().ok());
  }
  void close() {
    service.reset();
    keys.reset();
    if (db) db->close();
    db.reset();
  }
  // A server restart: everything reloaded from the store.
  void restart() {
    close();
    open();
  }

  SendRequest request(std::string to = "+4915123456789", std::string device = "dev-1", std::string ip = "203.0.113.7") {
    SendRequest r;
    r.app_id = "app1";
    r.app_name = "Acme";
    r.to = std::move(to);
    r.channel = r.to.find('@') == std::string::npos ? "sms" : "email";
    r.device_id = std::move(device);
    r.purpose = "login";
    r.client_ip = std::move(ip);
    return r;
  }
  Result<SendResult> send(SendRequest r) {
    return wait<SendResult>([&](Done<SendResult> d) { service->send(r, std::move(d)); });
  }
  Result<VerifyResult> verify(const std::string& id, const std::string& code, const std::string& app = "app1") {
    return wait<VerifyResult>([&](Done<VerifyResult> d) { service->verify(app, id, code, std::move(d)); });
  }
  Result<RedeemResult> redeem(const std::string& token, const std::string& purpose, const std::string& app = "app1") {
    return wait<RedeemResult>([&](Done<RedeemResult> d) { service->redeem(app, token, purpose, std::move(d)); });
  }
  // The code of the last message sent.
  std::string last_code() {
    std::lock_guard lock(senders.sender.mu);
    return senders.sender.sent.back().secret;
  }
  std::string wrong(const std::string& code) {
    std::string w = code;
    w[0] = w[0] == '9' ? '0' : static_cast<char>(w[0] + 1);
    return w;
  }

  OtpConfig cfg;
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  RecordingSenders senders;
  std::unique_ptr<OtpService> service;
  std::atomic<std::int64_t> clock{kStart};
};

TEST_F(OtpFixture, SendVerifyRedeemOnceForItsPurpose) {
  auto s = send(request());
  ASSERT_TRUE(s.ok()) << s.error().code;
  EXPECT_EQ(s->expires_in_s, 300);
  EXPECT_EQ(s->resend_after_s, 60);
  const auto& msg = senders.sender.sent.back();
  EXPECT_EQ(msg.channel, "sms");
  EXPECT_EQ(msg.to, "+4915123456789");
  EXPECT_TRUE(std::regex_match(msg.secret, std::regex("[0-9]{6}")));
  EXPECT_NE(msg.text.find(msg.secret), std::string::npos);
  EXPECT_NE(msg.text.find("Acme"), std::string::npos);

  auto v = verify(s->verification_id, msg.secret);
  ASSERT_TRUE(v.ok()) << v.error().code;
  EXPECT_EQ(v->expires_in_s, 600);
  EXPECT_EQ(v->success_token.rfind("hst1.", 0), 0u);
  EXPECT_EQ(verify(s->verification_id, msg.secret).error().code, Errc::kOtpAlreadyVerified);

  EXPECT_EQ(redeem(v->success_token, "payment").error().code, Errc::kOtpPurposeMismatch);
  EXPECT_EQ(redeem(v->success_token, "login", "app2").error().code, Errc::kOtpTokenInvalid);
  auto r = redeem(v->success_token, "login");
  ASSERT_TRUE(r.ok()) << r.error().code;
  EXPECT_EQ(r->to, "+4915123456789");
  EXPECT_EQ(r->device_id, "dev-1");
  EXPECT_EQ(r->purpose, "login");
  EXPECT_EQ(redeem(v->success_token, "login").error().code, Errc::kOtpTokenUsed);
}

TEST_F(OtpFixture, CodesHaveTheConfiguredLengthAndVary) {
  cfg.code_length = 8;
  make_service();
  std::set<std::string> codes;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(send(request("+49151234567" + std::to_string(10 + i), "d" + std::to_string(i))).ok());
    EXPECT_TRUE(std::regex_match(last_code(), std::regex("[0-9]{8}")));
    codes.insert(last_code());
  }
  EXPECT_GT(codes.size(), 15u);
}

TEST_F(OtpFixture, WrongCodesCountDownThenTheVerificationIsDead) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  std::string code = last_code();
  for (int left = 4; left >= 0; --left) {
    auto v = verify(s->verification_id, wrong(code));
    EXPECT_EQ(v.error().code, Errc::kOtpCodeInvalid);
    EXPECT_EQ(v.error().attempts_left, left);
  }
  // Even the right code is refused now.
  EXPECT_EQ(verify(s->verification_id, code).error().code, Errc::kOtpVerificationDead);
}

TEST_F(OtpFixture, AttemptsSurviveARestart) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  std::string code = last_code();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(verify(s->verification_id, wrong(code)).error().code, Errc::kOtpCodeInvalid);
  restart();
  auto v = verify(s->verification_id, wrong(code));
  EXPECT_EQ(v.error().code, Errc::kOtpCodeInvalid);
  EXPECT_EQ(v.error().attempts_left, 0);
  EXPECT_EQ(verify(s->verification_id, code).error().code, Errc::kOtpVerificationDead);
}

TEST_F(OtpFixture, ATokenRedeemedBeforeARestartStaysUsed) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  auto v = verify(s->verification_id, last_code());
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(redeem(v->success_token, "login").ok());
  restart();
  EXPECT_EQ(redeem(v->success_token, "login").error().code, Errc::kOtpTokenUsed);
}

TEST_F(OtpFixture, CodesAndTokensExpire) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  std::string code = last_code();
  clock += 300'000;
  EXPECT_EQ(verify(s->verification_id, code).error().code, Errc::kOtpExpired);

  auto s2 = send(request("+4915123456780", "dev-2"));
  ASSERT_TRUE(s2.ok());
  auto v = verify(s2->verification_id, last_code());
  ASSERT_TRUE(v.ok());
  clock += 600'000;
  EXPECT_EQ(redeem(v->success_token, "login").error().code, Errc::kOtpTokenExpired);
  // Purged once nothing can use them.
  clock += 1;
  service->purge();
  EXPECT_EQ(service->pending(), 0u);
  EXPECT_EQ(verify(s2->verification_id, "000000").error().code, Errc::kOtpVerificationNotFound);
}

TEST_F(OtpFixture, TheStoreHoldsNeitherCodeNorRecipientInClear) {
  auto s = send(request("Alice@Example.com"));
  ASSERT_TRUE(s.ok());
  std::string code = last_code();
  db->close();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &raw), SQLITE_OK);
  std::string all;
  for (const char* sql : {"SELECT id || app_id || sealed FROM otp_verifications", "SELECT key FROM otp_counters"}) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, sql, -1, &st, nullptr), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) all += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  EXPECT_NE(all.find(s->verification_id), std::string::npos);
  EXPECT_EQ(all.find(code), std::string::npos);
  EXPECT_EQ(all.find("lice@"), std::string::npos);
  EXPECT_EQ(all.find("203.0.113.7"), std::string::npos);
  EXPECT_EQ(all.find("dev-1"), std::string::npos);
}

TEST_F(OtpFixture, VerifyNeverCrossesApps) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(verify(s->verification_id, last_code(), "app2").error().code, Errc::kOtpVerificationNotFound);
  EXPECT_TRUE(verify(s->verification_id, last_code()).ok());
}

TEST_F(OtpFixture, AlteredTokensAreRefused) {
  auto s = send(request());
  ASSERT_TRUE(s.ok());
  auto v = verify(s->verification_id, last_code());
  ASSERT_TRUE(v.ok());
  std::string t = v->success_token;
  std::string flipped = t;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {flipped, t.substr(0, t.size() - 1), std::string("hst1.x.y"), std::string("garbage"), t + "A"})
    EXPECT_EQ(redeem(bad, "login").error().code, Errc::kOtpTokenInvalid) << bad;
  EXPECT_TRUE(redeem(t, "login").ok());
}

TEST_F(OtpFixture, ResendCooldownThenPerRecipientPerDay) {
  cfg.per_recipient_per_day = 3;
  make_service();
  for (int i = 0; i < 3; ++i) {
    auto s = send(request("+4915123456789", "dev-" + std::to_string(i), "203.0.113." + std::to_string(i)));
    ASSERT_TRUE(s.ok()) << i << " " << s.error().code;
    auto again = send(request("+4915123456789", "dev-x" + std::to_string(i), "198.51.100." + std::to_string(i)));
    EXPECT_EQ(again.error().code, Errc::kOtpResendTooSoon);
    EXPECT_EQ(again.error().retry_after_s, 60);
    clock += 60'000;
  }
  auto s = send(request("+4915123456789", "dev-9", "203.0.113.9"));
  EXPECT_EQ(s.error().code, Errc::kOtpRecipientLimit);
  // Until 00:00 UTC: the clock is at 10:03.
  EXPECT_EQ(s.error().retry_after_s, 14 * 3600 - 180);
  // Another recipient is unaffected; the e-mail form is compared case-insensitively.
  EXPECT_TRUE(send(request("bob@example.com", "dev-10", "203.0.113.10")).ok());
  EXPECT_EQ(send(request("BOB@example.COM", "dev-11", "203.0.113.11")).error().code, Errc::kOtpResendTooSoon);
}

TEST_F(OtpFixture, PerDevicePerDay) {
  cfg.per_device_per_day = 2;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "dev-1", "203.0.113.1")).ok());
  ASSERT_TRUE(send(request("+4915100000002", "dev-1", "203.0.113.2")).ok());
  auto s = send(request("+4915100000003", "dev-1", "203.0.113.3"));
  EXPECT_EQ(s.error().code, Errc::kOtpDeviceLimit);
  EXPECT_GT(s.error().retry_after_s, 0);
}

TEST_F(OtpFixture, PerIpPerHour) {
  cfg.per_ip_per_hour = 2;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "dev-1")).ok());
  ASSERT_TRUE(send(request("+4915100000002", "dev-2")).ok());
  auto s = send(request("+4915100000003", "dev-3"));
  EXPECT_EQ(s.error().code, Errc::kOtpIpLimit);
  EXPECT_EQ(s.error().retry_after_s, 3600);  // the clock stands at 10:00:00
  clock += 3'600'000;
  EXPECT_TRUE(send(request("+4915100000003", "dev-3")).ok());
}

// S14: one host is one bucket however its address is spelt.
TEST_F(OtpFixture, PerIpCountsOneAddressUnderEverySpelling) {
  cfg.per_ip_per_hour = 3;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "dev-1", "1.2.3.4")).ok());
  ASSERT_TRUE(send(request("+4915100000002", "dev-2", "::ffff:1.2.3.4")).ok());
  ASSERT_TRUE(send(request("+4915100000003", "dev-3", "::ffff:102:304")).ok());
  EXPECT_EQ(send(request("+4915100000004", "dev-4", "0:0::ffff:1.2.3.4")).error().code, Errc::kOtpIpLimit);
  EXPECT_EQ(send(request("+4915100000005", "dev-5", "1.2.3.4")).error().code, Errc::kOtpIpLimit);
  EXPECT_TRUE(send(request("+4915100000006", "dev-6", "1.2.3.5")).ok());  // another host
}

TEST_F(OtpFixture, PerIpCountsAnIpv6EndUserByItsSlash64) {
  cfg.per_ip_per_hour = 2;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "dev-1", "2001:db8:1:2::1")).ok());
  ASSERT_TRUE(send(request("+4915100000002", "dev-2", "2001:db8:1:2:ffff:eeee:dddd:cccc")).ok());
  EXPECT_EQ(send(request("+4915100000003", "dev-3", "2001:0db8:0001:0002::abcd")).error().code, Errc::kOtpIpLimit);
  EXPECT_TRUE(send(request("+4915100000004", "dev-4", "2001:db8:1:3::1")).ok());  // the next /64
}

TEST_F(OtpFixture, EmailTagsShareTheRecipientLimitButTheCodeGoesToTheAddressGiven) {
  cfg.per_recipient_per_day = 2;
  cfg.resend_cooldown = Millis(1);
  make_service();
  ASSERT_TRUE(send(request("victim+1@example.com", "dev-1", "203.0.113.1")).ok());
  {
    std::lock_guard lock(senders.sender.mu);
    EXPECT_EQ(senders.sender.sent.back().to, "victim+1@example.com");
  }
  clock += 1000;
  ASSERT_TRUE(send(request("Victim+2@example.com", "dev-2", "203.0.113.2")).ok());
  clock += 1000;
  EXPECT_EQ(send(request("victim+3@example.com", "dev-3", "203.0.113.3")).error().code, Errc::kOtpRecipientLimit);
  EXPECT_EQ(send(request("victim@example.com", "dev-4", "203.0.113.4")).error().code, Errc::kOtpRecipientLimit);
  EXPECT_TRUE(send(request("other@example.com", "dev-5", "203.0.113.5")).ok());
}

TEST_F(OtpFixture, ABurstToOneCallingCodeIsRefusedWhileAnotherPasses) {
  cfg.sms_per_prefix_per_hour = 3;
  make_service();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        send(request("+88210000000" + std::to_string(i), "dev-" + std::to_string(i), "203.0.113." + std::to_string(i)))
            .ok());
  auto s = send(request("+882100000009", "dev-9", "203.0.113.9"));
  EXPECT_EQ(s.error().code, Errc::kOtpPrefixLimit);
  EXPECT_GT(s.error().retry_after_s, 0);
  EXPECT_TRUE(send(request("+4915100000001", "dev-10", "203.0.113.10")).ok());  // +49 has its own budget
  EXPECT_TRUE(send(request("qa@example.com", "dev-11", "203.0.113.11")).ok());  // e-mail is not counted
}

TEST_F(OtpFixture, PerAppPerMinuteCountsTestRecipientsToo) {
  cfg.per_app_per_minute = 3;
  cfg.test_recipients = "+15550000001, qa@example.com";
  make_service();
  // Test recipients skip the per-recipient limits (repeat sends at once are fine)...
  ASSERT_TRUE(send(request("+15550000001")).ok());
  auto again = send(request("+15550000001"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->resend_after_s, 0);
  ASSERT_TRUE(send(request("QA@example.com")).ok());
  // ...but not the app's rate.
  auto s = send(request("+4915100000009", "dev-9", "203.0.113.9"));
  EXPECT_EQ(s.error().code, Errc::kOtpAppLimit);
  EXPECT_EQ(s.error().retry_after_s, 60);
  // The second app has its own.
  auto other = request("+4915100000009", "dev-9", "203.0.113.9");
  other.app_id = "app2";
  EXPECT_TRUE(send(other).ok());
}

TEST_F(OtpFixture, TestRecipientsOnly) {
  cfg.test_recipients = "+15550000001";
  cfg.test_recipients_only = true;
  make_service();
  EXPECT_TRUE(send(request("+15550000001")).ok());
  EXPECT_EQ(send(request("+4915100000009")).error().code, Errc::kOtpRecipientNotAllowed);
}

TEST_F(OtpFixture, RefusedSendsCountAgainstNothingAndSendNothing) {
  cfg.per_device_per_day = 1;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "dev-1", "203.0.113.1")).ok());
  std::size_t before = senders.sender.sent.size();
  // Refused by the device limit: the recipient's cooldown must not start.
  EXPECT_EQ(send(request("+4915100000002", "dev-1", "203.0.113.2")).error().code, Errc::kOtpDeviceLimit);
  EXPECT_EQ(senders.sender.sent.size(), before);
  EXPECT_TRUE(send(request("+4915100000002", "dev-2", "203.0.113.2")).ok());
}

TEST_F(OtpFixture, LimitsSurviveARestart) {
  cfg.per_recipient_per_day = 1;
  make_service();
  ASSERT_TRUE(send(request()).ok());
  restart();
  clock += 120'000;
  EXPECT_EQ(send(request("+4915123456789", "dev-2", "203.0.113.8")).error().code, Errc::kOtpRecipientLimit);
}

TEST_F(OtpFixture, BlocklistAddListRemoveAndSurviveRestart) {
  auto b = wait<BlockEntry>([&](Done<BlockEntry> d) { service->block("app1", "Mallory@Example.com", "abuse #12", d); });
  ASSERT_TRUE(b.ok()) << b.error().code;
  EXPECT_EQ(send(request("mallory@example.com")).error().code, Errc::kOtpRecipientBlocked);
  // Another app's list is its own.
  auto other = request("mallory@example.com");
  other.app_id = "app2";
  EXPECT_TRUE(send(other).ok());
  restart();
  EXPECT_EQ(send(request("mallory@example.com")).error().code, Errc::kOtpRecipientBlocked);
  auto list = service->blocked("app1");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].to, "Mallory@Example.com");
  EXPECT_EQ((*list)[0].reason, "abuse #12");
  EXPECT_TRUE(service->blocked("app2")->empty());
  auto removed = wait<bool>([&](Done<bool> d) { service->unblock("app1", "mallory@example.com", d); });
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*wait<bool>([&](Done<bool> d) { service->unblock("app1", "mallory@example.com", d); }));
  EXPECT_TRUE(send(request("mallory@example.com")).ok());
  EXPECT_EQ(wait<BlockEntry>([&](Done<BlockEntry> d) { service->block("app1", "not-an-address", "", d); }).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(
      wait<BlockEntry>([&](Done<BlockEntry> d) { service->block("app1", "+4915100000001", "a\nb", d); }).error().code,
      Errc::kInvalidArgument);
}

TEST_F(OtpFixture, ADeliveryFailureKillsTheVerification) {
  senders.sender.fail = true;
  auto s = send(request());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
  EXPECT_EQ(s.error().message.find(last_code()), std::string::npos);
}

TEST_F(OtpFixture, MaxPendingBoundsHeldVerifications) {
  cfg.max_pending = 2;
  make_service();
  ASSERT_TRUE(send(request("+4915100000001", "d1", "203.0.113.1")).ok());
  ASSERT_TRUE(send(request("+4915100000002", "d2", "203.0.113.2")).ok());
  EXPECT_EQ(send(request("+4915100000003", "d3", "203.0.113.3")).error().code, Errc::kOtpBusy);
  clock += 300'001;
  service->purge();
  EXPECT_TRUE(send(request("+4915100000003", "d3", "203.0.113.3")).ok());
}

TEST_F(OtpFixture, BadRequestsAreRefusedBeforeAnythingIsCounted) {
  auto bad = [&](auto change) {
    SendRequest r = request();
    change(r);
    return send(r).error().code_name();
  };
  EXPECT_EQ(bad([](SendRequest& r) { r.channel = "fax"; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.to = "015123456789"; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.channel = "email"; }), "invalid_argument");  // a phone number by e-mail
  EXPECT_EQ(bad([](SendRequest& r) { r.device_id = ""; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.purpose = "Log In"; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.locale = "en_US"; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.client_ip = "nowhere"; }), "invalid_argument");
  EXPECT_EQ(bad([](SendRequest& r) { r.template_name = "missing"; }), "otp_template_not_found");
  EXPECT_TRUE(senders.sender.sent.empty());
  EXPECT_TRUE(send(request()).ok());  // nothing above started the cooldown
  EXPECT_EQ(verify("otp_x", "12a456").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(verify("otp_nope", "123456").error().code, Errc::kOtpVerificationNotFound);
}

TEST_F(OtpFixture, SealedRefusesEverything) {
  keys->seal();
  EXPECT_EQ(send(request()).error().code, Errc::kSealed);
  EXPECT_EQ(verify("otp_x", "123456").error().code, Errc::kSealed);
  EXPECT_EQ(redeem("hst1.a.b", "login").error().code, Errc::kSealed);
}

}  // namespace
}  // namespace herald::otp
