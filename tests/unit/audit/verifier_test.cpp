#include "audit/verifier.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "audit/log.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::audit {
namespace {

// A log of 25 entries with a signed checkpoint at 25, then changed behind the server's
// back with raw SQL, as an attacker with the database file could.
struct VerifierFixture : ::testing::Test {
  VerifierFixture() {
    std::string t = ::testing::TempDir() + "/verifier-XXXXXX";
    dir = mkdtemp(t.data());
    open_store();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    log = std::make_unique<Log>(*db, *keys, LogOptions{1000, 60'000}, nullptr);
    EXPECT_TRUE(log->open().ok());
    EXPECT_TRUE(log->prepare_signing().ok());
    record(25);
    EXPECT_TRUE(log->checkpoint_if_due(true).ok());
  }
  ~VerifierFixture() override {
    log.reset();
    keys.reset();
    if (db) db->close();
    std::filesystem::remove_all(dir);
  }
  void open_store() { db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value(); }
  void record(int n) {
    for (int i = 0; i < n; ++i)
      log->record(
          Event{"api", "POST /api/v1/publish", "ok", 200, "app:a1", "rid-" + std::to_string(i), "10.1.2.3", {}, {}});
    for (int i = 0; i < 500 && log->durable_size() < log->size(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(log->durable_size(), log->size());
  }
  // Runs `sql` on the closed database, then opens the store again.
  void tamper(const std::string& sql) {
    log.reset();
    keys.reset();
    db->close();
    db.reset();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &raw), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    EXPECT_GT(sqlite3_changes(raw), 0);
    sqlite3_close(raw);
    open_store();
  }
  VerifyReport verify(const VerifyOptions& opts = {}) {
    auto r = verify_log(*db, opts);
    EXPECT_TRUE(r.ok()) << r.error().code;
    return r.ok() ? *r : VerifyReport{};
  }

  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<Log> log;
};

TEST_F(VerifierFixture, AnUntouchedLogVerifiesWithItsCheckpoint) {
  auto root = log->root(25);
  ASSERT_TRUE(root.ok());
  std::vector<std::uint64_t> progress;
  VerifyOptions opts;
  opts.progress = [&](std::uint64_t done, std::uint64_t) { progress.push_back(done); };
  auto r = verify(opts);
  EXPECT_TRUE(r.ok) << r.problem << ": " << r.message;
  EXPECT_EQ(r.entries, 25u);
  EXPECT_EQ(r.checkpoints, 1u);
  EXPECT_EQ(r.root, *root);
  EXPECT_FALSE(r.saved_checked);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 25u);
}

TEST_F(VerifierFixture, TheLogExtendsASavedCheckpoint) {
  auto cp = log->latest_checkpoint();
  ASSERT_TRUE(cp.ok() && cp->has_value());
  SavedCheckpoint saved{(*cp)->size, (*cp)->root, (*cp)->ts_ms, (*cp)->signature, log->public_key_pem().value()};
  record(5);
  VerifyOptions opts;
  opts.saved = saved;
  auto r = verify(opts);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_TRUE(r.saved_checked);
  EXPECT_EQ(r.entries, 30u);

  opts.saved->root[0] ^= 1;  // no longer what was signed
  auto bad = verify_log(*db, opts);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kInvalidCheckpoint);
}

TEST_F(VerifierFixture, AChangedEntryIsFoundAtItsIndex) {
  tamper("UPDATE audit_entries SET body = replace(body, 'rid-7', 'rid-X') WHERE seq = 7;");
  auto r = verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "entry_changed");
  EXPECT_EQ(r.first_bad_entry, 7u);
}

TEST_F(VerifierFixture, AMovedEntryIsFoundAtItsIndex) {
  tamper(
      "UPDATE audit_entries SET body = (SELECT body FROM audit_entries WHERE seq = 3), "
      "leaf_hash = (SELECT leaf_hash FROM audit_entries WHERE seq = 3) WHERE seq = 4;");
  auto r = verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "entry_out_of_place");
  EXPECT_EQ(r.first_bad_entry, 4u);
}

TEST_F(VerifierFixture, AMissingEntryIsFound) {
  tamper("DELETE FROM audit_entries WHERE seq = 10;");
  auto r = verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "entry_missing");
  EXPECT_EQ(r.first_bad_entry, 10u);
}

TEST_F(VerifierFixture, ARemovedTailIsFoundAgainstTheCheckpoint) {
  tamper("DELETE FROM audit_entries WHERE seq >= 20;");
  auto r = verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "log_truncated");
  EXPECT_EQ(r.first_bad_entry, 20u);
  EXPECT_EQ(r.entries, 20u);
}

// Found by fuzz/checkpoint_fuzz.cpp: "size": -1 was read as 2^64 - 1, which the
// checkpoint's own printed form then failed to parse back.
TEST(SavedCheckpointParse, ANegativeSizeIsRefusedAndEveryParsedOneRoundTrips) {
  const std::string root(64, 'a');
  auto text = [&](std::string_view size) {
    return R"({"size":)" + std::string(size) + R"(,"root":")" + root +
           R"(","timestamp_ms":1700000000000,"signature":"c2ln","public_key":"pem"})";
  };
  auto negative = parse_saved_checkpoint(text("-1"));
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, Errc::kInvalidCheckpoint);
  EXPECT_FALSE(parse_witness(text("3") + "\n" + text("-5") + "\n").ok());

  for (std::string_view size : {"0", "25", "18446744073709551615"}) {
    auto cp = parse_saved_checkpoint(text(size));
    ASSERT_TRUE(cp.ok()) << size;
    auto again = parse_saved_checkpoint(saved_checkpoint_json(*cp));
    ASSERT_TRUE(again.ok()) << size;
    EXPECT_EQ(again->size, cp->size);
  }
}

}  // namespace
}  // namespace herald::audit
