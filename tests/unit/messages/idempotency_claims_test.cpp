// The idempotency claims against a real SQLite store: a stored message answers for its
// key; a claim in flight makes later claims wait for the message that ends up holding
// the key; a released key is free again.
#include "messages/idempotency_claims.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <mutex>
#include <string>
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

using Outcome = IdempotencyClaims::Outcome;

// What a waiter was told.
struct Told {
  std::vector<Result<EarlierMessage>> answers;
  IdempotencyClaims::Waiter waiter() {
    return [this](Result<EarlierMessage> e) { answers.push_back(std::move(e)); };
  }
};

TEST_F(ClaimsFixture, TheFirstClaimWinsAndOthersWaitForItsMessage) {
  Told told;
  auto first = claims->claim("app1", "k1", "msg_1_aa", told.waiter());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->outcome, Outcome::claimed);
  auto second = claims->claim("app1", "k1", "msg_2_bb", told.waiter());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, Outcome::waiting);
  EXPECT_TRUE(told.answers.empty());  // not before the first publish settles
  // Keys are per app.
  auto other_app = claims->claim("app2", "k1", "msg_3_cc", told.waiter());
  ASSERT_TRUE(other_app.ok());
  EXPECT_EQ(other_app->outcome, Outcome::claimed);
  // The first message is stored: the waiter gets it.
  claims->release("app1", "k1", EarlierMessage{"msg_1_aa", "pending"});
  ASSERT_EQ(told.answers.size(), 1u);
  ASSERT_TRUE(told.answers[0].ok());
  EXPECT_EQ(told.answers[0]->id, "msg_1_aa");
  EXPECT_EQ(told.answers[0]->state, "pending");
}

// The claimer's insert found the key taken (by another node): waiters get that message,
// not the claimer's, which was never stored.
TEST_F(ClaimsFixture, WaitersGetTheMessageTheStoreFoundNotTheClaimers) {
  Told told;
  ASSERT_EQ(claims->claim("app1", "k", "msg_5_aa", told.waiter())->outcome, Outcome::claimed);
  ASSERT_EQ(claims->claim("app1", "k", "msg_6_bb", told.waiter())->outcome, Outcome::waiting);
  claims->release("app1", "k", EarlierMessage{"msg_2_other_node", "acked"});
  ASSERT_EQ(told.answers.size(), 1u);
  EXPECT_EQ(told.answers[0]->id, "msg_2_other_node");
  EXPECT_EQ(told.answers[0]->state, "acked");
}

// Released without a stored message (a refused publish): waiters are told to send again,
// and the key is free.
TEST_F(ClaimsFixture, AFailedPublishFreesTheKeyAndItsWaitersSendAgain) {
  Told told;
  ASSERT_EQ(claims->claim("app1", "k1", "msg_1_aa", told.waiter())->outcome, Outcome::claimed);
  ASSERT_EQ(claims->claim("app1", "k1", "msg_2_bb", told.waiter())->outcome, Outcome::waiting);
  claims->release("app1", "k1", std::nullopt);
  ASSERT_EQ(told.answers.size(), 1u);
  ASSERT_FALSE(told.answers[0].ok());
  EXPECT_EQ(told.answers[0].error().code, Errc::kConflict);
  EXPECT_EQ(claims->claim("app1", "k1", "msg_4_dd", told.waiter())->outcome, Outcome::claimed);
}

TEST_F(ClaimsFixture, AStoredMessageAnswersForItsKeyWithItsState) {
  Told told;
  store_message(7, "msg_7_ab", "app1", "k-stored", store::MessageState::acked);
  auto dup = claims->claim("app1", "k-stored", "msg_8_cd", told.waiter());
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, Outcome::earlier);
  EXPECT_EQ(dup->earlier.id, "msg_7_ab");
  EXPECT_EQ(dup->earlier.state, "acked");
  auto other_app = claims->claim("app2", "k-stored", "msg_9_ef", told.waiter());
  ASSERT_TRUE(other_app.ok());
  EXPECT_EQ(other_app->outcome, Outcome::claimed);
  EXPECT_TRUE(told.answers.empty());
}

TEST_F(ClaimsFixture, ConcurrentClaimsOfOneKeyHaveOneWinnerAndTheOthersGetItsMessage) {
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::mutex mu;
  std::vector<std::string> winner_id, told_ids;
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      const std::string id = "msg_" + std::to_string(i + 1) + "_xx";
      auto r = claims->claim("app1", "race", id, [&](Result<EarlierMessage> e) {
        std::lock_guard lock(mu);
        told_ids.push_back(e.ok() ? e->id : "error");
      });
      ASSERT_TRUE(r.ok());
      if (r->outcome == Outcome::claimed) {
        ++winners;
        std::lock_guard lock(mu);
        winner_id.push_back(id);
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(winners.load(), 1);
  claims->release("app1", "race", EarlierMessage{winner_id[0], "pending"});
  EXPECT_EQ(told_ids, std::vector<std::string>(kThreads - 1, winner_id[0]));
}

TEST_F(ClaimsFixture, ClearForgetsClaimsInFlightAndTellsTheirWaiters) {
  Told told;
  ASSERT_EQ(claims->claim("app1", "k", "msg_1_aa", told.waiter())->outcome, Outcome::claimed);
  ASSERT_EQ(claims->claim("app1", "k", "msg_2_bb", told.waiter())->outcome, Outcome::waiting);
  claims->clear();
  ASSERT_EQ(told.answers.size(), 1u);
  EXPECT_EQ(told.answers[0].error().code, Errc::kSealed);
  EXPECT_EQ(claims->claim("app1", "k", "msg_3_cc", told.waiter())->outcome, Outcome::claimed);
}

}  // namespace
}  // namespace herald::messages
