#include "otp/blocklist.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "otp/recipient.h"
#include "store/store.h"

namespace herald::otp {
namespace {

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> o) { p.set_value(std::move(o)); });
  return f.get();
}

struct BlocklistFixture : ::testing::Test {
  BlocklistFixture() {
    std::string t = ::testing::TempDir() + "/blocklist-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    EXPECT_TRUE(keys->ensure_app_keys("app1").ok());
    EXPECT_TRUE(keys->ensure_app_keys("app2").ok());
    list = std::make_unique<Blocklist>(*db, *keys);
  }
  ~BlocklistFixture() override {
    list.reset();
    keys.reset();
    db->close();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  Result<BlockEntry> block(const std::string& app, const std::string& to, const std::string& reason,
                           std::int64_t now_ms = 1000) {
    return wait<BlockEntry>([&](Done<BlockEntry> d) { list->block(app, to, reason, now_ms, std::move(d)); });
  }
  Result<bool> unblock(const std::string& app, const std::string& to) {
    return wait<bool>([&](Done<bool> d) { list->unblock(app, to, std::move(d)); });
  }
  // What a send looks the recipient up by.
  std::string index_of(const std::string& app, const std::string& to) {
    return keys->blind_index(app, "otp-recipient", normalize_recipient(to)).value();
  }

  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<Blocklist> list;
};

TEST_F(BlocklistFixture, ABlockedRecipientIsFoundByItsNormalisedIndexInItsAppOnly) {
  auto b = block("app1", "Mallory@Example.com", "abuse #12", 1234);
  ASSERT_TRUE(b.ok()) << b.error().code;
  EXPECT_EQ(b->to, "Mallory@Example.com");
  EXPECT_EQ(b->reason, "abuse #12");
  EXPECT_EQ(b->created_ms, 1234);
  EXPECT_TRUE(list->contains("app1", index_of("app1", "mallory@example.com")));
  EXPECT_FALSE(list->contains("app2", index_of("app2", "mallory@example.com")));
  EXPECT_FALSE(list->contains("app1", index_of("app1", "eve@example.com")));
}

TEST_F(BlocklistFixture, ListOpensEntriesOldestFirst) {
  ASSERT_TRUE(block("app1", "+4915100000002", "second", 2000).ok());
  ASSERT_TRUE(block("app1", "+4915100000001", "first", 1000).ok());
  ASSERT_TRUE(block("app2", "+4915100000003", "other app", 500).ok());
  auto entries = list->list("app1");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].to, "+4915100000001");
  EXPECT_EQ((*entries)[0].reason, "first");
  EXPECT_EQ((*entries)[0].created_ms, 1000);
  EXPECT_EQ((*entries)[1].to, "+4915100000002");
}

TEST_F(BlocklistFixture, RestoreReadsBackWhatTheStoreHolds) {
  ASSERT_TRUE(block("app1", "+4915100000001", "r").ok());
  list->clear();
  EXPECT_FALSE(list->contains("app1", index_of("app1", "+4915100000001")));
  EXPECT_TRUE(list->list("app1")->empty());
  auto recs = db->otp().load_otp_blocklist();
  ASSERT_TRUE(recs.ok());
  list->restore(std::move(*recs));
  EXPECT_TRUE(list->contains("app1", index_of("app1", "+4915100000001")));
  ASSERT_EQ(list->list("app1")->size(), 1u);
}

TEST_F(BlocklistFixture, UnblockRemovesFromMemoryAndStore) {
  ASSERT_TRUE(block("app1", "+4915100000001", "r").ok());
  auto removed = unblock("app1", "+4915100000001");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(list->contains("app1", index_of("app1", "+4915100000001")));
  EXPECT_TRUE(db->otp().load_otp_blocklist()->empty());
  auto again = unblock("app1", "+4915100000001");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(BlocklistFixture, RefusesBadInput) {
  EXPECT_EQ(block("app1", "not-an-address", "").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(block("app1", "+4915100000001", std::string(257, 'x')).error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(block("app1", "+4915100000001", std::string(256, 'x')).ok());
  EXPECT_EQ(block("app1", "+4915100000002", "a\nb").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(block("app1", "+4915100000002", "a\x7f").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(unblock("app1", "not-an-address").error().code, Errc::kInvalidArgument);
}

TEST_F(BlocklistFixture, ListRefusedWhileSealed) {
  ASSERT_TRUE(block("app1", "+4915100000001", "r").ok());
  keys->seal();
  auto entries = list->list("app1");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.error().code, Errc::kSealed);
}

}  // namespace
}  // namespace herald::otp
