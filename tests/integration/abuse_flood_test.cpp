// Floods of refused requests through the real binary, each for seconds against one
// server while a well-behaved client keeps publishing (abuse_support.h): bad signatures
// with a real app key, and pre-authentication requests over HTTP and WebSocket. The audit
// must grow by folded entries per address, code and interval, not one per refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <thread>

#include "abuse_support.h"

namespace herald::testing::abuse {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- Floods of refused requests ----

// Source addresses of an attacker with many hosts (none is the good client's).
std::vector<std::string> attacker_sources(const std::string& prefix, int n) {
  std::vector<std::string> out{"127.0.0.1"};
  for (int i = 1; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

struct FloodTally {
  int requests = 0;
  int connections = 0;
  std::map<std::string, int> answers;  // "status code" -> count
  int count(const std::string& answer) const {
    auto it = answers.find(answer);
    return it == answers.end() ? 0 : it->second;
  }
};

// Sends make(n) round-robin from each source over keep-alive TLS connections (reopened
// when the server closes one) for `d`, and tallies the answers.
FloodTally flood(const Server& s, const std::vector<std::string>& sources, milliseconds d,
                 const std::function<std::string(int)>& make) {
  std::vector<std::unique_ptr<Connection>> conns(sources.size());
  FloodTally t;
  for (auto start = Clock::now(); Clock::now() - start < d;) {
    for (std::size_t i = 0; i < sources.size(); ++i, ++t.requests) {
      try {
        if (!conns[i]) {
          conns[i] = Connection::open_from(sources[i], s.port(), true, trusting(s));
          ++t.connections;
        }
        auto a = conns[i]->request(make(t.requests), 3000ms);
        ++t.answers[std::to_string(a.status) + " " + code_of(a.body)];
        if (a.header("connection") == "close") conns[i].reset();
      } catch (const std::exception&) {
        conns[i].reset();
        ++t.answers["cut"];
      }
    }
  }
  return t;
}

// At most this many audit entries for `keys` (source, code) pairs refused for `d` with
// refusals folded per `interval`: per pair and interval, the first refusal and the count.
double folded_audit_bound(std::size_t keys, milliseconds d, milliseconds interval) {
  return static_cast<double>(keys) * 2 * (static_cast<double>(d / interval) + 2);
}

// 16 hosts flood the server API with the dev app's real key and wrong signatures for
// four seconds. Each host gets its refusal budget of 401s (limits.source_refusal_burst
// and _per_second) and 429 after; the audit folds each host's refusals per interval;
// the app's own back end, on another address, is served throughout. A good request from
// a flooding address waits like the rest (the budget is per address, before
// authentication) and is served again once the budget refills.
TEST(Abuse, AFloodOfBadSignaturesIsRefusedAndFoldedInTheAudit) {
  Server s({.args = {"--audit.refusal_interval=1s"}});
  DevApp app = dev_app(s);
  const auto sources = attacker_sources("127.0.1.", 16);
  const milliseconds d = 4s;
  Watch w(s, app);
  auto t = flood(s, sources, d, [&](int n) {
    return signed_publish(app, "as_wrong_secret", R"({"channel":"news","data":{"n":)" + std::to_string(n) + "}}");
  });
  auto same_source = Connection::open(s.port(), true, trusting(s))
                         ->request(signed_publish(app, app.secret, R"({"channel":"news","data":{}})"));
  w.stop(1500ms);  // the folded counts of every interval are written
  const int refused = t.count("401 signature_invalid"), limited = t.count("429 rate_limited");
  EXPECT_EQ(refused + limited, t.requests) << kv(t.answers);
  EXPECT_LE(refused, static_cast<int>(sources.size()) * (30 + 4 + 2));
  EXPECT_GE(limited, t.requests / 2);
  EXPECT_LE(w.attack_audit(), folded_audit_bound(sources.size() * 2, d, 1s));
  EXPECT_LE(w.attack_audit(), t.requests / 10.0);
  EXPECT_LT(rss_growth(w.peak_growth_kib()), 32 * 1024);
  expect_served(w, 25);
  EXPECT_EQ(same_source.status, 429);
  EXPECT_EQ(code_of(same_source.body), "rate_limited");
  auto later = Connection::open(s.port(), true, trusting(s))
                   ->request(signed_publish(app, app.secret, R"({"channel":"news","data":{}})"));
  EXPECT_EQ(later.status, 200) << later.body;
  w.report("bad_signatures",
           "sources=" + std::to_string(sources.size()) + " requests=" + std::to_string(t.requests) +
               " connections=" + std::to_string(t.connections) + " answers=" + kv(t.answers) +
               " audit_bound=" + std::to_string(static_cast<int>(folded_audit_bound(sources.size() * 2, d, 1s))) +
               " same_source_good=" + std::to_string(same_source.status) +
               " same_source_after_refill=" + std::to_string(later.status));
}

// One refused client-protocol connect over a fresh TLS WebSocket: the error code.
std::string refused_connect(const Server& s, const std::string& source, const std::string& app_key,
                            const std::string& token) {
  try {
    auto c = Connection::open_from(source, s.port(), true, trusting(s));
    if (ws_upgrade(*c, "/ws").status != 101) return "no_upgrade";
    ws_send(*c, 1, R"({"id":1,"connect":{"app":")" + app_key + R"(","token":")" + token + "\"}}");
    auto f = ws_read(*c, 3s);
    return f ? code_of(f->payload) : "no_answer";
  } catch (const std::exception& e) {
    return std::string("cut:") + e.what();
  }
}

// Pre-authentication floods with the per-address refusal budget off (a busy NAT, say),
// so that every request is read and refused: first the HTTP APIs (no signature, an
// unknown key, no or a wrong admin token) from 16 hosts, then client-protocol connects
// with a bad token or an unknown app from 4 hosts. Each refusal is answered; the audit
// grows by a bounded number of folded entries per host, code and interval, not one per
// refusal; memory stays flat; the good client is served.
TEST(Abuse, PreAuthenticationFloodsCostBoundedAuditAndMemory) {
  Server s({.args = {"--audit.refusal_interval=1s", "--limits.source_refusals_per_second=0"}});
  DevApp app = dev_app(s);
  const milliseconds d = 4s;
  {
    const auto sources = attacker_sources("127.0.2.", 16);
    Watch w(s, app);
    auto t = flood(s, sources, d, [](int n) {
      switch (n % 4) {
        case 0:
          return raw("POST", "/api/v1/publish", "", "{}");
        case 1:
          return signed_publish(DevApp{"", "hk_nope" + std::to_string(n % 97), "", ""}, "x", "{}");
        case 2:
          return raw("GET", "/admin/v1/apps");
        default:
          return raw("GET", "/admin/v1/apps", "Authorization: Bearer not-the-token\r\n");
      }
    });
    w.stop(1500ms);
    int answered = 0;
    for (const auto& [k, n] : t.answers)
      if (k.rfind("401 ", 0) == 0) answered += n;
    EXPECT_EQ(answered, t.requests) << kv(t.answers);
    EXPECT_LE(w.attack_audit(), folded_audit_bound(sources.size() * 3, d, 1s)) << kv(t.answers);
    EXPECT_LE(w.attack_audit(), t.requests / 10.0);
    EXPECT_LT(rss_growth(w.peak_growth_kib()), 32 * 1024);
    expect_served(w, 25);
    w.report("pre_auth_http", "sources=" + std::to_string(sources.size()) + " requests=" + std::to_string(t.requests) +
                                  " answers=" + kv(t.answers) + " audit_bound=" +
                                  std::to_string(static_cast<int>(folded_audit_bound(sources.size() * 3, d, 1s))));
  }
  {
    const auto sources = attacker_sources("127.0.3.", 4);
    Watch w(s, app);
    std::map<std::string, int> codes;
    int connects = 0;
    for (auto start = Clock::now(); Clock::now() - start < d;)
      for (std::size_t i = 0; i < sources.size(); ++i, ++connects)
        ++codes[i % 2 ? refused_connect(s, sources[i], app.key, "not.a.token")
                      : refused_connect(s, sources[i], "hk_nope", client_token(app.client_secret, "u"))];
    w.stop(1500ms);
    int refused = 0;
    for (const auto& [k, n] : codes)
      if (k.rfind("cut:", 0) != 0 && k != "no_answer" && k != "no_upgrade") refused += n;
    EXPECT_EQ(refused, connects) << kv(codes);
    EXPECT_LE(w.attack_audit(), folded_audit_bound(sources.size() * 2, d, 1s)) << kv(codes);
    EXPECT_LT(rss_growth(w.peak_growth_kib()), 32 * 1024);
    expect_served(w, 25);
    w.report("pre_auth_ws_connects",
             "sources=" + std::to_string(sources.size()) + " connects=" + std::to_string(connects) +
                 " answers=" + kv(codes) +
                 " audit_bound=" + std::to_string(static_cast<int>(folded_audit_bound(sources.size() * 2, d, 1s))));
  }
}

}  // namespace
}  // namespace herald::testing::abuse
