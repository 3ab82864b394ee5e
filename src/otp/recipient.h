// What a verification may be sent to and tagged with: the checks on every field of a
// send request, and the normal form of a recipient that limits and the blocklist key on.
#pragma once

#include <string>
#include <string_view>

namespace herald::otp {

// "+" then 7 to 15 digits, the first not 0 (ITU-T E.164).
bool valid_e164(std::string_view phone);
// An ASCII address of at most 254 characters: a dot-atom local part (at most 64) and a
// domain of at least two labels (letters, digits, hyphens; IDNs as punycode).
bool valid_email(std::string_view address);
// 1..128 printable ASCII characters, no spaces.
bool valid_device_id(std::string_view id);
// 1..64 of [a-z0-9_.-]: purposes and template names.
bool valid_purpose(std::string_view purpose);
// A BCP 47-like tag: 2..8 letters, then "-" subtags of 1..8 letters or digits; at most 35.
bool valid_locale(std::string_view locale);
// An IPv4 or IPv6 address, no port.
bool valid_ip(std::string_view ip);

// The form limits and the blocklist compare: phone numbers as given, e-mail addresses
// lower-cased (mail systems treat them case-insensitively in practice).
std::string normalize_recipient(std::string_view to);

}  // namespace herald::otp
