// docs/signing.md, implemented from the text: canonicalisation, SHA-256 body hash,
// HMAC-SHA256 signature, nonce.
#include "herald/signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace herald::sdk {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string hex_lower(const unsigned char* p, std::size_t n) {
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexLower[p[i] >> 4];
    out[2 * i + 1] = kHexLower[p[i] & 0x0f];
  }
  return out;
}

Error invalid(std::string message) {
  return Error{"invalid_argument", std::move(message), 0, {}, 0};
}

}  // namespace

Result<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi >= 0 && lo >= 0) {
      out.push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
      continue;
    }
    return invalid("malformed percent-encoding (a '%' must be followed by two hex digits)");
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0x0f]);
    }
  }
  return out;
}

Result<std::string> canonical_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::string_view segment = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    auto decoded = percent_decode(segment);
    if (!decoded) return decoded.error();
    out += percent_encode(*decoded);
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

Result<std::string> canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    std::string_view param = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!param.empty()) {
      std::size_t eq = param.find('=');
      auto name = percent_decode(param.substr(0, eq));
      if (!name) return name.error();
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
      if (!value) return value.error();
      params.emplace_back(percent_encode(*name), percent_encode(*value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());  // by name, then value; std::string compares bytes as char
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string body_hash(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
  return hex_lower(digest, len);
}

Result<std::string> canonical_request(const SigningInput& in) {
  if (in.method.empty()) return invalid("the method is empty");
  for (char c : in.method)
    if (c < 'A' || c > 'Z') return invalid("the method must be upper-case letters");
  std::string_view target = in.target;
  std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (path.empty() || path.front() != '/') return invalid("the request target must start with '/'");
  auto cpath = canonical_path(path);
  if (!cpath) return cpath.error();
  auto cquery = canonical_query(query);
  if (!cquery) return cquery.error();
  if (in.deployment_id.find('\n') != std::string_view::npos) return invalid("the deployment id holds a line feed");
  std::string out;
  out.reserve(256 + cpath->size() + cquery->size());
  if (in.version == SigningVersion::kV2) {
    out.append(kSigningAlgorithm).push_back('\n');
    out.append(in.deployment_id).push_back('\n');
  } else {
    out.append(kSigningAlgorithmV1).push_back('\n');
  }
  out.append(in.method).push_back('\n');
  out.append(*cpath).push_back('\n');
  out.append(*cquery).push_back('\n');
  out.append(body_hash(in.body)).push_back('\n');
  out.append(in.timestamp).push_back('\n');
  out.append(in.nonce).push_back('\n');
  out.append(in.app_key);
  return out;
}

Result<std::string> sign_canonical_request(std::string_view canonical, std::string_view app_secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), app_secret.data(), static_cast<int>(app_secret.size()),
            reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), mac, &len))
    return Error{"crypto_error", "HMAC-SHA256 failed", 0, {}, 0};
  return hex_lower(mac, len);
}

Result<std::string> make_nonce() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return Error{"crypto_error", "the random generator failed", 0, {}, 0};
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string unix_timestamp_now() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

Result<SignedHeaders> sign_request(const SigningInput& in, std::string_view app_secret) {
  auto canonical = canonical_request(in);
  if (!canonical) return canonical.error();
  auto signature = sign_canonical_request(*canonical, app_secret);
  if (!signature) return signature.error();
  return SignedHeaders{std::string(in.app_key), std::string(in.timestamp), std::string(in.nonce), std::move(*signature),
                       in.version == SigningVersion::kV2 ? "2" : ""};
}

}  // namespace herald::sdk
