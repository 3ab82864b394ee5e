// SecretBytes: key material and other secrets in memory. The bytes live in OpenSSL's
// secure heap when it is set up (locked with mlock, excluded from core dumps with
// MADV_DONTDUMP), are zeroised when freed, never printed, and compared only in constant
// time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::metrics {
class Counter;
}

namespace herald::crypto {

// Allocates from OpenSSL's secure heap, or from the ordinary heap when that is not set
// up or is full; frees either way with zeroising.
template <class T>
struct SecureAllocator {
  using value_type = T;
  SecureAllocator() = default;
  template <class U>
  SecureAllocator(const SecureAllocator<U>&) {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n);
  void deallocate(T* p, std::size_t n);
  bool operator==(const SecureAllocator&) const { return true; }
};

struct SecureMemoryStatus {
  bool initialised = false;  // the secure heap exists
  bool locked = false;       // and mlock succeeded (RLIMIT_MEMLOCK permitting)
  std::size_t bytes = 0;
};

// Sets up the secure heap (call once at start, before any secret is made). Returns what
// it got; without it, secrets still are zeroised but may be swapped or dumped.
SecureMemoryStatus init_secure_memory(std::size_t bytes);

// Allocations that found the secure heap (once set up) full and went to the ordinary
// heap, where they may be swapped or dumped. The first is logged; each is counted here
// and, from the call on, in `counter` (herald_secure_heap_fallbacks_total) until
// stop_counting_secure_heap_fallbacks(counter).
std::uint64_t secure_heap_fallbacks();
void count_secure_heap_fallbacks(metrics::Counter* counter);
void stop_counting_secure_heap_fallbacks(metrics::Counter* counter);

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
  std::vector<unsigned char, SecureAllocator<unsigned char>> v_;
};

// Constant-time equality (length is not secret).
bool ct_equal(std::string_view a, std::string_view b);

// Fresh random secret of n bytes from the CSPRNG.
SecretBytes random_secret(std::size_t n);

}  // namespace herald::crypto
