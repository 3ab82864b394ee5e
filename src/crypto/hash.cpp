// SHA-256 over OpenSSL's one-shot EVP call, HMAC-SHA256 over a per-thread EVP_MAC
// context. A failure here means the library itself is broken, which no caller can
// recover from: throw.
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <stdexcept>

namespace herald::crypto {
namespace {

// OpenSSL's one-shot calls may reject a null pointer even with a zero length, which an
// empty string_view can carry.
const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string out(kSha256Bytes, '\0');
  unsigned int len = 0;
  if (EVP_Digest(bytes_of(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != kSha256Bytes) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

namespace {

// HMAC() fetches the MAC and digest implementations on every call, which costs more than
// hashing a short message: each thread keeps one context set to HMAC-SHA256 and only
// re-keys it.
struct HmacContext {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  HmacContext() {
    mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!ctx || EVP_MAC_CTX_set_params(ctx, params) != 1) throw std::runtime_error("HMAC-SHA256 unavailable");
  }
  ~HmacContext() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
  HmacContext(const HmacContext&) = delete;
  HmacContext& operator=(const HmacContext&) = delete;
};

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  thread_local HmacContext h;
  std::string out(kSha256Bytes, '\0');
  std::size_t len = 0;
  bool ok = EVP_MAC_init(h.ctx, bytes_of(key), key.size(), nullptr) == 1 &&
            EVP_MAC_update(h.ctx, bytes_of(data), data.size()) == 1 &&
            EVP_MAC_final(h.ctx, reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) == 1;
  // The context keeps state derived from the key until it is keyed again: key it with
  // a constant so that nothing of `key` outlives the call.
  static const unsigned char kBlank = 0;
  ok = EVP_MAC_init(h.ctx, &kBlank, 1, nullptr) == 1 && ok;
  if (!ok || len != kSha256Bytes) throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

}  // namespace herald::crypto
