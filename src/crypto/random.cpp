// A failing DRBG is not a recoverable condition for a security product: throw.
#include "crypto/random.h"

#include <openssl/rand.h>

#include <climits>
#include <stdexcept>
#include <vector>

namespace herald::crypto {

void random_bytes(unsigned char* out, std::size_t n) {
  while (n > 0) {
    int chunk = n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(out, chunk) != 1) throw std::runtime_error("the random number generator failed");
    out += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
}

std::string random_hex(std::size_t bytes) {
  static const char* kHex = "0123456789abcdef";
  std::vector<unsigned char> b(bytes);
  random_bytes(b.data(), b.size());
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace herald::crypto
