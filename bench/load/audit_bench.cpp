// Audit log throughput: durable appends per second through the store's group commit,
// and `herald audit verify`'s speed over the log that makes. Machine-readable lines.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "audit/log.h"
#include "audit/verifier.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

using namespace herald;
using SteadyClock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string dir = "/tmp/herald-bench-audit";
  std::uint64_t entries = 200'000;
  CLI::App app{"Audit log append and verify throughput"};
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  app.add_option("--entries", entries, "Entries to append");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::remove_all(dir);
  auto db = store::open_store("sqlite", store::StoreOptions{dir, 4096, nullptr}).value();
  crypto::init_secure_memory(1 << 20);
  kms::KeyService keys(*db, nullptr);
  if (!kms::dev_unseal(keys, *db, dir, true)) return 1;
  {
    audit::Log log(*db, keys, audit::LogOptions{10'000, 3'600'000}, nullptr);
    if (!log.open() || !log.prepare_signing()) return 1;
    auto t0 = SteadyClock::now();
    for (std::uint64_t i = 0; i < entries; ++i) {
      log.record(audit::Event{"api", "POST /api/v1/publish", "ok", 200, "app:app_0123456789abcdef",
                              "0f3a9c2b71e4-" + std::to_string(i), "10.0.0.7", {}, {}});
      if (i % 10'000 == 9'999) (void)log.checkpoint_if_due(false);
    }
    while (log.durable_size() < entries) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    (void)log.checkpoint_if_due(true);
    std::printf("audit.entries %llu\naudit.durable_appends_per_sec %.0f\n", static_cast<unsigned long long>(entries),
                entries / secs);
  }
  auto t0 = SteadyClock::now();
  auto r = audit::verify_log(*db, audit::VerifyOptions{});
  double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (!r || !r->ok) {
    std::fprintf(stderr, "verify failed\n");
    return 1;
  }
  std::printf("audit.verify_entries_per_sec %.0f\naudit.verify_checkpoints %llu\n", r->entries / secs,
              static_cast<unsigned long long>(r->checkpoints));
  db->close();
  std::filesystem::remove_all(dir);
  return 0;
}
