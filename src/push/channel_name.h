// Channel names: 1..255 bytes of [A-Za-z0-9_-:#.,@=+/]. The text before the first ':'
// names the namespace ("default" without one); text after '#' lists the users a
// personal channel belongs to (comma-separated).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::push {

constexpr std::size_t kMaxChannelBytes = 255;

struct ChannelName {
  std::string_view full;
  std::string_view ns;             // "default" when the name has no ':'
  std::vector<std::string_view> users;  // after '#'; empty when not personal
  bool personal() const { return !users.empty(); }
  // True if `user` is one of the users a personal channel names.
  bool allows_user(std::string_view user) const;
};

// Error code "channel_invalid" with a message saying which rule the name breaks.
Result<ChannelName> parse_channel(std::string_view name);

// A user id that messages and personal channels can name: 1 to 128 bytes without ','
// or '#' (the separators of personal channel names).
inline bool valid_user_id(std::string_view user) {
  return !user.empty() && user.size() <= 128 && user.find_first_of(",#") == std::string_view::npos;
}

// The personal channel of one user: "user#<id>".
std::string personal_channel(std::string_view user);

}  // namespace herald::push
