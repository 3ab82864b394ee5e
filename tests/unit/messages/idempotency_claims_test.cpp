// The single-node idempotency claims against a real SQLite store: a claim in flight and
// a stored message both answer for their key; a released key is free again.
#include "messages/idempotency_claims.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <thread>
#include <vector>

#include "store/message_records.h"
#include "store/store.h"

namespace herald::messages {
namespace {

struct ClaimsFixture : ::testing::Test {
  ClaimsFixture() {
    std::string t = ::testing::TempDir() + "/claims-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    claims = std::make_unique<MemoryIdempotencyClaims>(db->messages());
  }
  ~ClaimsFixture() override {
    claims.reset();
    db->close();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  void store_message(std::uint64_t seq, const std::string& id, const std::string& app, const std::string& idem,
                     store::MessageState state = store::MessageState::pending) {
    store::MessageRecord m;
    m.seq = seq;
    m.id = id;
    m.app_id = app;
    m.user_index = "ui";
    m.idem_index = idem;
    m.created_ms = 1;
    m.expires_ms = 1'000'000;
    m.due_ms = 1'000'000;
    m.state = state;
    m.sealed = "x";
    ASSERT_TRUE(store::wait_for([&](store::Completion c) { db->messages().insert_message(m, std::move(c)); }).ok());
  }

  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<IdempotencyClaims> claims;
};

TEST_F(ClaimsFixture, TheFirstClaimWinsAndOthersGetItsMessageUntilReleased) {
  auto first = claims->claim("app1", "k1", "msg_1_aa");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  auto second = claims->claim("app1", "k1", "msg_2_bb");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->id, "msg_1_aa");
  EXPECT_EQ((*second)->state, "pending");
  // Keys are per app.
  auto other_app = claims->claim("app2", "k1", "msg_3_cc");
  ASSERT_TRUE(other_app.ok());
  EXPECT_FALSE(other_app->has_value());
  // Released without a stored message (a refused publish): the key is free again.
  claims->release("app1", "k1");
  auto again = claims->claim("app1", "k1", "msg_4_dd");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(ClaimsFixture, AStoredMessageAnswersForItsKeyWithItsState) {
  store_message(7, "msg_7_ab", "app1", "k-stored", store::MessageState::acked);
  auto dup = claims->claim("app1", "k-stored", "msg_8_cd");
  ASSERT_TRUE(dup.ok());
  ASSERT_TRUE(dup->has_value());
  EXPECT_EQ((*dup)->id, "msg_7_ab");
  EXPECT_EQ((*dup)->state, "acked");
  auto other_app = claims->claim("app2", "k-stored", "msg_9_ef");
  ASSERT_TRUE(other_app.ok());
  EXPECT_FALSE(other_app->has_value());
}

TEST_F(ClaimsFixture, ConcurrentClaimsOfOneKeyHaveOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      auto r = claims->claim("app1", "race", "msg_" + std::to_string(i + 1) + "_xx");
      ASSERT_TRUE(r.ok());
      if (!r->has_value()) ++winners;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_F(ClaimsFixture, ClearForgetsClaimsInFlight) {
  ASSERT_FALSE(claims->claim("app1", "k", "msg_1_aa")->has_value());
  claims->clear();
  EXPECT_FALSE(claims->claim("app1", "k", "msg_2_bb")->has_value());
}

}  // namespace
}  // namespace herald::messages
