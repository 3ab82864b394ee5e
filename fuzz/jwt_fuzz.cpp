// Fuzzes the JWT verifier and the base64/hex decoders: any input must give claims or an
// error code, never a crash, and a decoder may accept only the canonical spelling.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.h"
#include "crypto/encoding.h"
#include "fuzz_target.h"

namespace {

using herald::auth::JwtAlg;
using herald::auth::JwtKey;

constexpr std::int64_t kNow = 1'700'000'000;
const char* const kSecret = "fuzz HS256 secret, 32 bytes long";

std::vector<JwtKey> make_keys() {
  std::vector<JwtKey> keys(3);
  keys[0].alg = JwtAlg::HS256;
  keys[0].secret = herald::crypto::SecretBytes(std::string_view(kSecret));
  keys[1].alg = JwtAlg::ES256;
  keys[1].kid = "ec";
  keys[1].public_key = herald::crypto::PrivateKey::generate(herald::crypto::KeyKind::EcP256).public_key();
  keys[2].alg = JwtAlg::EdDSA;
  keys[2].public_key = herald::crypto::PrivateKey::generate(herald::crypto::KeyKind::Ed25519).public_key();
  return keys;
}

void check_claims(const herald::Result<herald::auth::JwtClaims>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(!r.error().code_name().empty());
    return;
  }
  FUZZ_CHECK(!r->sub.empty() && r->sub.size() <= 128 && r->info.size() <= 1024);
}

}  // namespace

HERALD_FUZZ_TARGET(jwt) {
  static const std::vector<JwtKey> keys = make_keys();
  static const herald::crypto::SecretBytes secret{std::string_view(kSecret)};
  herald::auth::JwtPolicy policy;
  policy.audience = "herald";
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // The input as a token.
  check_claims(herald::auth::verify_jwt(text, keys, policy, kNow));
  // The input as a payload, validly signed, so that the claim checks after the
  // signature are reached as well.
  check_claims(herald::auth::verify_jwt(herald::auth::sign_jwt_hs256(text, secret), keys, policy, kNow));

  if (auto bytes = herald::crypto::base64url_decode(text)) {
    FUZZ_CHECK(herald::crypto::base64url_encode(*bytes) == text);
  }
  if (auto bytes = herald::crypto::base64_decode(text)) {
    FUZZ_CHECK(herald::crypto::base64_encode(*bytes) == text);
  }
  if (auto bytes = herald::crypto::hex_decode(text)) {
    FUZZ_CHECK(bytes->size() * 2 == text.size());
  }
  return 0;
}
