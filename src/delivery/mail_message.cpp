// RFC 5322 / 2045 / 2047 message construction for the SMTP sender.
#include "delivery/mail_message.h"

#include <ctime>

#include <fmt/format.h>

#include "crypto/encoding.h"
#include "delivery/blocking_sender.h"

namespace herald::delivery {
namespace {

bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_valid_local_part(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (s[i - 1] == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
  }
  return true;
}

bool is_valid_domain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    auto label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      auto c = static_cast<unsigned char>(ch);
      bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_printable_ascii(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for a stray byte).
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

std::string format_mailbox(const Mailbox& m) {
  if (m.display.empty()) return m.address;
  if (is_printable_ascii(m.display) && m.display.find("=?") == std::string::npos)
    return fmt::format("\"{}\" <{}>", m.display, m.address);
  return fmt::format("{} <{}>", encode_header_text(m.display), m.address);
}

}  // namespace

bool is_valid_address(std::string_view address) {
  if (address.size() > 254) return false;
  auto at = address.find('@');
  if (at == std::string_view::npos) return false;
  return is_valid_local_part(address.substr(0, at)) && is_valid_domain(address.substr(at + 1));
}

std::optional<Mailbox> parse_mailbox(std::string_view text) {
  text = trim(text);
  if (has_control_chars(text) || !is_valid_utf8(text)) return std::nullopt;
  Mailbox m;
  if (!text.empty() && text.back() == '>') {
    auto open = text.rfind('<');
    if (open == std::string_view::npos) return std::nullopt;
    auto display = trim(text.substr(0, open));
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"')
      display = display.substr(1, display.size() - 2);
    if (display.find_first_of("\"\\<>") != std::string_view::npos) return std::nullopt;
    m.display = std::string(display);
    m.address = std::string(text.substr(open + 1, text.size() - open - 2));
  } else {
    m.address = std::string(text);
  }
  if (!is_valid_address(m.address)) return std::nullopt;
  return m;
}

bool has_control_chars(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

std::string encode_header_text(std::string_view utf8) {
  // "=?" in plain text would read as the start of an encoded-word, so it is encoded too.
  if (utf8.size() <= 900 && is_printable_ascii(utf8) && utf8.find("=?") == std::string_view::npos)
    return std::string(utf8);
  // 45 bytes make 60 base64 characters: each word stays within RFC 2047's 75.
  constexpr std::size_t kChunk = 45;
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = i;
    while (end < utf8.size()) {
      std::size_t n = utf8_length(static_cast<unsigned char>(utf8[end]));
      if (end + n > utf8.size()) n = utf8.size() - end;
      if (end - i + n > kChunk && end > i) break;
      end += n;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += crypto::base64_encode(utf8.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  std::size_t col = 0;
  auto put = [&](std::string_view token) {
    // Soft line break so that no encoded line exceeds 76 characters, the "=" included.
    if (col + token.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += token;
    col += token.size();
  };
  auto encoded = [&](unsigned char c) {
    char buf[3] = {'=', kHex[c >> 4], kHex[c & 0xf]};
    put(std::string_view(buf, 3));
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      col = 0;
      continue;
    }
    bool line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    if (c == ' ' || c == '\t') {
      // Whitespace at the end of a line would be stripped in transit.
      if (line_end)
        encoded(c);
      else
        put(std::string_view(reinterpret_cast<const char*>(&text[i]), 1));
    } else if (c >= 33 && c <= 126 && c != '=') {
      put(std::string_view(&text[i], 1));
    } else {
      encoded(c);
    }
  }
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Result<std::string> build_mail(const MailParts& p) {
  if (has_control_chars(p.to) || !is_valid_address(p.to))
    return delivery_failed("recipient is not a valid e-mail address");
  if (has_control_chars(p.subject)) return delivery_failed("subject contains control characters");
  if (!is_valid_utf8(p.subject)) return delivery_failed("subject is not valid UTF-8");
  if (!is_valid_utf8(p.text)) return delivery_failed("text is not valid UTF-8");

  std::string m;
  m.reserve(512 + p.text.size() * 3 / 2);
  auto header = [&m](std::string_view name, std::string_view value) {
    m += name;
    m += ": ";
    m += value;
    m += "\r\n";
  };
  header("Date", rfc5322_date(p.date));
  header("From", format_mailbox(p.from));
  header("To", p.to);
  header("Subject", encode_header_text(p.subject));
  header("Message-ID", fmt::format("<{}>", p.message_id));
  // RFC 3834: an automatic message, so that responders do not answer it.
  header("Auto-Submitted", "auto-generated");
  header("MIME-Version", "1.0");
  header("Content-Type", "text/plain; charset=utf-8");
  header("Content-Transfer-Encoding", "quoted-printable");
  m += "\r\n";
  m += quoted_printable(p.text);
  if (m.size() < 2 || m.compare(m.size() - 2, 2, "\r\n") != 0) m += "\r\n";
  return m;
}

}  // namespace herald::delivery
