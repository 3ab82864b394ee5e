// Cryptographically secure random bytes from OpenSSL's DRBG.
#pragma once

#include <cstddef>
#include <string>

namespace herald::crypto {

// Fills `out` with `n` random bytes; throws only if the DRBG is broken.
void random_bytes(unsigned char* out, std::size_t n);
std::string random_hex(std::size_t bytes);

}  // namespace herald::crypto
