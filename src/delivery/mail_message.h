// Building an RFC 5322 message for SMTP: addresses, encoded headers, a quoted-printable
// UTF-8 body, CRLF line endings. Refuses input that could inject headers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::delivery {

// A mailbox as configured for From: "addr@example.com" or "Display Name <addr@example.com>".
struct Mailbox {
  std::string display;  // may be empty
  std::string address;  // the addr-spec, also used as the envelope sender
};

// An ASCII addr-spec: dot-atom local part, host name domain, at most 254 bytes.
bool is_valid_address(std::string_view address);
std::optional<Mailbox> parse_mailbox(std::string_view text);

// True for any byte below 0x20 and DEL: such a byte in a header could start a new one.
bool has_control_chars(std::string_view s);
bool is_valid_utf8(std::string_view s);

// A header value: as is when it is short printable ASCII, otherwise RFC 2047
// encoded-words (UTF-8, base64) folded onto continuation lines.
std::string encode_header_text(std::string_view utf8);
// Quoted-printable (RFC 2045) with CRLF line breaks; any input line ending becomes CRLF.
std::string quoted_printable(std::string_view text);
// "Tue, 07 Nov 2023 09:05:03 +0000"
std::string rfc5322_date(std::chrono::system_clock::time_point t);

struct MailParts {
  const Mailbox& from;
  std::string_view to;
  std::string_view subject;
  std::string_view text;
  std::chrono::system_clock::time_point date;
  std::string_view message_id;  // without angle brackets: "id@domain"
};
// The whole message, headers and body, or delivery_failed when `to` or `subject`
// cannot be put into a header safely.
Result<std::string> build_mail(const MailParts& parts);

}  // namespace herald::delivery
