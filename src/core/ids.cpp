// The prefix comes from the OS random source once; the counter makes ids unique.
#include "core/ids.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <atomic>
#include <cstdint>

namespace herald {

namespace {
std::string make_prefix() {
  unsigned char b[6] = {};
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
    auto t = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&b));
    for (auto& c : b) c = static_cast<unsigned char>(t >>= 8);
  }
  return fmt::format("{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
}
std::atomic<std::uint64_t> g_counter{0};

// Push ids have their own prefix, so that they never read as a request id.
const std::string& push_prefix() {
  static const std::string prefix = make_prefix();
  return prefix;
}

std::string hex_counter(std::uint64_t n) {
  static const char* kHex = "0123456789abcdef";
  char buf[17];
  int i = 16;
  buf[i] = 0;
  do {
    buf[--i] = kHex[n & 15];
    n >>= 4;
  } while (n);
  return std::string(buf + i);
}
}  // namespace

std::string next_request_id() {
  static const std::string prefix = make_prefix();
  return fmt::format("{}-{:x}", prefix, g_counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string next_client_id() {
  static std::atomic<std::uint64_t> counter{0};
  return push_prefix() + "c" + hex_counter(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string next_publication_id() {
  static std::atomic<std::uint64_t> counter{0};
  return push_prefix() + "-" + hex_counter(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace herald
