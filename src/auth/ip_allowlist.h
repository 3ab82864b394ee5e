// IP allowlists: IPv4 and IPv6 CIDR blocks. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// matches the IPv4 blocks, so a dual-stack listener does not bypass a v4 allowlist.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::auth {

struct Cidr {
  std::array<std::uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
  bool v6 = false;
  int prefix = 0;
  std::string text() const;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128). Error code
// "invalid_cidr"; host bits set below the prefix are refused (they suggest a typo).
Result<Cidr> parse_cidr(std::string_view text);

class IpAllowlist {
 public:
  IpAllowlist() = default;
  explicit IpAllowlist(std::vector<Cidr> blocks) : blocks_(std::move(blocks)) {}
  // An empty list allows every address.
  bool empty() const { return blocks_.empty(); }
  // `address` is an IP literal without port; unparsable addresses are not allowed.
  bool allows(std::string_view address) const;
  const std::vector<Cidr>& blocks() const { return blocks_; }

 private:
  std::vector<Cidr> blocks_;
};

// The address part of "1.2.3.4:56" or "[::1]:56" (as the gateway reports peers).
std::string_view host_of(std::string_view remote);

}  // namespace herald::auth
