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
}  // namespace

std::string next_request_id() {
  static const std::string prefix = make_prefix();
  return fmt::format("{}-{:x}", prefix, g_counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace herald
