// SHA-256 and HMAC-SHA256 (OpenSSL EVP), returning raw 32-byte digests.
#pragma once

#include <string>
#include <string_view>

namespace herald::crypto {

constexpr std::size_t kSha256Bytes = 32;

std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace herald::crypto
