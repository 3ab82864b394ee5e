// The signed server API against the real binary, with a signer written here from
// docs/signing.md on plain OpenSSL (not Herald's code), and the attacks it must refuse:
// a byte-for-byte replay, a changed body byte, an old timestamp, a revoked secret.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace herald::testing {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += k[p[i] >> 4];
    out += k[p[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& s) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  return hex(d, n);
}

std::string hmac_hex(const std::string& key, const std::string& msg) {
  unsigned char d[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), d, &n);
  return hex(d, n);
}

// 24 base64url characters: 144 random bits.
std::string fresh_nonce() {
  unsigned char raw[24];
  RAND_bytes(raw, sizeof raw);
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (unsigned char c : raw) out += k[c & 63];
  return out;
}

std::string json_field(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":\"");
  if (at == std::string::npos) return {};
  at += name.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Creds {
  std::string key, secret;
};

Creds demo_creds(const Server& s) {
  std::ifstream f(s.data_dir() + "/dev-app.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return Creds{json_field(ss.str(), "app_key"), json_field(ss.str(), "app_secret")};
}

// A signed raw request: the query is signed in its canonical (sorted) form but sent as
// given, to show that order does not matter.
std::string signed_raw(const Creds& c, const std::string& method, const std::string& path, const std::string& query,
                       const std::string& canonical_query, const std::string& body, std::int64_t ts = 0,
                       std::string nonce = "", const std::string& deployment = "") {
  if (!ts) ts = now_s();
  if (nonce.empty()) nonce = fresh_nonce();
  std::string canonical = "HERALD-HMAC-SHA256-v2\n" + deployment + "\n" + method + "\n" + path + "\n" +
                          canonical_query + "\n" + sha256_hex(body) + "\n" + std::to_string(ts) + "\n" + nonce + "\n" +
                          c.key;
  std::string target = path + (query.empty() ? "" : "?" + query);
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "X-Herald-Key: " + c.key + "\r\nX-Herald-Timestamp: " + std::to_string(ts) + "\r\nX-Herald-Nonce: " + nonce +
         "\r\nX-Herald-Signature: " + hmac_hex(c.secret, canonical) +
         "\r\nX-Herald-Signature-Version: 2\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A v1 (HERALD-HMAC-SHA256) publish: no deployment line, no version header.
std::string signed_v1(const Creds& c, const std::string& body) {
  std::string ts = std::to_string(now_s()), nonce = fresh_nonce();
  std::string canonical =
      "HERALD-HMAC-SHA256\nPOST\n/api/v1/publish\n\n" + sha256_hex(body) + "\n" + ts + "\n" + nonce + "\n" + c.key;
  return "POST /api/v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Herald-Key: " +
         c.key + "\r\nX-Herald-Timestamp: " + ts + "\r\nX-Herald-Nonce: " + nonce +
         "\r\nX-Herald-Signature: " + hmac_hex(c.secret, canonical) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

HttpResponse send(const Server& s, const std::string& raw) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return Connection::open(s.port(), true, o)->request(raw);
}

std::string code_of(const HttpResponse& r) {
  return json_field(r.body, "code");
}

const std::string kPublish = R"({"channel":"news","data":{"text":"hello"}})";

TEST(ServerApi, ASignedPublishIsAcceptedAndAByteForByteReplayIsRefused) {
  Server s;
  auto c = demo_creds(s);
  std::string raw = signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish);
  auto first = send(s, raw);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"offset\":1"), std::string::npos);
  auto replay = send(s, raw);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(code_of(replay), "nonce_replayed");
  auto m = send(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body;
  EXPECT_EQ(metric_value(m, "herald_api_auth_failures_total{code=\"nonce_replayed\"}"), 1.0);
  EXPECT_EQ(metric_value(m, "herald_push_publications_total"), 1.0);  // the replay published nothing
}

TEST(ServerApi, OneChangedBodyByteIsRefused) {
  Server s;
  auto c = demo_creds(s);
  std::string raw = signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish);
  auto at = raw.rfind("hello");
  raw[at] = 'j';  // "jello": same length, one byte
  auto r = send(s, raw);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(code_of(r), "signature_invalid");
}

TEST(ServerApi, AReorderedQueryIsTheSameRequest) {
  Server s;
  auto c = demo_creds(s);
  auto r = send(s, signed_raw(c, "POST", "/api/v1/publish", "b=2&c=x%20y&a=1", "a=1&b=2&c=x%20y", kPublish));
  EXPECT_EQ(r.status, 200) << r.body;
  // The same parameters with a changed value are not.
  auto bad = send(s, signed_raw(c, "POST", "/api/v1/publish", "b=3&a=1", "a=1&b=2", kPublish));
  EXPECT_EQ(code_of(bad), "signature_invalid");
}

// Two processes read the clock a moment apart, so the edge is tested with a few
// seconds of margin; the exact boundary is a unit test of ServerAuth.
TEST(ServerApi, TimestampsOutsideTheWindowAreRefusedAtTheEdge) {
  Server s;
  auto c = demo_creds(s);
  EXPECT_EQ(code_of(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish, now_s() - 303))),
            "timestamp_out_of_window");
  EXPECT_EQ(code_of(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish, now_s() + 303))),
            "timestamp_out_of_window");
  EXPECT_EQ(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish, now_s() - 290)).status, 200);
}

TEST(ServerApi, MissingHeadersUnknownAppAndWrongSecret) {
  Server s;
  auto c = demo_creds(s);
  auto none = send(s, "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kPublish.size()) +
                          "\r\n\r\n" + kPublish);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(code_of(none), "auth_missing");
  EXPECT_EQ(code_of(send(s, signed_raw(Creds{"hk_nope", c.secret}, "POST", "/api/v1/publish", "", "", kPublish))),
            "app_unknown");
  EXPECT_EQ(code_of(send(s, signed_raw(Creds{c.key, "as_wrong"}, "POST", "/api/v1/publish", "", "", kPublish))),
            "signature_invalid");
  // A signature for another path does not carry over.
  std::string raw = signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish);
  raw.replace(raw.find("/api/v1/publish"), 15, "/api/v1/history");
  EXPECT_EQ(code_of(send(s, raw)), "signature_invalid");
}

// Admin API helper: a JSON request with the admin token.
HttpResponse admin(const Server& s, const std::string& method, const std::string& path, const std::string& body = "") {
  return send(s, method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin_token(s) +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(ServerApi, RotationKeepsBothSecretsValidUntilTheOldIsRevoked) {
  Server s;
  auto created = admin(s, "POST", "/admin/v1/apps", R"({"name":"shop","rate_limit":0})");
  ASSERT_EQ(created.status, 201) << created.body;
  Creds old{json_field(created.body, "key"), json_field(created.body, "app_secret")};
  std::string old_id = json_field(created.body, "app_secret_id");
  EXPECT_EQ(send(s, signed_raw(old, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  auto rotated = admin(s, "POST", "/admin/v1/apps/shop/rotate-secret");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  Creds fresh{old.key, json_field(rotated.body, "app_secret")};
  EXPECT_EQ(send(s, signed_raw(old, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  EXPECT_EQ(send(s, signed_raw(fresh, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  EXPECT_EQ(code_of(admin(s, "POST", "/admin/v1/apps/shop/rotate-secret")), "too_many_secrets");
  ASSERT_EQ(admin(s, "POST", "/admin/v1/apps/shop/revoke-secret", "{\"secret_id\":\"" + old_id + "\"}").status, 200);
  EXPECT_EQ(code_of(send(s, signed_raw(old, "POST", "/api/v1/publish", "", "", kPublish))), "signature_invalid");
  EXPECT_EQ(send(s, signed_raw(fresh, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  // Suspended, then resumed; deleted.
  ASSERT_EQ(admin(s, "POST", "/admin/v1/apps/shop/suspend").status, 200);
  EXPECT_EQ(code_of(send(s, signed_raw(fresh, "POST", "/api/v1/publish", "", "", kPublish))), "app_suspended");
  ASSERT_EQ(admin(s, "POST", "/admin/v1/apps/shop/resume").status, 200);
  EXPECT_EQ(send(s, signed_raw(fresh, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  ASSERT_EQ(admin(s, "DELETE", "/admin/v1/apps/shop").status, 200);
  EXPECT_EQ(code_of(send(s, signed_raw(fresh, "POST", "/api/v1/publish", "", "", kPublish))), "app_unknown");
}

TEST(ServerApi, ScopesNamespacesAllowlistsAndRateLimitsAreEnforced) {
  Server s;
  auto mk = [&](const std::string& body) {
    auto r = admin(s, "POST", "/admin/v1/apps", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return Creds{json_field(r.body, "key"), json_field(r.body, "app_secret")};
  };
  auto otp_only = mk(R"({"name":"otp-only","scopes":["otp"]})");
  EXPECT_EQ(code_of(send(s, signed_raw(otp_only, "POST", "/api/v1/publish", "", "", kPublish))), "scope_missing");
  auto chat_only = mk(R"({"name":"chat-only","namespaces":["chat"]})");
  EXPECT_EQ(code_of(send(s, signed_raw(chat_only, "POST", "/api/v1/publish", "", "", kPublish))),
            "channel_not_allowed");
  auto elsewhere = mk(R"({"name":"elsewhere","allowed_cidrs":["10.0.0.0/8","2001:db8::/32"]})");
  EXPECT_EQ(code_of(send(s, signed_raw(elsewhere, "POST", "/api/v1/publish", "", "", kPublish))),
            "address_not_allowed");
  auto local = mk(R"({"name":"local","allowed_cidrs":["127.0.0.0/8"]})");
  EXPECT_EQ(send(s, signed_raw(local, "POST", "/api/v1/publish", "", "", kPublish)).status, 200);
  auto slow = mk(R"({"name":"slow","rate_limit":2})");
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 8; ++i) {
    auto r = send(s, signed_raw(slow, "POST", "/api/v1/publish", "", "", kPublish));
    ok += r.status == 200;
    if (r.status == 429) {
      ++limited;
      retry_after = r.header("retry-after");
    }
  }
  // A burst of twice the rate; a slow machine may see a token refilled meanwhile.
  EXPECT_GE(ok, 4);
  EXPECT_LE(ok, 5);
  EXPECT_EQ(ok + limited, 8);
  EXPECT_EQ(retry_after, "1");
  EXPECT_EQ(admin(s, "GET", "/admin/v1/apps").status, 200);
  auto unauth = send(s, "GET /admin/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hat_wrong\r\n\r\n");
  EXPECT_EQ(unauth.status, 401);
  EXPECT_EQ(code_of(unauth), "admin_unauthorized");
}

TEST(ServerApi, ABroadcastWithOneBadNamespacePublishesNothingAndMalformedEscapesAreRefused) {
  Server s;
  auto c = demo_creds(s);
  auto bad = send(s, signed_raw(c, "POST", "/api/v1/broadcast", "", "", R"({"channels":["news","nope:x"],"data":1})"));
  EXPECT_EQ(code_of(bad), "namespace_not_found") << bad.body;
  auto m = send(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body;
  EXPECT_EQ(metric_value(m, "herald_push_publications_total"), 0.0);
  // "%zz" would canonicalise like "%25zz": refused before the signature is looked at.
  auto esc = send(s, signed_raw(c, "POST", "/api/v1/publish", "a=%zz", "a=%25zz", kPublish));
  EXPECT_EQ(esc.status, 400);
  EXPECT_EQ(code_of(esc), "malformed_target");
}

TEST(ServerApi, IdempotentPublishRunsOnceAndRoutesAnswer) {
  Server s;
  auto c = demo_creds(s);
  std::string body = R"({"channel":"news","data":1,"idempotency_key":"order-7"})";
  auto a = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", body));
  auto b = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", body));
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(b.header("idempotent-replayed"), "true");
  auto hist = send(s, signed_raw(c, "POST", "/api/v1/history", "", "", R"({"channel":"news"})"));
  EXPECT_EQ(hist.status, 200);
  EXPECT_NE(hist.body.find("\"offset\":1,"), std::string::npos) << hist.body;
  EXPECT_EQ(hist.body.find("\"offset\":2,"), std::string::npos);
  auto bc = send(s, signed_raw(c, "POST", "/api/v1/broadcast", "", "", R"({"channels":["a","b"],"data":2})"));
  EXPECT_EQ(bc.status, 200);
  EXPECT_NE(bc.body.find("{\"channel\":\"b\",\"offset\":1,"), std::string::npos) << bc.body;
  auto bad = send(s, signed_raw(c, "POST", "/api/v1/broadcast", "", "", R"({"channels":["a","bad name"],"data":2})"));
  EXPECT_EQ(code_of(bad), "channel_invalid");
  auto user = send(s, signed_raw(c, "POST", "/api/v1/user/publish", "", "", R"({"user":"42","data":3})"));
  EXPECT_NE(user.body.find("\"channel\":\"user#42\""), std::string::npos) << user.body;
  auto info = send(s, signed_raw(c, "GET", "/api/v1/app", "", "", ""));
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.body.find(c.secret), std::string::npos);
  EXPECT_EQ(code_of(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", "not json"))), "invalid_json");
  EXPECT_EQ(code_of(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", R"({"channel":"news"})"))),
            "invalid_argument");
}

// S2: a publish captured before a restart is refused when replayed after it, within
// the window (the nonces are in the store), while a fresh request is accepted.
TEST(ServerApi, ARequestReplayedAfterARestartIsRefused) {
  TempDir dir;
  std::string raw;
  {
    Server s({.args = {"--store.data_dir=" + dir.path()}});
    auto c = demo_creds(s);
    raw = signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish);
    ASSERT_EQ(send(s, raw).status, 200);
  }  // a clean stop
  Server s({.args = {"--store.data_dir=" + dir.path()}});
  auto replay = send(s, raw);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_EQ(code_of(replay), "nonce_replayed");
  auto m = send(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body;
  EXPECT_EQ(metric_value(m, "herald_push_publications_total"), 0.0);  // the replay published nothing
  auto fresh = send(s, signed_raw(demo_creds(s), "POST", "/api/v1/publish", "", "", kPublish));
  EXPECT_EQ(fresh.status, 200) << fresh.body;
}

// S20: a v2 signature names the deployment; a request signed for another one (the
// same app credentials restored elsewhere) is refused, and so is v1 unless the app opted in.
TEST(ServerApi, SignaturesAreBoundToTheDeploymentAndV1IsOptIn) {
  TempDir dir;
  std::string app_id;
  {
    Server s({.args = {"--store.data_dir=" + dir.path(), "--server.deployment_id=prod-eu"}});
    auto c = demo_creds(s);
    std::ifstream f(s.data_dir() + "/dev-app.json");
    std::stringstream ss;
    ss << f.rdbuf();
    app_id = json_field(ss.str(), "app_id");
    auto other = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish, 0, "", "staging"));
    EXPECT_EQ(other.status, 401);
    EXPECT_EQ(code_of(other), "signature_invalid");
    auto none = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish));  // signed for ""
    EXPECT_EQ(code_of(none), "signature_invalid");
    auto ours = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", kPublish, 0, "", "prod-eu"));
    EXPECT_EQ(ours.status, 200) << ours.body;
    auto v1 = send(s, signed_v1(c, kPublish));
    EXPECT_EQ(v1.status, 401);
    EXPECT_EQ(code_of(v1), "signature_version_refused");
  }
  Server s({.args = {"--store.data_dir=" + dir.path(), "--api.signature_v1_apps=" + app_id}});
  auto v1 = send(s, signed_v1(demo_creds(s), kPublish));
  EXPECT_EQ(v1.status, 200) << v1.body;
}

// S4: the routes read one value per name, by its name as sent; a query that could read
// differently from its signed canonical form is refused.
TEST(ServerApi, RepeatedOrEscapedQueryNamesAreRefused) {
  Server s;
  auto c = demo_creds(s);
  auto twice = send(s, signed_raw(c, "GET", "/api/v1/app", "start=5&start=0", "start=0&start=5", ""));
  EXPECT_EQ(twice.status, 400) << twice.body;
  EXPECT_EQ(code_of(twice), "malformed_target");
  auto escaped = send(s, signed_raw(c, "GET", "/api/v1/app", "%73tart=5", "start=5", ""));
  EXPECT_EQ(escaped.status, 400) << escaped.body;
  EXPECT_EQ(code_of(escaped), "malformed_target");
  EXPECT_EQ(send(s, signed_raw(c, "GET", "/api/v1/app", "start=5", "start=5", "")).status, 200);
}

// S17: an idempotency key answers only the request it was first used for.
TEST(ServerApi, AnIdempotencyKeyReusedWithAnotherBodyIsAConflict) {
  Server s;
  auto c = demo_creds(s);
  std::string first = R"({"channel":"news","data":1,"idempotency_key":"order-8"})";
  std::string other = R"({"channel":"news","data":2,"idempotency_key":"order-8"})";
  ASSERT_EQ(send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", first)).status, 200);
  auto conflict = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", other));
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(code_of(conflict), "idempotency_conflict");
  auto again = send(s, signed_raw(c, "POST", "/api/v1/publish", "", "", first));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  auto m = send(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body;
  EXPECT_EQ(metric_value(m, "herald_push_publications_total"), 1.0);
}

}  // namespace
}  // namespace herald::testing
