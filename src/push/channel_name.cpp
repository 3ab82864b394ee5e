// Channel name rules, checked once per command so that names can go into JSON unescaped.
#include "push/channel_name.h"

#include <algorithm>

namespace herald::push {
namespace {

bool allowed_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == ':' || c == '#' || c == '.' || c == ',' || c == '@' || c == '=' || c == '+' || c == '/';
}

}  // namespace

bool ChannelName::allows_user(std::string_view user) const {
  return std::find(users.begin(), users.end(), user) != users.end();
}

Result<ChannelName> parse_channel(std::string_view name) {
  if (name.empty()) return make_error(Errc::kChannelInvalid, "the channel name is empty");
  if (name.size() > kMaxChannelBytes) return make_error(Errc::kChannelInvalid, "the channel name exceeds 255 bytes");
  for (char c : name)
    if (!allowed_char(c))
      return make_error(Errc::kChannelInvalid, "the channel name may only hold A-Z a-z 0-9 _ - : # . , @ = + /");
  ChannelName out;
  out.full = name;
  auto colon = name.find(':');
  auto hash = name.find('#');
  if (colon != std::string_view::npos && (hash == std::string_view::npos || colon < hash)) {
    out.ns = name.substr(0, colon);
    if (out.ns.empty()) return make_error(Errc::kChannelInvalid, "the namespace before ':' is empty");
  } else {
    out.ns = "default";
  }
  if (hash != std::string_view::npos) {
    std::string_view list = name.substr(hash + 1);
    if (list.empty()) return make_error(Errc::kChannelInvalid, "a personal channel names no user after '#'");
    std::size_t start = 0;
    while (start <= list.size()) {
      auto comma = list.find(',', start);
      std::string_view user = list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
      if (user.empty()) return make_error(Errc::kChannelInvalid, "an empty user id in a personal channel");
      if (user.find('#') != std::string_view::npos)
        return make_error(Errc::kChannelInvalid, "a personal channel has one '#'");
      // A longer id is one no user can have (valid_user_id): such a channel would be
      // created, published to and held in history for nobody.
      if (!valid_user_id(user))
        return make_error(Errc::kChannelInvalid, "a user id in a personal channel exceeds 128 bytes");
      out.users.push_back(user);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::string personal_channel(std::string_view user) {
  return "user#" + std::string(user);
}

}  // namespace herald::push
