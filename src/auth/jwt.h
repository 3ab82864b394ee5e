// JWT (RFC 7519) in compact JWS form, verified with a strict algorithm allowlist:
// HS256 with shared secrets, ES256 with P-256 public keys, EdDSA with Ed25519 public
// keys. Never `none`, and an algorithm is only ever checked against keys of its kind,
// so a public key can never be used as an HMAC secret (no key confusion).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "crypto/secret.h"
#include "crypto/signature.h"

namespace herald::auth {

enum class JwtAlg { HS256, ES256, EdDSA };

// One verification key. HS256 keys hold `secret`; ES256 and EdDSA keys hold `public_key`
// of the matching kind (EcP256, Ed25519).
struct JwtKey {
  JwtAlg alg = JwtAlg::HS256;
  std::string kid;  // optional; when a token names a kid, only keys with that kid are tried
  crypto::SecretBytes secret;
  std::optional<crypto::PublicKey> public_key;
};

// Strict by default: a token must say when it ends, and one signed with a public key
// (an identity provider's, which signs tokens for many services) must name our audience.
struct JwtPolicy {
  std::string audience;                // when set, `aud` must equal it or (array) contain it
  std::string issuer;                  // when set, `iss` must equal it
  std::chrono::seconds max_skew{30};   // tolerance for exp, nbf and iat
  std::size_t max_token_bytes = 8192;  // larger tokens are refused before any parsing
  bool require_exp = true;
  // Longest life a token with exp may claim: exp - iat and exp - now each at most this
  // (plus the skew); 0 = no cap.
  std::chrono::seconds max_lifetime{0};
  // Tokens issued before this instant (Unix seconds; iat then required) are refused: the
  // app's "log every user out" cut-off. 0 = none.
  std::int64_t issued_after = 0;
  // A token verified by a public key is refused unless `audience` is set.
  bool public_keys_need_audience = true;
};

struct JwtClaims {
  std::string sub;
  std::optional<std::int64_t> exp, nbf, iat;
  std::string iss;
  std::vector<std::string> aud;
  std::vector<std::string> channels;   // `channels` claim (array of strings), if any
  std::optional<std::string> channel;  // `channel` claim (subscription tokens)
  std::string info;                    // `info` claim as compact JSON text ("" if absent)
  std::string jti;
};

// Error codes (Error::code), each with a message saying what failed and never echoing
// the token or key material:
//   token_too_large      the token exceeds policy.max_token_bytes
//   token_malformed      not three base64url parts, bad base64url, header/payload not a
//                        JSON object, a claim of the wrong type, or JSON nested too deep
//   token_alg_not_allowed alg missing or not HS256/ES256/EdDSA (includes "none"), or
//                        no key of that alg (and kid) is configured; `crit` present
//   token_signature_invalid no configured key verifies the signature
//   token_expired        now > exp + skew
//   token_not_yet_valid  now + skew < nbf
//   token_issued_in_future iat > now + skew
//   token_audience_mismatch, token_issuer_mismatch
//   token_audience_mismatch also when a public key verified the token and no audience
//                        is configured (policy.public_keys_need_audience)
//   token_claim_invalid  sub missing/empty/over 128 bytes, exp missing when required,
//                        a lifetime over policy.max_lifetime, iat missing or before
//                        policy.issued_after, `info` over 1 KiB, `channels` not an
//                        array of strings
// `now` is seconds since the Unix epoch.
Result<JwtClaims> verify_jwt(std::string_view token, std::span<const JwtKey> keys, const JwtPolicy& policy,
                             std::int64_t now);

// Makes an HS256 token from a compact JSON payload (for `herald token` and tests).
std::string sign_jwt_hs256(std::string_view payload_json, const crypto::SecretBytes& secret, std::string_view kid = {});
// Makes an ES256 or EdDSA token (for tests and tools).
std::string sign_jwt(std::string_view payload_json, const crypto::PrivateKey& key, std::string_view kid = {});

}  // namespace herald::auth
