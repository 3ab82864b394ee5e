// The gateway seen from outside: TLS versions and ciphers, routes, limits, timeouts,
// WebSocket upgrade, connection cap and graceful shutdown, against the real binary.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TlsOptions trusting(const Server& s) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return o;
}

std::string get(const std::string& target, const std::string& extra = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

TEST(Gateway, HealthzOverTls13WithVerifiedDevCertificate) {
  Server s;
  auto c = Connection::open(s.port(), true, trusting(s));
  EXPECT_EQ(c->tls_version(), "TLSv1.3");
  auto r = c->request(get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos);
  EXPECT_FALSE(r.header("x-request-id").empty());
  EXPECT_EQ(r.header("strict-transport-security"), "max-age=31536000");
  EXPECT_EQ(r.header("cache-control"), "no-store");
}

TEST(Gateway, Tls12IsAcceptedWithAnEcdheAeadCipher) {
  Server s;
  auto o = trusting(s);
  o.max_version = TLS1_2_VERSION;
  auto c = Connection::open(s.port(), true, o);
  EXPECT_EQ(c->tls_version(), "TLSv1.2");
  EXPECT_EQ(c->tls_cipher().rfind("ECDHE-", 0), 0u) << c->tls_cipher();
  EXPECT_EQ(c->request(get("/healthz")).status, 200);
}

TEST(Gateway, Tls11AndOlderAreRefused) {
  Server s;
  for (int v : {TLS1_1_VERSION, TLS1_VERSION}) {
    TlsOptions o;
    o.lower_security_level = true;  // the client is willing; the server must refuse
    o.min_version = v;
    o.max_version = v;
    EXPECT_THROW(Connection::open(s.port(), true, o), std::runtime_error) << "version " << v;
  }
  EXPECT_EQ(https(s, "GET", "/healthz").status, 200);  // still serving
}

TEST(Gateway, WeakTls12CiphersAreRefused) {
  Server s;
  for (const char* cipher : {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA", "DES-CBC3-SHA"}) {
    TlsOptions o;
    o.lower_security_level = true;
    o.max_version = TLS1_2_VERSION;
    o.cipher_list = cipher;
    EXPECT_THROW(Connection::open(s.port(), true, o), std::runtime_error) << cipher;
  }
}

TEST(Gateway, SilentClientIsDisconnectedAfterTheHandshakeTimeout) {
  Server s({.args = {"--limits.handshake_timeout=400ms"}});
  auto t0 = Clock::now();
  auto c = Connection::open_tcp(s.port());
  ASSERT_TRUE(c->wait_closed(5s));
  auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 350ms);
  EXPECT_LT(elapsed, 3s);
  auto m = https(s, "GET", "/metrics").body;
  EXPECT_EQ(metric_value(m, "herald_timeouts_total{phase=\"handshake\"}"), 1.0);
}

TEST(Gateway, SlowlorisHeaderIsCutAtTheReadTimeout) {
  Server s({.args = {"--limits.read_timeout=600ms"}});
  auto c = Connection::open(s.port(), true, trusting(s));
  auto t0 = Clock::now();
  std::string req = get("/healthz", "X-Padding: " + std::string(200, 'a') + "\r\n");
  bool cut = false;
  for (char ch : req) {  // one byte every 20 ms: the request would take over 5 s
    try {
      c->write(std::string(1, ch));
    } catch (const std::runtime_error&) {
      cut = true;
      break;
    }
    if (c->wait_closed(20ms)) {
      cut = true;
      break;
    }
  }
  auto elapsed = Clock::now() - t0;
  EXPECT_TRUE(cut);
  EXPECT_GE(elapsed, 500ms);
  EXPECT_LT(elapsed, 3s);
}

TEST(Gateway, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  Server s({.args = {"--limits.idle_timeout=500ms"}});
  auto c = Connection::open(s.port(), true, trusting(s));
  EXPECT_EQ(c->request(get("/healthz")).status, 200);
  auto t0 = Clock::now();
  ASSERT_TRUE(c->wait_closed(5s));
  EXPECT_GE(Clock::now() - t0, 400ms);
}

TEST(Gateway, OversizedHeaderGets431AndTheServerKeepsServing) {
  Server s;
  auto c = Connection::open(s.port(), true, trusting(s));
  auto r = c->request(get("/healthz", "X-Big: " + std::string(20000, 'h') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("\"code\":\"header_too_large\""), std::string::npos);
  EXPECT_EQ(https(s, "GET", "/healthz").status, 200);
}

TEST(Gateway, OversizedBodyGets413BeforeTheBodyIsSent) {
  Server s({.args = {"--limits.max_body_bytes=1000"}});
  auto c = Connection::open(s.port(), true, trusting(s));
  auto r = c->request("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("\"code\":\"body_too_large\""), std::string::npos);
  EXPECT_TRUE(c->wait_closed(3s));
}

TEST(Gateway, ExpectContinueGets100ThenTheAnswer) {
  Server s;
  auto c = Connection::open(s.port(), true, trusting(s));
  auto cont = c->request("POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(cont.status, 100);
  auto r = c->request("hello");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find("method_not_allowed"), std::string::npos);
}

TEST(Gateway, MalformedRequestsGet400AndHarmNothing) {
  Server s;
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                          "GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                          "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    auto c = Connection::open(s.port(), true, trusting(s));
    auto r = c->request(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"code\":\"bad_request\""), std::string::npos);
  }
  EXPECT_EQ(https(s, "GET", "/healthz").status, 200);
}

TEST(Gateway, UnknownRouteIs404WithRequestIdAndHeadHasNoBody) {
  Server s;
  auto r = https(s, "GET", "/no/such/route");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"code\":\"not_found\""), std::string::npos);
  EXPECT_NE(r.body.find(r.header("x-request-id")), std::string::npos);

  auto c = Connection::open(s.port(), true, trusting(s));
  c->write("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw;
  auto deadline = Clock::now() + 3s;
  while (raw.find("\r\n\r\n") == std::string::npos && Clock::now() < deadline) raw += c->read_some(1s);
  ASSERT_NE(raw.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "");
  EXPECT_NE(raw.find("Content-Length: 33"), std::string::npos);
}

TEST(Gateway, KeepAliveServesManyRequestsAndRequestIdsAreSanitised) {
  Server s;
  auto c = Connection::open(s.port(), true, trusting(s));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(c->request(get("/healthz")).status, 200);
  EXPECT_EQ(c->request(get("/healthz", "X-Request-Id: trace-abc.123_X\r\n")).header("x-request-id"), "trace-abc.123_X");
  auto r = c->request(get("/healthz", "X-Request-Id: evil\"value<script>\r\n"));
  EXPECT_NE(r.header("x-request-id"), "evil\"value<script>");
  EXPECT_FALSE(r.header("x-request-id").empty());
}

TEST(Gateway, ReadyzReportsEachCheck) {
  Server s;
  auto r = https(s, "GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"store\":\"ok\""), std::string::npos);
  EXPECT_NE(r.body.find("\"accepting\":\"ok\""), std::string::npos);
}

TEST(Gateway, MetricsCountRequestsByRouteAndStatus) {
  Server s;
  for (int i = 0; i < 3; ++i) https(s, "GET", "/healthz");
  https(s, "GET", "/nowhere");
  // A request is counted once its answer is written and a connection once the server has
  // seen it close, both a moment after the client has moved on: read until they settle.
  auto r = https(s, "GET", "/metrics");
  for (auto until = Clock::now() + 3s; Clock::now() < until; r = https(s, "GET", "/metrics")) {
    if (metric_value(r.body, "herald_http_requests_total{route=\"other\",status=\"404\"}") == 1.0 &&
        metric_value(r.body, "herald_http_request_duration_seconds_count{route=\"/healthz\"}") == 3.0 &&
        metric_value(r.body, "herald_connections_active") == 1.0)
      break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metric_value(r.body, "herald_http_requests_total{route=\"/healthz\",status=\"200\"}"), 3.0);
  EXPECT_EQ(metric_value(r.body, "herald_http_requests_total{route=\"other\",status=\"404\"}"), 1.0);
  EXPECT_EQ(metric_value(r.body, "herald_http_request_duration_seconds_count{route=\"/healthz\"}"), 3.0);
  EXPECT_EQ(metric_value(r.body, "herald_connections_active"), 1.0);
  EXPECT_GE(metric_value(r.body, "herald_store_commits_total").value_or(0), 1.0);
}

TEST(Gateway, EveryExportedMetricIsDocumented) {
  Server s;
  https(s, "GET", "/healthz");
  std::ifstream f(std::string(HERALD_SOURCE_DIR) + "/docs/metrics.md");
  std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(doc.empty());
  std::istringstream in(https(s, "GET", "/metrics").body);
  std::string line;
  int families = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::string name = line.substr(7, line.find(' ', 7) - 7);
    ++families;
    EXPECT_NE(doc.find("| `" + name + "` |"), std::string::npos) << name << " is not in docs/metrics.md";
  }
  EXPECT_GE(families, 10);
}

TEST(Gateway, WebSocketUpgradeAnswersPingsAndSpeaksTheClientProtocol) {
  Server s;
  auto c = Connection::open(s.port(), true, trusting(s));
  auto up = ws_upgrade(*c, "/ws");
  ASSERT_EQ(up.status, 101);
  EXPECT_EQ(up.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 sample
  ws_send(*c, 1, "{\"id\":1,\"ping\":{}}");
  auto reply = ws_read(*c, 2s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->opcode, 1);
  EXPECT_NE(reply->payload.find("\"code\":\"not_connected\""), std::string::npos) << reply->payload;
  ws_send(*c, 9, "are-you-there");
  auto pong = ws_read(*c, 2s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->opcode, 10);
  EXPECT_EQ(pong->payload, "are-you-there");
  ws_send(*c, 8, std::string("\x03\xe8", 2));  // close 1000
  auto closed = ws_read(*c, 2s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->opcode, 8);
  EXPECT_EQ(closed->close_code(), 1000);
}

TEST(Gateway, WebSocketMessageOverTheLimitIsClosedWith1009) {
  Server s({.args = {"--limits.max_ws_message_bytes=1000"}});
  auto c = Connection::open(s.port(), true, trusting(s));
  ASSERT_EQ(ws_upgrade(*c, "/ws").status, 101);
  ws_send(*c, 2, std::string(5000, 'x'));
  auto f = ws_read(*c, 3s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->opcode, 8);
  EXPECT_EQ(f->close_code(), 1009);
  EXPECT_EQ(https(s, "GET", "/healthz").status, 200);
}

TEST(Gateway, PlainGetOnTheWebSocketRouteIs426) {
  Server s;
  auto r = https(s, "GET", "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_NE(r.body.find("upgrade_required"), std::string::npos);
}

TEST(Gateway, ConnectionsBeyondTheLimitAreClosedAtAccept) {
  Server s({.args = {"--limits.max_connections=2"}});
  auto a = Connection::open(s.port(), true, trusting(s));
  auto b = Connection::open(s.port(), true, trusting(s));
  EXPECT_EQ(a->request(get("/healthz")).status, 200);
  EXPECT_EQ(b->request(get("/healthz")).status, 200);
  EXPECT_THROW(Connection::open(s.port(), true, trusting(s)), std::runtime_error);
  b.reset();  // a slot frees up
  std::this_thread::sleep_for(200ms);
  auto m = a->request(get("/metrics")).body;
  EXPECT_EQ(metric_value(m, "herald_connections_rejected_total"), 1.0);
}

TEST(Gateway, SigtermDrainsClosesWebSocketsWith1001AndExitsZero) {
  Server s({.args = {"--limits.shutdown_grace=5s"}});
  auto ws = Connection::open(s.port(), true, trusting(s));
  ASSERT_EQ(ws_upgrade(*ws, "/ws").status, 101);
  auto idle = Connection::open(s.port(), true, trusting(s));
  EXPECT_EQ(idle->request(get("/healthz")).status, 200);
  auto t0 = Clock::now();
  std::thread stopper([&] { EXPECT_EQ(s.stop(SIGTERM), 0); });
  auto notice = ws_read(*ws, 4s);  // the protocol's disconnect push comes before the close frame
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->opcode, 1);
  EXPECT_NE(notice->payload.find("\"disconnect\":{\"code\":1001,\"reason\":\"shutdown\",\"reconnect\":true}"),
            std::string::npos)
      << notice->payload;
  auto f = ws_read(*ws, 4s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->opcode, 8);
  EXPECT_EQ(f->close_code(), 1001);
  ws_send(*ws, 8, std::string("\x03\xe9", 2));
  EXPECT_TRUE(idle->wait_closed(4s));
  stopper.join();
  EXPECT_LT(Clock::now() - t0, 4s);  // drained well before the grace period
  EXPECT_NE(s.log().find("\"event\":\"shutdown_complete\""), std::string::npos);
}

TEST(Gateway, PlainHttpWhenTlsIsExplicitlyOff) {
  Server s({.dev = false, .tls = false});
  auto c = Connection::open(s.port(), false);
  auto r = c->request(get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("strict-transport-security").empty());
  EXPECT_NE(s.log().find("\"event\":\"tls_disabled\""), std::string::npos);
}

TEST(Gateway, DevCertificateIsReusedAcrossRestarts) {
  TempDir dir;
  std::string first;
  for (int i = 0; i < 2; ++i) {
    Server s({.args = {"--store.data_dir=" + dir.path()}});
    std::ifstream f(dir.path() + "/dev-cert.pem");
    std::string pem((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_NE(pem.find("BEGIN CERTIFICATE"), std::string::npos);
    if (i == 0) first = pem;
    else EXPECT_EQ(pem, first);
    TlsOptions o;
    o.ca_file = dir.path() + "/dev-cert.pem";
    EXPECT_EQ(Connection::open(s.port(), true, o)->request(get("/healthz")).status, 200);
  }
}

TEST(Gateway, AccessLogOmitsTheQueryString) {
  Server s;
  https(s, "GET", "/healthz?token=do-not-log-me");
  std::this_thread::sleep_for(100ms);
  auto log = s.log();
  EXPECT_NE(log.find("\"event\":\"http_request\""), std::string::npos);
  EXPECT_EQ(log.find("do-not-log-me"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
