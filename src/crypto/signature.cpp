// Ed25519 and ECDSA P-256 keys over OpenSSL's EVP_PKEY. ES256 signatures travel in the
// JWS form (r || s, 32 bytes each); OpenSSL speaks DER, so both directions convert here.
#include "crypto/signature.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <cstring>
#include <stdexcept>

namespace herald::crypto {
namespace {

constexpr std::size_t kSignatureBytes = 64;  // both Ed25519 and ES256 (r || s)
constexpr std::size_t kP256ScalarBytes = 32;
// A PEM key of either kind is a few hundred bytes; anything far larger is not a key.
constexpr std::size_t kMaxPemBytes = 16 * 1024;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// Refuses to prompt for a passphrase: without this, OpenSSL reads an encrypted PEM's
// passphrase from the terminal.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

// Failed parses and verifications leave entries on the thread's OpenSSL error queue;
// a later TLS call on the same thread would misread them as its own.
Error key_error(std::string message) {
  ERR_clear_error();
  return make_error(Errc::kInvalidKey, std::move(message));
}

bool verify_failed() {
  ERR_clear_error();
  return false;
}

const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Accepts only the two kinds Herald signs with; an EC key must be on the named curve
// P-256 (explicit curve parameters have no name and are refused).
Result<KeyKind> kind_of(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
      return KeyKind::Ed25519;
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
        return key_error("the EC key does not name its curve");
      }
      if (std::strcmp(group, "prime256v1") != 0 && std::strcmp(group, "P-256") != 0) {
        return key_error("the EC key is not on curve P-256");
      }
      return KeyKind::EcP256;
    }
    default:
      return key_error("the key is neither Ed25519 nor EC P-256");
  }
}

Bio read_bio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

const EVP_MD* digest_for(KeyKind kind) {
  return kind == KeyKind::EcP256 ? EVP_sha256() : nullptr;
}

// r || s (fixed width, big-endian) to DER ECDSA-Sig-Value. Returns "" if the input
// cannot be a P-256 signature.
std::string raw_to_der(std::string_view raw) {
  if (raw.size() != 2 * kP256ScalarBytes) return {};
  Bn r(BN_bin2bn(bytes_of(raw), static_cast<int>(kP256ScalarBytes), nullptr));
  Bn s(BN_bin2bn(bytes_of(raw) + kP256ScalarBytes, static_cast<int>(kP256ScalarBytes), nullptr));
  EcdsaSig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // owned by `sig` now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// DER ECDSA-Sig-Value to r || s. Returns "" if the DER is not a P-256 signature.
std::string der_to_raw(std::string_view der) {
  const unsigned char* p = bytes_of(der);
  EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return {};
  std::string out(2 * kP256ScalarBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kP256ScalarBytes) != static_cast<int>(kP256ScalarBytes) ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kP256ScalarBytes, kP256ScalarBytes) !=
          static_cast<int>(kP256ScalarBytes)) {
    return {};
  }
  return out;
}

}  // namespace

struct PublicKey::Impl {
  PKey key;
};

struct PrivateKey::Impl {
  PKey key;
};

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxPemBytes) return key_error("not a PEM public key");
  Bio bio = read_bio(pem);
  if (!bio) throw std::runtime_error("out of memory");
  PKey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) return key_error("not a PEM public key");
  auto kind = kind_of(key.get());
  if (!kind) return kind.error();
  PublicKey out;
  out.kind_ = *kind;
  out.impl_ = std::make_shared<const Impl>(Impl{std::move(key)});
  return out;
}

bool PublicKey::verify(std::string_view message, std::string_view sig) const {
  if (!impl_ || sig.size() != kSignatureBytes) return false;
  std::string der;
  std::string_view to_check = sig;
  if (kind_ == KeyKind::EcP256) {
    der = raw_to_der(sig);
    if (der.empty()) return verify_failed();
    to_check = der;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(kind_), nullptr, impl_->key.get()) != 1) {
    return verify_failed();
  }
  if (EVP_DigestVerify(ctx.get(), bytes_of(to_check), to_check.size(), bytes_of(message), message.size()) != 1) {
    return verify_failed();
  }
  return true;
}

std::string PublicKey::to_pem() const {
  if (!impl_) return {};
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) != 1) throw std::runtime_error("cannot write PEM");
  return drain(bio.get());
}

PrivateKey PrivateKey::generate(KeyKind kind) {
  PKey key(kind == KeyKind::EcP256 ? EVP_EC_gen("P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw std::runtime_error("key generation failed");
  PrivateKey out;
  out.kind_ = kind;
  out.impl_ = std::make_shared<const Impl>(Impl{std::move(key)});
  return out;
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxPemBytes) return key_error("not a PEM private key");
  Bio bio = read_bio(pem);
  if (!bio) throw std::runtime_error("out of memory");
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) return key_error("not an unencrypted PEM private key");
  auto kind = kind_of(key.get());
  if (!kind) return kind.error();
  PrivateKey out;
  out.kind_ = *kind;
  out.impl_ = std::make_shared<const Impl>(Impl{std::move(key)});
  return out;
}

std::string PrivateKey::sign(std::string_view message) const {
  if (!impl_) throw std::logic_error("signing with an empty PrivateKey");
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest_for(kind_), nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes_of(message), message.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes_of(message),
                     message.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  sig.resize(len);
  if (kind_ == KeyKind::EcP256) sig = der_to_raw(sig);
  if (sig.size() != kSignatureBytes) throw std::runtime_error("signing produced a malformed signature");
  return sig;
}

PublicKey PrivateKey::public_key() const {
  if (!impl_) throw std::logic_error("public_key of an empty PrivateKey");
  // Through SubjectPublicKeyInfo, so that the PublicKey holds no private part.
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) != 1) throw std::runtime_error("cannot write PEM");
  auto pub = PublicKey::from_pem(drain(bio.get()));
  if (!pub) throw std::runtime_error("cannot read back the public key");
  return *pub;
}

std::string PrivateKey::to_pem() const {
  if (!impl_) return {};
  // A secure-memory BIO wipes its buffer when freed.
  Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write PEM");
  }
  return drain(bio.get());
}

}  // namespace herald::crypto
