// The OTP-specific field checks of the verification-code API.
#include "otp/recipient.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace herald::otp {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool valid_purpose(std::string_view p) {
  if (p.empty() || p.size() > 64) return false;
  return std::all_of(p.begin(), p.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '.' || c == '-'; });
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
