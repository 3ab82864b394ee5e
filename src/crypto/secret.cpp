// SecretBytes: every path that drops bytes (destruction, reassignment, clear) wipes them
// first, so key material does not linger in freed heap memory.
#include "crypto/secret.h"

#include <openssl/crypto.h>

#include <new>

#include "crypto/random.h"

namespace herald::crypto {
namespace {

template <class V>
void wipe(V& v) {
  if (!v.empty()) OPENSSL_cleanse(v.data(), v.size());
}

}  // namespace

template <class T>
T* SecureAllocator<T>::allocate(std::size_t n) {
  void* p = OPENSSL_secure_malloc(n * sizeof(T));
  if (!p) p = OPENSSL_malloc(n * sizeof(T));  // secure heap full: still zeroised on free
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

template <class T>
void SecureAllocator<T>::deallocate(T* p, std::size_t n) {
  if (!p) return;
  if (CRYPTO_secure_allocated(p)) {
    OPENSSL_secure_clear_free(p, n * sizeof(T));
  } else {
    OPENSSL_clear_free(p, n * sizeof(T));
  }
}

template struct SecureAllocator<unsigned char>;

SecureMemoryStatus init_secure_memory(std::size_t bytes) {
  SecureMemoryStatus st;
  // The heap size must be a power of two; the minimum allocation 32 bytes (a key).
  std::size_t size = 4096;
  while (size < bytes) size <<= 1;
  int r = CRYPTO_secure_malloc_init(size, 32);
  st.initialised = r != 0;
  st.locked = r == 1;
  st.bytes = st.initialised ? size : 0;
  return st;
}

SecretBytes::SecretBytes(std::size_t n) : v_(n, 0) {}

SecretBytes::SecretBytes(const unsigned char* p, std::size_t n) : v_(p, p + n) {}

SecretBytes::SecretBytes(std::string_view bytes)
    : v_(reinterpret_cast<const unsigned char*>(bytes.data()),
         reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()) {}

SecretBytes::SecretBytes(const SecretBytes& o) : v_(o.v_) {}

SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
  if (this != &o) {
    // Wipe and release before copying: assigning in place could reallocate and leave
    // the old buffer in freed memory unwiped.
    clear();
    v_ = o.v_;
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : v_(std::move(o.v_)) {
  o.v_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    clear();
    v_ = std::move(o.v_);
    o.v_.clear();
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  wipe(v_);
}

void SecretBytes::clear() {
  wipe(v_);
  v_.clear();
  v_.shrink_to_fit();
}

bool ct_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretBytes random_secret(std::size_t n) {
  SecretBytes s(n);
  if (n > 0) random_bytes(s.data(), s.size());
  return s;
}

}  // namespace herald::crypto
