#include "api/server_auth.h"

#include <gtest/gtest.h>

#include <chrono>

#include "core/clock.h"

#include "apps/memory_directory.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "auth/signed_request.h"
#include "core/metrics.h"

namespace herald::api {
namespace {

struct ServerAuthFixture : ::testing::Test {
  ServerAuthFixture() {
    cfg.server.deployment_id = "prod-eu";
    apps::App a;
    a.id = "app_1";
    a.key = "hk_1";
    a.name = "one";
    a.scopes = apps::kScopePublish;
    apps::AppSecret s;
    s.id = "s1";
    s.secret = crypto::SecretBytes(std::string_view("as_first"));
    a.secrets.push_back(std::move(s));
    a.rate_limit = 5;
    dir.put(a);
    a.id = "app_2";
    a.key = "hk_2";
    a.status = apps::AppStatus::Suspended;
    dir.put(a);
    a.id = "app_3";
    a.key = "hk_3";
    a.status = apps::AppStatus::Active;
    a.allowlist = auth::IpAllowlist({*auth::parse_cidr("10.0.0.0/8")});
    dir.put(a);
  }

  std::int64_t now_s() const { return clock.now() / 1000; }

  Request signed_request(std::string key = "hk_1", std::string secret = "as_first", std::int64_t ts = 0,
                         std::string nonce = "", std::string deployment = "prod-eu", std::string query = "",
                         auth::SigningVersion version = auth::SigningVersion::kV2) {
    static int counter = 0;
    Request r;
    r.method = "POST";
    r.path = "/api/v1/publish";
    r.query = query;
    r.body = R"({"channel":"news","data":1})";
    r.remote_address = "127.0.0.1:5000";
    std::string t = std::to_string(ts ? ts : now_s());
    if (nonce.empty()) nonce = "nonce-" + std::to_string(++counter) + "-aaaaaaaaaaaaaaaaa";
    auth::RequestToSign s{version, deployment, r.method, r.path, r.query, r.body, t, nonce, key};
    r.headers = {{"X-Herald-Key", key},
                 {"X-Herald-Timestamp", t},
                 {"X-Herald-Nonce", nonce},
                 {"X-Herald-Signature", auth::sign_request(s, secret)}};
    if (version == auth::SigningVersion::kV2) r.headers.emplace_back("X-Herald-Signature-Version", "2");
    return r;
  }

  std::string code(const Request& r, apps::Scope scope = apps::kScopePublish) {
    auto res = auth.authenticate(r, scope);
    return res ? "ok" : std::string(res.error().code_name());
  }

  Config cfg;
  ManualClock clock{1'795'463'116'250};
  apps::MemoryAppDirectory dir;
  std::unique_ptr<auth::NonceStore> nonces = auth::make_memory_nonce_store(10000);
  std::unique_ptr<auth::RateLimiter> rates = auth::make_memory_rate_limiter(1000);
  metrics::Registry reg;
  ServerAuth auth{cfg, dir, *nonces, *rates, reg, clock.as_clock()};
};

TEST_F(ServerAuthFixture, AValidRequestPassesAndEachRefusalHasItsCode) {
  EXPECT_EQ(code(signed_request()), "ok");
  auto missing = signed_request();
  missing.headers.erase(missing.headers.begin() + 3);  // the signature
  EXPECT_EQ(code(missing), "auth_missing");
  auto short_nonce = signed_request("hk_1", "as_first", 0, "short");
  EXPECT_EQ(code(short_nonce), "auth_missing");
  EXPECT_EQ(code(signed_request("hk_nope")), "app_unknown");
  EXPECT_EQ(code(signed_request("hk_2")), "app_suspended");
  EXPECT_EQ(code(signed_request("hk_3")), "address_not_allowed");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", now_s() - 303)), "timestamp_out_of_window");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", now_s() + 303)), "timestamp_out_of_window");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", now_s() - 297)), "ok");
  EXPECT_EQ(code(signed_request("hk_1", "as_wrong")), "signature_invalid");
  EXPECT_EQ(code(signed_request(), apps::kScopeKms), "scope_missing");
}

TEST_F(ServerAuthFixture, AReplayIsRefusedEvenAfterTheFirstFailedLater) {
  auto r = signed_request();
  EXPECT_EQ(code(r, apps::kScopeKms), "scope_missing");  // refused before the nonce: not spent
  EXPECT_EQ(code(r), "ok");
  EXPECT_EQ(code(r), "nonce_replayed");
  auto ok = signed_request();
  EXPECT_EQ(code(ok), "ok");
  EXPECT_EQ(code(ok), "nonce_replayed");
  auto tampered = signed_request();
  tampered.body.back() = ']';
  EXPECT_EQ(code(tampered), "signature_invalid");
  tampered.body.back() = '}';
  EXPECT_EQ(code(tampered), "ok");  // a refused forgery did not spend the real request's nonce
}

TEST_F(ServerAuthFixture, TheRateIsPerAppWithABurstOfTwiceIt) {
  int ok = 0, limited = 0;
  for (int i = 0; i < 15; ++i) {
    auto c = code(signed_request());
    ok += c == "ok";
    limited += c == "rate_limited";
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(limited, 5);
  EXPECT_NE(reg.render().find("herald_api_auth_failures_total{code=\"rate_limited\"} 5"), std::string::npos);
}

TEST_F(ServerAuthFixture, UnsignedModeNeedsOnlyTheKey) {
  cfg.api.require_signature = false;
  Request r;
  r.method = "POST";
  r.path = "/api/v1/publish";
  r.remote_address = "127.0.0.1:1";
  r.headers = {{"X-Herald-Key", "hk_1"}};
  EXPECT_EQ(code(r), "ok");
  r.headers = {{"X-Herald-Key", "hk_2"}};
  EXPECT_EQ(code(r), "app_suspended");
}

// S1: a request refused by the rate limit records no nonce (it can be sent again once a
// token is back), and a replay is refused before it costs the app a token.
TEST_F(ServerAuthFixture, RateLimitedRequestsSpendNoNonceAndReplaysSpendNoToken) {
  for (int i = 0; i < 10; ++i) ASSERT_EQ(code(signed_request()), "ok");  // the burst
  const std::size_t held = nonces->size();
  auto limited = signed_request();
  auto refused = auth.authenticate(limited, apps::kScopePublish);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kRateLimited);
  EXPECT_EQ(refused.error().retry_after_s, 1);  // carried in the Error (no out-parameter)
  for (int i = 0; i < 20; ++i) EXPECT_EQ(code(signed_request()), "rate_limited");
  EXPECT_EQ(nonces->size(), held);
  clock.advance(250);              // a token back (5/s)
  EXPECT_EQ(code(limited), "ok");  // its nonce was not spent while it was refused
  auto replay = limited;
  clock.advance(200);  // another token back; a replay must not take it
  for (int i = 0; i < 5; ++i) EXPECT_EQ(code(replay), "nonce_replayed");
  EXPECT_EQ(code(signed_request()), "ok");
}

// S1: app A floods fresh nonces to its quota; app B's signed calls still succeed.
TEST(ServerAuthQuota, OneAppFloodingNoncesNeverLocksOutAnother) {
  Config cfg;
  cfg.api.replay_max_nonces = 100;
  cfg.api.replay_max_nonces_per_app = 40;
  apps::MemoryAppDirectory dir;
  for (std::string n : {"a", "b"}) {
    apps::App a;
    a.id = "app_" + n;
    a.key = "hk_" + n;
    a.name = n;
    a.scopes = apps::kScopePublish;
    apps::AppSecret s;
    s.id = "s";
    s.secret = crypto::SecretBytes(std::string_view("as_" + n));
    a.secrets.push_back(std::move(s));
    a.rate_limit = 0;  // no rate limit: the configured share bounds it
    dir.put(a);
  }
  auto nonces = auth::make_memory_nonce_store(cfg.api.replay_max_nonces);
  auto rates = auth::make_memory_rate_limiter(1000);
  metrics::Registry reg;
  ManualClock clock;
  ServerAuth auth{cfg, dir, *nonces, *rates, reg, clock.as_clock()};
  auto request = [&](const std::string& n, int i) {
    Request r;
    r.method = "POST";
    r.path = "/api/v1/publish";
    r.remote_address = "127.0.0.1:1";
    std::string t = std::to_string(clock.now() / 1000), nonce = "flood-nonce-" + std::to_string(i) + "-xxxxxxxxxx";
    std::string key = "hk_" + n;
    auth::RequestToSign s{auth::SigningVersion::kV2, "", r.method, r.path, r.query, r.body, t, nonce, key};
    r.headers = {{"X-Herald-Key", "hk_" + n},
                 {"X-Herald-Timestamp", t},
                 {"X-Herald-Nonce", nonce},
                 {"X-Herald-Signature", auth::sign_request(s, "as_" + n)},
                 {"X-Herald-Signature-Version", "2"}};
    return r;
  };
  int a_ok = 0, a_full = 0;
  for (int i = 0; i < 500; ++i) {
    auto res = auth.authenticate(request("a", i), apps::kScopePublish);
    a_ok += res.ok();
    a_full += !res.ok() && res.error().code == Errc::kReplayGuardFull;
  }
  EXPECT_EQ(a_ok, 40);
  EXPECT_EQ(a_full, 460);
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(auth.authenticate(request("b", i), apps::kScopePublish).ok()) << i;
}

// S3: the nonce lives exactly as long as its signed timestamp passes the window check.
// A request signed window_s ahead of the server clock, used late in a second, is still
// refused as a replay in the last millisecond its timestamp is accepted.
TEST_F(ServerAuthFixture, ANonceOutlivesItsTimestampsWindowToTheMillisecond) {
  dir.put([&] {
    auto a = *dir.find_by_key("hk_1");
    a.rate_limit = 0;
    return a;
  }());
  const std::int64_t window_s = cfg.api.signature_window.count() / 1000;
  clock.set(1'795'463'116'999);  // late in second k
  const std::int64_t k = clock.now() / 1000, t = k + window_s;
  auto r = signed_request("hk_1", "as_first", t);
  EXPECT_EQ(code(r), "ok");
  clock.set((k + 2 * window_s) * 1000 + 999);  // the old expiry (use + 2·window) has passed
  EXPECT_EQ(code(r), "nonce_replayed");
  clock.set((t + window_s + 1) * 1000);  // now the timestamp itself is refused
  EXPECT_EQ(code(r), "timestamp_out_of_window");
  EXPECT_FALSE(nonces->seen("app_1", r.header("X-Herald-Nonce"), clock.now()));
}

// S4: a query whose names are repeated or escaped is refused before the signature, so
// no route can read something other than the signed canonical form.
TEST_F(ServerAuthFixture, RepeatedOrEscapedQueryNamesAreRefused) {
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "prod-eu", "start=5&start=0")), "malformed_target");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "prod-eu", "start=0&start=5")), "malformed_target");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "prod-eu", "%73tart=5")), "malformed_target");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "prod-eu", "start=5&limit=%31")), "ok");
}

// S20: v2 binds the deployment; v1 is accepted only from apps that opted in.
TEST_F(ServerAuthFixture, AV2SignatureForAnotherDeploymentOrAV1SignatureIsRefused) {
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "prod-us")), "signature_invalid");
  EXPECT_EQ(code(signed_request("hk_1", "as_first", 0, "", "")), "signature_invalid");
  auto v1 = signed_request("hk_1", "as_first", 0, "", "", "", auth::SigningVersion::kV1);
  EXPECT_EQ(code(v1), "signature_version_refused");
  auto as_v2 = v1;
  as_v2.headers.emplace_back("X-Herald-Signature-Version", "2");  // relabelled: does not verify
  EXPECT_EQ(code(as_v2), "signature_invalid");
  auto bad_version = signed_request();
  bad_version.headers.back().second = "3";
  EXPECT_EQ(code(bad_version), "auth_missing");

  cfg.api.signature_v1_apps = "app_9, app_1";
  ServerAuth opted_in{cfg, dir, *nonces, *rates, reg, clock.as_clock()};
  EXPECT_TRUE(opted_in.authenticate(v1, apps::kScopePublish).ok());
  EXPECT_TRUE(opted_in.authenticate(signed_request(), apps::kScopePublish).ok());  // v2 still accepted
}

}  // namespace
}  // namespace herald::api
