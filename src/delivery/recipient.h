// Where a message may be sent, checked before anything is stored: phone numbers, e-mail
// addresses and locale tags, shared by every module that sends (otp, messages).
#pragma once

#include <string_view>

namespace herald::delivery {

// "+" then 7 to 15 digits, the first not 0 (ITU-T E.164).
bool valid_e164(std::string_view phone);
// An ASCII address of at most 254 characters: a dot-atom local part (at most 64) and a
// domain of at least two labels (letters, digits, hyphens; IDNs as punycode).
bool valid_email(std::string_view address);
// A BCP 47-like tag: 2..8 letters, then "-" subtags of 1..8 letters or digits; at most 35.
bool valid_locale(std::string_view locale);

}  // namespace herald::delivery
