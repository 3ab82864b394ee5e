// What a verification may be tagged with: the OTP-specific field checks of a send request
// (phone, e-mail and locale checks are shared: delivery/recipient.h), and the normal form
// of a recipient that limits and the blocklist key on.
#pragma once

#include <optional>
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

// The key the per-recipient limits count under: the normal form, and for e-mail with any
// `+tag` removed from the local part (and dots for gmail.com/googlemail.com), since those
// spellings reach one inbox. Only for counting: the code is sent to the address as given.
std::string recipient_limit_key(std::string_view normalized_to);

// The key the per-address limit counts under: the address parsed and printed in its
// one canonical form, an IPv4-mapped IPv6 address as the IPv4 one, and any other IPv6
// address as its /64 (one end user's network); nullopt when `ip` is not an address.
std::optional<std::string> ip_limit_key(std::string_view ip);

// The country calling code of an E.164 number ("+4915…" -> "49"), by the ITU's
// assignment of 1-, 2- and 3-digit codes; SMS budgets are counted per code.
std::string calling_code(std::string_view e164);

}  // namespace herald::otp
