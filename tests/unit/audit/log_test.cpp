#include "audit/log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api/router.h"
#include "audit/verifier.h"
#include "crypto/signature.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::audit {
namespace {

// The real audit tables, with a switch that makes batch writes fail as a full disk would.
class FaultyAudit final : public store::AuditRecords {
 public:
  explicit FaultyAudit(store::AuditRecords& real) : real_(real) {}
  std::atomic<bool> fail{false};
  std::atomic<int> failed_batches{0};
  const std::string& audit_log_name() const override { return real_.audit_log_name(); }
  void put_audit_log_key(std::string pem, store::Completion done) override {
    real_.put_audit_log_key(std::move(pem), std::move(done));
  }
  Result<std::vector<store::AuditLogRecord>> audit_logs() override { return real_.audit_logs(); }
  std::unique_ptr<store::AuditRecords> audit_log(const std::string& name) override { return real_.audit_log(name); }
  void append_audit(store::AuditEntryRecord e, std::vector<store::AuditNodeRecord> n, store::Completion done) override {
    real_.append_audit(std::move(e), std::move(n), std::move(done));
  }
  void append_audit_batch(std::function<AuditBatch()> take,
                          std::function<void(Status, const AuditBatch&)> done) override {
    if (!fail) return real_.append_audit_batch(std::move(take), std::move(done));
    ++failed_batches;
    AuditBatch b = take();  // taken, then lost by the "disk", as a failed transaction is
    done(make_error(Errc::kStoreUnavailable, "disk full"), b);
  }
  void put_audit_checkpoint(store::AuditCheckpointRecord cp, store::Completion done) override {
    real_.put_audit_checkpoint(std::move(cp), std::move(done));
  }
  Result<std::uint64_t> audit_size() override { return real_.audit_size(); }
  Result<std::vector<store::AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) override {
    return real_.audit_entries(from, count);
  }
  Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) override {
    return real_.audit_node(level, index);
  }
  Result<std::optional<store::AuditCheckpointRecord>> latest_audit_checkpoint() override {
    return real_.latest_audit_checkpoint();
  }
  Result<std::vector<store::AuditCheckpointRecord>> audit_checkpoints() override { return real_.audit_checkpoints(); }

 private:
  store::AuditRecords& real_;
};

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& real) : real_(real), audit_(real.audit()) {}
  FaultyAudit& faulty() { return audit_; }
  int schema_version() override { return real_.schema_version(); }
  void put_meta(std::string k, std::string v, store::Completion done) override {
    real_.put_meta(std::move(k), std::move(v), std::move(done));
  }
  Result<std::optional<std::string>> get_meta(std::string_view k) override { return real_.get_meta(k); }
  bool healthy() override { return !down && real_.healthy(); }
  store::StoreStats stats() override { return real_.stats(); }
  void close() override {}
  std::atomic<bool> down{false};  // the whole store unreachable (a database outage)
  store::AppRecords& apps() override { return real_.apps(); }
  store::KmsRecords& kms() override { return real_.kms(); }
  store::AuditRecords& audit() override { return audit_; }
  store::OtpRecords& otp() override { return real_.otp(); }
  store::MessageRecords& messages() override { return real_.messages(); }
  store::NonceRecords& nonces() override { return real_.nonces(); }

 private:
  store::Store& real_;
  FaultyAudit audit_;
};

struct LogFixture : ::testing::Test {
  LogFixture() {
    std::string t = ::testing::TempDir() + "/audit-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    log = std::make_unique<Log>(*db, *keys, LogOptions{1000, 60'000}, nullptr);
    EXPECT_TRUE(log->open().ok());
    EXPECT_TRUE(log->prepare_signing().ok());
  }
  ~LogFixture() override {
    log.reset();
    keys.reset();
    db->close();
    std::filesystem::remove_all(dir);
  }
  void wait_durable() {
    for (int i = 0; i < 500 && log->durable_size() < log->size(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(log->durable_size(), log->size());
  }
  Event event(int i) {
    return Event{"api",
                 "POST /api/v1/publish",
                 i % 3 ? "ok" : "signature_invalid",
                 200,
                 "app:a1",
                 "rid-" + std::to_string(i),
                 "10.1.2.3",
                 {{"n", std::to_string(i)}},
                 {{"user", "alice@example.com"}}};
  }
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<Log> log;
};

TEST_F(LogFixture, FlushReturnsOnceEveryEntryAppendedIsDurable) {
  EXPECT_TRUE(log->flush(std::chrono::milliseconds(0)));  // nothing appended: nothing to wait for
  for (int i = 0; i < 40; ++i) log->record(event(i));
  ASSERT_TRUE(log->flush(std::chrono::seconds(10)));
  EXPECT_EQ(log->durable_size(), 40u);
}

TEST_F(LogFixture, ProofsFromTheStoredTreeVerifyAndCheckpointsAreSigned) {
  for (int i = 0; i < 25; ++i) log->record(event(i));
  wait_durable();
  ASSERT_TRUE(log->checkpoint_if_due(true).ok());
  auto cp = log->latest_checkpoint();
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->size, 25u);
  auto key = crypto::PublicKey::from_pem(log->public_key_pem().value());
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->verify(checkpoint_message(25, (*cp)->root, (*cp)->ts_ms), (*cp)->signature));
  EXPECT_FALSE(key->verify(checkpoint_message(24, (*cp)->root, (*cp)->ts_ms), (*cp)->signature));
  auto entries = log->entries(0, 25).value();
  ASSERT_EQ(entries.size(), 25u);
  for (std::uint64_t size : {1u, 7u, 16u, 25u}) {
    Hash root = log->root(size).value();
    for (std::uint64_t i = 0; i < size; ++i) {
      Hash leaf = leaf_hash(entries[i].body);
      ASSERT_TRUE(verify_inclusion(leaf, i, size, log->inclusion(i, size).value(), root)) << i << "/" << size;
    }
  }
  EXPECT_EQ(log->root(25).value(), (*cp)->root);
  EXPECT_TRUE(
      verify_consistency(10, 25, log->root(10).value(), log->root(25).value(), log->consistency(10, 25).value()));
  EXPECT_FALSE(log->inclusion(25, 25).ok());
  EXPECT_FALSE(log->consistency(3, 26).ok());
  // Personal data and addresses only as keyed hashes.
  for (const auto& e : entries) {
    EXPECT_EQ(e.body.find("alice"), std::string::npos);
    EXPECT_EQ(e.body.find("10.1.2.3"), std::string::npos);
    EXPECT_NE(e.body.find("\"user\":\"hmac:"), std::string::npos);
  }
  EXPECT_EQ(entries[3].body.rfind("{\"seq\":3,", 0), 0u);
}

// audit.witness_url: a witness that hangs holds up neither appends nor checkpoints; once
// it answers it gets every checkpoint, in order, as the JSON verify --witness reads.
TEST_F(LogFixture, AHangingWitnessUrlBlocksNeitherTheWriterNorTheCheckpointer) {
  std::mutex mu;
  std::condition_variable cv;
  bool hang = true;
  std::vector<std::string> got;
  LogOptions o{1000, 60'000};
  o.witness_poster = [&](const std::string& body) -> Status {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !hang; });
    got.push_back(body);
    return ok_status();
  };
  log.reset();
  log = std::make_unique<Log>(*db, *keys, std::move(o), nullptr);
  ASSERT_TRUE(log->open().ok());
  log->start();
  auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) log->record(event(i));
    wait_durable();
    ASSERT_TRUE(log->checkpoint_if_due(true).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  {
    std::lock_guard lock(mu);
    hang = false;
  }
  cv.notify_all();
  log->stop();
  log->stop_witness();
  ASSERT_GE(got.size(), 3u);
  auto parsed = parse_witness(got[0] + "\n" + got[1] + "\n" + got[2] + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ((*parsed)[0].size, 5u);
  EXPECT_EQ((*parsed)[1].size, 10u);
  EXPECT_EQ((*parsed)[2].size, 15u);
}

TEST_F(LogFixture, TheTreeContinuesAcrossARestart) {
  for (int i = 0; i < 11; ++i) log->record(event(i));
  wait_durable();
  Hash before = log->root(11).value();
  log = std::make_unique<Log>(*db, *keys, LogOptions{1000, 60'000}, nullptr);
  ASSERT_TRUE(log->open().ok());
  EXPECT_EQ(log->size(), 11u);
  for (int i = 11; i < 20; ++i) log->record(event(i));
  wait_durable();
  EXPECT_EQ(log->root(11).value(), before);
  EXPECT_TRUE(verify_consistency(11, 20, before, log->root(20).value(), log->consistency(11, 20).value()));
}

// S10: a failed batch leaves no hole. Its entries are kept and retried in order, the
// log refuses audited calls meanwhile, and once the store takes writes again every
// entry, before and after the failure, is durable and verifies.
TEST_F(LogFixture, AFailedWriteLeavesNoHoleAndAuditedCallsAreRefusedUntilItIsDurable) {
  FaultyStore faulty(*db);
  log = std::make_unique<Log>(faulty, *keys, LogOptions{1000, 60'000}, nullptr);
  ASSERT_TRUE(log->open().ok());
  api::Router router;
  router.add("GET", "/api/v1/thing", [](const api::Request&) { return api::Response{}; });
  router.add(
      "GET", "/admin/v1/operator/status", [](const api::Request&) { return api::Response{}; }, true);
  router.set_audit_check([&] { return log->writable(); });

  for (int i = 0; i < 5; ++i) log->record(event(i));
  wait_durable();
  EXPECT_TRUE(log->writable());
  EXPECT_NE(router.match("GET", "/api/v1/thing").route, nullptr);

  faulty.faulty().fail = true;
  for (int i = 5; i < 9; ++i) log->record(event(i));
  for (int i = 0; i < 200 && log->writable(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_FALSE(log->writable());
  EXPECT_EQ(log->durable_size(), 5u);
  EXPECT_FALSE(log->flush(std::chrono::milliseconds(50)));  // not durable: flush says so
  // Fail closed: the audited route is refused; health/operator routes stay open.
  auto m = router.match("GET", "/api/v1/thing");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.error, Errc::kAuditUnavailable);
  EXPECT_NE(router.match("GET", "/admin/v1/operator/status").route, nullptr);
  // The refusals themselves are not piled up in memory; other events still get a place.
  Event refused = event(100);
  refused.result = "audit_unavailable";
  log->record(refused);
  log->record(event(9));
  EXPECT_EQ(log->size(), 10u);
  // Retries against a still-failing store keep everything in order.
  log->retry_unwritten();
  EXPECT_FALSE(log->writable());
  EXPECT_EQ(log->durable_size(), 5u);

  faulty.faulty().fail = false;
  log->retry_unwritten();
  ASSERT_TRUE(log->flush(std::chrono::seconds(10)));
  EXPECT_TRUE(log->writable());
  EXPECT_NE(router.match("GET", "/api/v1/thing").route, nullptr);
  EXPECT_EQ(log->durable_size(), 10u);
  for (int i = 10; i < 14; ++i) log->record(event(i));
  wait_durable();

  auto entries = log->entries(0, 100).value();
  ASSERT_EQ(entries.size(), 14u);
  for (std::uint64_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].seq, i);  // no hole
  Hash root = log->root(14).value();
  for (std::uint64_t i = 0; i < 14; ++i)
    EXPECT_TRUE(verify_inclusion(leaf_hash(entries[i].body), i, 14, log->inclusion(i, 14).value(), root)) << i;
  ASSERT_TRUE(log->checkpoint_if_due(true).ok());
  auto report = verify_log(*db, VerifyOptions{});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->message;
  EXPECT_EQ(report->entries, 14u);
  // And a restart continues the same tree.
  log = std::make_unique<Log>(*db, *keys, LogOptions{1000, 60'000}, nullptr);
  EXPECT_TRUE(log->open().ok());
  EXPECT_EQ(log->size(), 14u);
}

// Cluster mode: while the whole shared store is down, audited calls go on (durable ones
// fail by themselves) and their entries wait; a failure of the audit writes alone, or
// without ride_out_store_outage, still refuses.
TEST_F(LogFixture, ADatabaseOutageAdmitsCallsOnlyWhenRidingItOutAndTheWholeStoreIsDown) {
  FaultyStore faulty(*db);
  LogOptions lo{1000, 60'000};
  lo.ride_out_store_outage = true;
  log = std::make_unique<Log>(faulty, *keys, lo, nullptr);
  ASSERT_TRUE(log->open().ok());
  EXPECT_TRUE(log->admits());
  faulty.faulty().fail = true;
  log->record(event(0));
  for (int i = 0; i < 200 && log->writable(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_FALSE(log->writable());
  EXPECT_FALSE(log->admits());  // the store answers: only the audit writes fail
  faulty.down = true;
  EXPECT_TRUE(log->admits());
  log->record(event(1));  // waits in memory, in order
  EXPECT_EQ(log->size(), 2u);

  LogOptions strict{1000, 60'000};
  auto closed = std::make_unique<Log>(faulty, *keys, strict, nullptr);
  ASSERT_TRUE(closed->open().ok());
  closed->record(event(2));
  for (int i = 0; i < 200 && closed->writable(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(closed->admits());
  closed.reset();

  faulty.down = false;
  faulty.faulty().fail = false;
  log->retry_unwritten();
  ASSERT_TRUE(log->flush(std::chrono::seconds(10)));
  EXPECT_TRUE(log->writable());
  EXPECT_TRUE(log->admits());
}

// A log written before failed batches were retried may have a hole: the start says so.
TEST_F(LogFixture, AGapInAnOldLogIsReportedAsAGapAtOpen) {
  for (int i = 0; i < 8; ++i) log->record(event(i));
  wait_durable();
  log.reset();
  // Lose entries 4 to 5 and the subtrees over them, as a dropped batch did.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/herald.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "DELETE FROM audit_entries WHERE seq IN (4, 5); "
                         "DELETE FROM audit_nodes WHERE (idx << level) <= 5 AND ((idx + 1) << level) > 4;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  log = std::make_unique<Log>(*db, *keys, LogOptions{1000, 60'000}, nullptr);
  auto st = log->open();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kAuditCorrupt);
  EXPECT_NE(st.error().message.find("gap: entries 4 to 5 of 8 are missing"), std::string::npos) << st.error().message;
}

// S16: the key comes from the key service, and a checkpoint the database holds is served
// only if that key verifies it: a forged key and checkpoint written into the database
// are refused.
TEST_F(LogFixture, AForgedKeyAndCheckpointInTheDatabaseAreNotServed) {
  for (int i = 0; i < 6; ++i) log->record(event(i));
  wait_durable();
  ASSERT_TRUE(log->checkpoint_if_due(true).ok());
  std::string real_pem = log->public_key_pem().value();
  ASSERT_TRUE(log->verified_checkpoint().ok());

  auto forger = crypto::PrivateKey::generate(crypto::KeyKind::Ed25519);
  ASSERT_TRUE(store::wait_for([&](store::Completion done) {
                db->put_meta("audit_public_key", forger.public_key().to_pem(), std::move(done));
              }).ok());
  Hash root = log->root(6).value();
  std::int64_t ts = 4'000'000'000'000;
  ASSERT_TRUE(store::wait_for([&](store::Completion done) {
                db->audit().put_audit_checkpoint(
                    store::AuditCheckpointRecord{7, std::string(reinterpret_cast<const char*>(root.data()), 32), ts,
                                                 forger.sign(checkpoint_message(7, root, ts))},
                    std::move(done));
              }).ok());
  EXPECT_EQ(log->public_key_pem().value(), real_pem);  // not the meta row
  auto served = log->verified_checkpoint();
  ASSERT_FALSE(served.ok());
  EXPECT_EQ(served.error().code, Errc::kAuditCorrupt);
}

}  // namespace
}  // namespace herald::audit
