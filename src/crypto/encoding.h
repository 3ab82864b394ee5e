// Base64 (RFC 4648 section 4) and base64url without padding (section 5, as JWS uses it),
// and hex. Decoders are strict: a character outside the alphabet, bad padding or
// non-zero trailing bits is an error, so that one byte string has one encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::crypto {

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);

}  // namespace herald::crypto
