// Durable publish throughput of messages to users: MessageService::publish on the real
// store (group commit, fsync) and key service, every message sealed under its app's
// key, with a bounded number of publishes in flight (as many concurrent HTTP requests
// would keep). A publish counts once its completion says it is durable.
// Machine-readable lines.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "crypto/secret.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "messages/message_service.h"
#include "store/store.h"

using namespace herald;
using SteadyClock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string dir = "/tmp/herald-bench-messages";
  unsigned threads_n = 2;
  unsigned inflight = 4096;
  unsigned users = 10'000;
  double seconds = 10;
  bool idempotency = false;
  std::size_t payload = 200;
  std::string postgres_url;
  CLI::App app{"Durable publish throughput of messages to users (sealed, group commit)"};
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  app.add_option("--threads", threads_n, "Publishing threads");
  app.add_option("--inflight", inflight, "Publishes in flight at once (all threads together)");
  app.add_option("--users", users, "Distinct recipients");
  app.add_option("--seconds", seconds, "How long to run");
  app.add_option("--payload", payload, "Bytes of the data string per message");
  app.add_flag("--idempotency", idempotency, "Give every message an idempotency key");
  app.add_option("--postgres-url", postgres_url,
                 "Use the postgres driver on this database (an empty one: its keys are wrapped under the "
                 "dev root key of --dir, which is made afresh); default: sqlite in --dir")
      ->envname("HERALD_BENCH_POSTGRES_URL");
  CLI11_PARSE(app, argc, argv);
  log::init("warn", "json");
  std::filesystem::remove_all(dir);
  store::StoreOptions opts{dir, 4096, nullptr};
  opts.postgres.url = postgres_url;
  auto opened = store::open_store(postgres_url.empty() ? "sqlite" : "postgres", opts);
  if (!opened) {
    std::fprintf(stderr, "bench_messages: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto db = std::move(*opened);
  crypto::init_secure_memory(1 << 20);
  kms::KeyService keys(*db, nullptr);
  auto unsealed = kms::dev_unseal(keys, *db, dir, true);
  auto app_keys = unsealed ? keys.ensure_app_keys("app_bench") : unsealed;
  if (!app_keys) {
    std::fprintf(stderr, "bench_messages: %s\n", app_keys.error().message.c_str());
    return 1;
  }
  MessagesConfig cfg;
  messages::MessageService service(cfg, *db, keys, nullptr, {}, nullptr);
  if (auto loaded = service.load(); !loaded) {
    std::fprintf(stderr, "bench_messages: %s\n", loaded.error().message.c_str());
    return 1;
  }

  std::mutex mu;
  std::condition_variable cv;
  unsigned outstanding = 0;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done_n{0}, failures{0};
  std::mutex lat_mu;
  std::vector<double> latencies;
  const std::string data(payload, 'x');
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < threads_n; ++t)
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return outstanding < inflight || stop.load(); });
          if (stop) break;
          ++outstanding;
        }
        // The request as api::parse_publish hands it over (parsing a body this small is
        // negligible next to sealing and the durable write).
        messages::PublishRequest req;
        req.to_user = "user-" + std::to_string((i * threads_n + t) % users);
        req.data = boost::json::object{{"text", data}, {"n", i}};
        if (idempotency) req.idempotency_key = "k-" + std::to_string(t) + "-" + std::to_string(i);
        auto start = SteadyClock::now();
        service.publish("app_bench", std::move(req), [&, start](Result<messages::Published> o) {
          if (o.ok()) {
            done_n.fetch_add(1, std::memory_order_relaxed);
            double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
            std::lock_guard lock(lat_mu);
            if (latencies.size() < 4'000'000) latencies.push_back(ms);
          } else {
            failures.fetch_add(1, std::memory_order_relaxed);
          }
          std::lock_guard lock(mu);
          --outstanding;
          cv.notify_one();
        });
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  cv.notify_all();
  for (auto& th : threads) th.join();
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return outstanding == 0; });
  }
  double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty()
               ? 0.0
               : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  auto st = db->stats();
  std::printf(
      "messages.threads %u\nmessages.inflight %u\nmessages.idempotency %d\nmessages.published %llu\n"
      "messages.failures %llu\nmessages.durable_publishes_per_sec %.0f\nmessages.latency_p50_ms %.2f\n"
      "messages.latency_p99_ms %.2f\nmessages.store_commits %llu\nmessages.store_max_batch %llu\n",
      threads_n, inflight, idempotency ? 1 : 0, static_cast<unsigned long long>(done_n.load()),
      static_cast<unsigned long long>(failures.load()), done_n.load() / secs, pct(0.5), pct(0.99),
      static_cast<unsigned long long>(st.commits), static_cast<unsigned long long>(st.max_batch));
  service.stop();
  db->close();
  std::filesystem::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}
