// JWT verification in a fixed order: size, structure (three base64url parts, JSON
// objects), algorithm and key selection, signature, then claims. Each step refuses with
// its own stable code; no message repeats token text or key material.
#include "auth/jwt.h"

#include "core/json_finite.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

#include "crypto/encoding.h"
#include "crypto/hash.h"

namespace herald::auth {
namespace {

namespace json = boost::json;

// Deep enough for any sensible `info` object, shallow enough that a hostile token
// cannot make the parser's stack matter.
constexpr std::size_t kMaxJsonDepth = 16;
constexpr std::size_t kMaxSubBytes = 128;
constexpr std::size_t kMaxInfoBytes = 1024;

Error malformed(std::string message) {
  return make_error(Errc::kTokenMalformed, std::move(message));
}
Error alg_not_allowed(std::string message) {
  return make_error(Errc::kTokenAlgNotAllowed, std::move(message));
}
Error claim_invalid(std::string message) {
  return make_error(Errc::kTokenClaimInvalid, std::move(message));
}

const char* alg_name(JwtAlg alg) {
  switch (alg) {
    case JwtAlg::HS256:
      return "HS256";
    case JwtAlg::ES256:
      return "ES256";
    case JwtAlg::EdDSA:
      return "EdDSA";
  }
  return "";
}

// Exact, case-sensitive names (RFC 7518): "hs256" or "HS512" are other algorithms.
std::optional<JwtAlg> alg_from_name(std::string_view name) {
  for (JwtAlg alg : {JwtAlg::HS256, JwtAlg::ES256, JwtAlg::EdDSA}) {
    if (name == alg_name(alg)) return alg;
  }
  return std::nullopt;
}

std::string_view view_of(const json::string& s) {
  return {s.data(), s.size()};
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct TokenParts {
  std::string_view header, payload, signature;
  std::string_view signing_input;  // header "." payload, exactly as received
};

std::optional<TokenParts> split_token(std::string_view token) {
  auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return TokenParts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1),
                    token.substr(0, second)};
}

// Duplicate member names: Boost.JSON keeps the last one, which RFC 7515 section 4 and
// RFC 7519 section 4 allow, and which is what signer and verifier both see here.
Result<json::object> parse_object(std::string_view text, const std::string& what) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), options);
  if (ec) return malformed("the " + what + " is not valid JSON or is nested too deeply");
  if (!value.is_object()) return malformed("the " + what + " is not a JSON object");
  return std::move(value.as_object());
}

struct Header {
  JwtAlg alg = JwtAlg::HS256;
  std::optional<std::string> kid;
};

Result<Header> read_header(const json::object& header) {
  const json::value* alg = header.if_contains("alg");
  if (alg && !alg->is_string()) return malformed("the header's alg is not a string");
  if (const json::value* typ = header.if_contains("typ")) {
    if (!typ->is_string() || !equals_ignoring_case(view_of(typ->get_string()), "JWT")) {
      return malformed("the header's typ is not JWT");
    }
  }
  const json::value* kid = header.if_contains("kid");
  if (kid && !kid->is_string()) return malformed("the header's kid is not a string");

  if (!alg) return alg_not_allowed("the header names no alg");
  auto known = alg_from_name(view_of(alg->get_string()));
  if (!known) return alg_not_allowed("the token's alg is not one of HS256, ES256, EdDSA");
  // An extension we do not implement may change what the signature means (RFC 7515
  // section 4.1.11); we implement none, so any `crit` is refused.
  if (header.contains("crit")) return alg_not_allowed("the header has crit extensions, which are not supported");

  Header out;
  out.alg = *known;
  if (kid) out.kid = std::string(view_of(kid->get_string()));
  return out;
}

// A key is tried only for its own algorithm, and only if it holds material of that
// kind: an ES256 or EdDSA public key is never an HMAC secret, and an empty HMAC secret
// (which anyone could sign with) is never used.
bool key_fits(const JwtKey& key, const Header& header) {
  if (key.alg != header.alg) return false;
  if (header.kid && key.kid != *header.kid) return false;
  switch (header.alg) {
    case JwtAlg::HS256:
      return !key.secret.empty();
    case JwtAlg::ES256:
      return key.public_key && key.public_key->kind() == crypto::KeyKind::EcP256;
    case JwtAlg::EdDSA:
      return key.public_key && key.public_key->kind() == crypto::KeyKind::Ed25519;
  }
  return false;
}

bool signature_valid(const JwtKey& key, std::string_view signing_input, std::string_view signature) {
  if (key.alg == JwtAlg::HS256) {
    return crypto::ct_equal(crypto::hmac_sha256(key.secret.view(), signing_input), signature);
  }
  return key.public_key->verify(signing_input, signature);
}

// NumericDate claims must be JSON integers that fit int64. A fraction ("1.5"), an
// exponent ("1e9") or a value beyond int64 is refused as token_malformed (a claim of
// the wrong type) rather than rounded, so that every verifier reads the same instant.
Result<std::optional<std::int64_t>> read_time(const json::object& payload, const char* name) {
  const json::value* v = payload.if_contains(name);
  if (!v) return std::optional<std::int64_t>();
  if (!v->is_int64()) return malformed(std::string("the ") + name + " claim is not an integer number of seconds");
  return std::optional<std::int64_t>(v->get_int64());
}

Result<std::string> read_string(const json::object& payload, const char* name) {
  const json::value* v = payload.if_contains(name);
  if (!v) return std::string();
  if (!v->is_string()) return malformed(std::string("the ") + name + " claim is not a string");
  return std::string(view_of(v->get_string()));
}

Result<std::vector<std::string>> read_audience(const json::object& payload) {
  std::vector<std::string> out;
  const json::value* v = payload.if_contains("aud");
  if (!v) return out;
  if (v->is_string()) {
    out.emplace_back(view_of(v->get_string()));
    return out;
  }
  if (!v->is_array()) return malformed("the aud claim is neither a string nor an array of strings");
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) return malformed("the aud claim is neither a string nor an array of strings");
    out.emplace_back(view_of(item.get_string()));
  }
  return out;
}

// The registered claims, type-checked; Herald's own claims are checked later, after
// the time, audience and issuer checks.
Result<JwtClaims> read_registered_claims(const json::object& payload) {
  JwtClaims claims;
  auto exp = read_time(payload, "exp");
  if (!exp) return exp.error();
  auto nbf = read_time(payload, "nbf");
  if (!nbf) return nbf.error();
  auto iat = read_time(payload, "iat");
  if (!iat) return iat.error();
  auto aud = read_audience(payload);
  if (!aud) return aud.error();
  auto iss = read_string(payload, "iss");
  if (!iss) return iss.error();
  auto sub = read_string(payload, "sub");
  if (!sub) return sub.error();
  auto jti = read_string(payload, "jti");
  if (!jti) return jti.error();
  claims.exp = *exp;
  claims.nbf = *nbf;
  claims.iat = *iat;
  claims.aud = std::move(*aud);
  claims.iss = std::move(*iss);
  claims.sub = std::move(*sub);
  claims.jti = std::move(*jti);
  return claims;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return sum;
}

// A token's life is measured from iat and from now, whichever gives more: a backdated
// iat cannot make a long-lived token look short, nor can leaving iat out.
Status check_lifetime(const JwtClaims& claims, const JwtPolicy& policy, std::int64_t now, std::int64_t skew) {
  const std::int64_t max = policy.max_lifetime.count();
  // Without exp (allowed only when require_exp is off) there is no end to measure.
  if (max > 0 && claims.exp) {
    const std::int64_t limit = saturating_add(max, skew);
    const std::int64_t start = claims.iat ? std::min(*claims.iat, now) : now;
    if (*claims.exp > saturating_add(start, limit))
      return claim_invalid("the token lives longer than the app's maximum token lifetime");
  }
  if (policy.issued_after > 0) {
    if (!claims.iat) return claim_invalid("the token has no iat claim, which the app's token cut-off requires");
    if (*claims.iat < policy.issued_after) return claim_invalid("the token was issued before the app's token cut-off");
  }
  return ok_status();
}

Status check_times(const JwtClaims& claims, const JwtPolicy& policy, std::int64_t now) {
  std::int64_t skew = std::max<std::int64_t>(0, policy.max_skew.count());
  if (!claims.exp && policy.require_exp) return claim_invalid("the token has no exp claim");
  if (auto s = check_lifetime(claims, policy, now, skew); !s) return s;
  // now > exp + skew, written so that no claim value can overflow it.
  if (claims.exp && *claims.exp < saturating_add(now, -skew)) {
    return make_error(Errc::kTokenExpired, "the token has expired");
  }
  if (claims.nbf && *claims.nbf > saturating_add(now, skew)) {
    return make_error(Errc::kTokenNotYetValid, "the token is not valid yet (nbf)");
  }
  if (claims.iat && *claims.iat > saturating_add(now, skew)) {
    return make_error(Errc::kTokenIssuedInFuture, "the token's iat is in the future");
  }
  return ok_status();
}

Status check_audience_and_issuer(const JwtClaims& claims, const JwtPolicy& policy) {
  if (!policy.audience.empty() &&
      std::find(claims.aud.begin(), claims.aud.end(), policy.audience) == claims.aud.end()) {
    return make_error(Errc::kTokenAudienceMismatch, "the token is not meant for this audience");
  }
  if (!policy.issuer.empty() && claims.iss != policy.issuer) {
    return make_error(Errc::kTokenIssuerMismatch, "the token's issuer is not the expected one");
  }
  return ok_status();
}

Status read_herald_claims(const json::object& payload, JwtClaims& claims) {
  if (claims.sub.empty()) return claim_invalid("the sub claim is missing or empty");
  if (claims.sub.size() > kMaxSubBytes) return claim_invalid("the sub claim is longer than 128 bytes");

  if (const json::value* channels = payload.if_contains("channels")) {
    if (!channels->is_array()) return claim_invalid("the channels claim is not an array of strings");
    for (const json::value& c : channels->get_array()) {
      if (!c.is_string()) return claim_invalid("the channels claim is not an array of strings");
      claims.channels.emplace_back(view_of(c.get_string()));
    }
  }
  if (const json::value* channel = payload.if_contains("channel")) {
    if (!channel->is_string() || channel->get_string().empty()) {
      return claim_invalid("the channel claim is not a non-empty string");
    }
    claims.channel = std::string(view_of(channel->get_string()));
  }
  if (const json::value* info = payload.if_contains("info")) {
    if (!info->is_object()) return claim_invalid("the info claim is not a JSON object");
    if (!json_numbers_finite(*info)) return claim_invalid("the info claim holds a number too large for a double");
    claims.info = json::serialize(*info);
    if (claims.info.size() > kMaxInfoBytes) return claim_invalid("the info claim is larger than 1 KiB");
  }
  return ok_status();
}

std::string make_header(JwtAlg alg, std::string_view kid) {
  json::object header;
  header["alg"] = alg_name(alg);
  header["typ"] = "JWT";
  if (!kid.empty()) header["kid"] = json::string_view(kid.data(), kid.size());
  return json::serialize(header);
}

std::string signing_input(JwtAlg alg, std::string_view payload_json, std::string_view kid) {
  return crypto::base64url_encode(make_header(alg, kid)) + "." + crypto::base64url_encode(payload_json);
}

}  // namespace

Result<JwtClaims> verify_jwt(std::string_view token, std::span<const JwtKey> keys, const JwtPolicy& policy,
                             std::int64_t now) {
  if (token.size() > policy.max_token_bytes) {
    return make_error(Errc::kTokenTooLarge,
                      "the token is larger than " + std::to_string(policy.max_token_bytes) + " bytes");
  }

  // Structure. An empty signature part is left to the later steps, so that alg "none"
  // (whose signature is empty) is reported as the refused algorithm it is.
  auto parts = split_token(token);
  if (!parts) return malformed("the token does not have three dot-separated parts");
  if (parts->header.empty() || parts->payload.empty()) return malformed("the token has an empty part");
  auto header_json = crypto::base64url_decode(parts->header);
  auto payload_json = crypto::base64url_decode(parts->payload);
  auto signature = crypto::base64url_decode(parts->signature);
  if (!header_json || !payload_json || !signature) return malformed("a token part is not valid base64url");
  auto header_object = parse_object(*header_json, "token header");
  if (!header_object) return header_object.error();
  auto payload = parse_object(*payload_json, "token payload");
  if (!payload) return payload.error();

  // Algorithm and keys.
  auto header = read_header(*header_object);
  if (!header) return header.error();
  std::vector<const JwtKey*> candidates;
  for (const JwtKey& key : keys) {
    if (key_fits(key, *header)) candidates.push_back(&key);
  }
  if (candidates.empty()) {
    return alg_not_allowed(std::string("no ") + alg_name(header->alg) + " key" +
                           (header->kid ? " with the token's kid" : "") + " is configured");
  }

  // Signature.
  auto verified_by = std::find_if(candidates.begin(), candidates.end(), [&](const JwtKey* key) {
    return signature_valid(*key, parts->signing_input, *signature);
  });
  if (verified_by == candidates.end())
    return make_error(Errc::kTokenSignatureInvalid, "no configured key verifies the token's signature");
  // An identity provider's key signs tokens for every service it serves: without an
  // audience, any of them would log in here.
  if ((*verified_by)->alg != JwtAlg::HS256 && policy.public_keys_need_audience && policy.audience.empty())
    return make_error(Errc::kTokenAudienceMismatch, "tokens signed with a public key need the app to have an audience");

  // Claims.
  auto claims = read_registered_claims(*payload);
  if (!claims) return claims.error();
  if (auto s = check_times(*claims, policy, now); !s) return s.error();
  if (auto s = check_audience_and_issuer(*claims, policy); !s) return s.error();
  if (auto s = read_herald_claims(*payload, *claims); !s) return s.error();
  return claims;
}

std::string sign_jwt_hs256(std::string_view payload_json, const crypto::SecretBytes& secret, std::string_view kid) {
  // verify_jwt never uses an empty secret, so a token signed with one is a mistake.
  if (secret.empty()) throw std::invalid_argument("an HS256 secret must not be empty");
  std::string input = signing_input(JwtAlg::HS256, payload_json, kid);
  return input + "." + crypto::base64url_encode(crypto::hmac_sha256(secret.view(), input));
}

std::string sign_jwt(std::string_view payload_json, const crypto::PrivateKey& key, std::string_view kid) {
  JwtAlg alg = key.kind() == crypto::KeyKind::EcP256 ? JwtAlg::ES256 : JwtAlg::EdDSA;
  std::string input = signing_input(alg, payload_json, kid);
  return input + "." + crypto::base64url_encode(key.sign(input));
}

}  // namespace herald::auth
