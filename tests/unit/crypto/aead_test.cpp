// AES-256-GCM: round trips, and every kind of tampering (key, associated data, any
// single byte of nonce, ciphertext or tag, truncation) fails as "decrypt_failed".
#include "crypto/aead.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <stdexcept>
#include <string>

#include "crypto/encoding.h"

namespace herald::crypto {
namespace {

SecretBytes test_key(char fill = 'k') {
  return SecretBytes(std::string(kAeadKeyBytes, fill));
}

void expect_decrypt_failed(const Result<SecretBytes>& r, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error().code, Errc::kDecryptFailed) << what;
}

TEST(Aead, RoundTrip) {
  SecretBytes key = test_key();
  for (std::string plaintext : {std::string(), std::string("hello"), std::string(100000, 'x')}) {
    std::string sealed = aead_seal(key, plaintext, "app=1;row=7");
    EXPECT_EQ(sealed.size(), plaintext.size() + kAeadOverhead);
    auto opened = aead_open(key, sealed, "app=1;row=7");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(opened->view(), plaintext);
  }
}

TEST(Aead, EmptyAssociatedDataRoundTrips) {
  SecretBytes key = test_key();
  auto opened = aead_open(key, aead_seal(key, "body", ""), "");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "body");
  expect_decrypt_failed(aead_open(key, aead_seal(key, "body", ""), "x"), "AAD added on open");
}

TEST(Aead, NoncesDifferBetweenSeals) {
  SecretBytes key = test_key();
  std::string a = aead_seal(key, "same plaintext", "ad");
  std::string b = aead_seal(key, "same plaintext", "ad");
  EXPECT_NE(a.substr(0, kAeadNonceBytes), b.substr(0, kAeadNonceBytes));
  EXPECT_NE(a, b);
}

TEST(Aead, WrongKeyFails) {
  std::string sealed = aead_seal(test_key('a'), "message", "ad");
  expect_decrypt_failed(aead_open(test_key('b'), sealed, "ad"), "wrong key");
}

TEST(Aead, WrongAssociatedDataFails) {
  SecretBytes key = test_key();
  std::string sealed = aead_seal(key, "message", "app=1;row=7");
  expect_decrypt_failed(aead_open(key, sealed, "app=1;row=8"), "other row");
  expect_decrypt_failed(aead_open(key, sealed, ""), "no AAD");
}

TEST(Aead, EveryFlippedByteFails) {
  SecretBytes key = test_key();
  std::string sealed = aead_seal(key, "a message of some length", "ad");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char bit : {0x01, 0x80}) {
      std::string tampered = sealed;
      tampered[i] = static_cast<char>(tampered[i] ^ bit);
      std::string where = i < kAeadNonceBytes ? "nonce" : i < sealed.size() - kAeadTagBytes ? "ciphertext" : "tag";
      expect_decrypt_failed(aead_open(key, tampered, "ad"), where + " byte " + std::to_string(i));
    }
  }
}

TEST(Aead, TruncatedOrExtendedInputFails) {
  SecretBytes key = test_key();
  std::string sealed = aead_seal(key, "message", "ad");
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    expect_decrypt_failed(aead_open(key, sealed.substr(0, n), "ad"), "truncated to " + std::to_string(n));
  }
  expect_decrypt_failed(aead_open(key, sealed + "x", "ad"), "extended");
  expect_decrypt_failed(aead_open(key, sealed.substr(1), "ad"), "first byte dropped");
}

TEST(Aead, ErrorMessageCarriesNoPlaintextOrKey) {
  SecretBytes key = test_key('Q');
  std::string sealed = aead_seal(key, "PLAINTEXT-MARKER", "ad");
  auto r = aead_open(key, sealed, "other");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("PLAINTEXT-MARKER"), std::string::npos);
  EXPECT_EQ(r.error().message.find("QQQQ"), std::string::npos);
}

TEST(Aead, WrongKeySizeIsAProgrammingError) {
  EXPECT_THROW((void)aead_seal(SecretBytes(16), "x", ""), std::invalid_argument);
  EXPECT_THROW((void)aead_open(SecretBytes(31), std::string(40, 'x'), ""), std::invalid_argument);
}

// Interoperability: the sealed layout is nonce || ciphertext || tag, readable by plain
// OpenSSL EVP calls made here, independently of aead_open.
TEST(Aead, LayoutIsNonceCiphertextTag) {
  SecretBytes key = test_key();
  std::string sealed = aead_seal(key, "interop", "ad");
  auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ASSERT_NE(ctx, nullptr);
  unsigned char out[64];
  int len = 0, total = 0;
  std::string tag = sealed.substr(sealed.size() - kAeadTagBytes);
  ASSERT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), p), 1);
  ASSERT_EQ(EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>("ad"), 2), 1);
  ASSERT_EQ(EVP_DecryptUpdate(ctx, out, &len, p + kAeadNonceBytes, static_cast<int>(sealed.size() - kAeadOverhead)), 1);
  total = len;
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag.data()), 1);
  EXPECT_EQ(EVP_DecryptFinal_ex(ctx, out + total, &len), 1);
  EVP_CIPHER_CTX_free(ctx);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(total)), "interop");
}

}  // namespace
}  // namespace herald::crypto
