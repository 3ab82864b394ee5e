// The key service seen from outside: a production data dir initialised with 5 shares,
// a server that starts sealed and refuses data routes, unseal through the operator
// routes and the CLI, the key API, and a scan of the database files for secrets.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;

std::string field(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":\"");
  if (at == std::string::npos) return {};
  at += name.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

std::vector<std::string> share_values(const std::string& json) {
  std::vector<std::string> out;
  auto at = json.find("\"share_values\":[");
  if (at == std::string::npos) return out;
  at += 16;
  auto end = json.find(']', at);
  while (at < end) {
    auto q = json.find('"', at);
    if (q == std::string::npos || q > end) break;
    auto q2 = json.find('"', q + 1);
    out.push_back(json.substr(q + 1, q2 - q - 1));
    at = q2 + 1;
  }
  return out;
}

HttpResponse http(const Server& s, const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& extra_headers = "") {
  auto c = Connection::open(s.port(), false);
  return c->request(method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra_headers +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

HttpResponse unseal(const Server& s, const std::string& share) {
  return http(s, "POST", "/admin/v1/operator/unseal", "{\"share\":\"" + share + "\"}");
}

// A production data dir: 5 shares, threshold 3, plain HTTP (the test speaks TLS elsewhere).
struct SealedServer {
  TempDir dir;
  std::vector<std::string> shares;
  std::unique_ptr<Server> server;
  SealedServer() {
    auto r = run_herald({"operator", "init", "--data-dir", dir.path(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    shares = share_values(r.output);
    EXPECT_EQ(shares.size(), 5u) << r.output;
    start();
  }
  void start() {
    Server::Options o;
    o.dev = false;
    o.tls = false;
    o.unseal = false;
    o.args = {"--store.data_dir=" + dir.path()};
    server = std::make_unique<Server>(o);
  }
  void restart() {
    server.reset();
    start();
  }
};

TEST(Kms, ASealedServerServesHealthAndStatusOnlyUntilKSharesAreIn) {
  SealedServer ss;
  const Server& s = *ss.server;
  EXPECT_EQ(http(s, "GET", "/healthz").status, 200);
  EXPECT_EQ(http(s, "GET", "/metrics").status, 200);
  auto ready = http(s, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("\"kms\":\"sealed\""), std::string::npos);
  for (auto [method, path] : {std::pair{"POST", "/api/v1/publish"}, std::pair{"GET", "/admin/v1/apps"},
                              std::pair{"POST", "/api/v1/kms/encrypt"}, std::pair{"GET", "/ws"}}) {
    auto r = http(s, method, path, "{}");
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_NE(r.body.find("\"code\":\"sealed\""), std::string::npos) << path << " " << r.body;
  }
  auto c = Connection::open(s.port(), false);
  auto up = ws_upgrade(*c, "/ws");
  EXPECT_EQ(up.status, 503);  // no WebSocket while sealed
  auto status = http(s, "GET", "/admin/v1/operator/status");
  EXPECT_EQ(status.body, "{\"initialized\":true,\"sealed\":true,\"threshold\":3,\"shares\":5,\"progress\":0}");

  EXPECT_EQ(unseal(s, ss.shares[4]).status, 200);
  EXPECT_EQ(unseal(s, ss.shares[4]).status, 409);  // duplicate
  std::string altered = ss.shares[1];
  altered.back() = altered.back() == '0' ? '1' : '0';
  auto bad = unseal(s, altered);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("share_invalid"), std::string::npos);
  auto two = unseal(s, ss.shares[2]);
  EXPECT_NE(two.body.find("\"sealed\":true"), std::string::npos);  // K-1 = 2 shares: still sealed
  EXPECT_NE(two.body.find("\"progress\":2"), std::string::npos);
  EXPECT_EQ(http(s, "POST", "/api/v1/publish", "{}").status, 503);
  auto three = unseal(s, ss.shares[0]);
  EXPECT_NE(three.body.find("\"sealed\":false"), std::string::npos) << three.body;
  EXPECT_EQ(http(s, "GET", "/readyz").status, 200);
  auto m = http(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_kms_unseal_shares_total{result=\"invalid\"}"), 1.0);
  EXPECT_EQ(metric_value(m, "herald_kms_unseal_shares_total{result=\"duplicate\"}"), 1.0);
  EXPECT_EQ(metric_value(m, "herald_kms_unseal_shares_total{result=\"accepted\"}"), 3.0);
}

TEST(Kms, RestartSealsAgainAndTheCliUnsealsWithAnyThreeShares) {
  SealedServer ss;
  std::string url = "http://127.0.0.1:" + std::to_string(ss.server->port());
  for (int i : {3, 1}) {
    std::ofstream(ss.dir.path() + "/s.txt") << ss.shares[static_cast<std::size_t>(i)] << "\n";
    auto r = run_herald({"operator", "unseal", "--server", url, "--share-file", ss.dir.path() + "/s.txt"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  std::ofstream(ss.dir.path() + "/s.txt") << ss.shares[4] << "\n";
  auto r = run_herald({"operator", "unseal", "--server", url, "--share-file", ss.dir.path() + "/s.txt", "--json"});
  EXPECT_NE(r.output.find("\"sealed\":false"), std::string::npos) << r.output;
  // An app made now must still work after a restart and an unseal with other shares.
  auto token_file = ss.dir.path() + "/admin.token";
  r = run_herald({"app", "create", "--server", url, "--admin-token-file", token_file, "--name", "shop", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string key = field(r.output, "key");
  ss.restart();
  url = "http://127.0.0.1:" + std::to_string(ss.server->port());
  EXPECT_NE(run_herald({"operator", "status", "--server", url}).output.find("sealed: 0 of 3"), std::string::npos);
  for (int i : {0, 2, 4}) {
    std::ofstream(ss.dir.path() + "/s.txt") << ss.shares[static_cast<std::size_t>(i)] << "\n";
    EXPECT_EQ(run_herald({"operator", "unseal", "--server", url, "--share-file", ss.dir.path() + "/s.txt"}).exit_code,
              0);
  }
  r = run_herald({"app", "show", "shop", "--server", url, "--admin-token-file", token_file, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(key), std::string::npos);
  // Sealing needs the admin token, then everything is refused again.
  r = run_herald({"operator", "seal", "--server", url, "--admin-token-file", token_file});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(http(*ss.server, "GET", "/admin/v1/apps", "", "Authorization: Bearer x\r\n").status, 503);
}

// The key API through signed requests (a signer on plain OpenSSL, from docs/signing.md).
std::string hex(const unsigned char* p, std::size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += k[p[i] >> 4];
    out += k[p[i] & 15];
  }
  return out;
}

HttpResponse signed_post(const Server& s, const std::string& key, const std::string& secret, const std::string& path,
                         const std::string& body, const std::string& method = "POST") {
  unsigned char d[32], raw[24];
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), d, &n, EVP_sha256(), nullptr);
  RAND_bytes(raw, sizeof raw);
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string nonce;
  for (unsigned char c : raw) nonce += b64[c & 63];
  std::string ts = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::string canonical =
      "HERALD-HMAC-SHA256-v2\n\n" + method + "\n" + path + "\n\n" + hex(d, n) + "\n" + ts + "\n" + nonce + "\n" + key;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), d, &n);
  TlsOptions o;
  o.ca_file = s.ca_file();
  auto c = Connection::open(s.port(), true, o);
  return c->request(
      method + " " + path + " HTTP/1.1\r\nHost: x\r\nX-Herald-Key: " + key + "\r\nX-Herald-Timestamp: " + ts +
      "\r\nX-Herald-Nonce: " + nonce + "\r\nX-Herald-Signature: " + hex(d, n) +
      "\r\nX-Herald-Signature-Version: 2\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(Kms, TheKeyApiEncryptsRotatesRewrapsAndRefusesWithoutTheScope) {
  Server s;  // --dev: auto-unsealed; the demo app has every scope
  std::ifstream f(s.data_dir() + "/dev-app.json");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string key = field(ss.str(), "app_key"), secret = field(ss.str(), "app_secret");
  auto created = signed_post(s, key, secret, "/api/v1/kms/keys", R"({"name":"orders"})");
  ASSERT_EQ(created.status, 201) << created.body;
  // "c2VjcmV0IGNhcmQ=" is base64 of "secret card"; "b3JkZXItNw==" of "order-7".
  auto enc = signed_post(s, key, secret, "/api/v1/kms/encrypt",
                         R"({"key":"orders","plaintext":"c2VjcmV0IGNhcmQ=","context":"b3JkZXItNw=="})");
  ASSERT_EQ(enc.status, 200) << enc.body;
  std::string ct1 = field(enc.body, "ciphertext");
  EXPECT_EQ(ct1.rfind("herald:v1:", 0), 0u);
  auto dec = signed_post(s, key, secret, "/api/v1/kms/decrypt",
                         R"({"key":"orders","ciphertext":")" + ct1 + R"(","context":"b3JkZXItNw=="})");
  EXPECT_EQ(field(dec.body, "plaintext"), "c2VjcmV0IGNhcmQ=") << dec.body;
  auto wrong_ctx = signed_post(s, key, secret, "/api/v1/kms/decrypt",
                               R"({"key":"orders","ciphertext":")" + ct1 + R"(","context":"b3JkZXItOA=="})");
  EXPECT_EQ(wrong_ctx.status, 400);
  EXPECT_NE(wrong_ctx.body.find("decrypt_failed"), std::string::npos);
  ASSERT_EQ(signed_post(s, key, secret, "/api/v1/kms/keys/orders/rotate", "").status, 200);
  auto rw = signed_post(s, key, secret, "/api/v1/kms/rewrap",
                        R"({"key":"orders","ciphertext":")" + ct1 + R"(","context":"b3JkZXItNw=="})");
  std::string ct2 = field(rw.body, "ciphertext");
  EXPECT_EQ(ct2.rfind("herald:v2:", 0), 0u) << rw.body;
  EXPECT_EQ(rw.body.find("c2VjcmV0IGNhcmQ="), std::string::npos);  // rewrap never shows the plaintext
  ASSERT_EQ(signed_post(s, key, secret, "/api/v1/kms/keys/orders/config", R"({"min_decryption_version":2})").status,
            200);
  auto old = signed_post(s, key, secret, "/api/v1/kms/decrypt",
                         R"({"key":"orders","ciphertext":")" + ct1 + R"(","context":"b3JkZXItNw=="})");
  EXPECT_NE(old.body.find("version_not_allowed"), std::string::npos) << old.body;
  auto batch = signed_post(s, key, secret, "/api/v1/kms/decrypt",
                           R"({"key":"orders","items":[{"ciphertext":")" + ct2 +
                               R"(","context":"b3JkZXItNw=="},{"ciphertext":")" + ct1 +
                               R"(","context":"b3JkZXItNw=="},{"ciphertext":"garbage"}]})");
  EXPECT_EQ(batch.status, 200);
  EXPECT_NE(batch.body.find(R"({"results":[{"plaintext":"c2VjcmV0IGNhcmQ="},{"error":{"code":"version_not_allowed")"),
            std::string::npos)
      << batch.body;
  EXPECT_NE(batch.body.find("invalid_ciphertext"), std::string::npos);
  auto dk = signed_post(s, key, secret, "/api/v1/kms/datakey", R"({"key":"orders","bits":256})");
  EXPECT_EQ(dk.status, 200);
  EXPECT_EQ(field(dk.body, "ciphertext").rfind("herald:v2:", 0), 0u);
  EXPECT_EQ(field(dk.body, "plaintext").size(), 44u);  // 32 bytes in base64
  auto del = signed_post(s, key, secret, "/api/v1/kms/keys/orders", "", "DELETE");
  EXPECT_NE(del.body.find("deletion_not_allowed"), std::string::npos);
  // An app without the kms scope.
  auto admin = [&](const std::string& body) {
    std::ifstream t(s.data_dir() + "/admin.token");
    std::string token;
    std::getline(t, token);
    TlsOptions o;
    o.ca_file = s.ca_file();
    return Connection::open(s.port(), true, o)
        ->request("POST /admin/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  auto plain = admin(R"({"name":"plain","scopes":["publish"]})");
  ASSERT_EQ(plain.status, 201);
  auto refused = signed_post(s, field(plain.body, "key"), field(plain.body, "app_secret"), "/api/v1/kms/encrypt",
                             R"({"key":"default","plaintext":"eA=="})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("scope_missing"), std::string::npos);
  // Each app sees its own keys only.
  auto kms_app = admin(R"({"name":"other","scopes":["kms"]})");
  auto foreign = signed_post(s, field(kms_app.body, "key"), field(kms_app.body, "app_secret"), "/api/v1/kms/decrypt",
                             R"({"key":"orders","ciphertext":")" + ct2 + R"(","context":"b3JkZXItNw=="})");
  EXPECT_NE(foreign.body.find("key_not_found"), std::string::npos) << foreign.body;
}

void scan(const std::string& dir, const std::vector<std::string>& markers) {
  for (const auto& m : markers) ASSERT_GE(m.size(), 20u);
  // A control: what is stored in plaintext (an app's name) is found, so the scan works.
  std::string all;
  for (const char* file : {"/herald.db", "/herald.db-wal"}) {
    std::ifstream in(dir + file, std::ios::binary);
    all.append((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(all.find("marker-app-2"), std::string::npos);
  for (const char* file : {"/herald.db", "/herald.db-wal"}) {
    std::ifstream in(dir + file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::string(file) == "/herald.db") {
      ASSERT_FALSE(bytes.empty());
    }
    for (std::size_t i = 0; i < markers.size(); ++i)
      EXPECT_EQ(bytes.find(markers[i]), std::string::npos) << "marker " << i << " found in " << file;
  }
}

TEST(Kms, NoSecretIsStoredInPlaintext) {
  TempDir dir;
  std::vector<std::string> markers;
  {
    Server s({.args = {"--store.data_dir=" + dir.path()}});
    std::ifstream f(dir.path() + "/dev-app.json");
    std::stringstream ss;
    ss << f.rdbuf();
    markers.push_back(field(ss.str(), "app_secret"));
    markers.push_back(field(ss.str(), "client_secret"));
    std::ifstream t(dir.path() + "/admin.token");
    std::string token;
    std::getline(t, token);
    markers.push_back(token);
    TlsOptions o;
    o.ca_file = s.ca_file();
    for (int i = 0; i < 3; ++i) {
      std::string body = "{\"name\":\"marker-app-" + std::to_string(i) + "\"}";
      auto r = Connection::open(s.port(), true, o)
                   ->request("POST /admin/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
      ASSERT_EQ(r.status, 201);
      markers.push_back(field(r.body, "app_secret"));
      markers.push_back(field(r.body, "client_secret"));
      auto rot = Connection::open(s.port(), true, o)
                     ->request("POST /admin/v1/apps/marker-app-" + std::to_string(i) +
                               "/rotate-secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                               "\r\nContent-Length: 0\r\n\r\n");
      markers.push_back(field(rot.body, "app_secret"));
    }
    // The KMS keys' own bytes: an exportable key's versions, exported.
    auto ex_key = field(ss.str(), "app_key"), ex_secret = field(ss.str(), "app_secret");
    ASSERT_EQ(signed_post(s, ex_key, ex_secret, "/api/v1/kms/keys", R"({"name":"exp","exportable":true})").status, 201);
    auto ex = signed_post(s, ex_key, ex_secret, "/api/v1/kms/keys/exp/export", "");
    auto at = ex.body.find("\"1\":\"");
    ASSERT_NE(at, std::string::npos) << ex.body;
    // Raw bytes, as a leak would store them: decode the base64.
    std::string b64 = ex.body.substr(at + 5, 44);
    unsigned char raw[48];
    int n = EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    ASSERT_EQ(n, 33);  // 32 bytes and one of padding
    markers.push_back(std::string(reinterpret_cast<char*>(raw), 32));
    // While the server runs, the newest writes are in the WAL; after it stops, in the
    // database file. Both are scanned, both times.
    scan(dir.path(), markers);
  }
  scan(dir.path(), markers);
}

// A request over TLS to a --dev server; with_token: carrying its admin token.
HttpResponse tls_request(const Server& s, const std::string& method, const std::string& path,
                         const std::string& body = "", bool with_token = false) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  std::string auth = with_token ? "Authorization: Bearer " + admin_token(s) + "\r\n" : "";
  return Connection::open(s.port(), true, o)
      ->request(method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + auth +
                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

HttpResponse admin_request(const Server& s, const std::string& method, const std::string& path,
                           const std::string& body = "") {
  return tls_request(s, method, path, body, true);
}

// S21: a stolen AppSecret (the app's own `kms` scope) can neither make a key exportable nor
// deletable; the admin can. A delete is a tombstone the key refuses use under, and the
// admin can cancel it.
TEST(Kms, OnlyTheAdminSetsTheGuardFlagsAndADeleteWaitsAsATombstone) {
  Server s({.args = {"--kms.deletion_delay=1h"}});
  auto app = dev_app(s);
  ASSERT_EQ(signed_post(s, app.key, app.secret, "/api/v1/kms/keys", R"({"name":"vault"})").status, 201);
  for (const char* body : {R"({"exportable":true})", R"({"deletion_allowed":true})"}) {
    auto r = signed_post(s, app.key, app.secret, "/api/v1/kms/keys/vault/config", body);
    EXPECT_EQ(r.status, 403) << body;
    EXPECT_NE(r.body.find("admin_required"), std::string::npos) << r.body;
  }
  auto exp = signed_post(s, app.key, app.secret, "/api/v1/kms/keys/vault/export", "");
  EXPECT_NE(exp.body.find("key_not_exportable"), std::string::npos) << exp.body;
  auto del = signed_post(s, app.key, app.secret, "/api/v1/kms/keys/vault", "", "DELETE");
  EXPECT_NE(del.body.find("deletion_not_allowed"), std::string::npos) << del.body;
  // Without the token, the admin route is refused; with it, the flag is set.
  auto anon =
      tls_request(s, "POST", "/admin/v1/apps/" + app.id + "/kms/keys/vault/config", R"({"deletion_allowed":true})");
  EXPECT_EQ(anon.status, 401) << anon.body;
  auto set =
      admin_request(s, "POST", "/admin/v1/apps/" + app.id + "/kms/keys/vault/config", R"({"deletion_allowed":true})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_NE(set.body.find("\"deletion_allowed\":true"), std::string::npos);
  del = signed_post(s, app.key, app.secret, "/api/v1/kms/keys/vault", "", "DELETE");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_NE(del.body.find("delete_after_ms"), std::string::npos);
  auto enc = signed_post(s, app.key, app.secret, "/api/v1/kms/encrypt", R"({"key":"vault","plaintext":"eA=="})");
  EXPECT_EQ(enc.status, 409);
  EXPECT_NE(enc.body.find("key_pending_deletion"), std::string::npos) << enc.body;
  auto cancel = admin_request(s, "POST", "/admin/v1/apps/" + app.id + "/kms/keys/vault/cancel-deletion");
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  enc = signed_post(s, app.key, app.secret, "/api/v1/kms/encrypt", R"({"key":"vault","plaintext":"eA=="})");
  EXPECT_EQ(enc.status, 200) << enc.body;
}

// S19 + S22: with write access to the database file, an attacker gives an app the admin
// scope and clears its allowlist. At the next start that app is unavailable (listed by the
// admin API, counted in a metric); the unseal succeeds and every other app serves.
TEST(Kms, AnAppRowEditedInTheDatabaseIsRefusedAndTheOthersServe) {
  TempDir dir;
  std::string victim_key, victim_secret;
  {
    Server s({.args = {"--store.data_dir=" + dir.path()}});
    auto made = admin_request(s, "POST", "/admin/v1/apps",
                              R"({"name":"victim","scopes":["kms"],"allowed_cidrs":["10.9.0.0/16"]})");
    ASSERT_EQ(made.status, 201) << made.body;
    victim_key = field(made.body, "key");
    victim_secret = field(made.body, "app_secret");
    ASSERT_EQ(s.stop(SIGTERM), 0);
  }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/herald.db").c_str(), &h), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(h, "UPDATE apps SET scopes = 'publish,otp,kms,admin', allowed_cidrs = '' WHERE name = 'victim';",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(h);

  Server s({.args = {"--store.data_dir=" + dir.path()}});
  auto list = admin_request(s, "GET", "/admin/v1/apps");
  ASSERT_EQ(list.status, 200) << list.body;
  auto unavailable = list.body.find("\"unavailable\":[{");
  ASSERT_NE(unavailable, std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"reason\":\"mac_mismatch\"", unavailable), std::string::npos) << list.body;
  // The edited app is refused (its key is unknown now); the development app works.
  auto refused =
      signed_post(s, victim_key, victim_secret, "/api/v1/kms/encrypt", R"({"key":"default","plaintext":"eA=="})");
  EXPECT_EQ(refused.status, 401) << refused.body;
  auto app = dev_app(s);
  auto ok = signed_post(s, app.key, app.secret, "/api/v1/kms/encrypt", R"({"key":"default","plaintext":"eA=="})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto metrics = tls_request(s, "GET", "/metrics");
  EXPECT_EQ(metric_value(metrics.body, "herald_app_records_rejected_total{reason=\"mac_mismatch\"}"), 1.0)
      << metrics.body.substr(0, 200);
  EXPECT_EQ(metric_value(metrics.body, "herald_apps_unavailable"), 1.0);
}

}  // namespace
}  // namespace herald::testing
