// The audit log against the real binary: calls become entries, checkpoints are signed,
// proofs verify, and `herald audit verify` finds every kind of tampering done directly
// on the SQLite file, naming the entry.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace herald::testing {
namespace {

namespace fs = std::filesystem;

std::string token_of(const std::string& dir) {
  std::ifstream t(dir + "/admin.token");
  std::string token;
  std::getline(t, token);
  return token;
}

HttpResponse get(const Server& s, const std::string& target, const std::string& token) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return Connection::open(s.port(), true, o)
      ->request("GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n");
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

// The sizes of the stored checkpoints, smallest first.
std::vector<std::uint64_t> checkpoint_sizes(const std::string& db) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  std::vector<std::uint64_t> out;
  sqlite3_exec(
      h, "SELECT size FROM audit_checkpoints ORDER BY size;",
      [](void* o, int, char** v, char**) {
        static_cast<std::vector<std::uint64_t>*>(o)->push_back(std::stoull(v[0]));
        return 0;
      },
      &out, nullptr);
  sqlite3_close(h);
  return out;
}

std::string leaf_hash_of(const std::string& body) {
  unsigned char d[32];
  unsigned int n = 0;
  std::string data(1, '\0');
  data += body;
  EVP_Digest(data.data(), data.size(), d, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(d), 32);
}

std::string field(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":");
  if (at == std::string::npos) return {};
  at += name.size() + 3;
  if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
  return json.substr(at, json.find_first_of(",}", at) - at);
}

// A signed server-API GET (docs/signing.md, v2, no deployment id): `query` already in canonical order.
HttpResponse signed_get(const Server& s, const std::string& key, const std::string& secret, const std::string& path,
                        const std::string& query = "") {
  auto hex = [](const unsigned char* p, std::size_t n) {
    static const char* k = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += std::string{k[p[i] >> 4], k[p[i] & 15]};
    return out;
  };
  unsigned char d[32], raw[24];
  unsigned int n = 0;
  EVP_Digest("", 0, d, &n, EVP_sha256(), nullptr);
  RAND_bytes(raw, sizeof raw);
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string nonce;
  for (unsigned char c : raw) nonce += b64[c & 63];
  std::string ts = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::string canonical =
      "HERALD-HMAC-SHA256-v2\n\nGET\n" + path + "\n" + query + "\n" + hex(d, n) + "\n" + ts + "\n" + nonce + "\n" + key;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), d, &n);
  TlsOptions o;
  o.ca_file = s.ca_file();
  return Connection::open(s.port(), true, o)
      ->request("GET " + path + (query.empty() ? "" : "?" + query) + " HTTP/1.1\r\nHost: x\r\nX-Herald-Key: " + key +
                "\r\nX-Herald-Timestamp: " + ts + "\r\nX-Herald-Nonce: " + nonce +
                "\r\nX-Herald-Signature: " + hex(d, n) + "\r\nX-Herald-Signature-Version: 2\r\n\r\n");
}

HttpResponse admin_post(const Server& s, const std::string& path, const std::string& body) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return Connection::open(s.port(), true, o)
      ->request("POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_of(s.data_dir()) +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

// A data dir with a log of some 40 entries and its checkpoints, the server stopped.
class AuditLog : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = new TempDir();
    // Every refusal its own entry (not folded per source and code): the tests below
    // tamper with particular entries of a log of known shape.
    Server s(
        {.args = {"--store.data_dir=" + base_->path(), "--audit.checkpoint_every=8", "--audit.refusal_interval=0s"}});
    std::string token = token_of(base_->path());
    for (int i = 0; i < 20; ++i) https(s, "POST", "/api/v1/publish", {{"X-Herald-Key", "hk_nope"}}, "{}");
    for (int i = 0; i < 12; ++i) get(s, "/admin/v1/apps", token);
    get(s, "/admin/v1/apps", "hat_wrong");
    // Save a checkpoint "outside the server" while it runs.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto cp = get(s, "/admin/v1/audit/checkpoint", token);
    ASSERT_EQ(cp.status, 200) << cp.body;
    saved_ = new std::string(cp.body);
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  static void TearDownTestSuite() {
    delete base_;
    delete saved_;
  }

  // A copy of the base data dir to tamper with.
  std::string copy() {
    dirs_.push_back(std::make_unique<TempDir>());
    fs::copy(base_->path(), dirs_.back()->path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    std::ofstream(dirs_.back()->path() + "/saved.json") << *saved_;
    return dirs_.back()->path();
  }
  ProcessResult verify(const std::string& dir, bool with_saved = false) {
    std::vector<std::string> args{"audit", "verify", "--data-dir", dir, "--json"};
    if (with_saved) args.insert(args.end(), {"--from-checkpoint", dir + "/saved.json"});
    return run_herald(args);
  }

  static TempDir* base_;
  static std::string* saved_;
  std::vector<std::unique_ptr<TempDir>> dirs_;
};
TempDir* AuditLog::base_ = nullptr;
std::string* AuditLog::saved_ = nullptr;

TEST_F(AuditLog, AnUntouchedLogVerifiesAlsoAgainstTheSavedCheckpoint) {
  auto r = verify(copy(), true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"ok\":true"), std::string::npos);
  EXPECT_NE(r.output.find("\"saved_checkpoint_checked\":true"), std::string::npos) << r.output;
  EXPECT_GE(std::stoi(field(r.output, "entries")), 34);
  EXPECT_GE(std::stoi(field(r.output, "checkpoints")), 2);
  auto exported = run_herald({"audit", "export", "--data-dir", copy()});
  EXPECT_NE(exported.output.find("\"result\":\"auth_missing\",\"status\":401,\"actor\":\"key:hk_nope\""),
            std::string::npos);
  EXPECT_NE(exported.output.find("\"result\":\"admin_unauthorized\""), std::string::npos);
  EXPECT_EQ(exported.output.find("hat_"), std::string::npos);       // never a token
  EXPECT_EQ(exported.output.find("127.0.0.1"), std::string::npos);  // addresses only as keyed hashes
  auto pub = run_herald({"audit", "pubkey", "--data-dir", copy()});
  EXPECT_NE(pub.output.find("BEGIN PUBLIC KEY"), std::string::npos);
}

TEST_F(AuditLog, VerifyWithoutAPinnedKeySaysLoudlyItTrustsTheStoredKey) {
  std::string dir = copy();
  auto unpinned = verify(dir);
  EXPECT_EQ(unpinned.exit_code, 0) << unpinned.output;
  EXPECT_NE(unpinned.output.find("WARNING: no --public-key given"), std::string::npos) << unpinned.output;
  std::ofstream(dir + "/pinned.pem") << run_herald({"audit", "pubkey", "--data-dir", dir}).output;
  auto pinned = run_herald({"audit", "verify", "--data-dir", dir, "--json", "--public-key", dir + "/pinned.pem"});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.output;
  EXPECT_EQ(pinned.output.find("WARNING"), std::string::npos) << pinned.output;
}

TEST_F(AuditLog, OneChangedByteIsFoundWithItsIndex) {
  auto dir = copy();
  exec(dir + "/herald.db",
       "UPDATE audit_entries SET body = replace(body, 'auth_missing', 'auth_missinf') WHERE seq = 7;");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "entry_changed") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "7");
}

TEST_F(AuditLog, ARewrittenEntryWithARecomputedLeafHashIsFoundByTheTree) {
  auto dir = copy();
  // Change the text and recompute its leaf hash, as a careful attacker would: only the
  // stored subtrees and the checkpoints above it can tell.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &h), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(h, "SELECT body FROM audit_entries WHERE seq = 5;", -1, &q, nullptr);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  std::string body(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  auto at = body.find("auth_missing");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 12, "ok");
  std::string leaf = leaf_hash_of(body);
  sqlite3_prepare_v2(h, "UPDATE audit_entries SET body = ?, leaf_hash = ? WHERE seq = 5;", -1, &q, nullptr);
  sqlite3_bind_text(q, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
  sqlite3_bind_blob(q, 2, leaf.data(), 32, SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(h);
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "node_changed") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "4");  // the pair (4, 5) no longer hashes as stored
  // With the subtrees rewritten as well, the signed checkpoints still tell.
  exec(dir + "/herald.db", "DELETE FROM audit_nodes;");
  r = verify(dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

TEST_F(AuditLog, ADeletedEntryIsFound) {
  auto dir = copy();
  exec(dir + "/herald.db", "DELETE FROM audit_entries WHERE seq = 11;");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "entry_missing") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "11");
}

TEST_F(AuditLog, SwappedEntriesAreFound) {
  auto dir = copy();
  exec(dir + "/herald.db",
       "UPDATE audit_entries SET seq = -1 WHERE seq = 4; UPDATE audit_entries SET seq = 4 WHERE seq = 9;"
       "UPDATE audit_entries SET seq = 9 WHERE seq = -1;");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "entry_out_of_place") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "4");
}

TEST_F(AuditLog, ATruncatedTailIsFound) {
  auto dir = copy();
  ASSERT_GT(checkpoint_sizes(dir + "/herald.db").back(), 30u);
  exec(dir + "/herald.db", "DELETE FROM audit_entries WHERE seq >= 30;");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "log_truncated") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "30");
  // Removing the checkpoints too hides it from the server's own records, not from a
  // checkpoint kept outside.
  exec(dir + "/herald.db", "DELETE FROM audit_checkpoints WHERE size > 30;");
  r = verify(dir, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "log_truncated") << r.output;
}

TEST_F(AuditLog, AForgedCheckpointIsFound) {
  auto dir = copy();
  auto sizes = checkpoint_sizes(dir + "/herald.db");
  ASSERT_GE(sizes.size(), 2u);
  // A later timestamp on a real checkpoint: the signature no longer covers it.
  exec(dir + "/herald.db",
       "UPDATE audit_checkpoints SET ts_ms = ts_ms + 1 WHERE size = " + std::to_string(sizes[0]) + ";");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "checkpoint_signature_invalid") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), std::to_string(sizes[0] - 1));
}

TEST_F(AuditLog, AChangedSubtreeHashIsFound) {
  auto dir = copy();
  exec(dir + "/herald.db", "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1;");
  auto r = verify(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "node_changed") << r.output;
  EXPECT_EQ(field(r.output, "first_bad_entry"), "4");
}

TEST_F(AuditLog, AWholeFreshConsistentLogIsCaughtByTheSavedCheckpoint) {
  // Another installation's log, self-consistent and signed with its own key, put in
  // place of this one: only a checkpoint kept outside the server tells.
  TempDir other;
  {
    // Each refusal its own entry, so that this log outgrows the saved checkpoint.
    Server s(
        {.args = {"--store.data_dir=" + other.path(), "--audit.checkpoint_every=8", "--audit.refusal_interval=0s"}});
    for (int i = 0; i < 40; ++i) https(s, "GET", "/api/v1/app");
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  auto dir = copy();
  for (const char* f : {"/herald.db", "/herald.db-wal", "/herald.db-shm"}) {
    fs::remove(dir + f);
    if (fs::exists(other.path() + f)) fs::copy_file(other.path() + f, dir + f);
  }
  auto alone = verify(dir);
  EXPECT_EQ(alone.exit_code, 0) << alone.output;  // consistent with itself
  auto r = verify(dir, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(field(r.output, "problem"), "not_extension") << r.output;
}

TEST(AuditProofs, InclusionAndConsistencyProofsFromTheApiVerifyAndCallsAreRecorded) {
  Server s({.args = {"--audit.checkpoint_every=4"}});
  std::string token = token_of(s.data_dir());
  for (int i = 0; i < 10; ++i) get(s, "/admin/v1/apps", token);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto entries = get(s, "/admin/v1/audit/entries?start=0&count=100", token);
  ASSERT_EQ(entries.status, 200);
  EXPECT_NE(entries.body.find("\"action\":\"GET /admin/v1/apps\""), std::string::npos);
  auto inc = get(s, "/admin/v1/audit/proof/inclusion?index=3&size=9", token);
  ASSERT_EQ(inc.status, 200) << inc.body;
  EXPECT_NE(inc.body.find("\"proof\":[\""), std::string::npos);
  auto con = get(s, "/admin/v1/audit/proof/consistency?first=5&second=9", token);
  ASSERT_EQ(con.status, 200) << con.body;
  auto bad = get(s, "/admin/v1/audit/proof/inclusion?index=9&size=9", token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(get(s, "/admin/v1/audit/entries", "hat_wrong").status, 401);
  // The proofs check out with the CLI's independent verifier: both come from stored
  // nodes here and are recomputed there, so the root at 9 must agree.
  EXPECT_EQ(s.stop(SIGTERM), 0);
  auto v = run_herald({"audit", "verify", "--data-dir", s.data_dir(), "--json"});
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

// S15: an app with the admin scope reads only its own entries; the operator reads all.
TEST(AuditScoping, AnAppSeesOnlyItsOwnEntriesAndProofs) {
  Server s({.args = {"--audit.checkpoint_every=4"}});
  auto a = admin_post(s, "/admin/v1/apps", R"({"name":"tenant-a","scopes":["admin"]})");
  auto b = admin_post(s, "/admin/v1/apps", R"({"name":"tenant-b","scopes":["admin"]})");
  ASSERT_EQ(a.status, 201) << a.body;
  ASSERT_EQ(b.status, 201) << b.body;
  std::string a_id = field(a.body, "id"), b_id = field(b.body, "id");
  ASSERT_FALSE(a_id.empty());
  ASSERT_NE(a_id, b_id);
  // Each tenant leaves entries of its own.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(signed_get(s, field(b.body, "key"), field(b.body, "app_secret"), "/api/v1/audit/pubkey").status, 200);
    EXPECT_EQ(signed_get(s, field(a.body, "key"), field(a.body, "app_secret"), "/api/v1/audit/pubkey").status, 200);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto all = get(s, "/admin/v1/audit/entries?start=0&count=1000", token_of(s.data_dir()));
  ASSERT_EQ(all.status, 200);
  EXPECT_NE(all.body.find("\"actor\":\"app:" + a_id + "\""), std::string::npos);
  EXPECT_NE(all.body.find("\"actor\":\"app:" + b_id + "\""), std::string::npos);
  EXPECT_NE(all.body.find("\"actor\":\"admin\""), std::string::npos);

  auto mine =
      signed_get(s, field(a.body, "key"), field(a.body, "app_secret"), "/api/v1/audit/entries", "count=1000&start=0");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_NE(mine.body.find("\"actor\":\"app:" + a_id + "\""), std::string::npos) << mine.body;
  EXPECT_EQ(mine.body.find("app:" + b_id), std::string::npos) << mine.body;
  EXPECT_EQ(mine.body.find("\"actor\":\"admin\""), std::string::npos) << mine.body;

  // Proofs: for A's own index yes, for B's (or the operator's) not.
  auto index_of = [&](const std::string& actor) -> std::string {
    auto at = all.body.find("\"actor\":\"" + actor + "\"");
    auto idx = all.body.rfind("{\"index\":", at);
    return all.body.substr(idx + 9, all.body.find(',', idx) - idx - 9);
  };
  std::string size = field(all.body, "size");
  auto own = signed_get(s, field(a.body, "key"), field(a.body, "app_secret"), "/api/v1/audit/proof/inclusion",
                        "index=" + index_of("app:" + a_id) + "&size=" + size);
  EXPECT_EQ(own.status, 200) << own.body;
  auto foreign = signed_get(s, field(a.body, "key"), field(a.body, "app_secret"), "/api/v1/audit/proof/inclusion",
                            "index=" + index_of("app:" + b_id) + "&size=" + size);
  EXPECT_EQ(foreign.status, 404) << foreign.body;
}

// Witness: every checkpoint is appended to a file outside the database; truncating the
// log and deleting the stored checkpoints no longer passes `audit verify --witness`.
TEST(AuditWitness, TruncationAndDeletedCheckpointsAreCaughtByTheWitnessFile) {
  TempDir dir, outside;
  std::string witness = outside.path() + "/witness.jsonl";
  {
    Server s({.args = {"--store.data_dir=" + dir.path(), "--audit.checkpoint_every=4", "--audit.checkpoint_interval=1s",
                       "--audit.witness_file=" + witness}});
    // Two rounds, a checkpointer tick apart: at least two checkpoints are signed.
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 6; ++i) get(s, "/admin/v1/apps", token_of(dir.path()));
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  std::string lines = slurp(witness);
  ASSERT_GE(std::count(lines.begin(), lines.end(), '\n'), 2) << lines;
  auto clean = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json", "--witness", witness});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("\"witnessed_checked\":"), std::string::npos);
  EXPECT_NE(field(clean.output, "witnessed_checked"), "0") << clean.output;

  // Everything the database itself could show is made consistent: tail gone, every
  // checkpoint gone. Only the witness remembers.
  const std::string db = dir.path() + "/herald.db";
  exec(db, "DELETE FROM audit_checkpoints;");
  exec(db, "DELETE FROM audit_entries WHERE seq >= 3; DELETE FROM audit_nodes WHERE ((idx + 1) << level) > 3;");
  auto plain = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json"});
  EXPECT_EQ(plain.exit_code, 0) << plain.output;  // the database alone looks fine
  auto caught = run_herald({"audit", "verify", "--data-dir", dir.path(), "--json", "--witness", witness});
  EXPECT_EQ(caught.exit_code, 1) << caught.output;
  EXPECT_NE(caught.output.find("\"ok\":false"), std::string::npos) << caught.output;
  EXPECT_TRUE(caught.output.find("log_truncated") != std::string::npos ||
              caught.output.find("checkpoint_deleted") != std::string::npos)
      << caught.output;

  // Checkpoints deleted but the log intact: still caught.
  TempDir dir2;
  {
    Server s({.args = {"--store.data_dir=" + dir2.path(), "--audit.checkpoint_every=4",
                       "--audit.checkpoint_interval=1s", "--audit.witness_file=" + outside.path() + "/w2.jsonl"}});
    for (int i = 0; i < 12; ++i) get(s, "/admin/v1/apps", token_of(dir2.path()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  exec(dir2.path() + "/herald.db", "DELETE FROM audit_checkpoints;");
  auto deleted =
      run_herald({"audit", "verify", "--data-dir", dir2.path(), "--json", "--witness", outside.path() + "/w2.jsonl"});
  EXPECT_EQ(deleted.exit_code, 1) << deleted.output;
  EXPECT_NE(deleted.output.find("checkpoint_deleted"), std::string::npos) << deleted.output;
}

}  // namespace
}  // namespace herald::testing
