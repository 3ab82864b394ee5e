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

std::string recipient_limit_key(std::string_view normalized_to) {
  auto at = normalized_to.rfind('@');
  if (at == std::string_view::npos) return std::string(normalized_to);
  std::string local(normalized_to.substr(0, at));
  std::string domain(normalized_to.substr(at + 1));
  if (auto plus = local.find('+'); plus != std::string::npos && plus > 0) local.resize(plus);
  if (domain == "gmail.com" || domain == "googlemail.com") {
    local.erase(std::remove(local.begin(), local.end(), '.'), local.end());
    domain = "gmail.com";
  }
  return local + "@" + domain;
}

std::optional<std::string> ip_limit_key(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return std::nullopt;
  std::string s(ip);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::string(inet_ntop(AF_INET, buf, out, sizeof out));
  if (inet_pton(AF_INET6, s.c_str(), buf) != 1) return std::nullopt;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(kMapped), std::end(kMapped), buf))
    return std::string(inet_ntop(AF_INET, buf + 12, out, sizeof out));
  std::fill(buf + 8, buf + 16, 0);
  return std::string(inet_ntop(AF_INET6, buf, out, sizeof out)) + "/64";
}

std::string calling_code(std::string_view e164) {
  std::string_view d = e164.substr(e164.empty() || e164[0] != '+' ? 0 : 1);
  if (d.empty()) return "";
  if (d[0] == '1' || d[0] == '7') return std::string(d.substr(0, 1));
  if (d.size() < 2) return std::string(d);
  // Two-digit codes (ITU-T E.164 assignments); every other code has three digits.
  static constexpr std::string_view kTwo[] = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
                                              "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
                                              "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
                                              "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
  for (auto two : kTwo)
    if (d.substr(0, 2) == two) return std::string(two);
  return std::string(d.substr(0, 3));
}

}  // namespace herald::otp
