// AES-256-GCM with a random 96-bit nonce per message. Sealed form: nonce (12 bytes) ||
// ciphertext || tag (16 bytes). Associated data is authenticated, not stored: the
// caller binds a ciphertext to its place (app, table, row id) by passing the same
// associated data to open().
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/secret.h"

namespace herald::crypto {

constexpr std::size_t kAeadKeyBytes = 32;
constexpr std::size_t kAeadNonceBytes = 12;
constexpr std::size_t kAeadTagBytes = 16;
constexpr std::size_t kAeadOverhead = kAeadNonceBytes + kAeadTagBytes;

// `key` must be 32 bytes (a programming error otherwise: throws std::invalid_argument).
std::string aead_seal(const SecretBytes& key, std::string_view plaintext, std::string_view associated_data);
// Fails with code "decrypt_failed" on a wrong key, wrong associated data or any change
// to the sealed bytes; the message never includes key or plaintext material.
Result<SecretBytes> aead_open(const SecretBytes& key, std::string_view sealed, std::string_view associated_data);

}  // namespace herald::crypto
