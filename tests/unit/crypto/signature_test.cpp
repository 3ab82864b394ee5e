// Ed25519 (RFC 8032 test vectors) and ES256 (RFC 7515 A.3; raw r || s against OpenSSL's
// DER, both directions), and the key parser's refusals.
#include "crypto/signature.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "crypto/encoding.h"

namespace herald::crypto {
namespace {

std::string unhex(std::string_view text) {
  return hex_decode(text).value();
}

std::string pem_of(std::string_view label, std::string_view der) {
  std::string b64 = base64_encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

// PKCS#8 and SubjectPublicKeyInfo wrappings of raw Ed25519 keys (RFC 8410).
std::string ed25519_private_pem(std::string_view seed_hex) {
  return pem_of("PRIVATE KEY", unhex("302e020100300506032b657004220420") + unhex(seed_hex));
}
std::string ed25519_public_pem(std::string_view pub_hex) {
  return pem_of("PUBLIC KEY", unhex("302a300506032b6570032100") + unhex(pub_hex));
}
// SubjectPublicKeyInfo of an uncompressed P-256 point.
std::string p256_public_pem(std::string_view x, std::string_view y) {
  return pem_of("PUBLIC KEY", unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + "\x04" + std::string(x) +
                                  std::string(y));
}

std::string pem_of_openssl_key(EVP_PKEY* key, bool private_part) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_part) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyFree>;

PKey read_openssl_private(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PKey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

// r || s to DER, by hand with OpenSSL (not through our code).
std::string der_from_raw(std::string_view raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

std::string raw_from_der(std::string_view der) {
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

bool openssl_verify(EVP_PKEY* key, const EVP_MD* md, std::string_view msg, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string openssl_sign(EVP_PKEY* key, const EVP_MD* md, std::string_view msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

TEST(SignatureEd25519, Rfc8032Test1) {
  auto priv =
      PrivateKey::from_pem(ed25519_private_pem("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(priv.ok()) << priv.error().message;
  EXPECT_EQ(priv->kind(), KeyKind::Ed25519);
  std::string sig = priv->sign("");
  EXPECT_EQ(hex_encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0"
            "595bbe24655141438e7a100b");

  std::string expected_pub = ed25519_public_pem("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(priv->public_key().to_pem(), expected_pub);
  auto pub = PublicKey::from_pem(expected_pub);
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(pub->kind(), KeyKind::Ed25519);
  EXPECT_TRUE(pub->verify("", sig));
  EXPECT_FALSE(pub->verify("x", sig));
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(pub->verify("", flipped));
}

TEST(SignatureEd25519, Rfc8032Test2) {
  auto priv =
      PrivateKey::from_pem(ed25519_private_pem("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  ASSERT_TRUE(priv.ok());
  std::string sig = priv->sign("\x72");
  EXPECT_EQ(hex_encode(sig),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eae"
            "b4302aeeb00d291612bb0c00");
  auto pub =
      PublicKey::from_pem(ed25519_public_pem("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"));
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->verify("\x72", sig));
}

TEST(SignatureEd25519, MalformedSignaturesAreFalse) {
  PrivateKey priv = PrivateKey::generate(KeyKind::Ed25519);
  PublicKey pub = priv.public_key();
  std::string sig = priv.sign("message");
  ASSERT_TRUE(pub.verify("message", sig));
  EXPECT_FALSE(pub.verify("message", ""));
  EXPECT_FALSE(pub.verify("message", sig.substr(0, 63)));
  EXPECT_FALSE(pub.verify("message", sig + "x"));
  EXPECT_FALSE(pub.verify("message", std::string(64, '\0')));
  EXPECT_FALSE(pub.verify("message", std::string(64, '\xff')));
  EXPECT_FALSE(PrivateKey::generate(KeyKind::Ed25519).public_key().verify("message", sig));
}

TEST(SignatureEs256, SignsAndVerifies) {
  PrivateKey priv = PrivateKey::generate(KeyKind::EcP256);
  EXPECT_EQ(priv.kind(), KeyKind::EcP256);
  PublicKey pub = priv.public_key();
  EXPECT_EQ(pub.kind(), KeyKind::EcP256);
  std::string sig = priv.sign("payload");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(pub.verify("payload", sig));
  EXPECT_FALSE(pub.verify("payload!", sig));
  for (std::size_t i : {0u, 31u, 32u, 63u}) {
    std::string flipped = sig;
    flipped[i] ^= 0x01;
    EXPECT_FALSE(pub.verify("payload", flipped)) << i;
  }
  EXPECT_FALSE(PrivateKey::generate(KeyKind::EcP256).public_key().verify("payload", sig));
}

TEST(SignatureEs256, MalformedSignaturesAreFalse) {
  PrivateKey priv = PrivateKey::generate(KeyKind::EcP256);
  PublicKey pub = priv.public_key();
  std::string sig = priv.sign("m");
  EXPECT_FALSE(pub.verify("m", ""));
  EXPECT_FALSE(pub.verify("m", sig.substr(0, 63)));
  EXPECT_FALSE(pub.verify("m", sig + '\0'));
  EXPECT_FALSE(pub.verify("m", der_from_raw(sig)));                          // DER is not the JWS form
  EXPECT_FALSE(pub.verify("m", std::string(64, '\0')));                      // r = s = 0
  EXPECT_FALSE(pub.verify("m", sig.substr(0, 32) + std::string(32, '\0')));  // s = 0
  EXPECT_FALSE(pub.verify("m", std::string(64, '\xff')));                    // r, s >= n
}

// The raw form we produce is what OpenSSL accepts once converted to DER by hand, and
// a DER signature from OpenSSL converted by hand to raw is what we accept.
TEST(SignatureEs256, RawAndDerAgreeWithOpenSsl) {
  PrivateKey priv = PrivateKey::generate(KeyKind::EcP256);
  PKey openssl_key = read_openssl_private(priv.to_pem());
  ASSERT_TRUE(openssl_key);

  for (int i = 0; i < 8; ++i) {  // several, so that short r or s (leading zero bytes) occur now and then
    std::string msg = "message " + std::to_string(i);
    std::string ours = priv.sign(msg);
    std::string der = der_from_raw(ours);
    EXPECT_TRUE(openssl_verify(openssl_key.get(), EVP_sha256(), msg, der));
    EXPECT_EQ(raw_from_der(der), ours);

    std::string theirs = openssl_sign(openssl_key.get(), EVP_sha256(), msg);
    EXPECT_TRUE(priv.public_key().verify(msg, raw_from_der(theirs)));
  }
}

// Scalars with leading zero bytes must still be 32 bytes wide in r || s. About one
// signature in 256 has a short r, and one in 256 a short s; each signature is verified,
// so a scalar written unpadded (at the wrong offset) fails here as soon as one occurs.
TEST(SignatureEs256, ShortScalarsArePadded) {
  PrivateKey priv = PrivateKey::generate(KeyKind::EcP256);
  PublicKey pub = priv.public_key();
  int short_r = 0, short_s = 0;
  for (int i = 0; i < 3000 && (short_r == 0 || short_s == 0); ++i) {
    std::string msg = "m" + std::to_string(i);
    std::string sig = priv.sign(msg);
    ASSERT_EQ(sig.size(), 64u);
    ASSERT_TRUE(pub.verify(msg, sig)) << "signature " << i;
    if (sig[0] == '\0') ++short_r;
    if (sig[32] == '\0') ++short_s;
  }
  // No short scalar at all in 3000 signatures has a chance of about 1e-10.
  EXPECT_GE(short_r + short_s, 1);
}

TEST(SignatureEs256, Rfc7515AppendixA3) {
  auto x = base64url_decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
  auto y = base64url_decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
  auto sig = base64url_decode("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  ASSERT_TRUE(x && y && sig);
  auto pub = PublicKey::from_pem(p256_public_pem(*x, *y));
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(pub->kind(), KeyKind::EcP256);
  std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  EXPECT_TRUE(pub->verify(input, *sig));
  EXPECT_FALSE(pub->verify(input + "x", *sig));
}

TEST(SignatureKeys, PemRoundTrips) {
  for (KeyKind kind : {KeyKind::Ed25519, KeyKind::EcP256}) {
    PrivateKey priv = PrivateKey::generate(kind);
    std::string pem = priv.to_pem();
    EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
    auto again = PrivateKey::from_pem(pem);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->kind(), kind);
    auto pub = PublicKey::from_pem(priv.public_key().to_pem());
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(pub->to_pem(), priv.public_key().to_pem());
    EXPECT_TRUE(pub->verify("x", again->sign("x")));
  }
}

TEST(SignatureKeys, RefusesOtherKeyTypesAndCurves) {
  std::vector<PKey> others;
  others.emplace_back(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  others.emplace_back(EVP_EC_gen("P-384"));
  others.emplace_back(EVP_EC_gen("secp256k1"));
  others.emplace_back(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  others.emplace_back(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  for (const PKey& key : others) {
    ASSERT_TRUE(key);
    auto pub = PublicKey::from_pem(pem_of_openssl_key(key.get(), false));
    ASSERT_FALSE(pub.ok()) << EVP_PKEY_get0_type_name(key.get());
    EXPECT_EQ(pub.error().code, Errc::kInvalidKey);
    auto priv = PrivateKey::from_pem(pem_of_openssl_key(key.get(), true));
    ASSERT_FALSE(priv.ok()) << EVP_PKEY_get0_type_name(key.get());
    EXPECT_EQ(priv.error().code, Errc::kInvalidKey);
  }
}

TEST(SignatureKeys, RefusesGarbageAndTheWrongHalf) {
  for (const char* bad : {"", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}) {
    auto pub = PublicKey::from_pem(bad);
    ASSERT_FALSE(pub.ok());
    EXPECT_EQ(pub.error().code, Errc::kInvalidKey);
    EXPECT_FALSE(PrivateKey::from_pem(bad).ok());
  }
  PrivateKey priv = PrivateKey::generate(KeyKind::Ed25519);
  EXPECT_FALSE(PublicKey::from_pem(priv.to_pem()).ok());
  EXPECT_FALSE(PrivateKey::from_pem(priv.public_key().to_pem()).ok());
  EXPECT_FALSE(PublicKey::from_pem(std::string(1 << 20, 'A')).ok());
}

// An encrypted key must be refused, not answered with a passphrase prompt on the terminal.
TEST(SignatureKeys, RefusesAnEncryptedPrivateKeyWithoutPrompting) {
  PKey key(EVP_EC_gen("P-256"));
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, key.get(), EVP_aes_256_cbc(), pass, sizeof pass - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  auto priv = PrivateKey::from_pem(pem);
  ASSERT_FALSE(priv.ok());
  EXPECT_EQ(priv.error().code, Errc::kInvalidKey);
}

TEST(SignatureKeys, AnEmptyPublicKeyVerifiesNothing) {
  PublicKey empty;
  EXPECT_FALSE(empty.verify("m", std::string(64, 'x')));
}

}  // namespace
}  // namespace herald::crypto
