// What the abuse tests share: a signed publisher that keeps being served beside an
// attack, the server's RSS and audit entries read from outside, and the signing helpers.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "harness.h"

namespace herald::testing::abuse {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// A sanitizer's shadow memory and quarantine make RSS say nothing about the server's own,
// and everything is several times slower: memory bounds are printed, not asserted.
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr int kSlow = kSanitized ? 5 : 1;  // time bounds stretch under sanitizers

// An RSS growth to assert on: none under a sanitizer.
inline long rss_growth(long kib) {
  return kSanitized ? 0 : kib;
}

constexpr const char* kGoodSource = "127.0.0.2";     // the well-behaved client
constexpr const char* kMetricsSource = "127.0.0.3";  // reads /metrics for the figures

// A v2-signed POST /api/v1/publish of `body` (docs/signing.md), signed with `secret`.
std::string signed_publish(const DevApp& app, const std::string& secret, const std::string& body);
// An HS256 client token for `user`, valid for ten minutes.
std::string raw(const std::string& method, const std::string& path, const std::string& headers = "",
                const std::string& body = "");
// The "code" of an error body (empty when there is none).
std::string code_of(const std::string& json);
TlsOptions trusting(const Server& s);

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
long proc_kib(int pid, const std::string& field);
// A sample of /metrics, read from kMetricsSource; -1 when absent.
double metric(const Server& s, const std::string& sample);
double audit_entries(const Server& s);
// "k:v,k:v" for the printed figures.
std::string kv(const std::map<std::string, int>& m);

// Samples the server's RSS every 20 ms and, beside the attack, publishes one signed
// message every 100 ms from its own address over a fresh TLS connection (each one is
// one audit entry, subtracted from the growth the attack is charged with).
class Watch {
 public:
  Watch(const Server& s, DevApp app);
  ~Watch() { stop(); }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // Ends the good client; `settle` lets folded audit entries be written first.
  void stop(std::chrono::milliseconds settle = std::chrono::milliseconds(0));
  // The RSS now, for a reading between phases of the attack.
  long rss_now() const { return proc_kib(s_.pid(), "VmRSS"); }
  long peak_growth_kib() const { return rss_peak_ - rss_before_; }
  long rss_after() const { return rss_after_; }
  // Audit entries the attack caused: the growth less the good client's own entries.
  double attack_audit() const { return audit_after_ - audit_before_ - good_ok_ - good_failed_; }
  int good_ok() const { return good_ok_; }
  int good_failed() const { return good_failed_; }
  long good_max_ms() const { return good_max_ms_; }
  std::string failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }
  // Prints "ABUSE <attack> key=value ... <extra>" to stdout.
  void report(const std::string& attack, const std::string& extra) const;

 private:
  void publish_loop();

  const Server& s_;
  DevApp app_;
  long rss_before_;
  double audit_before_;
  std::atomic<long> rss_peak_{0};
  long rss_after_ = 0, hwm_ = 0;
  double audit_after_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> good_ok_{0}, good_failed_{0};
  std::atomic<long> good_max_ms_{0};
  mutable std::mutex mu_;
  std::string failures_;
  std::thread sampler_, client_;
};

// What every attack must leave intact: the good client served throughout, promptly.
void expect_served(const Watch& w, int min_ok);

}  // namespace herald::testing::abuse
