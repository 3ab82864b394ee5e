// Client address resolution behind trusted proxies (see client_address.h). The PROXY
// protocol formats follow haproxy's proxy-protocol.txt (v1 and v2).
#include "net/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace herald::net {

Result<TrustedProxies> TrustedProxies::parse(std::string_view list) {
  TrustedProxies t;
  if (list == "none") return t;
  std::vector<auth::Cidr> blocks;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      auto c = auth::parse_cidr(item);
      if (!c) return make_error(Errc::kInvalidConfig, "server.trusted_proxies: " + c.error().message);
      blocks.push_back(*c);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  t.list_ = auth::IpAllowlist(std::move(blocks));
  return t;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The address part of "a.b.c.d:port", "[v6]:port", "[v6]" or a bare address.
std::string_view strip_port(std::string_view s) {
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    return close == std::string_view::npos ? std::string_view() : s.substr(1, close - 1);
  }
  auto colon = s.find(':');
  if (colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) return s.substr(0, colon);
  return s;
}

std::string from_bytes_v4(const unsigned char* b) {
  char out[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, b, out, sizeof out);
  return out;
}

std::string from_bytes_v6(const unsigned char* b) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, b)) return from_bytes_v4(b + 12);
  char out[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, b, out, sizeof out);
  return out;
}

std::string with_port(const std::string& ip, unsigned port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

}  // namespace

std::string canonical_ip(std::string_view text) {
  std::string h(strip_port(trim(text)));
  if (h.empty() || h.size() > INET6_ADDRSTRLEN) return {};
  unsigned char b[16];
  if (inet_pton(AF_INET, h.c_str(), b) == 1) return from_bytes_v4(b);
  if (inet_pton(AF_INET6, h.c_str(), b) == 1) return from_bytes_v6(b);
  return {};
}

std::string client_from_forwarded_for(std::string_view peer_host, const std::vector<std::string_view>& values,
                                      const TrustedProxies& trusted) {
  std::string client(peer_host);
  if (!trusted.trusts(peer_host)) return client;
  // Several headers are one list, in order (RFC 9110 5.3); walk it from the right.
  std::vector<std::string_view> hops;
  for (auto v : values) {
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      hops.push_back(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::string ip = canonical_ip(*it);
    if (ip.empty()) break;
    client = ip;
    if (!trusted.trusts(ip)) break;
  }
  return client;
}

namespace {

constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

ProxyHeader invalid() {
  return ProxyHeader{ProxyHeader::State::kInvalid, 0, 0, {}};
}

bool parse_port(std::string_view s, unsigned& port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc{} && p == s.data() + s.size() && port <= 65535;
}

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" or "PROXY UNKNOWN ...\r\n".
ProxyHeader parse_v1(std::string_view bytes) {
  auto end = bytes.find("\r\n");
  if (end == std::string_view::npos)
    return bytes.size() >= 107 ? invalid() : ProxyHeader{ProxyHeader::State::kIncomplete, 0, 0, {}};
  if (end + 2 > 107) return invalid();
  std::string_view line = bytes.substr(6, end - 6);
  std::vector<std::string_view> f;
  std::size_t start = 0;
  while (start <= line.size()) {
    auto sp = line.find(' ', start);
    f.push_back(line.substr(start, sp == std::string_view::npos ? line.npos : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  ProxyHeader h{ProxyHeader::State::kDone, end + 2, 0, {}};
  if (!f.empty() && f[0] == "UNKNOWN") return h;
  if (f.size() != 5 || (f[0] != "TCP4" && f[0] != "TCP6")) return invalid();
  unsigned char b[16], d[16];
  std::string src(f[1]), dst(f[2]);
  int af = f[0] == "TCP4" ? AF_INET : AF_INET6;
  unsigned sport = 0, dport = 0;
  if (inet_pton(af, src.c_str(), b) != 1 || inet_pton(af, dst.c_str(), d) != 1 || !parse_port(f[3], sport) ||
      !parse_port(f[4], dport))
    return invalid();
  h.source = with_port(af == AF_INET ? from_bytes_v4(b) : from_bytes_v6(b), sport);
  return h;
}

// 12-byte signature, version/command, family/protocol, 2-byte length, addresses, TLVs.
ProxyHeader parse_v2(std::string_view bytes) {
  if (bytes.size() < 16) return ProxyHeader{ProxyHeader::State::kIncomplete, 0, 0, {}};
  auto u = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  if ((u(12) >> 4) != 2) return invalid();
  unsigned command = u(12) & 0x0F;
  std::size_t len = (static_cast<std::size_t>(u(14)) << 8) | u(15);
  if (16 + len > kMaxProxyHeader || command > 1) return invalid();
  if (bytes.size() < 16 + len) return ProxyHeader{ProxyHeader::State::kIncomplete, 0, 16 + len, {}};
  ProxyHeader h{ProxyHeader::State::kDone, 16 + len, 0, {}};
  if (command == 0) return h;  // LOCAL: the proxy's own connection (a health check)
  const auto* a = reinterpret_cast<const unsigned char*>(bytes.data()) + 16;
  switch (u(13) >> 4) {
    case 0x1:  // AF_INET: src, dst (4 each), sport, dport
      if (len < 12) return invalid();
      h.source = with_port(from_bytes_v4(a), (static_cast<unsigned>(a[8]) << 8) | a[9]);
      return h;
    case 0x2:  // AF_INET6: src, dst (16 each), sport, dport
      if (len < 36) return invalid();
      h.source = with_port(from_bytes_v6(a), (static_cast<unsigned>(a[32]) << 8) | a[33]);
      return h;
    case 0x0:  // AF_UNSPEC: no address to take
      return h;
    default:  // AF_UNIX and the like carry no IP: refused rather than guessed at
      return invalid();
  }
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view bytes) {
  std::size_t n = std::min<std::size_t>(bytes.size(), 12);
  if (std::memcmp(bytes.data(), kV2Signature, n) == 0) {
    if (bytes.size() < 12) return ProxyHeader{ProxyHeader::State::kIncomplete, 0, 0, {}};
    return parse_v2(bytes);
  }
  constexpr std::string_view kV1 = "PROXY ";
  n = std::min(bytes.size(), kV1.size());
  if (bytes.substr(0, n) != kV1.substr(0, n)) return invalid();
  if (bytes.size() < kV1.size()) return ProxyHeader{ProxyHeader::State::kIncomplete, 0, 0, {}};
  return parse_v1(bytes);
}

}  // namespace herald::net
