// The outbound SSRF guard: which numeric addresses a webhook (or any request whose
// destination an app chooses) must not reach.
#pragma once

#include <string_view>

namespace herald::delivery {

// True when `ip` (a numeric IPv4 or IPv6 address, no brackets) is one an outbound request must not reach unless the
// app allows private destinations: loopback (127/8, ::1), unspecified (0.0.0.0/8, ::), private (10/8, 172.16/12,
// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT 100.64/10, 192.0.0.0/24, benchmarking 198.18/15,
// documentation ranges, multicast (224/4, ff00::/8), reserved 240/4 and broadcast, IPv4-mapped (::ffff:a.b.c.d) and
// IPv4-compatible/NAT64 (64:ff9b::/96) forms of the IPv4 ones, 6to4 2002::/16 wrapping a forbidden v4, and anything
// that does not parse (fail closed).
//
// IPv6 is allowed only inside global unicast 2000::/3 (less its special-purpose blocks) or as the mapped, NAT64 or
// 6to4 form of an allowed IPv4 address: every other IPv6 block is refused, known or not. Zone ids ("fe80::1%eth0")
// do not parse, so they are refused.
bool is_forbidden_address(std::string_view ip);

}  // namespace herald::delivery
