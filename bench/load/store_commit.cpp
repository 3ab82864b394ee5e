// Durable write throughput of the SQLite store: N writers keep W writes in flight
// each; every write is acknowledged only after its group commit is fsync'd.
// Prints one machine-readable line per figure.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"

using namespace herald;

int main(int argc, char** argv) {
  std::string dir = "/tmp/herald-bench-store";
  int total = 200000, inflight = 2048;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--writes")) total = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--inflight")) inflight = std::stoi(argv[i + 1]);
  }
  std::filesystem::remove_all(dir);
  auto opened = store::SqliteStore::open(store::StoreOptions{dir, 4096, nullptr});
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& s = **opened;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, done = 0, failed = 0;
  std::string value(200, 'x');  // a message-sized row
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < total; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < inflight; });
      ++in_flight;
    }
    s.put_meta("m" + std::to_string(i), value, [&](Status st) {
      std::lock_guard lock(mu);
      --in_flight;
      ++done;
      if (!st.ok()) ++failed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == total; });
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto st = s.stats();
  std::printf("store_durable_writes_per_sec %.0f\n", total / secs);
  std::printf("store_commits %llu\n", static_cast<unsigned long long>(st.commits));
  std::printf("store_mean_batch %.1f\n", static_cast<double>(st.writes) / static_cast<double>(st.commits));
  std::printf("store_failed_writes %d\n", failed);
  std::printf("{\"bench\":\"store_commit\",\"writes\":%d,\"inflight\":%d,\"seconds\":%.3f,\"writes_per_sec\":%.0f,"
              "\"commits\":%llu}\n",
              total, inflight, secs, total / secs, static_cast<unsigned long long>(st.commits));
  s.close();
  std::filesystem::remove_all(dir);
  return failed ? 1 : 0;
}
