// Canonicalisation is the whole security of request signing: two encodings of one
// request must give one string, and two different requests two different strings.
#include "auth/signed_request.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/hash.h"

namespace herald::auth {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

bool well_formed_escapes(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size()) return false;
    if (hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

std::string canonical_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    auto slash = path.find('/', start);
    out += encode(decode(path.substr(start, slash == std::string_view::npos ? path.npos : slash - start)));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    std::string_view p = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!p.empty()) {
      auto eq = p.find('=');
      std::string_view name = p.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1);
      params.emplace_back(encode(decode(name)), encode(decode(value)));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [n, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += n;
    out.push_back('=');
    out += v;
  }
  return out;
}

bool unambiguous_query(std::string_view query) {
  std::vector<std::string_view> names;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    std::string_view p = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!p.empty()) {
      std::string_view name = p.substr(0, p.find('='));
      if (name.find('%') != std::string_view::npos) return false;
      names.push_back(name);
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) == names.end();
}

std::string canonical_request(const RequestToSign& r) {
  std::string out;
  if (r.version == SigningVersion::kV2) {
    out.append(kAlgorithmV2).push_back('\n');
    out.append(r.deployment_id).push_back('\n');
  } else {
    out.append(kAlgorithmV1).push_back('\n');
  }
  out.append(r.method).push_back('\n');
  out.append(canonical_path(r.path)).push_back('\n');
  out.append(canonical_query(r.query)).push_back('\n');
  out.append(crypto::hex_encode(crypto::sha256(r.body))).push_back('\n');
  out.append(r.timestamp).push_back('\n');
  out.append(r.nonce).push_back('\n');
  out.append(r.app_key);
  return out;
}

std::string sign_request(const RequestToSign& r, std::string_view secret) {
  return crypto::hex_encode(crypto::hmac_sha256(secret, canonical_request(r)));
}

}  // namespace herald::auth
