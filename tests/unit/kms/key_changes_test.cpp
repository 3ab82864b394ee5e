// Keyring changes under attack and failure: racing rotate/config (S6), key writes the
// store loses (S7), flags a stolen AppSecret must not flip and delayed deletion (S21),
// per-app quotas and secure-heap fallbacks (S17).
#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "../store/failing_store.h"
#include "core/metrics.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::kms {
namespace {

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

struct KeyChanges : ::testing::Test {
  KeyChanges() {
    std::string t = ::testing::TempDir() + "/kmsc-XXXXXX";
    dir = mkdtemp(t.data());
    opts.clock = clock.as_clock();
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    shares = KeyService::initialize(*db, 1, 1).value();
    start();
  }
  ~KeyChanges() override {
    keys.reset();
    if (db) db->close();
    std::filesystem::remove_all(dir);
  }
  void start() {
    keys = std::make_unique<KeyService>(*db, nullptr, opts);
    ASSERT_TRUE(keys->load().ok());
    ASSERT_TRUE(keys->unseal(shares[0]).ok());
  }
  // A server restart: the store reopened from disk, a new key service, unsealed again.
  void restart() {
    keys.reset();
    db->close();
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    start();
  }
  Result<KeyInfo> create(const std::string& app, const std::string& name) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { keys->create_key(app, name, {}, std::move(d)); });
  }
  Result<KeyInfo> rotate(const std::string& app, const std::string& name) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { keys->rotate_key(app, name, std::move(d)); });
  }
  Result<KeyInfo> configure(const std::string& name, KeyConfig cfg, Actor actor) {
    return wait<KeyInfo>([&](Done<KeyInfo> d) { keys->configure_key("app1", name, cfg, actor, std::move(d)); });
  }
  std::size_t purge() {
    std::promise<std::size_t> p;
    keys->purge_deleted_keys([&p](std::size_t n) { p.set_value(n); });
    return p.get_future().get();
  }

  ManualClock clock;
  KeyServiceOptions opts;
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::vector<Share> shares;
  std::unique_ptr<KeyService> keys;
};

// S6: rotates and min_decryption_version changes race on one key from many threads. Every
// acknowledged change must be what a restart reads: latest_version never regresses and a
// raised minimum never silently reverts.
TEST_F(KeyChanges, RacingRotatesAndConfigsLeaveTheLastAcknowledgedStateOnDisk) {
  opts.max_versions_per_key = 1000;
  opts.max_versions_per_app = 1000;
  restart();
  ASSERT_TRUE(create("app1", "orders").ok());
  // Recorded in the completion callbacks, which run in the order the store made the
  // changes durable: the last one recorded is the last one acknowledged.
  std::mutex mu;
  std::uint32_t acked_latest = 1, acked_min = 1;
  std::atomic<int> rotate_ok{0}, errors{0};
  auto record = [&](Result<KeyInfo>& r, bool rotated) {
    if (!r) {
      ++errors;
      return;
    }
    std::lock_guard lock(mu);
    if (rotated) ++rotate_ok;
    acked_latest = r->latest_version;
    acked_min = r->min_decryption_version;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        if ((i + t) % 2 == 0) {
          (void)wait<KeyInfo>([&](Done<KeyInfo> d) {
            keys->rotate_key("app1", "orders", [&, d](Result<KeyInfo> r) {
              record(r, true);
              d(std::move(r));
            });
          });
        } else {
          // Raise the minimum to the newest version seen (retiring the older ones).
          KeyConfig cfg;
          cfg.min_decryption_version = keys->key_info("app1", "orders")->latest_version;
          (void)wait<KeyInfo>([&](Done<KeyInfo> d) {
            keys->configure_key("app1", "orders", cfg, Actor::App, [&, d](Result<KeyInfo> r) {
              record(r, false);
              d(std::move(r));
            });
          });
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);  // serialised per key: no change is refused as a conflict
  EXPECT_EQ(acked_latest, 1u + static_cast<std::uint32_t>(rotate_ok.load()));
  EXPECT_GT(acked_min, 1u);

  restart();
  auto after = keys->key_info("app1", "orders");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->latest_version, acked_latest);
  EXPECT_EQ(after->min_decryption_version, acked_min);
  EXPECT_EQ(after->versions.size(), acked_latest);
}

// S6, at the store: a rotation from a stale read cannot move latest_version backwards, and
// a settings change writes only its own fields.
TEST_F(KeyChanges, StaleWritesCannotRegressTheVersionOrUndoOtherFields) {
  ASSERT_TRUE(create("app1", "k").ok());
  ASSERT_TRUE(rotate("app1", "k").ok());  // latest 2
  auto& kms = db->kms();
  store::KmsVersionRecord stale{"app1", "k", 2, "wrapped", 1};  // built when latest was 1
  auto st = store::wait_for([&](store::Completion d) { kms.add_kms_version(stale, std::move(d)); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kConflict);
  KeyConfig cfg;
  cfg.min_decryption_version = 2;
  ASSERT_TRUE(configure("k", cfg, Actor::App).ok());
  // An exportable change written after does not carry (or revert) the minimum.
  st = store::wait_for([&](store::Completion d) {
    kms.update_kms_key(store::KmsKeyChange{"app1", "k", std::nullopt, true, std::nullopt, std::nullopt}, std::move(d));
  });
  ASSERT_TRUE(st.ok());
  restart();
  auto k = keys->key_info("app1", "k");
  EXPECT_EQ(k->latest_version, 2u);
  EXPECT_EQ(k->min_decryption_version, 2u);
  EXPECT_TRUE(k->exportable);
}

// S7: the store loses the write of a new app's keys. The caller hears the error, nothing is
// sealed under the lost key, and after a restart the app has no half-made keys in use.
TEST_F(KeyChanges, AppKeysTheStoreFailsToWriteAreNeverUsed) {
  store::testing::FailingKmsStore failing(*db);
  failing.fail_key_inserts = true;
  keys = std::make_unique<KeyService>(failing, nullptr, opts);
  ASSERT_TRUE(keys->load().ok());
  ASSERT_TRUE(keys->unseal(shares[0]).ok());
  auto st = keys->ensure_app_keys("app9");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kStoreUnavailable);
  auto sealed = keys->seal("app9", "secret", "apps/client_secret");
  ASSERT_FALSE(sealed.ok());  // not sealed under a key that is not on disk
  EXPECT_EQ(sealed.error().code, Errc::kStoreUnavailable);
  EXPECT_FALSE(keys->mac("app9", "apps/record", "x").ok());
  // Once the store works again, the keys are made and used.
  failing.fail_key_inserts = false;
  ASSERT_TRUE(keys->ensure_app_keys("app9").ok());
  auto ok = keys->seal("app9", "secret", "apps/client_secret");
  ASSERT_TRUE(ok.ok());
  keys.reset();
  restart();
  EXPECT_EQ(keys->open("app9", *ok, "apps/client_secret")->view(), "secret");
}

// S21: the app's own credential (Actor::App, the `kms` scope) cannot make a key exportable
// or deletable; the admin can.
TEST_F(KeyChanges, AnAppCannotFlipExportableOrDeletionAllowed) {
  ASSERT_TRUE(create("app1", "k").ok());
  for (int which = 0; which < 2; ++which) {
    KeyConfig cfg;
    (which == 0 ? cfg.exportable : cfg.deletion_allowed) = true;
    auto r = configure("k", cfg, Actor::App);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kAdminRequired);
  }
  EXPECT_EQ(keys->export_key("app1", "k").error().code, Errc::kKeyNotExportable);
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->delete_key("app1", "k", std::move(d)); }).error().code,
            Errc::kDeletionNotAllowed);
  restart();
  EXPECT_FALSE(keys->key_info("app1", "k")->exportable);
  EXPECT_FALSE(keys->key_info("app1", "k")->deletion_allowed);
  KeyConfig cfg;
  cfg.exportable = true;
  cfg.deletion_allowed = true;
  ASSERT_TRUE(configure("k", cfg, Actor::Admin).ok());
  EXPECT_TRUE(keys->export_key("app1", "k").ok());
}

// S21: a delete is a tombstone for the delay: the key refuses use, the admin may cancel, and
// only once the delay has passed is it gone (from memory and disk).
TEST_F(KeyChanges, ADeleteIsATombstoneUntilTheDelayPasses) {
  opts.deletion_delay_ms = 7LL * 86'400'000;
  restart();
  ASSERT_TRUE(create("app1", "k").ok());
  auto ct = keys->encrypt("app1", "k", "data", "");
  ASSERT_TRUE(ct.ok());
  KeyConfig allow;
  allow.deletion_allowed = true;
  ASSERT_TRUE(configure("k", allow, Actor::Admin).ok());
  auto del = [&] { return wait<KeyInfo>([&](Done<KeyInfo> d) { keys->delete_key("app1", "k", std::move(d)); }); };
  auto d1 = del();
  ASSERT_TRUE(d1.ok()) << d1.error().message;
  EXPECT_EQ(d1->delete_after_ms, clock.now() + opts.deletion_delay_ms);
  EXPECT_EQ(keys->encrypt("app1", "k", "data", "").error().code, Errc::kKeyPendingDeletion);
  EXPECT_EQ(keys->decrypt("app1", "k", *ct, "").error().code, Errc::kKeyPendingDeletion);
  EXPECT_EQ(rotate("app1", "k").error().code, Errc::kKeyPendingDeletion);
  EXPECT_EQ(create("app1", "k").error().code, Errc::kKeyExists);  // the name is not free meanwhile
  // The tombstone survives a restart, and the admin can cancel it.
  restart();
  EXPECT_EQ(keys->decrypt("app1", "k", *ct, "").error().code, Errc::kKeyPendingDeletion);
  auto cancelled = wait<KeyInfo>([&](Done<KeyInfo> d) { keys->cancel_deletion("app1", "k", std::move(d)); });
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->delete_after_ms, 0);
  EXPECT_EQ(keys->decrypt("app1", "k", *ct, "")->view(), "data");
  // Deleted again: nothing happens before the delay is over.
  ASSERT_TRUE(del().ok());
  clock.advance(opts.deletion_delay_ms - 1000);
  EXPECT_EQ(purge(), 0u);
  EXPECT_EQ(keys->key_info("app1", "k")->delete_after_ms, d1->delete_after_ms);  // the clock had not moved
  clock.advance(1000);
  EXPECT_EQ(purge(), 1u);
  EXPECT_EQ(keys->key_info("app1", "k").error().code, Errc::kKeyNotFound);
  restart();
  EXPECT_EQ(keys->key_info("app1", "k").error().code, Errc::kKeyNotFound);
  EXPECT_EQ(wait<KeyInfo>([&](Done<KeyInfo> d) { keys->cancel_deletion("app1", "k", std::move(d)); }).error().code,
            Errc::kKeyNotFound);
}

// S17: one app's keys and versions are bounded; another app is not affected.
TEST_F(KeyChanges, PerAppQuotasOnKeysAndVersions) {
  opts.max_keys_per_app = 3;
  opts.max_versions_per_key = 3;
  opts.max_versions_per_app = 5;
  restart();
  // Its "default" key counts (the app uses it); the reserved at-rest keys do not.
  ASSERT_TRUE(keys->ensure_app_keys("app1").ok());
  for (const char* n : {"a", "b"}) {
    auto made = create("app1", n);
    ASSERT_TRUE(made.ok()) << n << ": " << made.error().message;
  }
  EXPECT_EQ(create("app1", "c").error().code, Errc::kKmsQuotaExceeded);
  ASSERT_TRUE(rotate("app1", "a").ok());
  ASSERT_TRUE(rotate("app1", "a").ok());                                 // a has 3 versions
  EXPECT_EQ(rotate("app1", "a").error().code, Errc::kKmsQuotaExceeded);  // per key
  EXPECT_EQ(rotate("app1", "b").error().code, Errc::kKmsQuotaExceeded);  // per app: 5 in all
  EXPECT_TRUE(create("app2", "a").ok());
  EXPECT_TRUE(rotate("app2", "a").ok());
  // Concurrent creates cannot overshoot the quota between check and write.
  opts.max_keys_per_app = 10;
  opts.max_versions_per_app = 10;
  restart();
  std::vector<std::future<Result<KeyInfo>>> racing;
  for (int i = 0; i < 12; ++i)
    racing.push_back(std::async(std::launch::async, [this, i] { return create("app3", "k" + std::to_string(i)); }));
  int made = 0;
  for (auto& f : racing) made += f.get().ok() ? 1 : 0;
  EXPECT_EQ(made, 10);
  EXPECT_EQ(keys->list_keys("app3").size(), 10u);
}

// S17: once the secure heap is full, secrets still work but every fallback to the
// ordinary heap is counted in herald_secure_heap_fallbacks_total.
TEST(SecureHeap, FallbacksToTheOrdinaryHeapAreCounted) {
  ASSERT_EQ(CRYPTO_secure_malloc_initialized(), 0) << "each test runs in its own process";
  ASSERT_NE(CRYPTO_secure_malloc_init(4096, 32), 0);
  metrics::Registry registry;
  auto& counter = registry.counter("herald_secure_heap_fallbacks_total", "test").with({});
  crypto::count_secure_heap_fallbacks(&counter);
  std::uint64_t before = crypto::secure_heap_fallbacks();
  {
    std::vector<crypto::SecretBytes> held;
    for (int i = 0; i < 200; ++i) held.push_back(crypto::random_secret(32));  // 6.4 KiB > 4 KiB
    EXPECT_EQ(held.back().size(), 32u);
    EXPECT_GT(crypto::secure_heap_fallbacks(), before);
    EXPECT_EQ(counter.value(), crypto::secure_heap_fallbacks() - before);
  }
  crypto::stop_counting_secure_heap_fallbacks(&counter);
  std::uint64_t counted = counter.value();
  { crypto::SecretBytes more(std::size_t{8192}); }  // larger than the heap: falls back, no longer counted here
  EXPECT_EQ(counter.value(), counted);
  CRYPTO_secure_malloc_done();
}

}  // namespace
}  // namespace herald::kms
