// The fan-out generator's wire code: payloads, the Herald frame scanner, the
// incremental NATS parser (fed whole, byte by byte and in uneven pieces), the
// latency histogram and the HS256 tokens.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fanout/histogram.h"
#include "fanout/jwt.h"
#include "fanout/wire.h"

namespace fanout {
namespace {

TEST(FanoutPayload, HasTheRequestedSizeSendTimeAndSequence) {
  for (std::size_t size : {45u, 64u, 100u, 1000u}) {
    std::string out;
    append_payload(out, 123456789012345, 4321, size);
    EXPECT_EQ(out.size(), size);
    EXPECT_TRUE(out.starts_with("{\"t\":123456789012345,\"s\":4321,\"p\":\"x"));
    EXPECT_TRUE(out.ends_with("x\"}"));
    Stamp st = read_stamp(out);
    EXPECT_EQ(st.t, 123456789012345u);
    EXPECT_EQ(st.seq, 4321u);
  }
  std::string tiny;
  append_payload(tiny, 7, 0, 1);  // smaller than the fixed part: as short as it can be
  EXPECT_EQ(tiny, "{\"t\":7,\"s\":0,\"p\":\"\"}");
}

TEST(FanoutPayload, NatsPublishCountsThePayloadBytes) {
  std::string out;
  append_nats_publish(out, "bench.fanout", 42, 3, 50);
  std::size_t crlf = out.find("\r\n");
  ASSERT_NE(crlf, std::string::npos);
  EXPECT_EQ(out.substr(0, crlf), "PUB bench.fanout 50");
  EXPECT_EQ(out.size(), crlf + 2 + 50 + 2);
  EXPECT_TRUE(out.ends_with("\"}\r\n"));
}

TEST(FanoutPayload, HeraldCommands) {
  std::string out;
  append_herald_connect(out, 1, "ak_1", "tok");
  EXPECT_EQ(out, R"({"id":1,"connect":{"app":"ak_1","token":"tok"}})");
  out.clear();
  append_herald_subscribe(out, 2, "bench:fanout");
  EXPECT_EQ(out, R"({"id":2,"subscribe":{"channel":"bench:fanout"}})");
  out.clear();
  append_herald_publish(out, 10, "bench:fanout", 99, 5, 30);
  EXPECT_TRUE(out.starts_with(R"({"id":10,"publish":{"channel":"bench:fanout","data":{"t":99,"s":5,"p":")"));
  EXPECT_TRUE(out.ends_with("\"}}}"));
}

TEST(FanoutPayload, StampIsOnlyTheTKeyAndTheSRightAfterIt) {
  EXPECT_EQ(read_stamp(R"({"ts":5,"data":{"t":77,"s":3,"p":"x"}})").t, 77u);
  EXPECT_EQ(read_stamp(R"({"ts":5,"data":{"t":77,"s":3,"p":"x"}})").seq, 3u);
  EXPECT_EQ(read_stamp(R"({"ts":5,"data":{"t":77,"p":"x"}})").seq, Stamp::kNoSeq);
  EXPECT_EQ(read_stamp(R"({"ts":5,"data":{"x":"\"t\":12"}})").t, 0u);
  EXPECT_EQ(read_stamp(R"({"t":"no"})").t, 0u);
}

struct HeraldSink {
  std::vector<std::uint64_t> pubs;
  std::vector<std::pair<std::uint64_t, bool>> replies;
  int other = 0;
  void on_pub(Stamp st) { pubs.push_back(st.t); }
  void on_reply(std::uint64_t id, bool is_error, std::string_view) { replies.emplace_back(id, is_error); }
  void on_other(std::string_view) { ++other; }
};

TEST(FanoutHeraldScanner, SplitsObjectsAndTellsThemApart) {
  std::string frame =
      R"({"id":1,"connect":{"client":"c1","user":"bench-1","version":"0.1.0"}})"
      "\n"
      R"({"id":2,"subscribe":{"epoch":"e","offset":0,"recoverable":false}})"
      "\n"
      R"({"pub":{"channel":"bench:fanout","offset":1,"epoch":"e","id":"p-1","ts":17,"data":{"t":1000,"p":"xx"}}})"
      "\n"
      R"({"pub":{"channel":"bench:fanout","offset":2,"epoch":"e","id":"p-2","ts":18,"data":{"t":2000,"p":"xx"}}})"
      "\n"
      R"({"id":7,"error":{"code":"rate_limited","message":"slow down"}})"
      "\n"
      R"({"disconnect":{"code":4500,"reason":"slow_consumer","reconnect":true}})";
  HeraldSink sink;
  scan_herald_frame(frame, sink);
  EXPECT_EQ(sink.pubs, (std::vector<std::uint64_t>{1000, 2000}));
  ASSERT_EQ(sink.replies.size(), 3u);
  EXPECT_EQ(sink.replies[0], std::make_pair(std::uint64_t{1}, false));
  EXPECT_EQ(sink.replies[1], std::make_pair(std::uint64_t{2}, false));
  EXPECT_EQ(sink.replies[2], std::make_pair(std::uint64_t{7}, true));
  EXPECT_EQ(sink.other, 1);
}

TEST(FanoutHeraldScanner, KeyOrderDoesNotMatter) {
  HeraldSink sink;
  scan_herald_frame(R"({"publish":{"offset":3,"epoch":"e","id":"p-3"},"id":12})", sink);
  scan_herald_frame(R"({"x":1,"pub":{"data":{"t":5}}})", sink);
  ASSERT_EQ(sink.replies.size(), 1u);
  EXPECT_EQ(sink.replies[0].first, 12u);
  EXPECT_EQ(sink.pubs, (std::vector<std::uint64_t>{5}));
}

struct NatsSink {
  std::vector<std::uint64_t> msgs;
  int pings = 0, pongs = 0, errors = 0;
  void on_msg(Stamp st) { msgs.push_back(st.t); }
  void on_ping() { ++pings; }
  void on_pong() { ++pongs; }
  void on_error(std::string_view) { ++errors; }
};

std::string nats_stream() {
  std::string s = "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n+OK\r\nPONG\r\n";
  for (std::uint64_t t = 1; t <= 50; ++t) {
    std::string payload;
    append_payload(payload, t * 1000003, t, 40 + t % 7 * 13);
    s += "MSG bench.fanout 1 " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
    if (t % 10 == 0) s += "PING\r\n";
  }
  s += "MSG bench.fanout 1 reply.to 3\r\nabc\r\n";                                       // no send time
  s += "HMSG bench.fanout 1 18 32\r\nNATS/1.0\r\nA: b\r\n\r\n{\"t\":9,\"p\":\"\"}\r\n";  // headers first
  s += "-ERR 'Slow Consumer'\r\n";
  return s;
}

void expect_nats_result(const NatsSink& sink) {
  ASSERT_EQ(sink.msgs.size(), 52u);
  for (std::uint64_t t = 1; t <= 50; ++t) EXPECT_EQ(sink.msgs[t - 1], t * 1000003);
  EXPECT_EQ(sink.msgs[50], 0u);
  EXPECT_EQ(sink.msgs[51], 9u);
  EXPECT_EQ(sink.pings, 5);
  EXPECT_EQ(sink.pongs, 1);
  EXPECT_EQ(sink.errors, 1);
}

TEST(FanoutNatsParser, WholeStream) {
  std::string s = nats_stream();
  NatsParser parser;
  NatsSink sink;
  ASSERT_TRUE(parser.feed(s.data(), s.size(), sink));
  expect_nats_result(sink);
}

TEST(FanoutNatsParser, ByteByByte) {
  std::string s = nats_stream();
  NatsParser parser;
  NatsSink sink;
  for (char c : s) ASSERT_TRUE(parser.feed(&c, 1, sink));
  expect_nats_result(sink);
}

TEST(FanoutNatsParser, UnevenPieces) {
  std::string s = nats_stream();
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    NatsParser parser;
    NatsSink sink;
    std::size_t at = 0;
    while (at < s.size()) {
      std::size_t n = std::min<std::size_t>(s.size() - at, rng() % 97 + 1);
      ASSERT_TRUE(parser.feed(s.data() + at, n, sink));
      at += n;
    }
    expect_nats_result(sink);
  }
}

TEST(FanoutNatsParser, RefusesABadMsgLine) {
  NatsParser parser;
  NatsSink sink;
  std::string bad = "MSG subject 1 12x\r\n";
  EXPECT_FALSE(parser.feed(bad.data(), bad.size(), sink));
}

// A server-to-client frame; masked with `mask` when it is non-zero.
std::string ws_frame(int opcode, bool fin, const std::string& payload, std::uint32_t mask = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  char m = mask ? static_cast<char>(0x80) : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | static_cast<char>(payload.size())));
  } else if (payload.size() < 65536) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  }
  std::string body = payload;
  if (mask) {
    char key[4] = {static_cast<char>(mask >> 24), static_cast<char>(mask >> 16), static_cast<char>(mask >> 8),
                   static_cast<char>(mask)};
    f.append(key, 4);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(body[i] ^ key[i % 4]);
  }
  return f + body;
}

struct FrameSink {
  std::vector<std::tuple<int, bool, std::string>> frames;
  void on_frame(int opcode, bool fin, std::string_view payload) { frames.emplace_back(opcode, fin, payload); }
};

TEST(FanoutWsFrames, WalksFramesOfEverySizeAndStopsAtAPartialOne) {
  std::string big(70000, 'b'), mid(300, 'm');
  std::string stream = ws_frame(1, true, "hello") + ws_frame(9, true, "pp") + ws_frame(2, false, mid) +
                       ws_frame(0, true, "tail", 0x11223344) + ws_frame(2, true, big) + ws_frame(8, true, "");
  // Fed in growing prefixes, as reads would bring it: every frame once, in order.
  FrameSink sink;
  std::string buf;
  std::size_t fed = 0;
  while (fed < stream.size()) {
    std::size_t n = std::min<std::size_t>(stream.size() - fed, 997);
    buf.append(stream, fed, n);
    fed += n;
    WsFrameScan r = scan_ws_frames(buf.data(), buf.size(), sink);
    ASSERT_FALSE(r.bad);
    buf.erase(0, r.used);
    if (r.need) {
      EXPECT_GT(r.need, buf.size());
    }
  }
  EXPECT_TRUE(buf.empty());
  ASSERT_EQ(sink.frames.size(), 6u);
  EXPECT_EQ(sink.frames[0], std::make_tuple(1, true, std::string("hello")));
  EXPECT_EQ(sink.frames[1], std::make_tuple(9, true, std::string("pp")));
  EXPECT_EQ(sink.frames[2], std::make_tuple(2, false, mid));
  EXPECT_EQ(sink.frames[3], std::make_tuple(0, true, std::string("tail")));
  EXPECT_EQ(sink.frames[4], std::make_tuple(2, true, big));
  EXPECT_EQ(sink.frames[5], std::make_tuple(8, true, std::string()));
}

TEST(FanoutWsFrames, RefusesWhatNoServerSends) {
  FrameSink sink;
  std::string rsv = ws_frame(1, true, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);  // RSV1 without an extension
  EXPECT_TRUE(scan_ws_frames(rsv.data(), rsv.size(), sink).bad);
  std::string long_ping = ws_frame(9, true, std::string(200, 'p'));
  EXPECT_TRUE(scan_ws_frames(long_ping.data(), long_ping.size(), sink).bad);
  std::string split_ping = ws_frame(9, false, "p");
  EXPECT_TRUE(scan_ws_frames(split_ping.data(), split_ping.size(), sink).bad);
  EXPECT_TRUE(sink.frames.empty());
}

TEST(FanoutHistogram, PercentilesWithinTheBucketError) {
  LatencyHistogram a, b;
  for (std::uint64_t v = 1; v <= 100000; ++v) (v % 2 ? a : b).record(v * 1000);
  a.merge(b);
  EXPECT_EQ(a.count(), 100000u);
  EXPECT_EQ(a.max(), 100000000u);
  auto near = [](std::uint64_t got, double want) {
    EXPECT_GE(static_cast<double>(got), want * 0.999) << got;
    EXPECT_LE(static_cast<double>(got), want * 1.016) << got;
  };
  near(a.percentile(0.5), 50000000);
  near(a.percentile(0.99), 99000000);
  near(a.percentile(0.999), 99900000);
  EXPECT_EQ(a.percentile(1.0), 100000000u);
}

TEST(FanoutHistogram, BucketsAreContiguous) {
  for (std::uint64_t v = 0; v < (1u << 20); v += 7) {
    std::size_t i = LatencyHistogram::index(v);
    ASSERT_LT(i, LatencyHistogram::kBuckets);
    ASSERT_LE(v, LatencyHistogram::highest_in(i));
    if (i > 0) {
      ASSERT_GT(v, LatencyHistogram::highest_in(i - 1));
    }
  }
  EXPECT_LT(LatencyHistogram::index(~0ull), LatencyHistogram::kBuckets);
}

TEST(FanoutJwt, Hs256MatchesAnIndependentImplementation) {
  // Made with Python's hmac and base64 modules.
  EXPECT_EQ(make_hs256_token("secret", "bench-1", 1700000000),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaC0xIiwiZXhwIjoxNzAwMDAwMDAwfQ."
            "Vvd_xopg6nxA3XxVjEglLGh7AZ_J-r7ysBePJLICZIA");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

}  // namespace
}  // namespace fanout
