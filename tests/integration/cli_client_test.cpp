// `herald publish` and `herald app ...` end to end: the real binary calling a real
// server, its output, and its exit codes (0 done, 1 refused or network, 2 usage).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace herald::testing {
namespace {

namespace json = boost::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The last line of the output, as JSON.
json::object last_json(const ProcessResult& r) {
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  auto nl = out.rfind('\n');
  json::error_code ec;
  json::value v = json::parse(nl == std::string::npos ? out : out.substr(nl + 1), ec);
  EXPECT_FALSE(ec) << r.output;
  return v.is_object() ? v.as_object() : json::object{};
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Environment for a client command against `s`: server URL, CA, and the dev app's
// credentials and the admin token, like an operator's shell would have them.
struct ClientEnv {
  std::string url, ca, app_key, app_secret, admin_token, admin_token_file;
  std::vector<std::string> server() const { return {"HERALD_SERVER=" + url, "HERALD_CA_FILE=" + ca}; }
  std::vector<std::string> app() const {
    auto e = server();
    e.push_back("HERALD_APP_KEY=" + app_key);
    e.push_back("HERALD_APP_SECRET=" + app_secret);
    return e;
  }
  std::vector<std::string> admin() const {
    auto e = server();
    e.push_back("HERALD_ADMIN_TOKEN=" + admin_token);
    return e;
  }
};

ClientEnv client_env(const Server& s) {
  ClientEnv e;
  e.url = "https://127.0.0.1:" + std::to_string(s.port());
  e.ca = s.ca_file();
  auto dev = json::parse(slurp(s.data_dir() + "/dev-app.json")).as_object();
  e.app_key = str(dev, "app_key");
  e.app_secret = str(dev, "app_secret");
  e.admin_token_file = s.data_dir() + "/admin.token";
  e.admin_token = slurp(e.admin_token_file);
  while (!e.admin_token.empty() && e.admin_token.back() == '\n') e.admin_token.pop_back();
  return e;
}

TEST(CliPublish, ToAChannelSeveralChannelsAndAUser) {
  Server s;
  auto env = client_env(s);
  auto r = run_herald({"publish", "--channel", "news", "--data", R"({"title":"hello"})"}, env.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "published to news: offset 1")) << r.output;

  r = run_herald({"publish", "--channel", "news", "--data", "42", "--json", "--idempotency-key", "k-1"}, env.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto j = last_json(r);
  EXPECT_EQ(str(j, "channel"), "news");
  EXPECT_EQ(j["offset"].to_number<int>(), 2);
  EXPECT_FALSE(str(j, "id").empty());
  EXPECT_FALSE(str(j, "request_id").empty());
  EXPECT_FALSE(j["replayed"].as_bool());
  r = run_herald({"publish", "--channel", "news", "--data", "42", "--json", "--idempotency-key", "k-1"}, env.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(last_json(r)["replayed"].as_bool()) << r.output;
  r = run_herald({"publish", "--channel", "news", "--data", "42", "--idempotency-key", "k-1"}, env.app());
  EXPECT_TRUE(contains(r.output, "replayed")) << r.output;

  r = run_herald({"publish", "--user", "42", "--data", R"({"note":"hi"})"}, env.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "published to user#42: offset 1")) << r.output;

  r = run_herald({"publish", "--channel", "news", "--channel", "alerts", "--data", "true", "--json"}, env.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto results = last_json(r)["results"].as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].as_object()["channel"].as_string(), "news");
  EXPECT_EQ(results[1].as_object()["offset"].to_number<int>(), 1);

  // The credentials from flags and a file instead of the environment.
  TempDir dir;
  std::ofstream(dir.path() + "/secret") << env.app_secret << "\n";
  r = run_herald({"publish", "--server", env.url, "--ca-file", env.ca, "--app-key", env.app_key, "--app-secret-file",
                  dir.path() + "/secret", "--channel", "news", "--data", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(CliPublish, FailuresPrintCodeMessageAndRequestId) {
  Server s;
  auto env = client_env(s);
  auto bad = env;
  bad.app_secret += "x";
  auto r = run_herald({"publish", "--channel", "news", "--data", "1"}, bad.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "signature_invalid")) << r.output;
  EXPECT_TRUE(contains(r.output, "HTTP 401")) << r.output;
  EXPECT_TRUE(contains(r.output, "request id ")) << r.output;
  EXPECT_FALSE(contains(r.output, bad.app_secret)) << r.output;

  r = run_herald({"publish", "--channel", "news", "--data", "1", "--json"}, bad.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  auto err = last_json(r)["error"].as_object();
  EXPECT_EQ(str(err, "code"), "signature_invalid");
  EXPECT_EQ(err["http_status"].to_number<int>(), 401);
  EXPECT_FALSE(str(err, "request_id").empty());

  r = run_herald({"publish", "--channel", "bad channel", "--data", "1"}, env.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "channel_invalid")) << r.output;

  // Without the CA the dev certificate does not verify; --insecure skips verification.
  r = run_herald({"publish", "--server", env.url, "--app-key", env.app_key, "--channel", "news", "--data", "1"},
                 {"HERALD_APP_SECRET=" + env.app_secret});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "tls_error")) << r.output;
  r = run_herald(
      {"publish", "--server", env.url, "--insecure", "--app-key", env.app_key, "--channel", "news", "--data", "1"},
      {"HERALD_APP_SECRET=" + env.app_secret});
  EXPECT_EQ(r.exit_code, 0) << r.output;

  r = run_herald({"publish", "--server", "https://127.0.0.1:1", "--channel", "news", "--data", "1"}, env.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "network_error")) << r.output;
}

TEST(CliPublish, UsageErrorsExitTwo) {
  Server s;
  auto env = client_env(s);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"publish", "--channel", "news"},                                      // no --data
           {"publish", "--data", "1"},                                            // no target
           {"publish", "--channel", "news", "--user", "1", "--data", "1"},        // both
           {"publish", "--channel", "news", "--data", "{not json"},               // bad data
           {"publish", "--channel", "news", "--data", "1", "--timeout", "soon"},  // bad duration
           {"publish", "--channel", "news", "--data", "1", "--no-such-flag"},
       }) {
    auto r = run_herald(args, env.app());
    EXPECT_EQ(r.exit_code, 2) << args.back() << "\n" << r.output;
  }
  auto r = run_herald({"publish", "--channel", "news", "--data", "1"}, env.server());  // no credentials
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "HERALD_APP_KEY")) << r.output;
  r = run_herald({"publish", "--channel", "news", "--data", "1", "--app-key", env.app_key}, env.server());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "HERALD_APP_SECRET")) << r.output;
}

TEST(CliApp, LifecycleThroughTheAdminApi) {
  Server s;
  auto env = client_env(s);
  auto r = run_herald({"app", "create", "--name", "shop", "--scopes", "publish,otp", "--rate-limit", "0", "--json"},
                      env.admin());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto made = last_json(r);
  std::string key = str(made, "key"), first_id = str(made, "app_secret_id"), first_secret = str(made, "app_secret");
  ASSERT_FALSE(key.empty());
  ASSERT_FALSE(first_secret.empty());
  EXPECT_FALSE(str(made, "client_secret").empty());
  EXPECT_EQ(str(made, "scopes"), "publish,otp");

  // The new app's secret signs requests.
  auto shop = env;
  shop.app_key = key;
  shop.app_secret = first_secret;
  r = run_herald({"publish", "--channel", "news", "--data", "1"}, shop.app());
  EXPECT_EQ(r.exit_code, 0) << r.output;

  r = run_herald({"app", "create", "--name", "shop"}, env.admin());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "conflict")) << r.output;

  r = run_herald({"app", "list"}, env.admin());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "shop")) << r.output;
  EXPECT_TRUE(contains(r.output, "demo")) << r.output;
  EXPECT_TRUE(contains(r.output, key)) << r.output;
  r = run_herald({"app", "list", "--json"}, env.admin());
  EXPECT_EQ(last_json(r)["apps"].as_array().size(), 2u) << r.output;

  r = run_herald({"app", "show", "shop"}, env.admin());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "status:        active")) << r.output;
  EXPECT_TRUE(contains(r.output, first_id)) << r.output;
  EXPECT_FALSE(contains(r.output, first_secret)) << r.output;

  r = run_herald({"app", "rotate-secret", "shop", "--json"}, env.admin());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rotated = last_json(r);
  std::string second_secret = str(rotated, "app_secret");
  ASSERT_FALSE(second_secret.empty());
  auto shop2 = shop;
  shop2.app_secret = second_secret;
  EXPECT_EQ(run_herald({"publish", "--channel", "news", "--data", "2"}, shop.app()).exit_code, 0);
  EXPECT_EQ(run_herald({"publish", "--channel", "news", "--data", "3"}, shop2.app()).exit_code, 0);

  r = run_herald({"app", "revoke-secret", "shop", "--secret-id", first_id}, env.admin());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "revoked")) << r.output;
  r = run_herald({"publish", "--channel", "news", "--data", "4"}, shop.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "signature_invalid")) << r.output;
  EXPECT_EQ(run_herald({"publish", "--channel", "news", "--data", "5"}, shop2.app()).exit_code, 0);

  r = run_herald({"app", "suspend", "shop"}, env.admin());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_herald({"publish", "--channel", "news", "--data", "6"}, shop2.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "app_suspended")) << r.output;
  r = run_herald({"app", "resume", "shop", "--json"}, env.admin());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "{}")) << r.output;
  EXPECT_EQ(run_herald({"publish", "--channel", "news", "--data", "7"}, shop2.app()).exit_code, 0);

  r = run_herald({"app", "delete", "shop"}, env.admin());  // stdin is not a terminal: no question
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_herald({"publish", "--channel", "news", "--data", "8"}, shop2.app());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "app_unknown")) << r.output;
  r = run_herald({"app", "show", "shop", "--json"}, env.admin());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(str(last_json(r)["error"].as_object(), "code"), "app_not_found");
}

TEST(CliApp, CreateWithPublicKeysAndNoClientSecret) {
  Server s;
  auto env = client_env(s);
  TempDir dir;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  std::string pem_path = dir.path() + "/client.pub.pem";
  FILE* f = std::fopen(pem_path.c_str(), "w");
  ASSERT_TRUE(f);
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);

  auto r = run_herald({"app", "create", "--name", "keyed", "--client-public-key", pem_path, "--no-client-secret",
                       "--jwt-audience", "shop-web", "--require-exp", "--json"},
                      env.admin());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto made = last_json(r);
  EXPECT_FALSE(made.contains("client_secret")) << r.output;
  EXPECT_FALSE(str(made, "app_secret").empty());
  EXPECT_EQ(str(made, "jwt_audience"), "shop-web");
  EXPECT_TRUE(made["require_exp"].as_bool());
  EXPECT_EQ(str(made["client_keys"].as_array()[0].as_object(), "alg"), "EdDSA");

  r = run_herald({"app", "show", "keyed"}, env.admin());
  EXPECT_TRUE(contains(r.output, "EdDSA (kid k1)")) << r.output;
  EXPECT_TRUE(contains(r.output, "jwt audience:  shop-web")) << r.output;

  r = run_herald({"app", "create", "--name", "unreadable", "--client-public-key", "/nonexistent.pem"}, env.admin());
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(CliApp, AdminTokenSources) {
  Server s;
  auto env = client_env(s);
  auto srv = env.server();
  EXPECT_EQ(run_herald({"app", "list", "--admin-token-file", env.admin_token_file}, srv).exit_code, 0);
  auto with = [&](const std::string& var) {
    auto e = srv;
    e.push_back(var);
    return e;
  };
  EXPECT_EQ(run_herald({"app", "list"}, with("HERALD_ADMIN_TOKEN=" + env.admin_token)).exit_code, 0);
  EXPECT_EQ(run_herald({"app", "list"}, with("HERALD_ADMIN_TOKEN_FILE=" + env.admin_token_file)).exit_code, 0);
  EXPECT_EQ(run_herald({"app", "list", "--admin-token", env.admin_token}, srv).exit_code, 0);

  auto r = run_herald({"app", "list"}, srv);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "admin token")) << r.output;
  r = run_herald({"app", "list", "--admin-token-file", "/nonexistent/token"}, srv);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_herald({"app", "list"}, with("HERALD_ADMIN_TOKEN=hat_wrong"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "admin_unauthorized")) << r.output;
  EXPECT_FALSE(contains(r.output, "hat_wrong")) << r.output;
  r = run_herald({"app", "revoke-secret", "demo"}, env.admin());  // no --secret-id
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_herald({"app", "show"}, env.admin());  // no app
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// Bootstrap: apps made in the data dir while the server is stopped are there when it
// starts, and their secret signs requests; `herald token` still works on the data dir.
TEST(CliApp, OfflineCreateAndListThenServe) {
  TempDir dir;
  auto r = run_herald({"app", "create", "--data-dir", dir.path(), "--name", "boot", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto made = last_json(r);
  std::string key = str(made, "key"), secret = str(made, "app_secret");
  EXPECT_EQ(str(made, "name"), "boot");
  EXPECT_FALSE(str(made, "id").empty());
  EXPECT_FALSE(str(made, "client_secret").empty());
  ASSERT_FALSE(secret.empty());

  r = run_herald(
      {"app", "create", "--data-dir", dir.path(), "--name", "boot2", "--namespaces", "chat", "--scopes", "publish"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "app secret:")) << r.output;

  r = run_herald({"app", "create", "--data-dir", dir.path(), "--name", "nokeys", "--no-client-secret"});
  EXPECT_EQ(r.exit_code, 1) << r.output;  // an app without a client secret needs public keys
  EXPECT_TRUE(contains(r.output, "public keys")) << r.output;

  r = run_herald({"app", "list", "--data-dir", dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "boot2")) << r.output;
  EXPECT_TRUE(contains(r.output, key)) << r.output;
  r = run_herald({"app", "list", "--data-dir", dir.path(), "--json"});
  EXPECT_EQ(last_json(r)["apps"].as_array().size(), 2u) << r.output;

  r = run_herald({"token", "--data-dir", dir.path(), "--app", "boot", "--user", "u1"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '.'), 2) << r.output;

  Server::Options o;
  o.args = {"--store.data_dir=" + dir.path()};
  Server s(o);
  r = run_herald({"publish", "--server", "https://127.0.0.1:" + std::to_string(s.port()), "--ca-file",
                  dir.path() + "/dev-cert.pem", "--channel", "news", "--data", "1"},
                 {"HERALD_APP_KEY=" + key, "HERALD_APP_SECRET=" + secret});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(CliHelp, EverySubcommandHasHelp) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                {"serve", "--help"},
                                                                {"version", "--help"},
                                                                {"token", "--help"},
                                                                {"publish", "--help"},
                                                                {"app", "--help"},
                                                                {"app", "create", "--help"},
                                                                {"app", "list", "--help"},
                                                                {"app", "show", "--help"},
                                                                {"app", "rotate-secret", "--help"},
                                                                {"app", "revoke-secret", "--help"},
                                                                {"app", "suspend", "--help"},
                                                                {"app", "resume", "--help"},
                                                                {"app", "delete", "--help"}}) {
    auto r = run_herald(args);
    EXPECT_EQ(r.exit_code, 0) << args.front() << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "Usage:")) << r.output;
  }
  auto r = run_herald({"app", "show", "--help"});
  EXPECT_TRUE(contains(r.output, "--admin-token-file")) << r.output;
  EXPECT_TRUE(contains(r.output, "--ca-file")) << r.output;
  EXPECT_TRUE(contains(r.output, "--json")) << r.output;
  r = run_herald({"publish", "--help"});
  EXPECT_TRUE(contains(r.output, "--app-secret-file")) << r.output;
  EXPECT_TRUE(contains(r.output, "HERALD_SERVER")) << r.output;
  EXPECT_EQ(run_herald({"app"}).exit_code, 2);
  EXPECT_EQ(run_herald({"nonsense"}).exit_code, 2);
}

}  // namespace
}  // namespace herald::testing
