// Who the client is behind proxies: X-Forwarded-For is believed only from a trusted
// peer and read from the right, and PROXY protocol v1/v2 headers parse to the byte.
#include "net/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::net {
namespace {

TrustedProxies trusted(std::string_view list) {
  auto t = TrustedProxies::parse(list);
  EXPECT_TRUE(t.ok());
  return *t;
}

TEST(TrustedProxies, ParsesCidrListsAndNone) {
  EXPECT_TRUE(trusted("none").empty());
  EXPECT_TRUE(trusted("").empty());
  auto t = trusted("10.0.0.0/8, 2001:db8::/32");
  EXPECT_TRUE(t.trusts("10.1.2.3"));
  EXPECT_TRUE(t.trusts("2001:db8::5"));
  EXPECT_FALSE(t.trusts("192.0.2.1"));
  EXPECT_FALSE(TrustedProxies::parse("10.0.0.0/8,nonsense").ok());
}

TEST(ClientAddress, CanonicalIpAcceptsThePortAndBracketFormsOnly) {
  EXPECT_EQ(canonical_ip("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(canonical_ip(" 203.0.113.7:4431 "), "203.0.113.7");
  EXPECT_EQ(canonical_ip("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(canonical_ip("2001:DB8:0::1"), "2001:db8::1");
  EXPECT_EQ(canonical_ip("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(canonical_ip("unknown"), "");
  EXPECT_EQ(canonical_ip("192.0.2.1.evil"), "");
}

TEST(ClientAddress, ForwardedForFromAnUntrustedPeerIsIgnored) {
  auto t = trusted("10.0.0.0/8");
  EXPECT_EQ(client_from_forwarded_for("192.0.2.50", {"203.0.113.7"}, t), "192.0.2.50");
}

TEST(ClientAddress, ForwardedForFromATrustedPeerNamesTheClient) {
  auto t = trusted("10.0.0.0/8");
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"203.0.113.7"}, t), "203.0.113.7");
}

TEST(ClientAddress, ASpoofedLeftMostEntryDoesNotWin) {
  auto t = trusted("10.0.0.0/8");
  // The client wrote "198.51.100.99" itself; the proxy appended the address it saw.
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"198.51.100.99, 203.0.113.7"}, t), "203.0.113.7");
  // Several headers are one list; a chain of trusted proxies is walked through.
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"198.51.100.99", "203.0.113.7, 10.0.0.2"}, t), "203.0.113.7");
  // Garbage stops the walk at the last trusted hop rather than believing what is left of it.
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"198.51.100.99, junk, 10.0.0.3"}, t), "10.0.0.3");
  // Only trusted hops: the left-most of them.
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"10.0.0.5, 10.0.0.4"}, t), "10.0.0.5");
  EXPECT_EQ(client_from_forwarded_for("10.0.0.1", {"[2001:db8::7]:5555"}, t), "2001:db8::7");
}

ProxyHeader parse(const std::string& s) {
  return parse_proxy_header(s);
}

TEST(ProxyProtocol, V1HeadersParseAndTheRestIsLeftAlone) {
  std::string line = "PROXY TCP4 198.51.100.7 10.0.0.1 56324 443\r\n";
  auto h = parse(line + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.length, line.size());
  EXPECT_EQ(h.source, "198.51.100.7:56324");
  h = parse("PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\n");
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.source, "[2001:db8::7]:4000");
  h = parse("PROXY UNKNOWN\r\n");
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.source, "");
  EXPECT_EQ(parse("PROXY TCP4 198.51").state, ProxyHeader::State::kIncomplete);
  EXPECT_EQ(parse("PRO").state, ProxyHeader::State::kIncomplete);
}

TEST(ProxyProtocol, V1GarbageIsRefused) {
  for (std::string bad : std::vector<std::string>{
           "GET / HTTP/1.1\r\n\r\n", "PROXY TCP4 198.51.100.7 10.0.0.1 56324\r\n",
           "PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", "PROXY TCP4 198.51.100.7 10.0.0.1 99999 443\r\n",
           "PROXY TCP5 198.51.100.7 10.0.0.1 1 2\r\n", "PROXY " + std::string(120, 'x')})
    EXPECT_EQ(parse(bad).state, ProxyHeader::State::kInvalid) << bad;
}

std::string v2(unsigned char cmd, unsigned char fam, const std::string& addr) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(addr.size() >> 8);
  h += static_cast<char>(addr.size() & 0xff);
  return h + addr;
}

TEST(ProxyProtocol, V2HeadersParse) {
  std::string a4{"\xc6\x33\x64\x07\x0a\x00\x00\x01\xdc\x04\x01\xbb", 12};  // 198.51.100.7:56324 -> 10.0.0.1:443
  auto h = parse(v2(0x21, 0x11, a4) + "\x16\x03\x01");
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.length, 28u);
  EXPECT_EQ(h.source, "198.51.100.7:56324");
  std::string a6(36, '\0');
  a6[0] = '\x20', a6[1] = '\x01', a6[2] = '\x0d', a6[3] = '\xb8', a6[15] = '\x07';
  a6[32] = '\x0f', a6[33] = '\xa0';
  h = parse(v2(0x21, 0x21, a6 + std::string("\x03\x00\x04zzzz", 7)));  // with a TLV after the addresses
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.source, "[2001:db8::7]:4000");
  EXPECT_EQ(h.length, 16u + 36 + 7);
  h = parse(v2(0x20, 0x00, ""));  // LOCAL: the proxy's own health check
  ASSERT_EQ(h.state, ProxyHeader::State::kDone);
  EXPECT_EQ(h.source, "");
  h = parse(v2(0x21, 0x11, a4).substr(0, 20));
  EXPECT_EQ(h.state, ProxyHeader::State::kIncomplete);
  EXPECT_EQ(h.needed, 28u);
  EXPECT_EQ(parse(v2(0x11, 0x11, a4)).state, ProxyHeader::State::kInvalid);  // version 1 in a v2 header
  EXPECT_EQ(parse(v2(0x21, 0x11, a4.substr(0, 8))).state, ProxyHeader::State::kInvalid);
  EXPECT_EQ(parse(v2(0x21, 0x31, a4)).state, ProxyHeader::State::kInvalid);  // AF_UNIX
}

}  // namespace
}  // namespace herald::net
