// The recipient and locale checks shared by the sending modules.
#include "delivery/recipient.h"

#include <algorithm>

#include "delivery/mail_message.h"

namespace herald::delivery {
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
  // The address the SMTP sender accepts, and a domain of at least two labels: nothing
  // goes to a bare host name.
  return is_valid_address(a) && a.find('.', a.find('@')) != std::string_view::npos;
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

}  // namespace herald::delivery
