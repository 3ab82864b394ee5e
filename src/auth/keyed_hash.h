// SipHash-2-4 under a per-process random key: the hash for tables and stripes keyed by
// attacker-chosen text (nonces, idempotency keys, client addresses), so that nobody can
// grind inputs offline that pile into one stripe or one bucket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::auth {

// SipHash-2-4 of `data` under the 128-bit key (k0, k1).
std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, std::string_view data);

// SipHash under a key drawn once per process from the CSPRNG.
std::uint64_t keyed_hash(std::string_view data);

// A hasher for unordered containers of strings.
struct KeyedHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return static_cast<std::size_t>(keyed_hash(s)); }
  std::size_t operator()(const std::string& s) const { return static_cast<std::size_t>(keyed_hash(s)); }
};

}  // namespace herald::auth
