// audit.witness_url against the real binary: every signed checkpoint is POSTed, in
// order and with the bearer token, to a local HTTPS sink; what the sink received,
// given to `herald audit verify --witness`, catches a truncated log whose stored
// checkpoints were deleted too.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "../unit/delivery/sinks.h"
#include "harness.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace dt = herald::delivery::testing;

const char* kWitnessToken = "wtok-9f3c1e7a5b2d4c6e8a0b";

std::string token_of(const std::string& dir) {
  std::ifstream t(dir + "/admin.token");
  std::string token;
  std::getline(t, token);
  return token;
}

void get_apps(const Server& s, const std::string& data_dir) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  Connection::open(s.port(), true, o)
      ->request("GET /admin/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_of(data_dir) + "\r\n\r\n");
}

void exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

// An HTTPS witness on 127.0.0.1 that records every request.
struct WitnessSink {
  dt::TempDir dir;
  dt::TestCert cert = dt::make_cert(dir, "witness");
  std::string out = dir.file("witness-requests.jsonl");
  dt::SinkProcess proc{"http_sink.py", {"--cert", cert.cert, "--key", cert.key, "--out", out}};
  std::string url() const { return "https://127.0.0.1:" + std::to_string(proc.port()) + "/v1/checkpoints"; }
};

TEST(AuditWitnessUrl, CheckpointsArePostedInOrderAndCatchATruncatedLog) {
  WitnessSink sink;
  TempDir dir, outside;
  const std::string token_file = outside.path() + "/witness.token";
  std::ofstream(token_file) << kWitnessToken << "\n";
  std::string log;
  {
    Server s({.args = {"--store.data_dir=" + dir.path(), "--audit.checkpoint_every=4", "--audit.checkpoint_interval=1s",
                       "--audit.witness_url=" + sink.url(), "--audit.witness_ca_file=" + sink.cert.cert,
                       "--audit.witness_token_file=" + token_file}});
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 6; ++i) get_apps(s, dir.path());
      std::this_thread::sleep_for(1500ms);
    }
    EXPECT_EQ(s.stop(SIGTERM), 0);
    log = s.log();
  }
  auto records = dt::read_records(sink.out);
  ASSERT_GE(records.size(), 2u);
  std::string witness;
  std::uint64_t last = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r.at("method").as_string(), "POST");
    EXPECT_EQ(r.at("path").as_string(), "/v1/checkpoints");
    const auto& h = r.at("headers").as_object();
    EXPECT_EQ(h.at("authorization").as_string(), std::string("Bearer ") + kWitnessToken);
    EXPECT_EQ(h.at("content-type").as_string(), "application/json");
    std::string body(r.at("body").as_string());
    auto cp = json::parse(body).as_object();
    auto size = static_cast<std::uint64_t>(cp.at("size").to_number<std::int64_t>());
    EXPECT_GT(size, last) << "checkpoints out of order";
    last = size;
    witness += body + "\n";
  }
  EXPECT_EQ(log.find(kWitnessToken), std::string::npos) << "the witness token reached the log";
  const std::string witness_file = outside.path() + "/received.jsonl";
  std::ofstream(witness_file) << witness;

  auto clean = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json", "--witness", witness_file});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_EQ(clean.output.find("\"witnessed_checked\":0"), std::string::npos) << clean.output;

  // The attack: cut the log's tail and delete every stored checkpoint, so the database
  // alone is self-consistent; only what the witness received remembers.
  const std::string db = dir.path() + "/herald.db";
  exec(db, "DELETE FROM audit_checkpoints;");
  exec(db, "DELETE FROM audit_entries WHERE seq >= 3; DELETE FROM audit_nodes WHERE ((idx + 1) << level) > 3;");
  auto plain = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json"});
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  auto caught = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json", "--witness", witness_file});
  EXPECT_EQ(caught.exit_code, 1) << caught.output;
  EXPECT_NE(caught.output.find("\"ok\":false"), std::string::npos) << caught.output;
  EXPECT_TRUE(caught.output.find("log_truncated") != std::string::npos ||
              caught.output.find("checkpoint_deleted") != std::string::npos)
      << caught.output;
}

// A witness the server cannot trust (its certificate is not in the CA file) receives
// nothing; the failures are counted and the server keeps serving.
TEST(AuditWitnessUrl, AnUntrustedWitnessGetsNothingAndFailuresAreCounted) {
  WitnessSink sink;
  dt::TempDir other;
  dt::TestCert stranger = dt::make_cert(other, "stranger");
  Server s({.args = {"--audit.checkpoint_every=1", "--audit.checkpoint_interval=1s",
                     "--audit.witness_url=" + sink.url(), "--audit.witness_ca_file=" + stranger.cert}});
  for (int i = 0; i < 4; ++i) get_apps(s, s.data_dir());
  std::optional<double> failed;
  for (int i = 0; i < 50 && !(failed && *failed >= 1); ++i) {
    std::this_thread::sleep_for(200ms);
    auto m = https(s, "GET", "/metrics").body;
    failed = metric_value(m, "herald_audit_witness_posts_total{outcome=\"failed\"}");
  }
  ASSERT_TRUE(failed.has_value());
  EXPECT_GE(*failed, 1);
  EXPECT_TRUE(dt::read_records(sink.out).empty()) << "a witness with an untrusted certificate was sent a checkpoint";
  EXPECT_EQ(https(s, "GET", "/healthz").status, 200);
}

TEST(AuditWitnessUrl, APlainHttpWitnessOrOneWithCredentialsIsRefusedOutsideDev) {
  const std::vector<std::string> prod = {"serve", "--print-config", "--server.tls=false",
                                         "--server.trusted_proxies=none", "--delivery.allow_log_provider=true"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = prod;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_herald(a);
  };
  auto plain = with({"--audit.witness_url=http://witness.example/x"});
  EXPECT_EQ(plain.exit_code, 2) << plain.output;
  EXPECT_NE(plain.output.find("audit.witness_url must be an https:// URL"), std::string::npos) << plain.output;
  auto creds = with({"--audit.witness_url=https://user:hunter2@witness.example/x"});
  EXPECT_EQ(creds.exit_code, 2) << creds.output;
  EXPECT_EQ(creds.output.find("hunter2"), std::string::npos) << creds.output;
  EXPECT_EQ(with({"--audit.witness_url=https://witness.example/x"}).exit_code, 0);
  EXPECT_EQ(run_herald({"serve", "--print-config", "--dev", "--audit.witness_url=http://127.0.0.1:9/x"}).exit_code, 0);
}

}  // namespace
}  // namespace herald::testing
