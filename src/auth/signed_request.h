// The canonical form of a server-API request and its HMAC-SHA256 signature, exactly as
// docs/signing.md defines them. Pure functions: the verifier and the SDK's tests use them.
#pragma once

#include <string>
#include <string_view>

namespace herald::auth {

// Percent-decodes and re-encodes every segment of `path` (unreserved bytes stay, others
// become %XX upper-case). Malformed escapes (`%` not followed by two hex digits) are
// kept as bytes and encoded, so every input has one canonical form.
std::string canonical_path(std::string_view path);
// Splits on '&' and the first '=', decodes ('+' stays '+'), re-encodes, sorts by name
// then value, joins with '&'. Empty parameters are dropped.
std::string canonical_query(std::string_view query);

// True if every '%' in `text` starts an escape of two hex digits. Requests with a
// malformed escape are refused before signing is checked: "%zz" and "%25zz" would
// otherwise share one canonical form, and so one signature.
bool well_formed_escapes(std::string_view text);

// True if no parameter name holds a '%' and no name appears twice. The routes read a
// parameter by its name as sent and take one value; with escaped or repeated names
// ("?%73tart=5", "?start=5&start=0") they could read something other than the sorted,
// decoded form the signature covers, so such requests are refused before signing.
bool unambiguous_query(std::string_view query);

// The schemes: v1 (HERALD-HMAC-SHA256) binds no deployment and is accepted only from
// apps listed in api.signature_v1_apps; v2 binds server.deployment_id.
enum class SigningVersion { kV1 = 1, kV2 = 2 };
inline constexpr std::string_view kAlgorithmV1 = "HERALD-HMAC-SHA256";
inline constexpr std::string_view kAlgorithmV2 = "HERALD-HMAC-SHA256-v2";

struct RequestToSign {
  SigningVersion version = SigningVersion::kV2;
  std::string_view deployment_id;  // v2 only: the second line
  std::string_view method;
  std::string_view path;   // without the query
  std::string_view query;  // after '?', as sent
  std::string_view body;
  std::string_view timestamp;
  std::string_view nonce;
  std::string_view app_key;
};

std::string canonical_request(const RequestToSign& r);
// Lower-case hex HMAC-SHA256 of the canonical request under `secret`.
std::string sign_request(const RequestToSign& r, std::string_view secret);

}  // namespace herald::auth
