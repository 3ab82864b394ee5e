// CIDR matching with inet_pton: no hand-rolled address parsing.
#include "auth/ip_allowlist.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace herald::auth {
namespace {

bool parse_address(std::string_view text, std::array<std::uint8_t, 16>& out, bool& v6) {
  std::string s(text);
  out.fill(0);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
    v6 = true;
    static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.data(), kMapped, 12) == 0) {  // ::ffff:a.b.c.d is an IPv4 address
      std::memmove(out.data(), out.data() + 12, 4);
      std::memset(out.data() + 4, 0, 12);
      v6 = false;
    }
    return true;
  }
  return false;
}

bool prefix_matches(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b, int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.data(), b.data(), static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[static_cast<std::size_t>(full)] & mask) == (b[static_cast<std::size_t>(full)] & mask);
}

}  // namespace

std::string Cidr::text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

Result<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  auto slash = text.find('/');
  if (!parse_address(text.substr(0, slash), c.addr, c.v6))
    return make_error(Errc::kInvalidCidr, "'" + std::string(text) + "' is not an IP address or CIDR block");
  int max = c.v6 ? 128 : 32;
  c.prefix = max;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    int n = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (ec != std::errc{} || end != p.data() + p.size() || n < 0 || n > max)
      return make_error(Errc::kInvalidCidr, "'" + std::string(text) + "' has a bad prefix length");
    c.prefix = n;
  }
  std::array<std::uint8_t, 16> masked = c.addr;
  for (int bit = c.prefix; bit < max; ++bit)
    masked[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  if (masked != c.addr)
    return make_error(Errc::kInvalidCidr, "'" + std::string(text) + "' has host bits set below its prefix");
  return c;
}

bool IpAllowlist::allows(std::string_view address) const {
  if (blocks_.empty()) return true;
  std::array<std::uint8_t, 16> a{};
  bool v6 = false;
  if (!parse_address(address, a, v6)) return false;
  for (const auto& b : blocks_)
    if (b.v6 == v6 && prefix_matches(a, b.addr, b.prefix)) return true;
  return false;
}

std::string_view host_of(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return close == std::string_view::npos ? remote : remote.substr(1, close - 1);
  }
  auto colon = remote.rfind(':');
  if (colon != std::string_view::npos && remote.find(':') == colon) return remote.substr(0, colon);
  return remote;
}

}  // namespace herald::auth
