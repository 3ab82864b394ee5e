#include "audit/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "crypto/signature.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::audit {
namespace {

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
    return Event{"api", "POST /api/v1/publish", i % 3 ? "ok" : "signature_invalid", 200, "app:a1",
                 "rid-" + std::to_string(i), "10.1.2.3", {{"n", std::to_string(i)}}, {{"user", "alice@example.com"}}};
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
  EXPECT_TRUE(verify_consistency(10, 25, log->root(10).value(), log->root(25).value(), log->consistency(10, 25).value()));
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

}  // namespace
}  // namespace herald::audit
