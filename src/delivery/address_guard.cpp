// Address classification for the SSRF guard. Works on the parsed bytes, so every
// spelling of an address (leading zeros, compressed IPv6, embedded dotted quads) is
// judged by what it is rather than by how it is written.
#include "delivery/address_guard.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace herald::delivery {
namespace {

struct V4Block {
  std::uint32_t base;
  int bits;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// IANA's IPv4 special-purpose registry, less the globally reachable anycast entries
// (192.0.0.9, 192.0.0.10 are inside 192.0.0.0/24, which is refused whole).
constexpr std::array kForbiddenV4{
    V4Block{v4(0, 0, 0, 0), 8},        // "this network", unspecified
    V4Block{v4(10, 0, 0, 0), 8},       // private
    V4Block{v4(100, 64, 0, 0), 10},    // CGNAT shared address space
    V4Block{v4(127, 0, 0, 0), 8},      // loopback
    V4Block{v4(169, 254, 0, 0), 16},   // link-local (cloud metadata lives here)
    V4Block{v4(172, 16, 0, 0), 12},    // private
    V4Block{v4(192, 0, 0, 0), 24},     // IETF protocol assignments
    V4Block{v4(192, 0, 2, 0), 24},     // TEST-NET-1
    V4Block{v4(192, 88, 99, 0), 24},   // former 6to4 relay anycast
    V4Block{v4(192, 168, 0, 0), 16},   // private
    V4Block{v4(198, 18, 0, 0), 15},    // benchmarking
    V4Block{v4(198, 51, 100, 0), 24},  // TEST-NET-2
    V4Block{v4(203, 0, 113, 0), 24},   // TEST-NET-3
    V4Block{v4(224, 0, 0, 0), 4},      // multicast
    V4Block{v4(240, 0, 0, 0), 4},      // reserved, and 255.255.255.255 broadcast
};

bool forbidden_v4(std::uint32_t a) {
  for (const auto& b : kForbiddenV4) {
    const std::uint32_t mask = ~std::uint32_t{0} << (32 - b.bits);
    if ((a & mask) == b.base) return true;
  }
  return false;
}

using V6 = std::array<unsigned char, 16>;

// Whether the first `bits` bits of `a` equal those of `prefix` (which spells out every
// byte the prefix touches).
bool has_prefix(const V6& a, std::initializer_list<unsigned char> prefix, int bits) {
  int i = 0;
  for (unsigned char p : prefix) {
    if (bits <= 0) break;
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (p & mask)) return false;
    ++i;
    bits -= 8;
  }
  if (bits > 0) throw std::logic_error("has_prefix: prefix shorter than its length");
  return true;
}

std::uint32_t v4_at(const V6& a, int offset) {
  return (std::uint32_t{a[offset]} << 24) | (std::uint32_t{a[offset + 1]} << 16) | (std::uint32_t{a[offset + 2]} << 8) |
         std::uint32_t{a[offset + 3]};
}

bool forbidden_v6(const V6& a) {
  // Forms that carry an IPv4 address: judged by that address.
  if (has_prefix(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96)) return forbidden_v4(v4_at(a, 12));        // mapped
  if (has_prefix(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) return forbidden_v4(v4_at(a, 12));  // NAT64
  if (has_prefix(a, {0x20, 0x02}, 16)) return forbidden_v4(v4_at(a, 2));                                       // 6to4
  // Everything outside global unicast: ::, ::1, the deprecated IPv4-compatible ::/96,
  // discard-only 100::/64, ULA fc00::/7, link-local fe80::/10, site-local fec0::/10,
  // multicast ff00::/8, NAT64 local use 64:ff9b:1::/48 and whatever is still unassigned.
  if (!has_prefix(a, {0x20}, 3)) return true;
  if (has_prefix(a, {0x20, 0x01, 0x00}, 23)) return true;        // IETF protocol assignments, Teredo, benchmarking
  if (has_prefix(a, {0x20, 0x01, 0x0d, 0xb8}, 32)) return true;  // documentation
  if (has_prefix(a, {0x3f, 0xff, 0x00}, 20)) return true;        // documentation (RFC 9637)
  return false;
}

}  // namespace

bool is_forbidden_address(std::string_view ip) {
  if (ip.empty() || ip.size() > INET6_ADDRSTRLEN || ip.find('\0') != std::string_view::npos) return true;
  const std::string text(ip);
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) return forbidden_v4(ntohl(a4.s_addr));
  V6 a6{};
  if (inet_pton(AF_INET6, text.c_str(), a6.data()) == 1) return forbidden_v6(a6);
  return true;
}

}  // namespace herald::delivery
