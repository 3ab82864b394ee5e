// The abuse tests' shared parts; see abuse_support.h.
#include "abuse_support.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace herald::testing::abuse {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- Signing (docs/signing.md, v2) and client tokens, on plain OpenSSL ----

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += {k[p[i] >> 4], k[p[i] & 15]};
  return out;
}

std::string sha256_hex(const std::string& s) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  return hex(d, n);
}

std::string hmac_raw(const std::string& key, const std::string& msg) {
  unsigned char d[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), d, &n);
  return std::string(reinterpret_cast<char*>(d), n);
}

std::string fresh_nonce() {
  unsigned char raw[18];
  RAND_bytes(raw, sizeof raw);
  return b64url(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));  // 24 characters
}

}  // namespace

std::string signed_publish(const DevApp& app, const std::string& secret, const std::string& body) {
  auto ts = std::to_string(std::time(nullptr));
  std::string nonce = fresh_nonce();
  std::string canonical = "HERALD-HMAC-SHA256-v2\n\nPOST\n/api/v1/publish\n\n" + sha256_hex(body) + "\n" + ts + "\n" +
                          nonce + "\n" + app.key;
  auto mac = hmac_raw(secret, canonical);
  return "POST /api/v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Herald-Key: " +
         app.key + "\r\nX-Herald-Timestamp: " + ts + "\r\nX-Herald-Nonce: " + nonce +
         "\r\nX-Herald-Signature: " + hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size()) +
         "\r\nX-Herald-Signature-Version: 2\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string raw(const std::string& method, const std::string& path, const std::string& headers,
                const std::string& body) {
  return method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string code_of(const std::string& json) {
  auto at = json.find("\"code\":\"");
  if (at == std::string::npos) return {};
  at += 8;
  return json.substr(at, json.find('"', at) - at);
}

TlsOptions trusting(const Server& s) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return o;
}

// ---- What is measured ----

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
long proc_kib(int pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

double metric(const Server& s, const std::string& sample) {
  auto c = Connection::open_from(kMetricsSource, s.port(), true, trusting(s));
  return metric_value(c->request(raw("GET", "/metrics")).body, sample).value_or(-1);
}

double audit_entries(const Server& s) {
  return metric(s, "herald_audit_entries_total");
}

Watch::Watch(const Server& s, DevApp app)
    : s_(s), app_(std::move(app)), rss_before_(proc_kib(s.pid(), "VmRSS")), audit_before_(audit_entries(s)) {
  rss_peak_ = rss_before_;
  sampler_ = std::thread([this] {
    while (!done_) {
      rss_peak_ = std::max<long>(rss_peak_, proc_kib(s_.pid(), "VmRSS"));
      std::this_thread::sleep_for(20ms);
    }
  });
  client_ = std::thread([this] { publish_loop(); });
}

void Watch::stop(milliseconds settle) {
  if (done_.exchange(true)) return;
  sampler_.join();
  client_.join();
  std::this_thread::sleep_for(settle);
  rss_after_ = proc_kib(s_.pid(), "VmRSS");
  hwm_ = proc_kib(s_.pid(), "VmHWM");
  audit_after_ = audit_entries(s_);
}

void Watch::report(const std::string& attack, const std::string& extra) const {
  std::printf(
      "ABUSE %s rss_before_kib=%ld rss_peak_kib=%ld rss_after_kib=%ld vm_hwm_kib=%ld audit_growth=%.0f "
      "audit_from_attack=%.0f good_ok=%d good_failed=%d good_max_ms=%ld %s\n",
      attack.c_str(), rss_before_, rss_peak_.load(), rss_after_, hwm_, audit_after_ - audit_before_, attack_audit(),
      good_ok_.load(), good_failed_.load(), good_max_ms_.load(), extra.c_str());
  std::fflush(stdout);
}

void Watch::publish_loop() {
  for (int n = 0; !done_; ++n) {
    auto t0 = Clock::now();
    std::string what;
    try {
      auto c = Connection::open_from(kGoodSource, s_.port(), true, trusting(s_));
      auto r = c->request(
          signed_publish(app_, app_.secret, R"({"channel":"news","data":{"n":)" + std::to_string(n) + "}}"), 5000ms);
      if (r.status != 200) what = std::to_string(r.status) + " " + code_of(r.body);
    } catch (const std::exception& e) {
      what = e.what();
    }
    long ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
    good_max_ms_ = std::max<long>(good_max_ms_, ms);
    if (what.empty()) {
      ++good_ok_;
    } else {
      ++good_failed_;
      std::lock_guard lock(mu_);
      failures_ += what + "; ";
    }
    std::this_thread::sleep_until(t0 + 100ms);
  }
}

// What every attack must leave intact: the good client served throughout, promptly.
void expect_served(const Watch& w, int min_ok) {
  EXPECT_EQ(w.good_failed(), 0) << w.failures();
  EXPECT_GE(w.good_ok(), min_ok / kSlow);
  EXPECT_LT(w.good_max_ms(), 2000 * kSlow);
}

std::string kv(const std::map<std::string, int>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ",") + k + ":" + std::to_string(v);
  return out;
}
}  // namespace herald::testing::abuse
