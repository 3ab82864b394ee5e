// One verification (a code sent to one recipient, and what became of it) and its JSON
// form, which is what is sealed at rest under the app's key.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace herald::otp {

enum class State { Pending, Verified, Redeemed, Dead };

struct Verification {
  std::mutex mu;
  std::string id;
  std::string app_id;
  std::string to;
  std::string channel;
  std::string device_id;
  std::string purpose;
  std::string recipient_index;
  std::string code_hash;  // keyed hash of "<id>:<code>"
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t token_expires_ms = 0;
  std::uint32_t attempts = 0;
  State state = State::Pending;
  // purge_ms() as of the last write, for the purger, which must not take `mu`.
  std::atomic<std::int64_t> purge_at{0};

  // Kept until nothing can use it: a pending code until it expires, a success token
  // until it expires (so that a second redeem is told "used", not "not found").
  std::int64_t purge_ms() const { return std::max(expires_ms, token_expires_ms); }

  std::string to_json() const;
  // Null when the text is not a whole verification.
  static std::shared_ptr<Verification> from_json(std::string_view text);
};

}  // namespace herald::otp
