// The rest of the store conformance suite, run against both drivers: meta and schema,
// replay nonces, a failing write in a batch, big batches, close, and two store instances
// on one database (two nodes): idempotency claims and key rotations stay unique.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class StoreConformance : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(StoreConformance);

AppRecord app(std::string id, std::string key, std::string name) {
  AppRecord a;
  a.id = std::move(id);
  a.key = std::move(key);
  a.name = std::move(name);
  a.status = "active";
  a.app_secrets_json = "[]";
  return a;
}

MessageRecord message(std::uint64_t seq, std::string idem) {
  MessageRecord m;
  m.seq = seq;
  m.id = "msg_" + std::to_string(seq);
  m.app_id = "app";
  m.user_index = "u";
  m.idem_index = std::move(idem);
  m.expires_ms = 1000;
  m.due_ms = 1000;
  m.sealed = "sealed";
  return m;
}

TEST_P(StoreConformance, MetaAndSchemaSurviveAReopen) {
  testing::TempStore t(GetParam());
  EXPECT_GT(t.db->schema_version(), 0);
  EXPECT_FALSE(t.db->get_meta("instance").value().has_value());
  std::string bytes("\x00\x01\xfe", 3);  // values are bytes, NUL included
  ASSERT_TRUE(wait_for([&](Completion d) { t.db->put_meta("instance", "one", std::move(d)); }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { t.db->put_meta("instance", bytes, std::move(d)); }).ok());
  t.reopen();
  EXPECT_EQ(t.db->get_meta("instance").value().value_or(""), bytes);
  EXPECT_TRUE(t.db->healthy());
  EXPECT_GE(t.db->stats().commits, 0u);
}

TEST_P(StoreConformance, NoncesKeepTheLaterExpiryAndExpire) {
  testing::TempStore t(GetParam());
  NonceRecords& n = t.db->nonces();
  ASSERT_TRUE(wait_for([&](Completion d) {
                n.put_nonces({{"app", "a", 100}, {"app", "b", 300}, {"other", "a", 200}}, std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { n.put_nonces({{"app", "a", 50}, {"app", "b", 400}}, std::move(d)); }).ok());
  auto live = n.load_nonces(150).value();
  ASSERT_EQ(live.size(), 2u);
  for (const auto& r : live)
    EXPECT_TRUE((r.app_id == "app" && r.nonce == "b" && r.expires_ms == 400) ||
                (r.app_id == "other" && r.expires_ms == 200));
  EXPECT_EQ(n.load_nonces(0).value().size(), 3u);  // "a" kept 100, not 50
  ASSERT_TRUE(wait_for([&](Completion d) { n.purge_nonces(200, std::move(d)); }).ok());
  auto left = n.load_nonces(0).value();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].nonce, "b");
}

// Writes queued together share a transaction; the one that fails must fail alone.
TEST_P(StoreConformance, AFailingWriteFailsAloneInItsBatch) {
  testing::TempStore t(GetParam());
  std::vector<std::future<Status>> results;
  auto start = [&](std::function<void(Completion)> fn) {
    auto p = std::make_shared<std::promise<Status>>();
    results.push_back(p->get_future());
    fn([p](Status st) { p->set_value(std::move(st)); });
  };
  start([&](Completion d) { t.db->apps().put_app(app("a1", "k1", "one"), std::move(d)); });
  start([&](Completion d) { t.db->apps().put_app(app("a2", "k1", "two"), std::move(d)); });  // k1 is taken
  start([&](Completion d) { t.db->put_meta("after", "yes", std::move(d)); });
  start([&](Completion d) { t.db->apps().delete_app("nope", std::move(d)); });
  start([&](Completion d) { t.db->apps().put_app(app("a3", "k3", "three"), std::move(d)); });
  std::vector<Status> st;
  for (auto& f : results) st.push_back(f.get());
  EXPECT_TRUE(st[0].ok());
  ASSERT_FALSE(st[1].ok());
  EXPECT_EQ(st[1].error().code, Errc::kConflict);
  EXPECT_TRUE(st[2].ok());
  ASSERT_FALSE(st[3].ok());
  EXPECT_EQ(st[3].error().code, Errc::kNotFound);
  EXPECT_TRUE(st[4].ok());
  EXPECT_EQ(t.db->apps().load_apps().value().size(), 2u);
  EXPECT_EQ(t.db->get_meta("after").value().value_or(""), "yes");
}

TEST_P(StoreConformance, AThousandConcurrentWritesAreAllDurable) {
  testing::TempStore t(GetParam());
  constexpr int kWrites = 3000;
  std::atomic<int> ok{0}, done{0};
  std::promise<void> all;
  for (int i = 1; i <= kWrites; ++i)
    t.db->messages().insert_message(message(static_cast<std::uint64_t>(i), ""), [&](Status st) {
      if (st.ok()) ++ok;
      if (++done == kWrites) all.set_value();
    });
  all.get_future().wait();
  EXPECT_EQ(ok.load(), kWrites);
  t.reopen();
  EXPECT_EQ(t.db->messages().max_message_seq().value(), static_cast<std::uint64_t>(kWrites));
  EXPECT_EQ(t.db->messages().pending_messages().value().size(), static_cast<std::size_t>(kWrites));
  EXPECT_LT(t.db->stats().commits, static_cast<std::uint64_t>(kWrites));
}

TEST_P(StoreConformance, CloseFinishesQueuedWritesThenRefusesNewOnes) {
  testing::TempStore t(GetParam());
  std::promise<Status> first;
  t.db->put_meta("k", "v", [&](Status st) { first.set_value(std::move(st)); });
  t.db->close();
  EXPECT_TRUE(first.get_future().get().ok());
  auto late = wait_for([&](Completion d) { t.db->put_meta("k", "w", std::move(d)); });
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kStoreClosed);
}

// Two nodes on one database claim the same idempotency key at once: exactly one wins.
TEST_P(StoreConformance, AnIdempotencyClaimIsUniqueAcrossTwoInstances) {
  testing::TempStore t(GetParam());
  auto other = t.open_another();
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::string key = "idem-" + std::to_string(round);
    std::promise<Status> a, b;
    std::thread ta(
        [&] { t.db->messages().insert_message(message(1000 + 2 * round, key), [&](Status st) { a.set_value(st); }); });
    std::thread tb(
        [&] { other->messages().insert_message(message(1001 + 2 * round, key), [&](Status st) { b.set_value(st); }); });
    ta.join();
    tb.join();
    auto sa = a.get_future().get(), sb = b.get_future().get();
    EXPECT_NE(sa.ok(), sb.ok()) << "round " << round;
    const Status& lost = sa.ok() ? sb : sa;
    if (!lost.ok()) {
      EXPECT_EQ(lost.error().code, Errc::kDuplicate);
    }
    EXPECT_TRUE(other->messages().message_by_idempotency("app", key).value().has_value());
  }
}

// Two nodes rotate the same key at once from the same read: one version 2, never two.
TEST_P(StoreConformance, AKeyRotationIsNotLostAcrossTwoInstances) {
  testing::TempStore t(GetParam());
  auto other = t.open_another();
  KmsKeyRecord key{"app", "k", "aes256-gcm", 1, 1, false, false, 1, 0};
  ASSERT_TRUE(wait_for([&](Completion d) {
                t.db->kms().insert_kms_key(key, KmsVersionRecord{"app", "k", 1, "w1", 1}, std::move(d));
              }).ok());
  std::promise<Status> a, b;
  std::thread ta([&] {
    t.db->kms().add_kms_version(KmsVersionRecord{"app", "k", 2, "wA", 2}, [&](Status st) { a.set_value(st); });
  });
  std::thread tb([&] {
    other->kms().add_kms_version(KmsVersionRecord{"app", "k", 2, "wB", 2}, [&](Status st) { b.set_value(st); });
  });
  ta.join();
  tb.join();
  auto sa = a.get_future().get(), sb = b.get_future().get();
  EXPECT_NE(sa.ok(), sb.ok());
  const Status& lost = sa.ok() ? sb : sa;
  if (!lost.ok()) {
    EXPECT_EQ(lost.error().code, Errc::kConflict);
  }
  auto versions = other->kms().load_kms_versions().value();
  EXPECT_EQ(versions.size(), 2u);
  EXPECT_EQ(other->kms().load_kms_keys().value().at(0).latest_version, 2u);
}

}  // namespace
}  // namespace herald::store
