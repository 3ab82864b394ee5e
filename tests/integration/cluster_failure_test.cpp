// Two herald nodes on one PostgreSQL database when things go wrong (docs/cluster.md):
// per-node audit logs that `herald audit verify` checks from the database and that
// catch an edit, a removal and a truncation; a sealed node that is not ready until
// unsealed; the database stopped and started again; and a dump of the database that
// holds none of a workload's personal data or secrets.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "cluster_support.h"
#include "herald/client.h"
#include "pg_server.h"
#include "sdk_connection.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

sdk::ServerClient demo_client(const Server& s, std::chrono::milliseconds timeout = 15s) {
  DevApp d = dev_app(s);
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s, timeout), d.key, d.secret});
}

sdk::AdminClient admin_client(const Server& s, std::chrono::milliseconds timeout = 15s) {
  return sdk::AdminClient(sdk::AdminClientOptions{connection(s, timeout), admin_token(s)});
}

template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// A short random suffix, so that each marker is found only where the test put it.
std::string token() {
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kA[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i) s += kA[rng() % 36];
  return s;
}

std::string digits(int n) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
  return s;
}

// The schema of a ClusterNodes URL (…&options=-c%20search_path%3D<schema>), for SQL.
std::string schema_of(const std::string& url) {
  auto at = url.find("search_path%3D");
  return url.substr(at + 14);
}

// One value a query returns, without psql's line ending.
std::string sql_value(const std::string& statement) {
  std::string out = PgServer::shared().sql(statement);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

HttpResponse plain_get(std::uint16_t port, const std::string& path) {
  auto c = Connection::open(port, false);
  return c->request("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

sdk::MessageOptions message(const std::string& user, const std::string& text) {
  sdk::MessageOptions o;
  o.to_user = user;
  o.data_json = json::serialize(json::object{{"text", text}});
  return o;
}

// `herald audit ...` against the cluster's database; the URL comes from the environment.
ProcessResult audit_cli(const ClusterNodes& c, std::vector<std::string> args) {
  args.insert(args.begin(), "audit");
  args.push_back("--store.driver=postgres");
  return run_herald(args, {"HERALD_STORE_POSTGRES_URL=" + c.store_url()});
}

// The JSON verdict line of `log` in `herald audit verify --json` output.
json::object verdict(const std::string& output, const std::string& log) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() != '{') continue;
    auto v = json::parse(line).as_object();
    if (v.contains("log") && v.at("log").as_string() == log) return v;
  }
  return {};
}

// ---- Audit: one log per node ------------------------------------------------------------

TEST(ClusterAudit, EachNodeKeepsItsOwnLogAndVerifyChecksEveryOneAndFindsTampering) {
  ClusterNodes cluster;
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(https(a, "GET", "/admin/v1/apps", {{"authorization", "Bearer " + admin_token(a)}}).status, 200);
    EXPECT_EQ(https(b, "GET", "/admin/v1/apps", {{"authorization", "Bearer " + admin_token(b)}}).status, 200);
  }
  // The admin API reads the node's own log.
  auto on_b =
      https(b, "GET", "/admin/v1/audit/entries?start=0&count=100", {{"authorization", "Bearer " + admin_token(b)}});
  ASSERT_EQ(on_b.status, 200) << on_b.body;
  EXPECT_NE(on_b.body.find("\"log\":\"node-b\""), std::string::npos) << on_b.body;
  // And, asked for it, another node's log as the database holds it.
  auto a_on_b = https(b, "GET", "/admin/v1/audit/entries?start=0&count=100&log=node-a",
                      {{"authorization", "Bearer " + admin_token(b)}});
  ASSERT_EQ(a_on_b.status, 200) << a_on_b.body;
  EXPECT_NE(a_on_b.body.find("\"log\":\"node-a\""), std::string::npos) << a_on_b.body;
  EXPECT_NE(a_on_b.body.find("\"index\":5"), std::string::npos) << a_on_b.body;
  EXPECT_EQ(
      https(b, "GET", "/admin/v1/audit/entries?log=node-z", {{"authorization", "Bearer " + admin_token(b)}}).status,
      404);
  // Stopping signs a last checkpoint over everything durable.
  EXPECT_EQ(a.stop(SIGTERM), 0);
  EXPECT_EQ(b.stop(SIGTERM), 0);

  auto clean = audit_cli(cluster, {"verify", "--json"});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  auto va = verdict(clean.output, "node-a"), vb = verdict(clean.output, "node-b");
  ASSERT_FALSE(va.empty()) << clean.output;
  ASSERT_FALSE(vb.empty()) << clean.output;
  EXPECT_TRUE(va.at("ok").as_bool()) << clean.output;
  EXPECT_TRUE(vb.at("ok").as_bool()) << clean.output;
  EXPECT_GE(va.at("entries").to_number<std::int64_t>(), 6);
  EXPECT_GE(vb.at("checkpoints").to_number<std::int64_t>(), 1);
  EXPECT_EQ(clean.output.find(cluster.password()), std::string::npos);

  // Each node signs its own log with its own key, and the verifier can be pinned to each.
  auto key_a = audit_cli(cluster, {"pubkey", "--log", "node-a"});
  auto key_b = audit_cli(cluster, {"pubkey", "--log", "node-b"});
  ASSERT_EQ(key_a.exit_code, 0) << key_a.output;
  ASSERT_EQ(key_b.exit_code, 0) << key_b.output;
  EXPECT_NE(key_a.output.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_NE(key_a.output, key_b.output);
  TempDir keys;
  std::ofstream(keys.path() + "/a.pem") << key_a.output;
  std::ofstream(keys.path() + "/b.pem") << key_b.output;
  auto pinned = audit_cli(cluster, {"verify", "--json", "--public-key", "node-a=" + keys.path() + "/a.pem",
                                    "--public-key", "node-b=" + keys.path() + "/b.pem"});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.output;
  EXPECT_EQ(pinned.output.find("WARNING"), std::string::npos) << pinned.output;
  // Node B's checkpoints do not verify with node A's key.
  auto crossed = audit_cli(cluster, {"verify", "--json", "--log", "node-b", "--public-key", keys.path() + "/a.pem"});
  EXPECT_EQ(crossed.exit_code, 1) << crossed.output;
  EXPECT_EQ(verdict(crossed.output, "node-b").at("problem").as_string(), "checkpoint_signature_invalid");
  // Every row of a node's log is private key free: the signing key is wrapped like any key.
  auto& pg = PgServer::shared();
  const std::string s = schema_of(cluster.store_url());
  EXPECT_EQ(pg.dump().find("PRIVATE KEY"), std::string::npos);

  // An entry edited in node A's log.
  pg.sql("UPDATE " + s + ".audit_entries SET body = body || '\\x20'::bytea WHERE log = 'node-a' AND seq = 2;");
  auto edited = audit_cli(cluster, {"verify", "--json"});
  EXPECT_EQ(edited.exit_code, 1) << edited.output;
  EXPECT_EQ(verdict(edited.output, "node-a").at("problem").as_string(), "entry_changed") << edited.output;
  EXPECT_EQ(verdict(edited.output, "node-a").at("first_bad_entry").to_number<std::int64_t>(), 2);
  EXPECT_TRUE(verdict(edited.output, "node-b").at("ok").as_bool()) << edited.output;
  auto only_b = audit_cli(cluster, {"verify", "--json", "--log", "node-b"});
  EXPECT_EQ(only_b.exit_code, 0) << only_b.output;
  EXPECT_TRUE(verdict(only_b.output, "node-a").empty());
  pg.sql("UPDATE " + s +
         ".audit_entries SET body = substring(body from 1 for length(body) - 1) "
         "WHERE log = 'node-a' AND seq = 2;");
  EXPECT_EQ(audit_cli(cluster, {"verify", "--json"}).exit_code, 0);

  // An entry removed from node B's log.
  pg.sql("DELETE FROM " + s + ".audit_entries WHERE log = 'node-b' AND seq = 3;");
  auto removed = audit_cli(cluster, {"verify", "--json"});
  EXPECT_EQ(removed.exit_code, 1) << removed.output;
  EXPECT_EQ(verdict(removed.output, "node-b").at("problem").as_string(), "entry_missing") << removed.output;
  EXPECT_TRUE(verdict(removed.output, "node-a").at("ok").as_bool()) << removed.output;

  // Node A's log cut short: its last checkpoint covers more than is left.
  pg.sql("DELETE FROM " + s +
         ".audit_entries WHERE log = 'node-a' AND seq >= "
         "(SELECT max(seq) - 1 FROM " +
         s + ".audit_entries WHERE log = 'node-a');");
  auto truncated = audit_cli(cluster, {"verify", "--json", "--log", "node-a"});
  EXPECT_EQ(truncated.exit_code, 1) << truncated.output;
  EXPECT_EQ(verdict(truncated.output, "node-a").at("problem").as_string(), "log_truncated") << truncated.output;

  // Every entry of a log gone, its checkpoints and key still there: still caught.
  pg.sql("DELETE FROM " + s + ".audit_entries WHERE log = 'node-a';");
  auto emptied = audit_cli(cluster, {"verify", "--json"});
  EXPECT_EQ(emptied.exit_code, 1) << emptied.output;
  EXPECT_EQ(verdict(emptied.output, "node-a").at("problem").as_string(), "log_truncated") << emptied.output;
}

// A node moved from SQLite (herald store migrate) brings its log along as the log "":
// verified with the key it always had, beside the log the node now writes as itself.
TEST(ClusterAudit, ALogCopiedFromSqliteIsVerifiedBesideTheNodesOwn) {
  TempDir data, secrets;
  {
    Server s(Server::Options{{"--store.data_dir=" + data.path()}});
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(https(s, "GET", "/admin/v1/apps", {{"authorization", "Bearer " + admin_token(s)}}).status, 200);
    ASSERT_EQ(s.stop(SIGTERM), 0);
  }
  std::string url = PgServer::shared().fresh_schema_url();
  std::string url_file = secrets.path() + "/pg.url";
  std::ofstream(url_file) << url << "\n";
  auto migrated = run_herald({"store", "migrate", "--from", data.path(), "--to-file", url_file});
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  {
    Server::Options o{{"--store.data_dir=" + data.path(), "--store.driver=postgres", "--cluster.node_name=node-a"}};
    o.env.push_back("HERALD_STORE_POSTGRES_URL=" + url);
    Server s(o);
    EXPECT_EQ(https(s, "GET", "/admin/v1/apps", {{"authorization", "Bearer " + admin_token(s)}}).status, 200);
    ASSERT_EQ(s.stop(SIGTERM), 0);
  }
  auto v = run_herald({"audit", "verify", "--store.driver=postgres", "--json"}, {"HERALD_STORE_POSTGRES_URL=" + url});
  EXPECT_EQ(v.exit_code, 0) << v.output;
  auto copied = verdict(v.output, ""), own = verdict(v.output, "node-a");
  ASSERT_FALSE(copied.empty()) << v.output;
  ASSERT_FALSE(own.empty()) << v.output;
  EXPECT_TRUE(copied.at("ok").as_bool()) << v.output;
  EXPECT_GE(copied.at("checkpoints").to_number<std::int64_t>(), 1) << v.output;
  EXPECT_TRUE(own.at("ok").as_bool()) << v.output;
  EXPECT_GE(own.at("checkpoints").to_number<std::int64_t>(), 1) << v.output;
}

// ---- Readiness: each node sealed on its own ----------------------------------------------

TEST(ClusterReadiness, ASealedNodeIsNotReadyUntilItIsUnsealedItself) {
  ClusterNodes cluster;
  // Node A: initialised against the database by the harness, then unsealed.
  auto oa = cluster.options("node-a");
  oa.dev = false;
  oa.tls = false;
  Server a(oa);
  ASSERT_FALSE(a.share().empty());
  EXPECT_EQ(plain_get(a.port(), "/readyz").status, 200);

  // Node B on the same database, not unsealed: not ready, and it says why.
  auto ob = cluster.options("node-b");
  ob.dev = false;
  ob.tls = false;
  ob.unseal = false;
  Server b(ob);
  auto sealed = plain_get(b.port(), "/readyz");
  EXPECT_EQ(sealed.status, 503);
  EXPECT_NE(sealed.body.find("\"kms\":\"sealed\""), std::string::npos) << sealed.body;
  EXPECT_NE(sealed.body.find("\"store\":\"ok\""), std::string::npos) << sealed.body;
  EXPECT_EQ(plain_get(a.port(), "/readyz").status, 200);  // A is not B

  TempDir dir;
  std::string share_file = dir.path() + "/share";
  std::ofstream(share_file) << a.share() << "\n";
  auto unsealed = run_herald(
      {"operator", "unseal", "--server", "http://127.0.0.1:" + std::to_string(b.port()), "--share-file", share_file});
  EXPECT_EQ(unsealed.exit_code, 0) << unsealed.output;
  EXPECT_TRUE(eventually([&] { return plain_get(b.port(), "/readyz").status == 200; }, 10s))
      << plain_get(b.port(), "/readyz").body;
}

// ---- PostgreSQL stopped and started again --------------------------------------------------

// Resumes the test server if a failed assertion left it stopped.
struct ResumeOnExit {
  ~ResumeOnExit() {
    if (armed) PgServer::shared().resume();
  }
  bool armed = false;
};

TEST(ClusterFailure, WithTheDatabaseDownDurableCallsFailFastRealtimeGoesOnAndTheNodesRecover) {
  ClusterNodes cluster({"--store.postgres.connect_timeout=1s", "--store.postgres.statement_timeout=2s"});
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  // Node C makes no call during the outage: it must notice the database is gone by itself.
  Server& c = cluster.start("node-c");
  auto client_a = demo_client(a), client_b = demo_client(b);
  auto admin_b = admin_client(b);
  // Acknowledged before the stop: must all be there after it.
  auto before = client_a.send_message(message("user-before", "sent before the outage"));
  ASSERT_TRUE(before.ok()) << before.error().code << " " << before.error().message;
  auto app = admin_b.create_app(sdk::AppCreateOptions{"made-before-outage"});
  ASSERT_TRUE(app.ok()) << app.error().code << " " << app.error().message;

  DevApp d = dev_app(a);
  TlsOptions tls;
  tls.ca_file = a.ca_file();
  auto ws = Connection::open(a.port(), true, tls);
  ASSERT_EQ(ws_upgrade(*ws, "/ws").status, 101);
  ws_send(
      *ws, 1,
      R"({"id":1,"connect":{"app":")" + d.key + R"(","token":")" + client_token(d.client_secret, "watcher") + "\"}}");
  auto reply = ws_read(*ws, 5s);
  ASSERT_TRUE(reply && reply->payload.find("\"connect\"") != std::string::npos);
  ws_send(*ws, 1, R"({"id":2,"subscribe":{"channel":"news"}})");
  reply = ws_read(*ws, 5s);
  ASSERT_TRUE(reply && reply->payload.find("\"subscribe\"") != std::string::npos);

  ResumeOnExit guard;
  PgServer::shared().pause();
  guard.armed = true;

  // Durable calls: 503 store_unavailable, promptly (connect_timeout 1s, statement 2s).
  constexpr auto kBound = 6s;
  auto t0 = Clock::now();
  auto during = client_a.send_message(message("user-during", "sent during the outage"));
  auto send_took = Clock::now() - t0;
  ASSERT_FALSE(during.ok());
  EXPECT_EQ(during.error().code, "store_unavailable") << during.error().message;
  EXPECT_EQ(during.error().http_status, 503);
  EXPECT_LT(send_took, kBound);
  t0 = Clock::now();
  auto app_during = admin_b.create_app(sdk::AppCreateOptions{"made-during-outage"});
  auto create_took = Clock::now() - t0;
  ASSERT_FALSE(app_during.ok());
  EXPECT_EQ(app_during.error().code, "store_unavailable") << app_during.error().message;
  EXPECT_EQ(app_during.error().http_status, 503);
  EXPECT_LT(create_took, kBound);

  // /readyz names the store on every node, the idle one included.
  for (Server* n : {&a, &b, &c}) {
    HttpResponse r;
    EXPECT_TRUE(eventually(
        [&] {
          r = https(*n, "GET", "/readyz");
          return r.status == 503 && r.body.find("\"store\":\"failing\"") != std::string::npos;
        },
        10s))
        << r.status << " " << r.body;
  }

  // Realtime push needs no database: a channel publish still reaches the subscriber.
  auto pub = client_a.publish("news", R"({"during":"outage"})");
  ASSERT_TRUE(pub.ok()) << pub.error().code << " " << pub.error().message;
  std::string got;
  auto deadline = Clock::now() + 5s;
  while (got.find("outage") == std::string::npos && Clock::now() < deadline) {
    auto f = ws_read(*ws, 1s);
    if (f && f->opcode == 1) got += f->payload;
    if (f && f->opcode == 9) ws_send(*ws, 10, f->payload);
  }
  EXPECT_NE(got.find("\"during\":\"outage\""), std::string::npos) << got;

  PgServer::shared().resume();
  guard.armed = false;
  // The nodes find their way back by themselves.
  for (Server* n : {&a, &b, &c}) {
    HttpResponse r;
    EXPECT_TRUE(eventually(
        [&] {
          r = https(*n, "GET", "/readyz");
          return r.status == 200;
        },
        30s))
        << r.body;
  }
  auto after_a = client_a.send_message(message("user-after", "sent after the outage"));
  EXPECT_TRUE(after_a.ok()) << after_a.error().code << " " << after_a.error().message;
  auto after_b = admin_b.create_app(sdk::AppCreateOptions{"made-after-outage"});
  EXPECT_TRUE(after_b.ok()) << after_b.error().code << " " << after_b.error().message;

  // What was acknowledged before the stop is still there: through the API and in the
  // database itself; what was refused during it is not.
  auto status = client_a.message_status(before->id);
  ASSERT_TRUE(status.ok()) << status.error().code << " " << status.error().message;
  EXPECT_EQ(status->id, before->id);
  EXPECT_TRUE(admin_b.show_app(app->app.id).ok());
  const std::string s = schema_of(cluster.store_url());
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + s + ".messages WHERE id = '" + before->id + "';"), "1");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + s + ".apps WHERE id = '" + app->app.id + "';"), "1");
  EXPECT_EQ(sql_value("SELECT count(*) FROM " + s + ".apps WHERE name = 'made-during-outage';"), "0");
  EXPECT_EQ(a.log().find(cluster.password()), std::string::npos);
}

// ---- Plaintext scan --------------------------------------------------------------------------

TEST(ClusterPlaintext, ADumpOfTheDatabaseHoldsNoPersonalDataNorSecretsOfTheWorkload) {
  ClusterNodes cluster;
  Server& a = cluster.start("node-a");
  Server& b = cluster.start("node-b");
  auto client_a = demo_client(a), client_b = demo_client(b);
  auto admin_a = admin_client(a);
  const std::string app_id = dev_app(a).id;
  std::vector<std::string> markers;  // what must not be in the dump
  std::vector<std::string> present;  // what shows the dump holds the rows

  // Messages with distinctive texts to distinctive users (through node A: each node
  // numbers its own messages until numbering is cluster-wide, docs/cluster.md).
  for (int i = 0; i < 4; ++i) {
    std::string user = "scanuser" + token(), text = "scantext" + token();
    markers.push_back(user);
    markers.push_back(text);
    auto sent = client_a.send_message(message(user, text));
    ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
    present.push_back(sent->id);
  }
  // Contacts: an e-mail address and a phone number.
  std::string contact_user = "scancontact" + token();
  std::string email = "scan." + token() + "@example.org", phone = "+1555" + digits(7);
  markers.insert(markers.end(), {contact_user, email, phone});
  auto contacts = client_b.set_contacts(contact_user, email, phone);
  ASSERT_TRUE(contacts.ok()) << contacts.error().code << " " << contacts.error().message;
  // A verification code to a phone number.
  std::string otp_phone = "+1555" + digits(7);
  markers.push_back(otp_phone);
  auto otp = client_b.otp_send(sdk::OtpSendOptions{otp_phone, "sms", "device-" + token(), "login", "", "", ""});
  ASSERT_TRUE(otp.ok()) << otp.error().code << " " << otp.error().message;
  // A template, and a message rendered from it with a personal variable.
  auto put = admin_a.put_template(app_id, "greeting",
                                  R"({"locales":{"en":{"inapp":{"title":"Hello {{name}}"},"email":{"subject":"Hi",)"
                                  R"("text":"Hello {{name}}"}}}})");
  ASSERT_TRUE(put.ok()) << put.error().code << " " << put.error().message;
  std::string name = "scanname" + token(), templated_user = "scantpl" + token();
  markers.insert(markers.end(), {name, templated_user});
  sdk::MessageOptions tm;
  tm.to_user = templated_user;
  tm.template_name = "greeting";
  tm.vars_json = json::serialize(json::object{{"name", name}});
  auto templated = client_a.send_message(tm);
  ASSERT_TRUE(templated.ok()) << templated.error().code << " " << templated.error().message;
  // A webhook URL carrying a secret, and the signing secret the server made for it.
  std::string hook_path = "scanhook" + token(), hook_secret = "scansecret" + token();
  markers.insert(markers.end(), {hook_path, hook_secret});
  sdk::DeliverySettingsUpdate u;
  u.webhook_url = "https://127.0.0.1:9/" + hook_path + "?token=" + hook_secret;
  u.allow_private_webhooks = true;
  auto settings = admin_a.set_delivery_settings(app_id, u);
  ASSERT_TRUE(settings.ok()) << settings.error().code << " " << settings.error().message;
  if (settings->webhook_secret) markers.emplace_back(settings->webhook_secret->view());
  // A key of the key service, and a marker encrypted with it.
  std::string kms_marker = "scankms" + token();
  markers.push_back(kms_marker);
  ASSERT_TRUE(client_a.kms_create_key("scan-key").ok());
  auto ct = client_a.kms_encrypt("scan-key", kms_marker);
  ASSERT_TRUE(ct.ok()) << ct.error().code << " " << ct.error().message;
  // A new app: its secret and client secret.
  auto made = admin_client(b).create_app(sdk::AppCreateOptions{"scan-app"});
  ASSERT_TRUE(made.ok()) << made.error().code << " " << made.error().message;
  present.push_back(made->app.id);
  markers.emplace_back(made->app_secret.view());
  if (!made->client_secret.empty()) markers.emplace_back(made->client_secret.view());
  // The standing secrets.
  DevApp d = dev_app(a);
  markers.insert(markers.end(), {admin_token(a), d.secret, d.client_secret});
  // Stopped, so that everything is written (the audit log's tail, the last checkpoint).
  EXPECT_EQ(a.stop(SIGTERM), 0);
  EXPECT_EQ(b.stop(SIGTERM), 0);

  std::string dump = PgServer::shared().dump();
  const std::string s = schema_of(cluster.store_url());
  // Non-trivial: the tables and their rows are there.
  for (const char* table :
       {"messages", "user_contacts", "otp_verifications", "message_settings", "kms_keys", "apps", "audit_entries"})
    EXPECT_NE(dump.find("COPY " + s + "." + table), std::string::npos) << table;
  for (const auto& p : present) EXPECT_NE(dump.find(p), std::string::npos) << "row missing from the dump: " << p;
  EXPECT_NE(dump.find("node-a"), std::string::npos);  // the audit logs' names
  for (const auto& m : markers) EXPECT_EQ(dump.find(m), std::string::npos) << "found in the database dump";
}

}  // namespace
}  // namespace herald::testing
