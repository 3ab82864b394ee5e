// The C++ SDK against the real server: every ServerClient and AdminClient call, the
// refusals it reports (code, HTTP status, request id), and network failures.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "harness.h"
#include "herald/client.h"
#include "sdk_connection.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

sdk::ServerClient server_client(const Server& s, const std::string& key, const std::string& secret) {
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s, 5s), key, secret});
}

sdk::ServerClient demo_client(const Server& s) {
  DevApp d = dev_app(s);
  return server_client(s, d.key, d.secret);
}

sdk::AdminClient admin_client(const Server& s) {
  return sdk::AdminClient(sdk::AdminClientOptions{connection(s, 5s), admin_token(s)});
}

// Asserts a failed call with this code and HTTP status, and a request id to quote.
template <class T>
void expect_refused(const sdk::Result<T>& r, const std::string& code, int status) {
  ASSERT_FALSE(r.ok()) << "expected " << code;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().http_status, status) << code;
  if (status) {
    EXPECT_FALSE(r.error().request_id.empty()) << code;
  }
}

// A WebSocket client connected as `user` and subscribed to `channel`.
std::unique_ptr<Connection> subscribed_client(const Server& s, const std::string& user, const std::string& channel) {
  DevApp d = dev_app(s);
  TlsOptions tls;
  tls.ca_file = s.ca_file();
  auto c = Connection::open(s.port(), true, tls);
  EXPECT_EQ(ws_upgrade(*c, "/ws").status, 101);
  ws_send(*c, 1,
          R"({"id":1,"connect":{"app":")" + d.key + R"(","token":")" + client_token(d.client_secret, user) + "\"}}");
  auto reply = ws_read(*c, 3s);
  EXPECT_TRUE(reply && reply->payload.find("\"connect\"") != std::string::npos) << (reply ? reply->payload : "");
  ws_send(*c, 1, R"({"id":2,"subscribe":{"channel":")" + channel + "\"}}");
  reply = ws_read(*c, 3s);
  EXPECT_TRUE(reply && reply->payload.find("\"subscribe\"") != std::string::npos) << (reply ? reply->payload : "");
  return c;
}

Server::Options with_namespaces() {
  Server::Options o;
  o.args = {"--namespaces.chat.history_size=10", "--namespaces.chat.presence=true",
            "--namespaces.quiet.presence=false"};
  return o;
}

TEST(SdkServerApi, PublishBroadcastUserPublishAndHistory) {
  Server s(with_namespaces());
  auto client = demo_client(s);

  auto first = client.publish("news", R"({"title":"one"})");
  ASSERT_TRUE(first.ok()) << first.error().code << ": " << first.error().message;
  EXPECT_EQ(first->channel, "news");
  EXPECT_EQ(first->offset, 1u);
  EXPECT_FALSE(first->epoch.empty());
  EXPECT_FALSE(first->id.empty());
  EXPECT_FALSE(first->replayed);
  EXPECT_FALSE(first->request_id.empty());

  auto second = client.publish("news", "[1, 2, 3]", "order-1");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->offset, 2u);
  EXPECT_EQ(second->epoch, first->epoch);
  // The key answers only the request it was first used for (S17): another body is a
  // conflict, the same body the first answer.
  auto other = client.publish("news", R"({"whatever":"else"})", "order-1");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "idempotency_conflict");
  EXPECT_EQ(other.error().http_status, 409);
  auto again = client.publish("news", "[1, 2, 3]", "order-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->id, second->id);
  EXPECT_EQ(again->offset, 2u);

  auto b = client.broadcast({"news", "chat:room-7"}, R"({"title":"all"})");
  ASSERT_TRUE(b.ok()) << b.error().code;
  ASSERT_EQ(b->results.size(), 2u);
  EXPECT_EQ(b->results[0].channel, "news");
  ASSERT_TRUE(b->results[0].published);
  EXPECT_EQ(b->results[0].published->offset, 3u);
  EXPECT_EQ(b->results[1].channel, "chat:room-7");
  ASSERT_TRUE(b->results[1].published);
  EXPECT_EQ(b->results[1].published->offset, 1u);
  EXPECT_FALSE(b->results[1].error);
  auto b_again = client.broadcast({"news", "chat:room-7"}, "null", "fanout-1");
  ASSERT_TRUE(b_again.ok());
  EXPECT_FALSE(b_again->replayed);
  b_again = client.broadcast({"news", "chat:room-7"}, "null", "fanout-1");
  ASSERT_TRUE(b_again.ok());
  EXPECT_TRUE(b_again->replayed);

  auto u = client.publish_to_user("42", R"({"note":"for you"})");
  ASSERT_TRUE(u.ok()) << u.error().code;
  EXPECT_EQ(u->channel, "user#42");
  EXPECT_EQ(u->offset, 1u);

  auto h = client.history("news");
  ASSERT_TRUE(h.ok()) << h.error().code;
  EXPECT_EQ(h->epoch, first->epoch);
  EXPECT_EQ(h->offset, 4u);
  EXPECT_FALSE(h->recovered.has_value());
  ASSERT_EQ(h->publications.size(), 4u);
  EXPECT_EQ(h->publications[0].offset, 1u);
  EXPECT_EQ(h->publications[0].data_json, R"({"title":"one"})");
  EXPECT_EQ(h->publications[0].id, first->id);
  EXPECT_EQ(h->publications[1].data_json, "[1,2,3]");
  EXPECT_GT(h->publications[0].ts_ms, 0);

  auto limited = client.history("news", 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->publications.size(), 2u);

  auto since = client.history("news", std::nullopt, sdk::StreamPosition{2, first->epoch});
  ASSERT_TRUE(since.ok()) << since.error().code;
  ASSERT_TRUE(since->recovered.has_value());
  EXPECT_TRUE(*since->recovered);
  ASSERT_EQ(since->publications.size(), 2u);
  EXPECT_EQ(since->publications[0].offset, 3u);

  expect_refused(client.history("quiet:x"), "history_disabled", 409);
  expect_refused(client.publish("nope:x", "1"), "namespace_not_found", 400);
  expect_refused(client.publish("bad channel", "1"), "channel_invalid", 400);
}

TEST(SdkServerApi, PresenceStatsAndDisconnect) {
  Server s(with_namespaces());
  auto client = demo_client(s);
  auto ws = subscribed_client(s, "u1", "chat:lobby");

  auto p = client.presence("chat:lobby");
  ASSERT_TRUE(p.ok()) << p.error().code << ": " << p.error().message;
  ASSERT_EQ(p->clients.size(), 1u);
  EXPECT_EQ(p->clients[0].user, "u1");
  EXPECT_FALSE(p->clients[0].client_id.empty());
  EXPECT_FALSE(p->truncated);

  auto stats = client.presence_stats("chat:lobby");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->num_clients, 1u);
  EXPECT_EQ(stats->num_users, 1u);

  expect_refused(client.presence("news"), "presence_disabled", 409);
  expect_refused(client.presence_stats("quiet:x"), "presence_disabled", 409);

  auto gone = client.disconnect_user("u1");
  ASSERT_TRUE(gone.ok()) << gone.error().code;
  EXPECT_EQ(*gone, 1u);
  std::optional<WsFrame> f;
  do {
    f = ws_read(*ws, 3s);
  } while (f && f->opcode != 8);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->close_code(), 4006);

  auto nobody = client.disconnect_user("nobody");
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(*nobody, 0u);
}

TEST(SdkServerApi, AppInfoShowsTheCallingAppWithoutSecrets) {
  Server s;
  DevApp d = dev_app(s);
  auto client = demo_client(s);
  auto info = client.app_info();
  ASSERT_TRUE(info.ok()) << info.error().code;
  EXPECT_EQ(info->id, d.id);
  EXPECT_EQ(info->key, d.key);
  EXPECT_EQ(info->name, "demo");
  EXPECT_EQ(info->status, "active");
  EXPECT_NE(std::find(info->scopes.begin(), info->scopes.end(), "publish"), info->scopes.end());
  ASSERT_EQ(info->secrets.size(), 1u);
  EXPECT_FALSE(info->secrets[0].id.empty());
  EXPECT_EQ(info->namespaces, std::vector<std::string>{"*"});
  EXPECT_EQ(info->json.find(d.secret), std::string::npos);
  EXPECT_EQ(info->json.find(d.client_secret), std::string::npos);
}

// A client keeps its connection open between calls: one TLS handshake, not one per call.
TEST(SdkServerApi, KeyServiceCallsEncryptRotateRewrapAndBatch) {
  Server s;
  auto client = demo_client(s);
  auto key = client.kms_create_key("invoices");
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->latest_version, 1u);
  std::string binary("\x00\x01\xffsecret\n", 10);
  auto ct = client.kms_encrypt("invoices", binary, "row-9");
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  EXPECT_EQ(ct->rfind("herald:v1:", 0), 0u);
  auto pt = client.kms_decrypt("invoices", *ct, "row-9");
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(pt->view(), binary);
  EXPECT_EQ(client.kms_decrypt("invoices", *ct, "row-10").error().code, "decrypt_failed");
  ASSERT_EQ(client.kms_rotate_key("invoices")->latest_version, 2u);
  auto moved = client.kms_rewrap("invoices", *ct, "row-9");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->rfind("herald:v2:", 0), 0u);
  ASSERT_TRUE(client.kms_set_min_decryption_version("invoices", 2).ok());
  auto old = client.kms_decrypt("invoices", *ct, "row-9");
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code, "version_not_allowed");
  EXPECT_EQ(old.error().http_status, 400);
  auto dk = client.kms_datakey("invoices", 256);
  ASSERT_TRUE(dk.ok());
  EXPECT_EQ(dk->plaintext.size(), 32u);
  EXPECT_EQ(client.kms_decrypt("invoices", dk->ciphertext)->view(), dk->plaintext.view());
  auto batch = client.kms_encrypt_batch("invoices", {"a", "bb", "ccc"});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 3u);
  std::vector<std::string> cts;
  for (const auto& item : *batch) cts.emplace_back(item.value->view());
  cts.push_back(*ct);  // retired version: fails alone
  auto back = client.kms_decrypt_batch("invoices", cts);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 4u);
  EXPECT_EQ((*back)[1].value->view(), "bb");
  ASSERT_TRUE((*back)[3].error.has_value());
  EXPECT_EQ((*back)[3].error->code, "version_not_allowed");
  EXPECT_EQ(client.kms_key_info("nope").error().code, "key_not_found");
}

TEST(SdkServerApi, OneClientKeepsOneConnection) {
  Server s;
  auto accepted = [&] {
    auto v = metric_value(https(s, "GET", "/metrics").body, "herald_connections_accepted_total");
    return v ? *v : -1.0;
  };
  double before = accepted();
  auto client = demo_client(s);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.publish("news", std::to_string(i)).ok());
  ASSERT_TRUE(client.app_info().ok());
  EXPECT_EQ(accepted() - before, 2.0);  // the client's connection and the second /metrics request
}

TEST(SdkServerApi, RefusalsCarryCodeStatusAndRequestId) {
  Server s;
  DevApp d = dev_app(s);
  expect_refused(server_client(s, d.key, d.secret + "x").publish("news", "1"), "signature_invalid", 401);
  expect_refused(server_client(s, "hk_unknown", d.secret).publish("news", "1"), "app_unknown", 401);
  auto right = server_client(s, d.key, d.secret).app_info();
  EXPECT_TRUE(right.ok());

  // Refused before anything is sent: no status, no request id.
  auto client = demo_client(s);
  expect_refused(client.publish("news", "{not json"), "invalid_argument", 0);
  expect_refused(client.publish("news", "1 2"), "invalid_argument", 0);
  expect_refused(client.publish("", "1"), "invalid_argument", 0);
  expect_refused(client.publish("news", "1", std::string(129, 'k')), "invalid_argument", 0);
  expect_refused(client.broadcast({}, "1"), "invalid_argument", 0);
  expect_refused(server_client(s, d.key, "").publish("news", "1"), "invalid_argument", 0);
}

TEST(SdkServerApi, TlsIsVerifiedUnlessInsecure) {
  Server s;
  DevApp d = dev_app(s);
  auto opts = connection(s, 5s);
  opts.ca_file.clear();  // the system store does not know the dev certificate
  expect_refused(sdk::ServerClient({opts, d.key, d.secret}).publish("news", "1"), "tls_error", 0);
  opts.ca_file = s.data_dir() + "/dev-key.pem";  // not a certificate
  EXPECT_FALSE(sdk::ServerClient({opts, d.key, d.secret}).publish("news", "1").ok());
  opts.ca_file.clear();
  opts.insecure = true;
  auto r = sdk::ServerClient({opts, d.key, d.secret}).publish("news", "1");
  EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
}

TEST(SdkServerApi, NetworkFailuresHaveTheirOwnCodes) {
  // A port nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::uint16_t port = ntohs(a.sin_port);
  sdk::ConnectionOptions c;
  c.base_url = "https://127.0.0.1:" + std::to_string(port);
  c.timeout = 500ms;
  expect_refused(sdk::ServerClient({c, "hk_x", "as_x"}).publish("news", "1"), "network_error", 0);

  // A peer that accepts the connection (the kernel does, from the backlog) and never
  // answers the TLS handshake.
  ASSERT_EQ(::listen(fd, 8), 0);
  auto started = std::chrono::steady_clock::now();
  expect_refused(sdk::ServerClient({c, "hk_x", "as_x"}).publish("news", "1"), "timeout", 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  ::close(fd);

  c.base_url = "ftp://127.0.0.1:1";
  expect_refused(sdk::ServerClient({c, "hk_x", "as_x"}).publish("news", "1"), "invalid_argument", 0);
  c.base_url = "https://127.0.0.1:1/prefix?query";
  expect_refused(sdk::AdminClient({c, "hat_x"}).list_apps(), "invalid_argument", 0);
}

// The public signer serves callers with their own HTTP stack: its headers are accepted,
// and replaying them byte for byte is refused.
TEST(SdkServerApi, SignerHeadersWorkOverAnotherHttpStackAndReplayIsRefused) {
  Server s;
  DevApp d = dev_app(s);
  std::string body = R"({"channel":"news","data":{"text":"hi"}})";
  auto nonce = sdk::make_nonce();
  ASSERT_TRUE(nonce.ok());
  std::string ts = sdk::unix_timestamp_now();
  auto h = sdk::sign_request({"POST", "/api/v1/publish?z=1&a=x%20y", body, ts, *nonce, d.key}, d.secret);
  ASSERT_TRUE(h.ok());
  std::map<std::string, std::string> headers{{"X-Herald-Key", h->key},
                                             {"X-Herald-Timestamp", h->timestamp},
                                             {"X-Herald-Nonce", h->nonce},
                                             {"X-Herald-Signature", h->signature},
                                             {"X-Herald-Signature-Version", h->version},
                                             {"Content-Type", "application/json"}};
  auto r = https(s, "POST", "/api/v1/publish?z=1&a=x%20y", headers, body);
  EXPECT_EQ(r.status, 200) << r.body;
  r = https(s, "POST", "/api/v1/publish?a=x%20y&z=1", headers, body);  // same canonical query, same nonce
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("nonce_replayed"), std::string::npos) << r.body;

  // The server canonicalises a query as the signer does, where decoded and encoded
  // byte order differ ('-' against an encoded '/').
  for (const std::string target : {"/api/v1/app?a-=1&a/=2", "/api/v1/app?k=a%2f&j=a-&flag", "/api/v1/app?q=a+b"}) {
    auto n = sdk::make_nonce();
    auto g = sdk::sign_request({"GET", target, "", ts, *n, d.key}, d.secret);
    ASSERT_TRUE(g.ok()) << target;
    r = https(s, "GET", target,
              {{"X-Herald-Key", d.key},
               {"X-Herald-Timestamp", ts},
               {"X-Herald-Nonce", *n},
               {"X-Herald-Signature", g->signature},
               {"X-Herald-Signature-Version", "2"}});
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
  }
  // A name given twice is refused, signed or not: the route would read one of the values.
  {
    const std::string target = "/api/v1/app?k=a-&k=a/";
    auto n = sdk::make_nonce();
    auto g = sdk::sign_request({"GET", target, "", ts, *n, d.key}, d.secret);
    r = https(s, "GET", target,
              {{"X-Herald-Key", d.key},
               {"X-Herald-Timestamp", ts},
               {"X-Herald-Nonce", *n},
               {"X-Herald-Signature", g->signature},
               {"X-Herald-Signature-Version", "2"}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("malformed_target"), std::string::npos) << r.body;
  }

  // A timestamp outside the window.
  auto nonce2 = sdk::make_nonce();
  std::string old_ts = std::to_string(std::stoll(ts) - 3600);
  auto old = sdk::sign_request({"GET", "/api/v1/app", "", old_ts, *nonce2, d.key}, d.secret);
  r = https(s, "GET", "/api/v1/app",
            {{"X-Herald-Key", d.key},
             {"X-Herald-Timestamp", old_ts},
             {"X-Herald-Nonce", *nonce2},
             {"X-Herald-Signature", old->signature},
             {"X-Herald-Signature-Version", "2"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("timestamp_out_of_window"), std::string::npos) << r.body;
}

TEST(SdkAdminApi, CreatedAppsSecretSignsRequests) {
  Server s;
  auto admin = admin_client(s);
  sdk::AppCreateOptions o;
  o.name = "shop";
  o.scopes = {"publish", "otp"};
  o.namespaces = {"default"};  // channels without a "ns:" prefix
  o.rate_limit = 0;
  auto made = admin.create_app(o);
  ASSERT_TRUE(made.ok()) << made.error().code << ": " << made.error().message;
  EXPECT_EQ(made->app.name, "shop");
  EXPECT_EQ(made->app.status, "active");
  EXPECT_EQ(made->app.scopes, (std::vector<std::string>{"publish", "otp"}));
  EXPECT_EQ(made->app.namespaces, std::vector<std::string>{"default"});
  EXPECT_EQ(made->app.rate_limit, 0u);
  ASSERT_EQ(made->app.secrets.size(), 1u);
  EXPECT_EQ(made->app.secrets[0].id, made->app_secret_id);
  EXPECT_FALSE(made->app_secret.empty());
  EXPECT_FALSE(made->client_secret.empty());
  EXPECT_EQ(made->app.json.find(std::string(made->app_secret.view())), std::string::npos);
  EXPECT_NE(made->json.view().find(made->app_secret.view()), std::string::npos);

  auto shop = server_client(s, made->app.key, std::string(made->app_secret.view()));
  auto p = shop.publish("news", R"({"sale":true})");
  ASSERT_TRUE(p.ok()) << p.error().code << ": " << p.error().message;
  expect_refused(shop.publish("chat:x", "1"), "channel_not_allowed", 403);

  auto listed = admin.list_apps();
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const auto& a : *listed) names.push_back(a.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "shop"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "demo"), names.end());

  for (const auto& handle : {made->app.name, made->app.key, made->app.id}) {
    auto shown = admin.show_app(handle);
    ASSERT_TRUE(shown.ok()) << handle;
    EXPECT_EQ(shown->id, made->app.id);
  }
  expect_refused(admin.show_app("no-such-app"), "app_not_found", 404);
  expect_refused(admin.create_app(o), "conflict", 409);
  sdk::AppCreateOptions bad;
  bad.name = "bad name!";
  expect_refused(admin.create_app(bad), "invalid_argument", 400);
  bad.name = "fine";
  bad.scopes = {"everything"};
  expect_refused(admin.create_app(bad), "invalid_argument", 400);
}

// A fresh Ed25519 public key in PEM.
std::string ed25519_public_pem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

TEST(SdkAdminApi, AppWithoutClientSecretHasOnlyItsPublicKeys) {
  Server s;
  auto admin = admin_client(s);
  sdk::AppCreateOptions o;
  o.name = "keys-only";
  o.client_public_keys_pem = {ed25519_public_pem()};
  o.client_secret = false;
  auto made = admin.create_app(o);
  ASSERT_TRUE(made.ok()) << made.error().code << ": " << made.error().message;
  EXPECT_TRUE(made->client_secret.empty());
  EXPECT_FALSE(made->app_secret.empty());
  ASSERT_EQ(made->app.client_keys.size(), 1u);
  EXPECT_EQ(made->app.client_keys[0].alg, "EdDSA");
  EXPECT_EQ(made->app.client_keys[0].kid, "k1");

  o.name = "no-keys";
  o.client_public_keys_pem.clear();
  expect_refused(admin.create_app(o), "invalid_argument", 400);
}

TEST(SdkAdminApi, RotateKeepsBothSecretsUntilRevoke) {
  Server s;
  auto admin = admin_client(s);
  auto made = admin.create_app({.name = "rot"});
  ASSERT_TRUE(made.ok());
  std::string old_secret(made->app_secret.view());
  auto rotated = admin.rotate_secret("rot");
  ASSERT_TRUE(rotated.ok()) << rotated.error().code;
  EXPECT_NE(rotated->secret_id, made->app_secret_id);
  std::string new_secret(rotated->app_secret.view());
  EXPECT_NE(new_secret, old_secret);

  auto with_old = server_client(s, made->app.key, old_secret);
  auto with_new = server_client(s, made->app.key, new_secret);
  EXPECT_TRUE(with_old.publish("news", "1").ok());
  EXPECT_TRUE(with_new.publish("news", "2").ok());
  expect_refused(admin.rotate_secret("rot"), "too_many_secrets", 409);

  auto shown = admin.show_app("rot");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->secrets.size(), 2u);

  auto revoked = admin.revoke_secret("rot", made->app_secret_id);
  ASSERT_TRUE(revoked.ok()) << revoked.error().code;
  expect_refused(with_old.publish("news", "3"), "signature_invalid", 401);
  EXPECT_TRUE(with_new.publish("news", "4").ok());
  expect_refused(admin.revoke_secret("rot", rotated->secret_id), "last_secret", 409);
  expect_refused(admin.revoke_secret("rot", "s-unknown"), "app_not_found", 404);
}

TEST(SdkAdminApi, SuspendResumeDelete) {
  Server s;
  auto admin = admin_client(s);
  auto made = admin.create_app({.name = "life"});
  ASSERT_TRUE(made.ok());
  auto client = server_client(s, made->app.key, std::string(made->app_secret.view()));
  ASSERT_TRUE(client.publish("news", "1").ok());

  ASSERT_TRUE(admin.suspend("life").ok());
  expect_refused(client.publish("news", "2"), "app_suspended", 403);
  EXPECT_EQ(admin.show_app("life")->status, "suspended");
  ASSERT_TRUE(admin.resume("life").ok());
  EXPECT_TRUE(client.publish("news", "3").ok());

  ASSERT_TRUE(admin.delete_app("life").ok());
  expect_refused(client.publish("news", "4"), "app_unknown", 401);
  expect_refused(admin.show_app("life"), "app_not_found", 404);
  expect_refused(admin.delete_app("life"), "app_not_found", 404);
  expect_refused(admin.suspend("life"), "app_not_found", 404);
}

TEST(SdkAdminApi, WrongOrMissingTokenIsRefused) {
  Server s;
  expect_refused(sdk::AdminClient({connection(s, 5s), "hat_wrong"}).list_apps(), "admin_unauthorized", 401);
  expect_refused(sdk::AdminClient({connection(s, 5s), ""}).list_apps(), "invalid_argument", 0);
}

}  // namespace
}  // namespace herald::testing
