// Verification-code throughput: send+verify pairs per second through OtpService with
// the log provider, on the real store (group commit, fsync) and key service, on sqlite
// and on postgres in the same run. Per driver, two phases: saturating (concurrent
// callers, each looping send then verify) and open loop (pairs started at a fixed rate;
// latency counted from when each was due). Each pair is two durable writes.
// Machine-readable lines; --json writes them as JSON too.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_store.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/secret.h"
#include "delivery/sender.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "otp/otp_service.h"
#include "store/store.h"

using namespace herald;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The log provider, with the code handed to the bench (the log line masks it).
class CodeTap final : public delivery::Senders {
 public:
  explicit CodeTap(delivery::Senders& real) : real_(real) {}
  delivery::Sender* for_channel(std::string_view c) override {
    inner_ = real_.for_channel(c);
    return inner_ ? &tap_ : nullptr;
  }
  void stop() override { real_.stop(); }
  std::string code_for(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = codes_.find(id);
    if (it == codes_.end()) return {};
    std::string c = it->second;
    codes_.erase(it);
    return c;
  }

 private:
  struct Tap final : delivery::Sender {
    CodeTap* self;
    explicit Tap(CodeTap* s) : self(s) {}
    std::string_view name() const override { return "tap"; }
    void send(delivery::OutboundMessage msg, delivery::SendDone done) override {
      {
        std::lock_guard lock(self->mu_);
        self->codes_[msg.reference] = msg.secret;
      }
      self->inner_->send(std::move(msg), std::move(done));
    }
  };
  delivery::Senders& real_;
  delivery::Sender* inner_ = nullptr;
  Tap tap_{this};
  std::mutex mu_;
  std::map<std::string, std::string> codes_;
};

template <class T>
Result<T> wait(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> o) { p.set_value(std::move(o)); });
  return f.get();
}

struct Options {
  std::string dir = "/tmp/herald-bench-otp";
  unsigned clients = 64;
  double seconds = 10;
  double rate = 0;
};

using Figures = herald::bench::PhaseFigures;

// OtpService keeps a copy; every limit stays on, set where distinct callers never reach it.
OtpConfig otp_config() {
  OtpConfig cfg;
  cfg.per_app_per_minute = 1'000'000'000;
  cfg.per_ip_per_hour = 1'000'000'000;
  cfg.sms_per_prefix_per_hour = 1'000'000'000;  // every recipient is +1
  return cfg;
}

// One driver's store, key service, senders and OTP service, on a fresh database.
struct Target {
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<delivery::Senders> senders;
  std::unique_ptr<CodeTap> tap;
  std::unique_ptr<otp::OtpService> service;
  ~Target() {
    if (service) service->stop();
    if (senders) senders->stop();
    if (db) db->close();
  }
};

Result<std::unique_ptr<Target>> open_target(const std::string& driver, const std::string& dir, const std::string& url) {
  std::filesystem::remove_all(dir);
  store::StoreOptions opts{dir, 4096, nullptr};
  opts.postgres.url = url;
  auto opened = store::open_store(driver, opts);
  if (!opened) return opened.error();
  auto t = std::make_unique<Target>();
  t->db = std::move(*opened);
  t->keys = std::make_unique<kms::KeyService>(*t->db, nullptr);
  auto unsealed = kms::dev_unseal(*t->keys, *t->db, dir, true);
  auto app_keys = unsealed ? t->keys->ensure_app_keys("app_bench") : unsealed;
  if (!app_keys) return app_keys.error();
  DeliveryConfig dcfg;  // the log provider for both channels
  auto senders = delivery::make_senders(dcfg, false, nullptr);
  if (!senders) return senders.error();
  t->senders = std::move(*senders);
  t->tap = std::make_unique<CodeTap>(*t->senders);
  t->service =
      std::make_unique<otp::OtpService>(otp_config(), *t->db, *t->keys, t->tap.get(),
                                        otp::make_memory_limit_counters(50'000'000), otp::Templates(), nullptr);
  if (auto loaded = t->service->load(); !loaded) return loaded.error();
  return t;
}

// A new recipient, device and caller address each time: the per-recipient limits never refuse.
otp::SendRequest send_request(std::uint64_t n) {
  otp::SendRequest r;
  r.app_id = "app_bench";
  r.app_name = "bench";
  r.to = "+1" + std::to_string(2000000000ULL + n);
  r.channel = "sms";
  r.device_id = "device-" + std::to_string(n);
  r.purpose = "login";
  r.client_ip = "198.51.100." + std::to_string(n % 250);
  return r;
}

std::atomic<std::uint64_t> g_recipients{0};

// Each caller loops: send, read the code the log provider got, verify.
Figures saturate(Target& t, const Options& o) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> pairs{0}, failures{0};
  herald::bench::Latencies latencies;
  std::vector<std::thread> threads;
  auto t0 = SteadyClock::now();
  for (unsigned c = 0; c < o.clients; ++c)
    threads.emplace_back([&] {
      std::vector<double> mine;
      while (!stop.load(std::memory_order_relaxed)) {
        auto start = SteadyClock::now();
        auto r = send_request(g_recipients.fetch_add(1));
        auto sent = wait<otp::SendResult>([&](Done<otp::SendResult> d) { t.service->send(r, std::move(d)); });
        if (!sent.ok()) {
          failures++;
          continue;
        }
        std::string code = t.tap->code_for(sent->verification_id);
        auto v = wait<otp::VerifyResult>(
            [&](Done<otp::VerifyResult> d) { t.service->verify("app_bench", sent->verification_id, code, d); });
        if (!v.ok()) {
          failures++;
          continue;
        }
        pairs++;
        mine.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
      }
      latencies.add_all(mine);
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  return Figures{pairs.load() / secs, latencies.pct(0.5), latencies.pct(0.99),
                 latencies.pct(1.0),  pairs.load(),       failures.load()};
}

// Pairs started on schedule by one pacing thread; each verify starts from its send's
// completion (the log provider's thread), so nothing waits in the pacer.
Figures open_loop(Target& t, const Options& o, double rate) {
  std::atomic<std::uint64_t> pairs{0}, failures{0}, in_flight{0};
  herald::bench::Latencies latencies;
  const auto total = static_cast<std::uint64_t>(rate * o.seconds);
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  auto t0 = SteadyClock::now();
  for (std::uint64_t k = 0; k < total; ++k) {
    auto due = t0 + std::chrono::duration_cast<SteadyClock::duration>(interval * static_cast<double>(k));
    std::this_thread::sleep_until(due);
    in_flight++;
    auto fail = [&] {
      failures++;
      in_flight--;
    };
    t.service->send(send_request(g_recipients.fetch_add(1)), [&, due, fail](Result<otp::SendResult> sent) {
      if (!sent.ok()) return fail();
      std::string id = sent->verification_id;
      t.service->verify("app_bench", id, t.tap->code_for(id), [&, due, fail](Result<otp::VerifyResult> v) {
        if (!v.ok()) return fail();
        latencies.add(std::chrono::duration<double, std::milli>(SteadyClock::now() - due).count());
        pairs++;
        in_flight--;
      });
    });
  }
  for (int i = 0; i < 6000 && in_flight.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  double secs = std::max(o.seconds, std::chrono::duration<double>(SteadyClock::now() - t0).count());
  return Figures{pairs.load() / secs, latencies.pct(0.5), latencies.pct(0.99),
                 latencies.pct(1.0),  pairs.load(),       failures.load()};
}

void print(boost::json::object& out, const std::string& prefix, const Figures& f, double rate) {
  herald::bench::print_phase(out, prefix, f, rate, {"send_verify_pairs_per_sec", "pair_latency", "pairs"});
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string driver = "both", postgres_url, json_path, log_level = "info";
  CLI::App app{"Verification-code send+verify throughput (log provider, durable store), sqlite and postgres"};
  app.add_option("--dir", o.dir, "Scratch data directory (removed first)");
  app.add_option("--driver", driver, "sqlite, postgres or both (one after the other)");
  app.add_option("--clients", o.clients, "Saturating phase: concurrent callers, each doing send then verify");
  app.add_option("--rate", o.rate,
                 "Open-loop phase: pairs a second (0: half of sqlite's saturated figure in this run, or of the "
                 "driver's own without sqlite; negative: no open-loop phase)");
  app.add_option("--seconds", o.seconds, "How long each phase runs");
  app.add_option("--log-level", log_level, "Server log level (info: the log provider writes each message)");
  app.add_option("--postgres-url", postgres_url,
                 "Run postgres on this database (an empty one); default: a throwaway PostgreSQL server")
      ->envname("HERALD_BENCH_POSTGRES_URL");
  app.add_option("--json", json_path, "Also write the figures to this JSON file");
  CLI11_PARSE(app, argc, argv);
  log::init(log_level, "json");
  auto names = herald::bench::drivers(driver);
  if (!names) {
    std::fprintf(stderr, "bench_otp: %s\n", names.error().message.c_str());
    return 2;
  }
  crypto::init_secure_memory(1 << 20);
  boost::json::object out;
  double sqlite_rate = 0, pg_rate = 0;
  std::uint64_t failures = 0;
  std::printf("otp.clients %u\n", o.clients);
  for (const auto& name : *names) {
    auto url = name == "postgres" ? herald::bench::postgres_url(postgres_url) : Result<std::string>(std::string());
    auto target = url ? open_target(name, o.dir + "/" + name, *url) : Result<std::unique_ptr<Target>>(url.error());
    if (!target) {
      std::fprintf(stderr, "bench_otp: %s: %s\n", name.c_str(), target.error().message.c_str());
      return 1;
    }
    auto sat = saturate(**target, o);
    print(out, "otp." + name + ".saturated", sat, 0);
    (name == "sqlite" ? sqlite_rate : pg_rate) = sat.per_sec;
    failures += sat.failures;
    double rate = o.rate != 0 ? o.rate : (sqlite_rate > 0 ? sqlite_rate : sat.per_sec) / 2;
    if (rate > 0) {
      auto open = open_loop(**target, o, rate);
      print(out, "otp." + name + ".open_loop", open, rate);
      failures += open.failures;
    }
    auto st = (*target)->db->stats();
    std::printf("otp.%s.store_commits %llu\notp.%s.store_max_batch %llu\n", name.c_str(),
                static_cast<unsigned long long>(st.commits), name.c_str(),
                static_cast<unsigned long long>(st.max_batch));
  }
  if (sqlite_rate > 0 && pg_rate > 0) {
    std::printf("otp.postgres_to_sqlite %.2f\n", pg_rate / sqlite_rate);
    out["otp.postgres_to_sqlite"] = pg_rate / sqlite_rate;
  }
  if (!json_path.empty()) std::ofstream(json_path) << boost::json::serialize(out) << "\n";
  std::filesystem::remove_all(o.dir);
  return failures == 0 ? 0 : 1;
}
