// Open connections per client address, capped at accept (limits.max_connections_per_source)
// so that one host holding idle connections or TLS handshakes cannot take them all.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace herald::net::detail {

class SourceConnections {
 public:
  // A connection's place under its source's cap; given back on destruction. An empty
  // slot (no cap, or a trusted proxy's connection) holds nothing.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
        key_ = std::move(o.key_);
      }
      return *this;
    }
    ~Slot() { release(); }

   private:
    friend class SourceConnections;
    Slot(SourceConnections* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    void release() {
      if (owner_) owner_->release(key_);
      owner_ = nullptr;
    }
    SourceConnections* owner_ = nullptr;
    std::string key_;
  };

  // A slot for one more connection from `key`, or nullopt when it has `max` already.
  // `max` 0 means no cap (the slot is empty).
  std::optional<Slot> acquire(const std::string& key, std::uint64_t max) {
    if (max == 0) return Slot();
    std::lock_guard lock(mu_);
    auto& n = open_[key];
    if (n >= max) {
      if (n == 0) open_.erase(key);
      return std::nullopt;
    }
    ++n;
    return Slot(this, key);
  }

  std::uint64_t open(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = open_.find(key);
    return it == open_.end() ? 0 : it->second;
  }

 private:
  void release(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = open_.find(key);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::uint64_t> open_;
};

}  // namespace herald::net::detail
