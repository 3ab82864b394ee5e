// Field checks of the verification-code API.
#include "otp/recipient.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "delivery/mail_message.h"

namespace herald::otp {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}

}  // namespace

bool valid_e164(std::string_view p) {
  if (p.size() < 8 || p.size() > 16 || p[0] != '+' || p[1] == '0') return false;
  return std::all_of(p.begin() + 1, p.end(), is_digit);
}

bool valid_email(std::string_view a) {
  // The address the SMTP sender accepts, and a domain of at least two labels: a code
  // never goes to a bare host name.
  return delivery::is_valid_address(a) && a.find('.', a.find('@')) != std::string_view::npos;
}

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool valid_purpose(std::string_view p) {
  if (p.empty() || p.size() > 64) return false;
  return std::all_of(p.begin(), p.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '.' || c == '-'; });
}

bool valid_locale(std::string_view l) {
  if (l.empty() || l.size() > 35) return false;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    auto dash = l.find('-', start);
    std::string_view sub = l.substr(start, dash == std::string_view::npos ? dash : dash - start);
    if (first) {
      if (sub.size() < 2 || sub.size() > 8 || !std::all_of(sub.begin(), sub.end(), is_alpha)) return false;
    } else if (sub.empty() || sub.size() > 8 || !std::all_of(sub.begin(), sub.end(), is_alnum)) {
      return false;
    }
    first = false;
    if (dash == std::string_view::npos) return true;
    start = dash + 1;
  }
}

bool valid_ip(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return false;
  std::string s(ip);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string normalize_recipient(std::string_view to) {
  std::string out(to);
  if (out.find('@') != std::string::npos)
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace herald::otp
