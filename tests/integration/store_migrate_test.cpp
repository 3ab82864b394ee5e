// `herald store migrate` through the real binary: a development node's SQLite data moved
// into PostgreSQL and served from there (the offline user's message, the app's signed
// API), and the refusals: a non-empty target, a running node, a schema that differs, and
// a wrong URL, whose password is never printed.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <ctime>
#include <fstream>
#include <sstream>

#include "harness.h"
#include "herald/client.h"
#include "pg_server.h"
#include "sdk_connection.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

// The next `msg` push to `user` of the development app, or nullopt after `timeout`.
class UserSocket {
 public:
  UserSocket(const Server& s, const std::string& user) {
    DevApp d = dev_app(s);
    TlsOptions tls;
    tls.ca_file = s.ca_file();
    conn_ = Connection::open(s.port(), true, tls);
    if (ws_upgrade(*conn_, "/ws").status != 101) throw std::runtime_error("no upgrade");
    json::object connect{{"id", 1}, {"connect", {{"app", d.key}, {"token", client_token(d.client_secret, user)}}}};
    ws_send(*conn_, 1, json::serialize(connect));
  }
  std::optional<json::object> next_msg(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto f = ws_read(*conn_, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (!f) return std::nullopt;
      if (f->opcode == 9) ws_send(*conn_, 10, f->payload);
      if (f->opcode != 1) continue;
      std::istringstream lines(f->payload);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.empty()) continue;
        auto o = json::parse(line).as_object();
        if (o.contains("error")) throw std::runtime_error("refused: " + line);
        if (auto* m = o.if_contains("msg")) return m->as_object();
      }
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<Connection> conn_;
};

sdk::ServerClient demo_client(const Server& s) {
  DevApp d = dev_app(s);
  return sdk::ServerClient(sdk::ServerClientOptions{connection(s), d.key, d.secret});
}

sdk::MessageOptions message(std::string user, std::string data_json) {
  sdk::MessageOptions o;
  o.to_user = std::move(user);
  o.data_json = std::move(data_json);
  return o;
}

std::string password_of(const std::string& url) {
  std::string p = url.substr(url.find(':', 13) + 1);
  return p.substr(0, p.find('@'));
}

std::string schema_of(const std::string& url) {
  return url.substr(url.rfind("%3D") + 3);
}

// The last JSON object line of a command's output.
json::object last_json(const std::string& output) {
  std::istringstream lines(output);
  std::string line, found;
  while (std::getline(lines, line))
    if (!line.empty() && line.front() == '{') found = line;
  if (found.empty()) throw std::runtime_error("no JSON in: " + output);
  return json::parse(found).as_object();
}

std::int64_t pg_count(PgServer& pg, const std::string& url, const std::string& table) {
  return std::stoll(pg.sql("SELECT count(*) FROM " + schema_of(url) + "." + table + ";"));
}

TEST(StoreMigrate, ADevNodesDataServesFromPostgresAfterTheMigration) {
  auto& pg = PgServer::shared();
  std::string url = pg.fresh_schema_url();
  std::string password = password_of(url);
  TempDir data, secrets;
  std::string id;
  {
    Server s(Server::Options{{"--store.data_dir=" + data.path()}});
    auto sent = demo_client(s).send_message(message("u1", R"({"text":"before-the-move","n":1})"));
    ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
    id = sent->id;
    ASSERT_EQ(s.stop(SIGTERM), 0);
  }
  std::string url_file = secrets.path() + "/pg.url";
  std::ofstream(url_file) << url << "\n";

  auto migrated = run_herald({"store", "migrate", "--from", data.path(), "--to-file", url_file, "--json"});
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  EXPECT_EQ(migrated.output.find(password), std::string::npos) << "the password was printed";
  auto summary = last_json(migrated.output);
  EXPECT_TRUE(summary.at("ok").as_bool());
  std::map<std::string, std::int64_t> rows;
  for (auto& t : summary.at("tables").as_array()) {
    auto& o = t.as_object();
    EXPECT_EQ(o.at("source_rows"), o.at("target_rows")) << json::serialize(o);
    rows[std::string(o.at("table").as_string())] = o.at("target_rows").to_number<std::int64_t>();
  }
  EXPECT_EQ(rows.size(), 18u) << json::serialize(summary);  // with message_seq_slots
  EXPECT_EQ(rows["messages"], 1);
  EXPECT_GE(rows["apps"], 1);
  EXPECT_GE(rows["kms_key_versions"], 1) << "the sealed keys moved";
  EXPECT_GE(rows["audit_entries"], 1);
  EXPECT_EQ(pg_count(pg, url, "messages"), 1);
  EXPECT_EQ(pg_count(pg, url, "apps"), rows["apps"]);

  // A second run finds the target holding data and copies nothing.
  auto again = run_herald({"store", "migrate", "--from", data.path(), "--to-file", url_file});
  EXPECT_NE(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already holds Herald data"), std::string::npos) << again.output;
  EXPECT_EQ(pg_count(pg, url, "messages"), 1);
  EXPECT_EQ(pg_count(pg, url, "apps"), rows["apps"]);

  // The same data dir (certificate, dev share, dev-app.json) with the migrated database.
  Server::Options opts{{"--store.data_dir=" + data.path(), "--store.driver=postgres"}};
  opts.env.push_back("HERALD_STORE_POSTGRES_URL=" + url);
  Server s(opts);
  UserSocket ws(s, "u1");
  auto msg = ws.next_msg(10s);
  ASSERT_TRUE(msg) << "the migrated message was not pushed\n" << s.log();
  EXPECT_EQ(msg->at("id").as_string(), id);
  EXPECT_EQ(msg->at("data"), json::parse(R"({"text":"before-the-move","n":1})"));
  // The app's signed API, with the secrets that moved; its message's events get ids from
  // the advanced sequence (a clash with a copied id would fail the write).
  auto sent = demo_client(s).send_message(message("u1", R"({"text":"after-the-move"})"));
  ASSERT_TRUE(sent.ok()) << sent.error().code << " " << sent.error().message;
  auto live = ws.next_msg(10s);
  ASSERT_TRUE(live) << s.log();
  EXPECT_EQ(live->at("id").as_string(), sent->id);
  EXPECT_EQ(pg_count(pg, url, "messages"), 2);
  EXPECT_EQ(s.stop(SIGTERM), 0);
  EXPECT_EQ(s.log().find(password), std::string::npos);
}

TEST(StoreMigrate, ARunningNodeAWrongUrlAndADifferentSchemaAreRefused) {
  auto& pg = PgServer::shared();
  std::string url = pg.fresh_schema_url();
  TempDir data;
  Server s(Server::Options{{"--store.data_dir=" + data.path()}});
  auto busy = run_herald({"store", "migrate", "--from", data.path()}, {"HERALD_STORE_POSTGRES_URL=" + url});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.output.find("in use by a running herald"), std::string::npos) << busy.output;
  ASSERT_EQ(s.stop(SIGTERM), 0);
  EXPECT_EQ(std::stoll(pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = '" + schema_of(url) + "';")), 0)
      << "the refusal came before the target was touched";

  // A wrong password, and a malformed URL that libpq quotes back: neither is printed.
  std::string wrong = "postgresql://herald:Wr0ngPassw0rdXyz@127.0.0.1:" + std::to_string(pg.port()) + "/herald";
  auto denied = run_herald({"store", "migrate", "--from", data.path(), "--to", wrong});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("PostgreSQL"), std::string::npos) << denied.output;
  EXPECT_EQ(denied.output.find("Wr0ngPassw0rdXyz"), std::string::npos) << denied.output;
  std::string bad = "postgresql://herald:S3cretInUrlQq@127.0.0.1:notaport/herald?sslmode=S3cretInUrlQq";
  auto malformed =
      run_herald({"store", "migrate", "--from", data.path(), "--json"}, {"HERALD_STORE_POSTGRES_URL=" + bad});
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_EQ(malformed.output.find("S3cretInUrlQq"), std::string::npos) << malformed.output;
  EXPECT_FALSE(last_json(malformed.output).at("ok").as_bool());

  // A table this binary's SQLite schema does not have: named, and nothing copied.
  pg.sql("CREATE TABLE " + schema_of(url) + ".zz_unknown (x integer);");
  auto differs = run_herald({"store", "migrate", "--from", data.path()}, {"HERALD_STORE_POSTGRES_URL=" + url});
  EXPECT_NE(differs.exit_code, 0);
  EXPECT_NE(differs.output.find("zz_unknown (PostgreSQL only)"), std::string::npos) << differs.output;
  EXPECT_EQ(pg_count(pg, url, "apps"), 0);

  // A SQLite schema newer than this binary's: refused, before the target is touched.
  pg.sql("DROP TABLE " + schema_of(url) + ".zz_unknown;");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data.path() + "/herald.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'future', 0);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto newer = run_herald({"store", "migrate", "--from", data.path()}, {"HERALD_STORE_POSTGRES_URL=" + url});
  EXPECT_NE(newer.exit_code, 0);
  EXPECT_NE(newer.output.find("SQLite schema is version 99"), std::string::npos) << newer.output;
  EXPECT_EQ(pg_count(pg, url, "apps"), 0);
}

}  // namespace
}  // namespace herald::testing
