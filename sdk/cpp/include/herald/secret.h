// A string that holds a secret (AppSecret, admin token, client secret): its bytes are
// overwritten with OPENSSL_cleanse when it is destroyed, moved from or reassigned.
#pragma once

#include <string>
#include <string_view>

namespace herald::sdk {

class SecretString {
 public:
  SecretString() = default;
  SecretString(std::string text) : s_(std::move(text)) {}   // NOLINT: implicit, so options read naturally
  SecretString(const char* text) : s_(text ? text : "") {}  // NOLINT
  SecretString(std::string_view text) : s_(text) {}         // NOLINT
  SecretString(const SecretString& other) : s_(other.s_) {}
  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(const SecretString& other);
  SecretString& operator=(SecretString&& other) noexcept;
  ~SecretString() { wipe(); }

  std::string_view view() const noexcept { return s_; }
  bool empty() const noexcept { return s_.empty(); }
  std::size_t size() const noexcept { return s_.size(); }
  // Overwrites and empties the string.
  void wipe() noexcept;

 private:
  std::string s_;
};

}  // namespace herald::sdk
