// Public-key signatures for tokens and checkpoints: Ed25519 and ECDSA P-256/SHA-256.
// Keys are parsed from PEM (SubjectPublicKeyInfo / PKCS#8) into an opaque handle.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::crypto {

enum class KeyKind { Ed25519, EcP256 };

// An immutable public key, cheap to copy (shared).
class PublicKey {
 public:
  // Parses a PEM "PUBLIC KEY"; only Ed25519 and EC P-256 keys are accepted
  // (error code "invalid_key" otherwise).
  static Result<PublicKey> from_pem(std::string_view pem);
  KeyKind kind() const { return kind_; }
  // Ed25519: `sig` is the 64-byte signature. EcP256: `sig` is the 64-byte JWS form
  // (r || s, each 32 bytes big-endian), converted to DER internally; the message is
  // hashed with SHA-256. Any malformed signature is simply `false`.
  bool verify(std::string_view message, std::string_view sig) const;
  // The key as PEM SubjectPublicKeyInfo.
  std::string to_pem() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  KeyKind kind_ = KeyKind::Ed25519;
};

// A private signing key (the material is held by OpenSSL and freed with the key).
class PrivateKey {
 public:
  static PrivateKey generate(KeyKind kind);
  static Result<PrivateKey> from_pem(std::string_view pem);  // PKCS#8 PEM
  KeyKind kind() const { return kind_; }
  // Ed25519: 64-byte signature. EcP256: 64-byte r || s (JWS form) over SHA-256(message).
  std::string sign(std::string_view message) const;
  PublicKey public_key() const;
  std::string to_pem() const;  // PKCS#8; a secret: never log it

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  KeyKind kind_ = KeyKind::Ed25519;
};

}  // namespace herald::crypto
