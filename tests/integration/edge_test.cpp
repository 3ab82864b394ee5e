// The server's edge against the real binary: who the client is behind trusted proxies
// (X-Forwarded-For, PROXY protocol v1/v2), per-source limits before authentication and
// at accept, folded audit refusals, the unseal reset, and /metrics access. A second
// client host is a second loopback source address (127.0.0.2).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "harness.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;

std::string field(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":");
  if (at == std::string::npos) return {};
  at += name.size() + 3;
  if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
  return json.substr(at, json.find_first_of(",}", at) - at);
}

std::string raw(const std::string& method, const std::string& path, const std::string& headers = "",
                const std::string& body = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// A server-API request that gets as far as the app's allowlist: well-formed signing
// headers with a wrong signature, so the answer is address_not_allowed when the client
// address is outside the list and signature_invalid when inside it.
std::string keyed_publish(const std::string& app_key, const std::string& extra = "") {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  std::string body = R"({"channel":"news","data":{}})";
  return raw("POST", "/api/v1/publish",
             "X-Herald-Key: " + app_key + "\r\nX-Herald-Timestamp: " + std::to_string(now.count()) +
                 "\r\nX-Herald-Nonce: AAAAAAAAAAAAAAAAAAAAAA\r\nX-Herald-Signature: " + std::string(64, '0') +
                 "\r\nX-Herald-Signature-Version: 2\r\n" +
                 extra,
             body);
}

// An app whose allowlist is 203.0.113.0/24; returns its AppKey.
std::string app_allowing_203(const Server& s, bool tls) {
  auto c = tls ? Connection::open(s.port(), true) : Connection::open(s.port(), false);
  auto r = c->request(raw("POST", "/admin/v1/apps", "Authorization: Bearer " + admin_token(s) + "\r\n",
                          R"({"name":"allowlisted","allowed_cidrs":["203.0.113.0/24"]})"));
  EXPECT_EQ(r.status, 201) << r.body;
  return field(r.body, "key");
}

std::string code_of(const HttpResponse& r) {
  return field(r.body, "code");
}

// S13: X-Forwarded-For counts only from a trusted peer, and only its right-most
// untrusted hop; the allowlist sees that address.
TEST(Edge, ForwardedForIsBelievedOnlyFromATrustedProxyAndFromTheRight) {
  Server s({.args = {"--server.trusted_proxies=127.0.0.1/32"}, .tls = false});
  std::string key = app_allowing_203(s, false);
  auto proxy = Connection::open(s.port(), false);  // 127.0.0.1: the trusted proxy
  EXPECT_EQ(code_of(proxy->request(keyed_publish(key, "X-Forwarded-For: 203.0.113.5\r\n"))), "signature_invalid");
  // The client wrote the left entry itself; the proxy appended what it saw.
  EXPECT_EQ(code_of(proxy->request(keyed_publish(key, "X-Forwarded-For: 203.0.113.5, 198.51.100.1\r\n"))),
            "address_not_allowed");
  EXPECT_EQ(code_of(proxy->request(keyed_publish(key))), "address_not_allowed");  // the proxy itself
  // 127.0.0.2 is no proxy of ours: its X-Forwarded-For is ignored, the allowlist sees it.
  auto direct = Connection::open_from("127.0.0.2", s.port(), false);
  EXPECT_EQ(code_of(direct->request(keyed_publish(key, "X-Forwarded-For: 203.0.113.5\r\n"))), "address_not_allowed");
  std::string log = s.log();
  EXPECT_NE(log.find("\"remote\":\"203.0.113.5\""), std::string::npos);
}

// S13: the PROXY protocol, v1 and v2, from a trusted proxy over a raw socket; a trusted
// peer without a header is cut, an untrusted one is served as itself.
TEST(Edge, ProxyProtocolHeadersNameTheClient) {
  Server s({.args = {"--server.trusted_proxies=127.0.0.1/32", "--server.proxy_protocol=true"}, .tls = false});
  auto v1 = Connection::open_tcp(s.port());
  v1->write("PROXY TCP4 203.0.113.9 127.0.0.1 4444 8443\r\n");
  auto r = v1->request(raw("GET", "/healthz"));
  EXPECT_EQ(r.status, 200);
  auto v2 = Connection::open_tcp(s.port());
  std::string h("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16);
  h += std::string("\xc6\x33\x64\x07\x7f\x00\x00\x01\x15\xb3\x20\xfb", 12);  // 198.51.100.7:5555
  v2->write(h);
  EXPECT_EQ(v2->request(raw("GET", "/healthz")).status, 200);
  auto bare = Connection::open_tcp(s.port());
  bare->write(raw("GET", "/healthz"));
  EXPECT_TRUE(bare->wait_closed(3s));
  auto other = Connection::open_from("127.0.0.2", s.port(), false);
  EXPECT_EQ(other->request(raw("GET", "/healthz")).status, 200);
  std::this_thread::sleep_for(200ms);
  std::string log = s.log();
  EXPECT_NE(log.find("\"remote\":\"203.0.113.9:4444\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"remote\":\"198.51.100.7:5555\""), std::string::npos);
  EXPECT_NE(log.find("\"remote\":\"127.0.0.2:"), std::string::npos);
}

// S11: a flood of unauthenticated requests from one address is cut before
// authentication, costs the audit log a bounded number of entries, and another address
// is still served.
TEST(Edge, AnUnauthenticatedFloodIsLimitedPerSourceAndFoldedInTheAudit) {
  Server s({.tls = false});
  auto metrics = [&] {
    return Connection::open_from("127.0.0.3", s.port(), false)->request(raw("GET", "/metrics")).body;
  };
  double before = metric_value(metrics(), "herald_audit_entries_total").value_or(-1);
  auto c = Connection::open(s.port(), false);
  int refused = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 300; ++i) {
    auto r = c->request(raw("POST", "/api/v1/publish", i % 2 ? "X-Herald-Key: hk_nope\r\n" : "", "{}"));
    if (r.status == 401) ++refused;
    if (r.status == 429 && code_of(r) == "rate_limited") {
      ++limited;
      retry_after = r.header("retry-after");
    }
  }
  EXPECT_LE(refused, 40);
  EXPECT_GE(limited, 250);
  EXPECT_FALSE(retry_after.empty());
  auto other = Connection::open_from("127.0.0.2", s.port(), false);
  EXPECT_EQ(code_of(other->request(raw("POST", "/api/v1/publish", "", "{}"))), "auth_missing");
  std::this_thread::sleep_for(300ms);
  double after = metric_value(metrics(), "herald_audit_entries_total").value_or(-1);
  ASSERT_GE(before, 0);
  // One entry per (address, code) now; the rest are counted into one entry per interval.
  EXPECT_LE(after - before, 6) << "audit entries grew by " << after - before;
  EXPECT_GE(metric_value(metrics(), "herald_source_limited_total{kind=\"source\"}").value_or(0), 250);
}

// S5: a reset of the unseal progress needs the admin token or a real share; an
// anonymous one is refused and the shares given so far are kept.
TEST(Edge, AnAnonymousUnsealResetIsRefusedAndProgressIsKept) {
  TempDir dir;
  auto init = run_herald({"operator", "init", "--data-dir", dir.path(), "--shares", "3", "--threshold", "2", "--json"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  std::vector<std::string> shares;
  for (auto at = init.output.find("\"share_values\":[") + 16; init.output[at] == '"';) {
    auto end = init.output.find('"', at + 1);
    shares.push_back(init.output.substr(at + 1, end - at - 1));
    at = end + 1 + (init.output[end + 1] == ',');
  }
  ASSERT_EQ(shares.size(), 3u);
  Server s({.args = {"--store.data_dir=" + dir.path()}, .dev = false, .tls = false, .unseal = false});
  auto op = [&](const std::string& body) {
    return Connection::open(s.port(), false)->request(raw("POST", "/admin/v1/operator/unseal", "", body));
  };
  auto progress = [&] {
    return field(Connection::open(s.port(), false)->request(raw("GET", "/admin/v1/operator/status")).body, "progress");
  };
  ASSERT_EQ(op("{\"share\":\"" + shares[0] + "\"}").status, 200);
  EXPECT_EQ(progress(), "1");
  auto anon = op(R"({"reset":true})");
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(code_of(anon), "admin_unauthorized");
  EXPECT_EQ(code_of(op(R"({"reset":true,"share":"not-a-share"})")), "share_invalid");
  std::string forged = shares[1];
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'a' ? 'b' : 'a';
  auto bad = op("{\"reset\":true,\"share\":\"" + forged + "\"}");
  EXPECT_EQ(code_of(bad), "share_invalid");
  EXPECT_EQ(progress(), "1");
  // A holder of a real share may start over.
  EXPECT_EQ(op("{\"reset\":true,\"share\":\"" + shares[2] + "\"}").status, 200);
  EXPECT_EQ(progress(), "0");
  // The operator routes are budgeted per source: a polling loop is cut, another host is not.
  int limited = 0;
  for (int i = 0; i < 40; ++i)
    limited += Connection::open(s.port(), false)->request(raw("GET", "/admin/v1/operator/status")).status == 429;
  EXPECT_GE(limited, 10);
  auto other = Connection::open_from("127.0.0.2", s.port(), false);
  EXPECT_EQ(other->request(raw("GET", "/admin/v1/operator/status")).status, 200);
}

// S22: /metrics behind a bearer token read from a file (never logged) and a CIDR list.
TEST(Edge, MetricsNeedTheirTokenAndAnAllowedAddress) {
  TempDir dir;
  const std::string token = "mtok-5f1c9e-secret";
  std::ofstream(dir.path() + "/metrics.token") << token << "\n";
  Server s({.args = {"--metrics.token_file=" + dir.path() + "/metrics.token", "--metrics.allowed_cidrs=127.0.0.1/32"},
            .tls = false});
  auto get = [&](const std::string& source, const std::string& auth) {
    return Connection::open_from(source, s.port(), false)
        ->request(raw("GET", "/metrics", auth.empty() ? "" : "Authorization: Bearer " + auth + "\r\n"));
  };
  auto none = get("127.0.0.1", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(code_of(none), "metrics_unauthorized");
  EXPECT_EQ(get("127.0.0.1", "wrong").status, 401);
  auto ok = get("127.0.0.1", token);
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("herald_connections_active"), std::string::npos);
  auto elsewhere = get("127.0.0.2", token);
  EXPECT_EQ(elsewhere.status, 403);
  EXPECT_EQ(code_of(elsewhere), "address_not_allowed");
  EXPECT_EQ(s.log().find(token), std::string::npos);
  EXPECT_EQ(run_herald({"serve", "--dev", "--metrics.token=" + token, "--print-config"}).output.find(token),
            std::string::npos);
}

// S22: the audit records the server's own request id; a client's X-Request-Id is kept
// beside it, so a caller cannot make its entries carry another request's id.
TEST(Edge, TheAuditRecordsTheServersRequestIdAndTheClientsApart) {
  Server s({.tls = false});
  auto c = Connection::open(s.port(), false);
  auto r = c->request(raw("GET", "/admin/v1/apps", "X-Request-Id: victim-request-42\r\n"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("x-request-id"), "victim-request-42");  // still echoed to the client
  std::string token = admin_token(s);
  std::string entries;
  for (int i = 0; i < 30 && entries.find("victim-request-42") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    entries = Connection::open(s.port(), false)
                  ->request(raw("GET", "/admin/v1/audit/entries?start=0&count=1000",
                                "Authorization: Bearer " + token + "\r\n"))
                  .body;
  }
  auto at = entries.find("victim-request-42");
  ASSERT_NE(at, std::string::npos) << entries;
  EXPECT_NE(entries.find(R"("client_request_id":"victim-request-42")"), std::string::npos) << entries;
  EXPECT_EQ(entries.find(R"("request_id":"victim-request-42")"), std::string::npos) << entries;
}

// S17: one address holding idle connections (TLS handshakes never begun) is capped at
// accept; another address still connects, handshakes and is served.
TEST(Edge, IdleTlsConnectionsAreCappedPerSource) {
  Server s({.args = {"--limits.max_connections_per_source=4"}});
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connection::open_tcp(s.port()));
  std::this_thread::sleep_for(200ms);
  auto fifth = Connection::open_tcp(s.port());
  EXPECT_TRUE(fifth->wait_closed(2s));
  TlsOptions o;
  o.ca_file = s.ca_file();
  auto other = Connection::open_from("127.0.0.2", s.port(), true, o);
  auto m = other->request(raw("GET", "/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_GE(metric_value(m.body, "herald_connections_source_rejected_total").value_or(0), 1);
  idle.pop_back();  // a slot comes back once the server sees the close
  bool served = false;
  for (int i = 0; i < 20 && !served; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      served = Connection::open(s.port(), true, o)->request(raw("GET", "/healthz")).status == 200;
    } catch (const std::exception&) {
    }
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace herald::testing
