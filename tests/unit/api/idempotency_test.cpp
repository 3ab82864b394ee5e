// Idempotency keys: one run per key, concurrent duplicates wait for the first answer,
// unrelated keys do not wait for each other, and retryable failures are not remembered.
#include "api/idempotency.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace herald::api {
namespace {

using namespace std::chrono_literals;

Response answer(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(Idempotency, ASecondRequestWithTheKeyGetsTheFirstAnswer) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  int runs = 0;
  bool replayed = true;
  auto r = cache.run(
      "app", "k", 0, [&] { return answer(200, "first" + std::to_string(++runs)); }, replayed);
  EXPECT_FALSE(replayed);
  EXPECT_EQ(r.body, "first1");
  r = cache.run(
      "app", "k", 1000, [&] { return answer(200, "again" + std::to_string(++runs)); }, replayed);
  EXPECT_TRUE(replayed);
  EXPECT_EQ(r.body, "first1");
  EXPECT_EQ(runs, 1);
  // Scopes (apps) do not share keys, and a key is forgotten after its ttl.
  cache.run(
      "other", "k", 1000, [&] { return answer(200, std::to_string(++runs)); }, replayed);
  EXPECT_FALSE(replayed);
  cache.run(
      "app", "k", 60'001, [&] { return answer(200, std::to_string(++runs)); }, replayed);
  EXPECT_FALSE(replayed);
  EXPECT_EQ(runs, 3);
}

TEST(Idempotency, ConcurrentDuplicatesRunThePublishOnce) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  std::atomic<int> runs{0};
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  auto first = std::async(std::launch::async, [&] {
    bool replayed = false;
    auto r = cache.run(
        "app", "k", 0,
        [&] {
          ++runs;
          entered.set_value();
          released.wait();  // the publish is slow
          return answer(202, "published");
        },
        replayed);
    return std::make_pair(r, replayed);
  });
  entered.get_future().wait();
  auto second = std::async(std::launch::async, [&] {
    bool replayed = false;
    auto r = cache.run(
        "app", "k", 0,
        [&] {
          ++runs;
          return answer(202, "published twice");
        },
        replayed);
    return std::make_pair(r, replayed);
  });
  EXPECT_EQ(second.wait_for(100ms), std::future_status::timeout);  // waits on the claim
  release.set_value();
  auto [r1, replayed1] = first.get();
  auto [r2, replayed2] = second.get();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_FALSE(replayed1);
  EXPECT_TRUE(replayed2);
  EXPECT_EQ(r2.status, 202);
  EXPECT_EQ(r2.body, "published");
}

TEST(Idempotency, AnotherKeyDoesNotWaitForARunningPublish) {
  // Many keys, so that some share the running key's stripe.
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  auto slow = std::async(std::launch::async, [&] {
    bool replayed = false;
    return cache.run(
        "app", "slow", 0,
        [&] {
          entered.set_value();
          released.wait();
          return answer(200, "slow");
        },
        replayed);
  });
  entered.get_future().wait();
  auto others = std::async(std::launch::async, [&] {
    int done = 0;
    for (int i = 0; i < 64; ++i) {
      bool replayed = false;
      cache.run(
          "app", "k" + std::to_string(i), 0, [] { return answer(200, "ok"); }, replayed);
      ++done;
    }
    return done;
  });
  ASSERT_EQ(others.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(others.get(), 64);
  release.set_value();
  EXPECT_EQ(slow.get().body, "slow");
}

TEST(Idempotency, ARetryableFailureIsNotRememberedAndAWaiterRunsInstead) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  std::atomic<int> runs{0};
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  auto first = std::async(std::launch::async, [&] {
    bool replayed = false;
    return cache.run(
        "app", "k", 0,
        [&] {
          ++runs;
          entered.set_value();
          released.wait();
          return answer(503, "unavailable");
        },
        replayed);
  });
  entered.get_future().wait();
  auto second = std::async(std::launch::async, [&] {
    bool replayed = true;
    auto r = cache.run(
        "app", "k", 0,
        [&] {
          ++runs;
          return answer(200, "ok");
        },
        replayed);
    return std::make_pair(r, replayed);
  });
  release.set_value();
  EXPECT_EQ(first.get().status, 503);
  auto [r2, replayed2] = second.get();
  EXPECT_EQ(runs.load(), 2);
  EXPECT_FALSE(replayed2);
  EXPECT_EQ(r2.body, "ok");
}

TEST(Idempotency, AThrowingPublishReleasesTheClaim) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  bool replayed = false;
  EXPECT_THROW(cache.run(
                   "app", "k", 0, []() -> Response { throw std::runtime_error("bug"); }, replayed),
               std::runtime_error);
  auto r = cache.run(
      "app", "k", 0, [] { return answer(200, "ok"); }, replayed);
  EXPECT_FALSE(replayed);
  EXPECT_EQ(r.body, "ok");
}

TEST(Idempotency, TheStoreIsChosenByConfig) {
  Config cfg;
  EXPECT_TRUE(make_idempotency_store(cfg).ok());
  cfg.api.idempotency_store = "redis";
  auto r = make_idempotency_store(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidConfig);
}

// S17: one app's flood of keys evicts only its own answers, never another app's.
TEST(Idempotency, OneAppsFloodOfKeysNeverEvictsAnotherAppsAnswer) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000, 100));
  bool replayed = false;
  auto victim = [&](int now) {
    return cache.run(
        "victim", "order-1", now, [] { return answer(200, "charged once"); }, replayed);
  };
  victim(0);
  for (int i = 0; i < 5000; ++i)
    cache.run(
        "flooder", "k" + std::to_string(i), 1, [] { return answer(200, "x"); }, replayed);
  auto r = victim(2);
  EXPECT_TRUE(replayed);
  EXPECT_EQ(r.body, "charged once");
  // The flooder kept its own quota: its newest answers, not its oldest.
  cache.run(
      "flooder", "k4999", 3, [] { return answer(200, "ran again"); }, replayed);
  EXPECT_TRUE(replayed);
  cache.run(
      "flooder", "k0", 3, [] { return answer(200, "ran again"); }, replayed);
  EXPECT_FALSE(replayed);
}

// When the whole table is full, the app holding the most gives up its oldest answer.
TEST(Idempotency, AFullTableEvictsFromTheLargestApp) {
  IdempotencyCache cache(make_memory_idempotency_store(100, 60'000, 100));
  bool replayed = false;
  for (int i = 0; i < 10; ++i)
    cache.run(
        "small", "s" + std::to_string(i), 0, [] { return answer(200, "s"); }, replayed);
  for (int i = 0; i < 500; ++i)
    cache.run(
        "large", "l" + std::to_string(i), 1, [] { return answer(200, "l"); }, replayed);
  for (int i = 0; i < 10; ++i) {
    cache.run(
        "small", "s" + std::to_string(i), 2, [] { return answer(200, "again"); }, replayed);
    EXPECT_TRUE(replayed) << i;
  }
}

// S17: the stored answer is bound to its request: the same key with another body (or
// route) is a conflict, not the first answer.
TEST(Idempotency, TheSameKeyWithAnotherBodyIsAConflict) {
  IdempotencyCache cache(make_memory_idempotency_store(1000, 60'000));
  bool replayed = false;
  int runs = 0;
  auto work = [&] { return answer(200, "run " + std::to_string(++runs)); };
  auto fp_a = idempotency_fingerprint("POST", "/api/v1/publish", R"({"data":1,"idempotency_key":"k"})");
  auto fp_b = idempotency_fingerprint("POST", "/api/v1/publish", R"({"data":2,"idempotency_key":"k"})");
  auto fp_c = idempotency_fingerprint("POST", "/api/v1/broadcast", R"({"data":1,"idempotency_key":"k"})");
  EXPECT_NE(fp_a, fp_b);
  EXPECT_NE(fp_a, fp_c);
  auto first = cache.run("app", "k", fp_a, 0, work, replayed);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(replayed);
  for (const auto& fp : {fp_b, fp_c}) {
    auto other = cache.run("app", "k", fp, 1, work, replayed);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code, Errc::kIdempotencyConflict);
  }
  auto same = cache.run("app", "k", fp_a, 2, work, replayed);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(replayed);
  EXPECT_EQ(same->body, "run 1");
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(cache.run("other-app", "k", fp_b, 3, work, replayed).ok());  // keys are per app
}

}  // namespace
}  // namespace herald::api
