// SecretBytes: every path that drops bytes (destruction, reassignment, clear) wipes them
// first, so key material does not linger in freed heap memory.
#include "crypto/secret.h"

#include <openssl/crypto.h>

#include <atomic>
#include <new>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"

namespace herald::crypto {
namespace {

template <class V>
void wipe(V& v) {
  if (!v.empty()) OPENSSL_cleanse(v.data(), v.size());
}

std::atomic<std::uint64_t> g_fallbacks{0};
std::atomic<metrics::Counter*> g_fallback_counter{nullptr};

// The secure heap is set up but had no room: the secret goes to the ordinary heap
// (still zeroised on free). Counted every time, logged once per process.
void fell_back() {
  if (g_fallbacks.fetch_add(1, std::memory_order_relaxed) == 0)
    log::warn("secure_heap_full", {{"message",
                                    "secrets now also go to the ordinary heap, which may be swapped or "
                                    "dumped; see herald_secure_heap_fallbacks_total"}});
  if (auto* c = g_fallback_counter.load(std::memory_order_acquire)) c->inc();
}

}  // namespace

template <class T>
T* SecureAllocator<T>::allocate(std::size_t n) {
  void* p = OPENSSL_secure_malloc(n * sizeof(T));
  if (!p) {
    if (CRYPTO_secure_malloc_initialized()) fell_back();
    p = OPENSSL_malloc(n * sizeof(T));
  }
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

std::uint64_t secure_heap_fallbacks() {
  return g_fallbacks.load(std::memory_order_relaxed);
}

void count_secure_heap_fallbacks(metrics::Counter* counter) {
  g_fallback_counter.store(counter, std::memory_order_release);
}

void stop_counting_secure_heap_fallbacks(metrics::Counter* counter) {
  g_fallback_counter.compare_exchange_strong(counter, nullptr, std::memory_order_acq_rel);
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
