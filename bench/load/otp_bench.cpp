// Verification-code throughput: send+verify pairs per second through OtpService with
// the log provider, on the real store (group commit, fsync) and key service, from
// concurrent callers. Each pair is two durable writes. Machine-readable lines.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

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

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/herald-bench-otp";
  unsigned clients = 64;
  double seconds = 10;
  std::string log_level = "info";
  CLI::App app{"Verification-code send+verify throughput (log provider, durable store)"};
  app.add_option("--dir", dir, "Scratch data directory (removed first)");
  app.add_option("--clients", clients, "Concurrent callers, each doing send then verify in a loop");
  app.add_option("--seconds", seconds, "How long to run");
  app.add_option("--log-level", log_level, "Server log level (info: the log provider writes each message)");
  CLI11_PARSE(app, argc, argv);
  log::init(log_level, "json");
  std::filesystem::remove_all(dir);
  auto db = store::open_store("sqlite", store::StoreOptions{dir, 4096, nullptr}).value();
  crypto::init_secure_memory(1 << 20);
  kms::KeyService keys(*db, nullptr);
  if (!kms::dev_unseal(keys, *db, dir, true) || !keys.ensure_app_keys("app_bench")) return 1;

  DeliveryConfig dcfg;  // the log provider for both channels
  auto senders = delivery::make_senders(dcfg, false, nullptr);
  if (!senders) return 1;
  CodeTap tap(**senders);
  OtpConfig cfg;
  // Every limit stays on; they are set where distinct callers never reach them.
  cfg.per_app_per_minute = 1'000'000'000;
  cfg.per_ip_per_hour = 1'000'000'000;
  otp::OtpService service(cfg, *db, keys, &tap, otp::make_memory_limit_counters(50'000'000), otp::Templates(), nullptr);
  if (!service.load()) return 1;

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> pairs{0}, failures{0};
  std::mutex lat_mu;
  std::vector<double> latencies;
  std::vector<std::thread> threads;
  auto t0 = SteadyClock::now();
  for (unsigned c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto start = SteadyClock::now();
        otp::SendRequest r;
        r.app_id = "app_bench";
        r.app_name = "bench";
        // A new recipient and device each time: the per-recipient limits never refuse.
        r.to = "+1" + std::to_string(2000000000ULL + c * 10'000'000ULL + i);
        r.channel = "sms";
        r.device_id = "device-" + std::to_string(c) + "-" + std::to_string(i);
        r.purpose = "login";
        r.client_ip = "198.51.100." + std::to_string(c % 250);
        auto sent = wait<otp::SendResult>([&](Done<otp::SendResult> d) { service.send(r, std::move(d)); });
        if (!sent.ok()) {
          failures++;
          continue;
        }
        std::string code = tap.code_for(sent->verification_id);
        auto v = wait<otp::VerifyResult>(
            [&](Done<otp::VerifyResult> d) { service.verify("app_bench", sent->verification_id, code, d); });
        if (!v.ok()) {
          failures++;
          continue;
        }
        pairs++;
        mine.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
      }
      std::lock_guard lock(lat_mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty()
               ? 0.0
               : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  auto st = db->stats();
  std::printf(
      "otp.clients %u\notp.pairs %llu\notp.failures %llu\notp.send_verify_pairs_per_sec %.0f\n"
      "otp.pair_latency_p50_ms %.2f\notp.pair_latency_p99_ms %.2f\notp.store_commits %llu\n"
      "otp.store_max_batch %llu\n",
      clients, static_cast<unsigned long long>(pairs.load()), static_cast<unsigned long long>(failures.load()),
      pairs.load() / secs, pct(0.5), pct(0.99), static_cast<unsigned long long>(st.commits),
      static_cast<unsigned long long>(st.max_batch));
  service.stop();
  (*senders)->stop();
  db->close();
  std::filesystem::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}
