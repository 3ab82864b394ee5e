// Request signing for the server API (docs/signing.md), as pure functions: the
// canonical request, its HMAC-SHA256 signature, and the four X-Herald-* headers.
// ServerClient uses these; they are public for tests and for callers that send
// requests with their own HTTP stack.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "herald/result.h"

namespace herald::sdk {

// The first line of a canonical request: v2 (the default) binds the server's
// deployment id; v1 is accepted only from apps the server lists in api.signature_v1_apps.
inline constexpr std::string_view kSigningAlgorithm = "HERALD-HMAC-SHA256-v2";
inline constexpr std::string_view kSigningAlgorithmV1 = "HERALD-HMAC-SHA256";
enum class SigningVersion { kV1 = 1, kV2 = 2 };

// Percent-decodes `in` (a `+` stays a plus sign). Fails with invalid_argument on a `%`
// that is not followed by two hex digits.
Result<std::string> percent_decode(std::string_view in);
// Keeps A-Z a-z 0-9 - . _ ~ and writes every other byte as %XX (upper-case hex).
std::string percent_encode(std::string_view in);

// The path (everything before `?`) with each segment between `/`s decoded and
// re-encoded: "/a%7eb" -> "/a~b".
Result<std::string> canonical_path(std::string_view path);
// The query (everything after `?`, without it): parameters split at the first `=`,
// names and values decoded and re-encoded, empty parameters dropped, sorted by
// canonical name then canonical value (bytewise), joined with `&`.
Result<std::string> canonical_query(std::string_view query);

// Lower-case hex SHA-256 of `body` (for an empty body, e3b0c442...b855).
std::string body_hash(std::string_view body);

struct SigningInput {
  std::string_view method;         // upper case, e.g. "POST"
  std::string_view target;         // the request target as sent: path and optional "?query"
  std::string_view body;           // the exact body bytes
  std::string_view timestamp;      // Unix seconds in decimal, exactly as sent
  std::string_view nonce;          // exactly as sent
  std::string_view app_key;        // exactly as sent
  std::string_view deployment_id;  // v2: the server's server.deployment_id ("" if it has none)
  SigningVersion version = SigningVersion::kV2;
};

// The string to sign: nine lines (v2; eight for v1) joined by "\n", no trailing line feed.
Result<std::string> canonical_request(const SigningInput& in);
// Lower-case hex HMAC-SHA256 of `canonical` under the AppSecret's UTF-8 bytes.
Result<std::string> sign_canonical_request(std::string_view canonical, std::string_view app_secret);

// A fresh nonce: 16 bytes from OpenSSL's CSPRNG, base64url without padding (22 chars).
Result<std::string> make_nonce();
// Unix seconds now, as decimal text.
std::string unix_timestamp_now();

// The header values of one signed request.
struct SignedHeaders {
  std::string key;        // X-Herald-Key
  std::string timestamp;  // X-Herald-Timestamp
  std::string nonce;      // X-Herald-Nonce
  std::string signature;  // X-Herald-Signature
  std::string version;    // X-Herald-Signature-Version: "2"; empty for v1 (send no header)
};

// Signs `in` (its timestamp, nonce and key are copied to the headers).
Result<SignedHeaders> sign_request(const SigningInput& in, std::string_view app_secret);

}  // namespace herald::sdk
