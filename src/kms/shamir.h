// Shamir's secret sharing over GF(256), with libgfshare (so Debian's gfsplit/gfcombine
// tools read our shares), and the printable form of a share: "<x>-<hex bytes>", where x
// (1..255) is the share's number. As a gfcombine input file, a share is its bytes in a
// file whose name ends in ".<x as three digits>" (e.g. root.003).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "crypto/secret.h"

namespace herald::kms {

struct Share {
  std::uint8_t x = 0;
  crypto::SecretBytes bytes;
};

// Splits `secret` into `n` shares numbered 1..n, any `k` of which rebuild it. The
// polynomial coefficients come from OpenSSL's CSPRNG. Requires 1 <= k <= n <= 255.
std::vector<Share> split_secret(const crypto::SecretBytes& secret, unsigned n, unsigned k);
// Rebuilds the secret from k or more shares of distinct numbers (all the same size).
// A wrong share gives a wrong secret, not an error: callers check the result.
crypto::SecretBytes combine_shares(const std::vector<Share>& shares);

// "<x>-<hex>", the printable share; a secret, so kept in SecretBytes.
crypto::SecretBytes format_share(const Share& s);
// Error code "share_invalid" for anything but "<1..255>-<even number of hex digits>".
Result<Share> parse_share(std::string_view text);

}  // namespace herald::kms
