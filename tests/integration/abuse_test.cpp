// Abuse of the connection layer through the real binary, each attack for seconds against
// one server while a well-behaved client keeps publishing (abuse_support.h): slowloris
// headers and bodies, idle TLS handshakes, oversized frames and bodies, a non-reading
// subscriber. RSS is measured before, during and after; each prints an "ABUSE" line.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

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

// ---- Slowloris ----

struct Trickler {
  std::unique_ptr<Connection> c;
  std::string rest;  // bytes still to trickle, one a round
  Clock::time_point opened;
  bool cut = false;
};

// Opens `n` TLS connections that each send `head` at once and then `rest` one byte a
// round (50 ms); returns when every one has been cut or `limit` has passed, with the
// longest a connection lived.
milliseconds trickle_wave(const Server& s, int n, const std::string& head, const std::string& rest, milliseconds limit,
                          int& cut, milliseconds& shortest) {
  std::vector<Trickler> ts;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Trickler t{Connection::open(s.port(), true, trusting(s)), rest, Clock::now()};
    t.c->write(head);
    ts.push_back(std::move(t));
  }
  milliseconds longest{0};
  shortest = milliseconds::max();
  cut = 0;
  while (cut < n && Clock::now() - t0 < limit) {
    for (auto& t : ts) {
      if (t.cut) continue;
      bool failed = false;
      try {
        t.c->write(t.rest.empty() ? std::string("a") : t.rest.substr(0, 1));
        if (!t.rest.empty()) t.rest.erase(0, 1);
      } catch (const std::runtime_error&) {
        failed = true;  // the server closed: the second write after its close fails
      }
      if (!failed) continue;
      t.cut = true;
      ++cut;
      auto lived = std::chrono::duration_cast<milliseconds>(Clock::now() - t.opened);
      longest = std::max(longest, lived);
      shortest = std::min(shortest, lived);
    }
    std::this_thread::sleep_for(50ms);
  }
  return longest;
}

// 100 connections trickle a request header and 100 a body under its Content-Length,
// one byte every 50 ms, in two waves; each is cut at the read timeout, the second wave
// costs no more memory than the first, and the good client's publishes are answered.
TEST(Abuse, SlowlorisHeadersAndBodiesAreCutAndCostBoundedMemory) {
  Server s({.args = {"--limits.read_timeout=1500ms"}});
  Watch w(s, dev_app(s));
  const std::string header_rest = "X-Padding: " + std::string(400, 'a') + "\r\n\r\n";
  const std::string body_head = "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n";
  std::vector<long> rss_after_wave;
  milliseconds longest{0}, shortest = milliseconds::max();
  int total_cut = 0;
  for (int wave = 0; wave < 2; ++wave) {
    // Both kinds at once: 100 header tricklers and 100 body tricklers.
    int cut_h = 0, cut_b = 0;
    milliseconds low_h{0}, low_b{0};
    milliseconds long_h{0}, long_b{0};
    std::thread bodies([&] { long_b = trickle_wave(s, 100, body_head, std::string(2000, '{'), 8s, cut_b, low_b); });
    long_h = trickle_wave(s, 100, "GET /healthz HTTP/1.1\r\nHost: x\r\n", header_rest, 8s, cut_h, low_h);
    bodies.join();
    EXPECT_EQ(cut_h, 100) << "wave " << wave;
    EXPECT_EQ(cut_b, 100) << "wave " << wave;
    total_cut += cut_h + cut_b;
    longest = std::max({longest, long_h, long_b});
    shortest = std::min({shortest, low_h, low_b});
    rss_after_wave.push_back(w.rss_now());
  }
  w.stop(300ms);
  // The whole request must arrive within the read timeout from its first byte.
  EXPECT_GE(shortest, 1200ms);
  EXPECT_LE(longest, 3500ms * kSlow);
  EXPECT_EQ(metric(s, "herald_timeouts_total{phase=\"read\"}"), 400);
  EXPECT_LT(rss_growth(w.peak_growth_kib()), 48 * 1024);
  EXPECT_LT(rss_growth(rss_after_wave[1] - rss_after_wave[0]), 4 * 1024) << "the second wave grew the server's memory";
  EXPECT_LE(w.attack_audit(), 0);  // a request never read is never audited
  expect_served(w, 20);
  w.report("slowloris_headers_and_bodies",
           "sockets=400 cut=" + std::to_string(total_cut) + " shortest_ms=" + std::to_string(shortest.count()) +
               " longest_ms=" + std::to_string(longest.count()) + " rss_wave1_kib=" +
               std::to_string(rss_after_wave[0]) + " rss_wave2_kib=" + std::to_string(rss_after_wave[1]));
}

// ---- Idle TLS handshakes ----

// The first flight of a TLS client (a ClientHello), made once on memory BIOs.
std::string client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, BIO_new(BIO_s_mem()), out);
  SSL_connect(ssl);  // wants to read the ServerHello: the hello is in `out`
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<std::size_t>(std::max(0L, n)));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

// 200 connections that never start the TLS handshake and 200 that send a ClientHello
// and then nothing, in three waves: each is closed at the handshake timeout, the memory
// the first wave took is reused by the next ones, and the good client is served.
TEST(Abuse, IdleTlsHandshakesAreClosedAtTheHandshakeTimeout) {
  Server s({.args = {"--limits.handshake_timeout=1s"}});
  const std::string hello = client_hello();
  ASSERT_GT(hello.size(), 100u);
  ASSERT_EQ(hello[0], '\x16');  // a handshake record
  Watch w(s, dev_app(s));
  std::vector<long> rss_after_wave;
  milliseconds longest{0};
  int closed = 0;
  for (int wave = 0; wave < 3; ++wave) {
    std::vector<std::unique_ptr<Connection>> idle;
    for (int i = 0; i < 400; ++i) {
      idle.push_back(Connection::open_tcp(s.port()));
      if (i % 2) idle.back()->write(hello);
    }
    auto opened = Clock::now();
    for (auto& c : idle) closed += c->wait_closed(std::chrono::duration_cast<milliseconds>(opened + 4s - Clock::now()));
    longest = std::max(longest, std::chrono::duration_cast<milliseconds>(Clock::now() - opened));
    std::this_thread::sleep_for(200ms);
    rss_after_wave.push_back(w.rss_now());
  }
  w.stop(300ms);
  EXPECT_EQ(closed, 1200);
  EXPECT_LE(longest, 2500ms * kSlow);  // the handshake timeout (1 s) after the last open, and detection
  EXPECT_EQ(metric(s, "herald_timeouts_total{phase=\"handshake\"}"), 1200);
  EXPECT_LT(rss_growth(w.peak_growth_kib()), 48 * 1024);
  EXPECT_LT(rss_growth(rss_after_wave[2] - rss_after_wave[0]), 8 * 1024) << "later waves grew the server's memory";
  EXPECT_LE(w.attack_audit(), 0);
  expect_served(w, 25);
  w.report("idle_tls_handshakes", "sockets=1200 closed=" + std::to_string(closed) +
                                      " longest_close_after_open_ms=" + std::to_string(longest.count()) +
                                      " rss_after_waves_kib=" + std::to_string(rss_after_wave[0]) + "/" +
                                      std::to_string(rss_after_wave[1]) + "/" + std::to_string(rss_after_wave[2]));
}

// ---- Oversized frames and bodies ----

// A masked WebSocket frame with an explicit FIN bit and, when `claimed` is set, a
// declared length other than the payload's (the attacker need not send what it claims).
std::string ws_frame(int opcode, const std::string& payload, bool fin, std::uint64_t claimed = 0) {
  std::uint64_t len = claimed ? claimed : payload.size();
  std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  if (len < 126) {
    f += static_cast<char>(0x80 | len);
  } else if (len < 65536) {
    f += {static_cast<char>(0x80 | 126), static_cast<char>(len >> 8), static_cast<char>(len & 0xff)};
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((len >> (8 * i)) & 0xff);
  }
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// What the server did with one oversized attempt: "1009", "413", or how it failed.
std::string oversized_attempt(const Server& s, int kind) {
  auto c = Connection::open(s.port(), true, trusting(s));
  try {
    if (kind == 2 || kind == 3) {  // HTTP: a declared 1 GiB body, or 1.5 MiB really sent
      std::string head = "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         std::string(kind == 2 ? "1073741824" : "1572864") + "\r\n\r\n";
      c->write(head);
      if (kind == 3)
        for (int i = 0; i < 24; ++i) c->write(std::string(65536, 'b'));
      auto r = c->request("", 5000ms);
      return std::to_string(r.status) + (code_of(r.body) == "body_too_large" ? "" : "?" + code_of(r.body));
    }
    if (ws_upgrade(*c, "/ws").status != 101) return "no_upgrade";
    if (kind == 0) {  // one frame declaring 1 GiB, 16 KiB of it sent
      c->write(ws_frame(2, std::string(16384, 'x'), true, 1ULL << 30));
    } else {  // fragments of one message, never finished, the third one past 64 KiB
      c->write(ws_frame(1, std::string(32768, 'y'), false));
      c->write(ws_frame(0, std::string(32768, 'y'), false));
      c->write(ws_frame(0, std::string(1024, 'y'), false));
    }
    for (auto until = Clock::now() + 5s; Clock::now() < until;) {
      auto f = ws_read(*c, 5s);
      if (!f) return "no_close";
      if (f->opcode == 8) return std::to_string(f->close_code());
    }
    return "no_close";
  } catch (const std::exception& e) {
    return std::string("cut:") + e.what();
  }
}

// For three seconds, oversized WebSocket frames (declared and fragmented) and HTTP
// bodies (declared and sent) one after another: each is refused (1009, 413) without
// the server reading it whole, memory stays flat, the good client is served.
TEST(Abuse, OversizedFramesAndBodiesAreRefusedRepeatedly) {
  Server s;
  Watch w(s, dev_app(s));
  std::map<std::string, int> outcomes;
  int attempts = 0;
  long rss_mid = 0;
  for (auto start = Clock::now(); Clock::now() - start < 3s; ++attempts) {
    std::string o = oversized_attempt(s, attempts % 4);
    ++outcomes[std::to_string(attempts % 4) + "=" + o];
    if (attempts == 40) rss_mid = w.rss_now();
  }
  w.stop(300ms);
  // A body really sent may meet the close (after its 413) before it is all written:
  // the server stopped reading at the limit. Everything else is answered with its code.
  int refused = 0;
  for (const auto& [k, n] : outcomes) {
    bool ok = k.ends_with("=1009") || k.ends_with("=413") || k == "3=cut:write failed";
    EXPECT_TRUE(ok) << k << " x" << n;
    refused += ok ? n : 0;
  }
  EXPECT_GE(attempts, 40);
  EXPECT_EQ(refused, attempts);
  EXPECT_LT(rss_growth(w.peak_growth_kib()), 32 * 1024);
  EXPECT_LT(rss_growth(w.rss_after() - rss_mid), 8 * 1024) << "memory grew with the attempts";
  EXPECT_LE(w.attack_audit(), 0);
  expect_served(w, 15);
  w.report("oversized_frames_and_bodies", "attempts=" + std::to_string(attempts) +
                                              " refused=" + std::to_string(refused) + " outcomes=" + kv(outcomes) +
                                              " rss_mid_kib=" + std::to_string(rss_mid));
}

// ---- A client that never reads ----

// A WebSocket client whose connect was answered, or null.
std::unique_ptr<Connection> ws_client(const Server& s, const DevApp& app, const std::string& user) {
  auto c = Connection::open(s.port(), true, trusting(s));
  if (ws_upgrade(*c, "/ws").status != 101) return nullptr;
  ws_send(
      *c, 1,
      R"({"id":1,"connect":{"app":")" + app.key + R"(","token":")" + client_token(app.client_secret, user) + "\"}}");
  auto r = ws_read(*c, 5s);
  if (!r || r->payload.find("\"connect\":{") == std::string::npos) return nullptr;
  return c;
}

// Reads frames until one holds `needle`.
bool read_until(Connection& c, const std::string& needle, milliseconds timeout = 5s) {
  for (auto end = Clock::now() + timeout; Clock::now() < end;) {
    auto f = ws_read(c, 1s);
    if (f && f->payload.find(needle) != std::string::npos) return true;
  }
  return false;
}

// The offsets of the publications in one frame (the server may put several, one a line).
void collect_offsets(const std::string& payload, std::vector<long>& out) {
  for (auto at = payload.find("\"pub\":{"); at != std::string::npos; at = payload.find("\"pub\":{", at + 1)) {
    auto o = payload.find("\"offset\":", at);
    if (o != std::string::npos) out.push_back(std::stol(payload.substr(o + 9)));
  }
}

// One subscriber stops reading on a channel that gets publications of 8 KB for four
// seconds (hundreds of MB) while two others read everything: the non-reader is cut as a slow consumer once its
// queue passes push.send_queue_max_bytes (1 MiB) and the kernel's buffers, the readers
// get every publication in order, and server memory stays bounded.
TEST(Abuse, ANonReadingSubscriberIsCutWhileOthersReceiveEverything) {
  Server s({.args = {"--namespaces.open.publish=authenticated", "--push.commands_per_second=100000",
                     "--push.command_burst=100000", "--push.write_timeout=3s"}});
  DevApp app = dev_app(s);
  const std::string ch = "open:busy";
  auto sub = [&](Connection& c) {
    ws_send(c, 1, R"({"id":2,"subscribe":{"channel":")" + ch + "\"}}");
    return read_until(c, "\"id\":2,");
  };
  auto slow = ws_client(s, app, "slow");
  auto pub = ws_client(s, app, "pub");
  ASSERT_TRUE(slow && pub);
  ASSERT_TRUE(sub(*slow));
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < 2; ++i) {
    readers.push_back(ws_client(s, app, "reader" + std::to_string(i)));
    ASSERT_TRUE(readers.back() && sub(*readers.back()));
  }
  Watch w(s, app);
  std::atomic<std::size_t> published{std::numeric_limits<std::size_t>::max()};  // known once publishing ends
  std::vector<std::vector<long>> got(readers.size());
  std::vector<std::atomic<std::size_t>> counts(readers.size());
  std::vector<std::thread> reading;
  for (std::size_t r = 0; r < readers.size(); ++r)
    reading.emplace_back([&, r] {
      for (auto end = Clock::now() + 40s; got[r].size() < published && Clock::now() < end;) {
        try {
          if (auto f = ws_read(*readers[r], 200ms)) collect_offsets(f->payload, got[r]);
          counts[r] = got[r].size();
        } catch (const std::exception&) {
          return;  // closed: what it got is checked below
        }
      }
    });
  // Four seconds of publications of 8 KB: 20 publishes, then their 20 replies, paced by
  // the readers (at most two batches, 320 KB, behind: readers that keep up).
  auto readers_behind = [&](int sent) {
    for (auto& c : counts)
      if (c + 40 < static_cast<std::size_t>(sent)) return true;
    return false;
  };
  const std::string data = "\"" + std::string(8000, 'p') + "\"";
  int sent = 0, acked = 0;
  for (auto start = Clock::now(); Clock::now() - start < 4s;) {
    for (int j = 0; j < 20; ++j, ++sent)
      ws_send(
          *pub, 1,
          "{\"id\":" + std::to_string(sent + 10) + R"(,"publish":{"channel":")" + ch + R"(","data":)" + data + "}}");
    for (auto end = Clock::now() + 10s; acked < sent && Clock::now() < end;) {
      auto f = ws_read(*pub, 1s);
      for (auto at = f ? f->payload.find("\"publish\":{") : std::string::npos; at != std::string::npos;
           at = f->payload.find("\"publish\":{", at + 1))
        ++acked;
    }
    ASSERT_EQ(acked, sent);
    for (auto end = Clock::now() + 10s; readers_behind(sent) && Clock::now() < end;) std::this_thread::sleep_for(1ms);
  }
  published = static_cast<std::size_t>(sent);
  for (auto& t : reading) t.join();
  long rss_mid = w.rss_now();
  double slow_cut = metric(s, "herald_push_slow_consumers_total");
  // The non-reader now reads: what the kernel held, then the end of the connection.
  std::size_t slow_got = 0;
  bool slow_closed = false;
  try {
    for (auto end = Clock::now() + 10s; Clock::now() < end && !slow_closed;) {
      auto f = ws_read(*slow, 2s);
      if (!f) break;
      std::vector<long> offs;
      collect_offsets(f->payload, offs);
      slow_got += offs.size();
      slow_closed = f->opcode == 8;
    }
  } catch (const std::exception&) {
    slow_closed = true;  // EOF: cut at the TCP level
  }
  w.stop(300ms);
  EXPECT_EQ(slow_cut, 1);
  EXPECT_TRUE(slow_closed);
  EXPECT_LT(slow_got, static_cast<std::size_t>(sent));
  for (std::size_t r = 0; r < readers.size(); ++r) {
    ASSERT_EQ(got[r].size(), static_cast<std::size_t>(sent)) << "reader " << r;
    for (int i = 0; i < sent; ++i) ASSERT_EQ(got[r][i], i + 1) << "reader " << r << " publication " << i;
  }
  EXPECT_LT(rss_growth(w.peak_growth_kib()), 32 * 1024);
  EXPECT_LE(w.attack_audit(), 0);
  expect_served(w, 25);
  w.report("non_reading_subscriber",
           "publications=" + std::to_string(sent) +
               " bytes_each=8000 slow_consumers_cut=" + std::to_string(static_cast<int>(slow_cut)) +
               " slow_got=" + std::to_string(slow_got) + " reader0_got=" + std::to_string(got[0].size()) +
               " reader1_got=" + std::to_string(got[1].size()) + " rss_mid_kib=" + std::to_string(rss_mid));
}

}  // namespace
}  // namespace herald::testing::abuse
