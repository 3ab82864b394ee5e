// The client protocol's resource limits and client-token policy against the real binary:
// a client that sends commands and never reads (S8), and client keys rotated and revoked
// through the admin API (S12).
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>

#include "harness.h"

namespace herald::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

TlsOptions trusting(const Server& s) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  return o;
}

// A connected client, or null when the connect was refused.
std::unique_ptr<Connection> ws_client(const Server& s, const DevApp& app, const std::string& token) {
  auto c = Connection::open(s.port(), true, trusting(s));
  if (ws_upgrade(*c, "/ws").status != 101) return nullptr;
  ws_send(*c, 1, R"({"id":1,"connect":{"app":")" + app.key + R"(","token":")" + token + "\"}}");
  auto r = ws_read(*c, 5s);
  if (!r || r->payload.find("\"connect\":{") == std::string::npos) return nullptr;
  return c;
}

// Reads frames until one holds `needle`; false on timeout or close.
bool read_until(Connection& c, const std::string& needle, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    auto f = ws_read(c, 1s);
    if (f && f->payload.find(needle) != std::string::npos) return true;
    if (f && f->opcode == 8) return false;
  }
  return false;
}

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
long proc_kib(int pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

double metric(const Server& s, const std::string& sample) {
  return metric_value(https(s, "GET", "/metrics").body, sample).value_or(0);
}

// S8: the attacker connects, stops reading, and asks for a ~400 KiB history page as fast
// as it may. Before the fix every reply was appended to the session's buffer (tens of
// MB a second); now the replies count against push.send_queue_max_bytes (1 MiB), the
// server stops reading its commands above half of it, the stalled write times out
// (push.write_timeout, 2 s here) and the client is closed as a slow consumer, while
// another client is still served.
TEST(PushLimits, AClientThatNeverReadsCannotGrowServerMemory) {
  Server s(Server::Options{{"--namespaces.open.publish", "authenticated", "--namespaces.open.history_size", "100",
                            "--push.write_timeout", "2s"}});
  DevApp app = dev_app(s);
  auto publisher = ws_client(s, app, client_token(app.client_secret, "pub"));
  ASSERT_TRUE(publisher);
  const std::string data = "\"" + std::string(4000, 'p') + "\"";
  for (int i = 0; i < 100; ++i)
    ws_send(*publisher, 1,
            "{\"id\":" + std::to_string(i + 2) + R"(,"publish":{"channel":"open:big","data":)" + data + "}}");
  ASSERT_TRUE(read_until(*publisher, "\"id\":101,"));
  const long rss_before = proc_kib(s.pid(), "VmRSS");
  ASSERT_GT(rss_before, 0);

  auto attacker = ws_client(s, app, client_token(app.client_secret, "attacker"));
  ASSERT_TRUE(attacker);
  for (int i = 0; i < 150; ++i)
    ws_send(*attacker, 1, "{\"id\":" + std::to_string(i + 2) + R"(,"history":{"channel":"open:big"}})");
  // The server decides within milliseconds; the client then reads at once, so that the
  // close (queued behind what the socket holds) reaches it before the hard cut.
  auto until = std::chrono::steady_clock::now() + 15s;
  while (metric(s, "herald_push_slow_consumers_total") < 1 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metric(s, "herald_push_slow_consumers_total"), 1);
  EXPECT_EQ(metric(s, "herald_push_disconnects_total{reason=\"slow_consumer\"}"), 1);

  bool told = false;
  int close_code = 0;
  try {
    for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end && !close_code;) {
      auto f = ws_read(*attacker, 2s);
      if (!f) break;
      if (f->opcode == 1 && f->payload.find("\"disconnect\":{\"code\":4500") != std::string::npos) told = true;
      if (f->opcode == 8) close_code = f->close_code();
    }
  } catch (const std::exception&) {  // EOF: the hard cut
  }
  EXPECT_TRUE(told);
  EXPECT_EQ(close_code, 4500);

  // Peak memory over the whole attack: unbounded, 150 replies of ~400 KiB were ~60 MB.
  const long peak = proc_kib(s.pid(), "VmHWM");
  EXPECT_LT(peak - rss_before, 24 * 1024) << "VmRSS before " << rss_before << " KiB, peak " << peak << " KiB";

  // The other client is still served.
  ws_send(*publisher, 1, R"({"id":500,"history":{"channel":"open:big","limit":1}})");
  EXPECT_TRUE(read_until(*publisher, "\"id\":500,\"history\""));
}

// S12 through the admin API: a second client secret, then the first revoked; tokens
// signed with the revoked one are refused, live connections are closed with 4003.
TEST(PushLimits, ARevokedClientSecretStopsWorking) {
  Server s;
  DevApp app = dev_app(s);
  const std::string auth = "Bearer " + admin_token(s);
  auto rotated = https(s, "POST", "/admin/v1/apps/" + app.id + "/client-secrets", {{"Authorization", auth}});
  ASSERT_EQ(rotated.status, 201) << rotated.body;
  auto body = json::parse(rotated.body).as_object();
  const std::string fresh(body.at("client_secret").as_string());
  EXPECT_EQ(https(s, "POST", "/admin/v1/apps/" + app.id + "/client-secrets", {{"Authorization", auth}}).status, 409);

  auto old_conn = ws_client(s, app, client_token(app.client_secret, "u1"));
  ASSERT_TRUE(old_conn);
  ASSERT_TRUE(ws_client(s, app, client_token(fresh, "u2")));

  auto revoked = https(s, "DELETE", "/admin/v1/apps/" + app.id + "/client-secrets/c0", {{"Authorization", auth}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_FALSE(ws_client(s, app, client_token(app.client_secret, "u1")));
  EXPECT_TRUE(ws_client(s, app, client_token(fresh, "u1")));
  EXPECT_TRUE(read_until(*old_conn, "\"disconnect\":{\"code\":4003"));

  // A cut-off: tokens issued before now are refused (iat required).
  auto cut = https(s, "POST", "/admin/v1/apps/" + app.id + "/jwt-policy", {{"Authorization", auth}},
                   R"({"tokens_issued_after":"now"})");
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_FALSE(ws_client(s, app, client_token(fresh, "u1", ",\"iat\":" + std::to_string(time(nullptr) - 3600))));
  EXPECT_FALSE(ws_client(s, app, client_token(fresh, "u1")));  // no iat
  EXPECT_TRUE(ws_client(s, app, client_token(fresh, "u1", ",\"iat\":" + std::to_string(time(nullptr) + 1))));
}

}  // namespace
}  // namespace herald::testing
