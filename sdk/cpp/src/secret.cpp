// SecretString: the bytes are overwritten before the memory is given back.
#include "herald/secret.h"

#include <openssl/crypto.h>

namespace herald::sdk {

SecretString::SecretString(SecretString&& other) noexcept : s_(std::move(other.s_)) {
  // A short string's bytes are copied, not moved: the source keeps them.
  other.wipe();
}

SecretString& SecretString::operator=(const SecretString& other) {
  if (this != &other) {
    wipe();
    s_ = other.s_;
  }
  return *this;
}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    wipe();
    s_ = std::move(other.s_);
    other.wipe();
  }
  return *this;
}

void SecretString::wipe() noexcept {
  // The whole buffer, not just size(): bytes past the end may hold an older value.
  s_.resize(s_.capacity());
  OPENSSL_cleanse(s_.data(), s_.size());
  s_.clear();
}

}  // namespace herald::sdk
