// Who the client is when proxies stand in between: the trusted-proxy list, the
// X-Forwarded-For walk and the PROXY protocol (v1 text, v2 binary) header. Plain
// functions over bytes, so that they are tested without sockets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ip_allowlist.h"
#include "core/result.h"

namespace herald::net {

// `server.trusted_proxies`: comma-separated CIDRs, empty or "none" for no proxy.
class TrustedProxies {
 public:
  static Result<TrustedProxies> parse(std::string_view list);
  bool empty() const { return list_.empty(); }
  // `host` is an IP literal without port.
  bool trusts(std::string_view host) const { return !list_.empty() && list_.allows(host); }

 private:
  auth::IpAllowlist list_;
};

// The IP literal in canonical form ("::ffff:1.2.3.4" as "1.2.3.4"), from a bare address,
// "1.2.3.4:80", "[::1]" or "[::1]:80"; empty when it is not one.
std::string canonical_ip(std::string_view text);

// The client behind `peer_host` (canonical IP of the hop that connected to us) given
// the request's X-Forwarded-For values in order: the hops are read right to left and
// the first one that is not a trusted proxy is the client, so that entries a client
// wrote itself (on the left) never win. Only a trusted peer is believed at all; an
// unreadable entry stops the walk at the last trusted hop.
std::string client_from_forwarded_for(std::string_view peer_host, const std::vector<std::string_view>& values,
                                      const TrustedProxies& trusted);

// A PROXY protocol header at the start of a connection.
struct ProxyHeader {
  enum class State { kIncomplete, kInvalid, kDone };
  State state = State::kIncomplete;
  std::size_t length = 0;  // bytes the header takes (kDone)
  std::size_t needed = 0;  // kIncomplete: the total the header takes, once known (else 0)
  std::string source;      // "1.2.3.4:5678" or "[::1]:5678"; empty for LOCAL/UNKNOWN
};

// Longest header accepted: v1's 107 bytes, v2's 16 plus its addresses and some TLVs.
inline constexpr std::size_t kMaxProxyHeader = 16 + 1024;

ProxyHeader parse_proxy_header(std::string_view bytes);

}  // namespace herald::net
