// SecretBytes: key material and other secrets in memory. The bytes are zeroised when
// freed (OPENSSL_cleanse), never printed, and compared only in constant time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n);  // n zero bytes
  SecretBytes(const unsigned char* p, std::size_t n);
  explicit SecretBytes(std::string_view bytes);
  SecretBytes(const SecretBytes& o);
  SecretBytes& operator=(const SecretBytes& o);
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes();

  unsigned char* data() { return v_.data(); }
  const unsigned char* data() const { return v_.data(); }
  std::size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  std::string_view view() const { return {reinterpret_cast<const char*>(v_.data()), v_.size()}; }
  // Zeroises and empties.
  void clear();

 private:
  std::vector<unsigned char> v_;
};

// Constant-time equality (length is not secret).
bool ct_equal(std::string_view a, std::string_view b);

// Fresh random secret of n bytes from the CSPRNG.
SecretBytes random_secret(std::size_t n);

}  // namespace herald::crypto
