// Durable publish throughput of messages to users: MessageService::publish on the real
// store (group commit, fsync) and key service, every message sealed under its app's
// key, on sqlite and on postgres in the same run. Per driver, two phases: saturating (a
// bounded number of publishes in flight, as many concurrent HTTP requests would keep)
// and open loop (publishes started at a fixed rate whatever the store does; latency is
// counted from when each was due, so a stalled store shows). A publish counts once its
// completion says it is durable. Machine-readable lines; --json writes them as JSON too.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_store.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/secret.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "messages/message_service.h"
#include "store/store.h"

using namespace herald;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string dir = "/tmp/herald-bench-messages";
  unsigned threads = 2;
  unsigned inflight = 4096;
  unsigned users = 10'000;
  double seconds = 10;
  double rate = 0;
  bool idempotency = false;
  std::size_t payload = 200;
};

using Figures = herald::bench::PhaseFigures;

// The service keeps a reference to its configuration.
// The pending caps are raised: a 10 s run on a fast machine holds more than an app's
// default million unacknowledged messages, and the bench measures writes, not the caps.
const MessagesConfig kMessagesConfig = [] {
  MessagesConfig c;
  c.max_pending = 100'000'000;
  c.max_pending_per_app = 100'000'000;
  return c;
}();

// One driver's store, key service and message service, on a fresh database.
struct Target {
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<messages::MessageService> service;
};

Result<Target> open_target(const std::string& driver, const std::string& dir, const std::string& url) {
  std::filesystem::remove_all(dir);
  store::StoreOptions opts{dir, 4096, nullptr};
  opts.postgres.url = url;
  auto opened = store::open_store(driver, opts);
  if (!opened) return opened.error();
  Target t;
  t.db = std::move(*opened);
  t.keys = std::make_unique<kms::KeyService>(*t.db, nullptr);
  auto unsealed = kms::dev_unseal(*t.keys, *t.db, dir, true);
  auto app_keys = unsealed ? t.keys->ensure_app_keys("app_bench") : unsealed;
  if (!app_keys) return app_keys.error();
  t.service = std::make_unique<messages::MessageService>(kMessagesConfig, *t.db, *t.keys, nullptr,
                                                         messages::WebhookPoster{}, nullptr);
  if (auto loaded = t.service->load(); !loaded) return loaded.error();
  return t;
}

// Counts publishes and their latencies; `in_flight` is what the saturating phase bounds.
struct Tally {
  std::mutex mu;
  std::condition_variable cv;
  unsigned in_flight = 0;
  std::atomic<std::uint64_t> done{0}, failures{0};
  herald::bench::Latencies latencies;

  void start() {
    std::lock_guard lock(mu);
    ++in_flight;
  }
  void finish(bool ok, SteadyClock::time_point since) {
    if (ok) {
      done.fetch_add(1, std::memory_order_relaxed);
      latencies.add(std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count());
    } else {
      failures.fetch_add(1, std::memory_order_relaxed);
    }
    std::lock_guard lock(mu);
    --in_flight;
    cv.notify_all();
  }
  void drain() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return in_flight == 0; });
  }
};

void publish_one(Target& t, const Options& o, Tally& tally, const std::string& data, std::uint64_t n,
                 SteadyClock::time_point since) {
  // The request as api::parse_publish hands it over (parsing a body this small is
  // negligible next to sealing and the durable write).
  messages::PublishRequest req;
  req.to_user = "user-" + std::to_string(n % o.users);
  req.data = boost::json::object{{"text", data}, {"n", n}};
  if (o.idempotency) req.idempotency_key = "k-" + std::to_string(n);
  t.service->publish("app_bench", std::move(req),
                     [&tally, since](Result<messages::Published> r) { tally.finish(r.ok(), since); });
}

Figures figures(Tally& tally, double secs) {
  return Figures{tally.done.load() / secs, tally.latencies.pct(0.5), tally.latencies.pct(0.99),
                 tally.latencies.pct(1.0), tally.done.load(),        tally.failures.load()};
}

// Each thread keeps publishing while fewer than o.inflight are outstanding.
Figures saturate(Target& t, const Options& o, std::uint64_t& next) {
  Tally tally;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> counter{next};
  const std::string data(o.payload, 'x');
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < o.threads; ++i)
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        {
          std::unique_lock lock(tally.mu);
          tally.cv.wait(lock, [&] { return tally.in_flight < o.inflight || stop.load(); });
          if (stop) break;
          ++tally.in_flight;
        }
        publish_one(t, o, tally, data, counter.fetch_add(1), SteadyClock::now());
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  tally.cv.notify_all();
  for (auto& th : threads) th.join();
  tally.drain();
  next = counter.load();
  return figures(tally, std::chrono::duration<double>(SteadyClock::now() - t0).count());
}

// Each thread starts its share of `rate` publishes a second on schedule; one that falls
// behind catches up at once, and the lateness counts in the latency.
Figures open_loop(Target& t, const Options& o, double rate, std::uint64_t& next) {
  Tally tally;
  const std::string data(o.payload, 'x');
  const auto total = static_cast<std::uint64_t>(rate * o.seconds);
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < o.threads; ++i)
    threads.emplace_back([&, i] {
      for (std::uint64_t k = i; k < total; k += o.threads) {
        auto due = t0 + std::chrono::duration_cast<SteadyClock::duration>(interval * static_cast<double>(k));
        std::this_thread::sleep_until(due);
        tally.start();
        publish_one(t, o, tally, data, next + k, due);
      }
    });
  for (auto& th : threads) th.join();
  tally.drain();
  next += total;
  return figures(tally, std::max(o.seconds, std::chrono::duration<double>(SteadyClock::now() - t0).count()));
}

void print(boost::json::object& out, const std::string& prefix, const Figures& f, double rate) {
  herald::bench::print_phase(out, prefix, f, rate, {"publishes_per_sec", "latency", "published"});
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string driver = "both", postgres_url, json_path;
  CLI::App app{"Durable publish throughput of messages to users (sealed, group commit), sqlite and postgres"};
  app.add_option("--dir", o.dir, "Scratch data directory (removed first)");
  app.add_option("--driver", driver, "sqlite, postgres or both (one after the other)");
  app.add_option("--threads", o.threads, "Publishing threads");
  app.add_option("--inflight", o.inflight, "Saturating phase: publishes in flight at once (all threads together)");
  app.add_option("--rate", o.rate,
                 "Open-loop phase: publishes a second (0: half of sqlite's saturated figure in this run, or of "
                 "the driver's own without sqlite; negative: no open-loop phase)");
  app.add_option("--users", o.users, "Distinct recipients");
  app.add_option("--seconds", o.seconds, "How long each phase runs");
  app.add_option("--payload", o.payload, "Bytes of the data string per message");
  app.add_flag("--idempotency", o.idempotency, "Give every message an idempotency key");
  app.add_option("--postgres-url", postgres_url,
                 "Run postgres on this database (an empty one: its keys are wrapped under the dev root key of "
                 "--dir, made afresh); default: a throwaway PostgreSQL server")
      ->envname("HERALD_BENCH_POSTGRES_URL");
  app.add_option("--json", json_path, "Also write the figures to this JSON file");
  CLI11_PARSE(app, argc, argv);
  log::init("warn", "json");
  auto names = herald::bench::drivers(driver);
  if (!names) {
    std::fprintf(stderr, "bench_messages: %s\n", names.error().message.c_str());
    return 2;
  }
  o.threads = std::max(o.threads, 1u);
  crypto::init_secure_memory(1 << 20);
  boost::json::object out;
  double sqlite_rate = 0, pg_rate = 0;
  std::uint64_t failures = 0;
  std::printf("messages.threads %u\nmessages.inflight %u\nmessages.idempotency %d\n", o.threads, o.inflight,
              o.idempotency ? 1 : 0);
  for (const auto& name : *names) {
    auto url = name == "postgres" ? herald::bench::postgres_url(postgres_url) : Result<std::string>(std::string());
    auto target = url ? open_target(name, o.dir + "/" + name, *url) : Result<Target>(url.error());
    if (!target) {
      std::fprintf(stderr, "bench_messages: %s: %s\n", name.c_str(), target.error().message.c_str());
      return 1;
    }
    std::uint64_t next = 0;
    auto sat = saturate(*target, o, next);
    print(out, "messages." + name + ".saturated", sat, 0);
    (name == "sqlite" ? sqlite_rate : pg_rate) = sat.per_sec;
    failures += sat.failures;
    double rate = o.rate != 0 ? o.rate : (sqlite_rate > 0 ? sqlite_rate : sat.per_sec) / 2;
    if (rate > 0) {
      auto open = open_loop(*target, o, rate, next);
      print(out, "messages." + name + ".open_loop", open, rate);
      failures += open.failures;
    }
    auto st = target->db->stats();
    std::printf("messages.%s.store_commits %llu\nmessages.%s.store_max_batch %llu\n", name.c_str(),
                static_cast<unsigned long long>(st.commits), name.c_str(),
                static_cast<unsigned long long>(st.max_batch));
    target->service->stop();
    target->db->close();
  }
  if (sqlite_rate > 0 && pg_rate > 0) {
    std::printf("messages.postgres_to_sqlite %.2f\n", pg_rate / sqlite_rate);
    out["messages.postgres_to_sqlite"] = pg_rate / sqlite_rate;
  }
  if (!json_path.empty()) std::ofstream(json_path) << boost::json::serialize(out) << "\n";
  std::filesystem::remove_all(o.dir);
  return failures == 0 ? 0 : 1;
}
