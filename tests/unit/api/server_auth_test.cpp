#include "api/server_auth.h"

#include <gtest/gtest.h>

#include <chrono>

#include "apps/memory_directory.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "auth/signed_request.h"
#include "core/metrics.h"

namespace herald::api {
namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct ServerAuthFixture : ::testing::Test {
  ServerAuthFixture() {
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

  Request signed_request(std::string key = "hk_1", std::string secret = "as_first", std::int64_t ts = 0,
                         std::string nonce = "") {
    static int counter = 0;
    Request r;
    r.method = "POST";
    r.path = "/api/v1/publish";
    r.body = R"({"channel":"news","data":1})";
    r.remote_address = "127.0.0.1:5000";
    std::string t = std::to_string(ts ? ts : now_s());
    if (nonce.empty()) nonce = "nonce-" + std::to_string(++counter) + "-aaaaaaaaaaaaaaaaa";
    auth::RequestToSign s{r.method, r.path, r.query, r.body, t, nonce, key};
    r.headers = {{"X-Herald-Key", key},
                 {"X-Herald-Timestamp", t},
                 {"X-Herald-Nonce", nonce},
                 {"X-Herald-Signature", auth::sign_request(s, secret)}};
    return r;
  }

  std::string code(const Request& r, apps::Scope scope = apps::kScopePublish) {
    auto res = auth.authenticate(r, scope);
    return res ? "ok" : std::string(res.error().code_name());
  }

  Config cfg;
  apps::MemoryAppDirectory dir;
  std::unique_ptr<auth::NonceStore> nonces = auth::make_memory_nonce_store(10000, 600'000);
  std::unique_ptr<auth::RateLimiter> rates = auth::make_memory_rate_limiter(1000);
  metrics::Registry reg;
  ServerAuth auth{cfg, dir, *nonces, *rates, reg};
};

TEST_F(ServerAuthFixture, AValidRequestPassesAndEachRefusalHasItsCode) {
  EXPECT_EQ(code(signed_request()), "ok");
  auto missing = signed_request();
  missing.headers.pop_back();
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
  EXPECT_EQ(code(r, apps::kScopeKms), "scope_missing");  // failed at step 8, nonce spent at 7
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

}  // namespace
}  // namespace herald::api
