// Connection tokens for the generator's Herald clients: HS256 JWTs signed with the
// app's client secret, as an app's back end would make them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fanout {

std::string base64url(std::string_view bytes);

// A compact JWS: {"alg":"HS256","typ":"JWT"} . {"sub":SUB,"exp":EXP} . HMAC-SHA256
// keyed with the bytes of `secret`.
std::string make_hs256_token(std::string_view secret, std::string_view sub, std::int64_t exp);

}  // namespace fanout
