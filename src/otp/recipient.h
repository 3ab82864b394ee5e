// What a verification may be tagged with: the OTP-specific field checks of a send request
// (phone, e-mail and locale checks are shared: delivery/recipient.h), and the normal form
// of a recipient that limits and the blocklist key on.
#pragma once

#include <string>
#include <string_view>

namespace herald::otp {

// 1..128 printable ASCII characters, no spaces.
bool valid_device_id(std::string_view id);
// 1..64 of [a-z0-9_.-]: purposes and template names.
bool valid_purpose(std::string_view purpose);
// An IPv4 or IPv6 address, no port.
bool valid_ip(std::string_view ip);

// The form limits and the blocklist compare: phone numbers as given, e-mail addresses
// lower-cased (mail systems treat them case-insensitively in practice).
std::string normalize_recipient(std::string_view to);

}  // namespace herald::otp
