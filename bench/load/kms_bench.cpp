// Key service throughput in process: encrypt and decrypt of 1 KiB items through
// KeyService (named keys, AAD, the ciphertext text format), and what encryption at
// rest costs durable writes: the store's group-committed writes of 1 KiB values, plain
// against sealed under an app's at-rest key. One machine-readable line per figure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>

#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/sqlite/sqlite_store.h"

using namespace herald;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Durable writes/s of `total` values, `inflight` at a time; each value passes `prepare`.
double durable_writes(store::SqliteStore& s, int total, int inflight, const std::function<std::string(int)>& prepare) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, done = 0;
  auto t0 = SteadyClock::now();
  for (int i = 0; i < total; ++i) {
    std::string value = prepare(i);
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < inflight; });
      ++in_flight;
    }
    s.put_meta("bench-" + std::to_string(i), std::move(value), [&](Status) {
      std::lock_guard lock(mu);
      --in_flight;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done == total; });
  return total / std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/herald-bench-kms";
  int items = 200000, writes = 50000, inflight = 2048, size = 1024, runs = 5;
  CLI::App app{"Key service throughput and the cost of encryption at rest on durable writes"};
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  app.add_option("--items", items, "Items to encrypt and decrypt in process");
  app.add_option("--writes", writes, "Durable writes per run (plain, then sealed)");
  app.add_option("--inflight", inflight, "Writes in flight at once");
  app.add_option("--size", size, "Item and value size in bytes");
  app.add_option("--runs", runs, "Plain and sealed durable runs, alternating (medians compared)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  auto opened = store::SqliteStore::open(store::StoreOptions{dir, 4096, nullptr});
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& db = **opened;
  crypto::init_secure_memory(1 << 20);
  kms::KeyService keys(db, nullptr);
  if (auto st = kms::dev_unseal(keys, db, dir, true); !st) {
    std::fprintf(stderr, "unseal: %s\n", st.error().message.c_str());
    return 1;
  }
  if (auto st = keys.ensure_app_keys("bench-app"); !st) return 1;
  std::string item(static_cast<std::size_t>(size), 'x');

  // In process: encrypt, then decrypt, `items` items of `size` bytes.
  std::vector<std::string> cts;
  cts.reserve(static_cast<std::size_t>(items));
  auto t0 = SteadyClock::now();
  for (int i = 0; i < items; ++i) cts.push_back(*keys.encrypt("bench-app", "default", item, "ctx"));
  double enc = items / std::chrono::duration<double>(SteadyClock::now() - t0).count();
  t0 = SteadyClock::now();
  std::size_t ok = 0;
  for (const auto& c : cts) ok += keys.decrypt("bench-app", "default", c, "ctx").ok();
  double dec = items / std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (ok != cts.size()) {
    std::fprintf(stderr, "decrypt failed\n");
    return 1;
  }
  std::printf("kms.item_bytes %d\nkms.encrypt_per_sec %.0f\nkms.decrypt_per_sec %.0f\n", size, enc, dec);
  std::printf("kms.encrypt_mb_per_sec %.1f\nkms.decrypt_mb_per_sec %.1f\n", enc * size / 1e6, dec * size / 1e6);

  // Durable writes, plain and sealed alternately `runs` times: fsync times wander, so
  // the medians are compared.
  std::vector<double> plains, seals;
  for (int r = 0; r < runs; ++r) {
    plains.push_back(durable_writes(db, writes, inflight, [&](int) { return item; }));
    seals.push_back(durable_writes(db, writes, inflight, [&](int i) {
      return *keys.seal("bench-app", item, "bench/row-" + std::to_string(i));
    }));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double plain = median(plains), sealed = median(seals);
  std::printf("kms.durable_plain_writes_per_sec %.0f\nkms.durable_sealed_writes_per_sec %.0f\n", plain, sealed);
  std::printf("kms.at_rest_cost_pct %.1f\n", 100.0 * (plain - sealed) / plain);
  std::printf("{\"bench\":\"kms\",\"item_bytes\":%d,\"encrypt_per_sec\":%.0f,\"decrypt_per_sec\":%.0f,"
              "\"durable_plain\":%.0f,\"durable_sealed\":%.0f}\n",
              size, enc, dec, plain, sealed);
  db.close();
  std::filesystem::remove_all(dir);
  return 0;
}
