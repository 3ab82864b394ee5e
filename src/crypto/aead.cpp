// AES-256-GCM seal/open over OpenSSL EVP. Every failure to open is reported the same
// way ("decrypt_failed"), so the error tells an attacker nothing about which check failed.
#include "crypto/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "crypto/random.h"

namespace herald::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// Fetched once: gcm() makes OpenSSL 3 look the cipher up in its provider
// store on every init, which cost more than encrypting a kilobyte.
const EVP_CIPHER* gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!cipher) throw std::runtime_error("AES-256-GCM is not available");
  return cipher;
}

void require_key_size(const SecretBytes& key) {
  if (key.size() != kAeadKeyBytes) throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
}

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// EVP takes int lengths: feed longer inputs in pieces. With `out` null the input is AAD.
bool update(EVP_CIPHER_CTX* ctx, bool encrypt, unsigned char* out, std::string_view in) {
  while (!in.empty()) {
    int chunk = in.size() > static_cast<std::size_t>(INT_MAX / 2) ? INT_MAX / 2 : static_cast<int>(in.size());
    int written = 0;
    int rc = encrypt ? EVP_EncryptUpdate(ctx, out, &written, bytes_of(in), chunk)
                     : EVP_DecryptUpdate(ctx, out, &written, bytes_of(in), chunk);
    if (rc != 1) return false;
    if (out) out += written;
    in.remove_prefix(static_cast<std::size_t>(chunk));
  }
  return true;
}

// Leaves no entry on the thread's OpenSSL error queue, where a later TLS call on the
// same thread would find it and misreport its own state.
Error decrypt_failed() {
  ERR_clear_error();
  return make_error(Errc::kDecryptFailed, "the ciphertext does not open with this key and associated data");
}

}  // namespace

std::string aead_seal(const SecretBytes& key, std::string_view plaintext, std::string_view associated_data) {
  require_key_size(key);
  std::string sealed(kAeadNonceBytes + plaintext.size() + kAeadTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(sealed.data());
  random_bytes(nonce, kAeadNonceBytes);

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  unsigned char final_block[16];  // GCM's final step outputs nothing; a real buffer all the same
  int final_len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), gcm(), nullptr, key.data(), nonce) != 1 ||
      !update(ctx.get(), true, nullptr, associated_data) ||
      !update(ctx.get(), true, nonce + kAeadNonceBytes, plaintext) ||
      EVP_EncryptFinal_ex(ctx.get(), final_block, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagBytes),
                          nonce + kAeadNonceBytes + plaintext.size()) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return sealed;
}

Result<SecretBytes> aead_open(const SecretBytes& key, std::string_view sealed, std::string_view associated_data) {
  require_key_size(key);
  if (sealed.size() < kAeadOverhead) return decrypt_failed();
  auto nonce = sealed.substr(0, kAeadNonceBytes);
  auto ciphertext = sealed.substr(kAeadNonceBytes, sealed.size() - kAeadOverhead);
  // GCM_SET_TAG takes a non-const pointer; OpenSSL copies it and does not write.
  std::string tag(sealed.substr(sealed.size() - kAeadTagBytes));

  SecretBytes plaintext(ciphertext.size());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("out of memory");
  unsigned char final_block[16];
  int final_len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), gcm(), nullptr, key.data(), bytes_of(nonce)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagBytes), tag.data()) != 1 ||
      !update(ctx.get(), false, nullptr, associated_data) || !update(ctx.get(), false, plaintext.data(), ciphertext) ||
      EVP_DecryptFinal_ex(ctx.get(), final_block, &final_len) != 1) {
    return decrypt_failed();  // `plaintext` (unauthenticated bytes) is wiped on return
  }
  return plaintext;
}

}  // namespace herald::crypto
