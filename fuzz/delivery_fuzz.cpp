// Fuzzes the outbound side's checks of untrusted text: the first byte picks e-mail addresses,
// e-mail subject and text, SMS recipients and texts through the provider request templates,
// the webhook address guard, or locale tags. Accepted recipients must be sendable, and no
// input may put a line break into a header or escape the JSON, form or URL it is placed in.
#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/address_guard.h"
#include "delivery/mail_message.h"
#include "delivery/recipient.h"
#include "delivery/sender.h"
#include "delivery/sms_request.h"
#include "fuzz_target.h"
#include "mail_checks.h"

namespace {

using namespace herald;

const delivery::Mailbox& from() {
  static const delivery::Mailbox m{"Herald", "noreply@example.com"};
  return m;
}

Result<std::string> mail(std::string_view to, std::string_view subject, std::string_view text) {
  return delivery::build_mail(
      delivery::MailParts{from(), to, subject, text, std::chrono::system_clock::time_point{}, "id@example.com"});
}

void email_address(std::string_view to) {
  auto m = mail(to, "Subject", "Text");
  if (m) fuzz::check_built_mail(*m);
  // An address the API accepts (contacts, OTP sends) is one the SMTP sender can use.
  if (delivery::valid_email(to)) {
    FUZZ_CHECK(m.ok());
    FUZZ_CHECK(to.size() <= 254 && to.find_first_of("\r\n<>, ") == std::string_view::npos);
  }
  if (auto box = delivery::parse_mailbox(to)) {
    FUZZ_CHECK(delivery::is_valid_address(box->address));
    FUZZ_CHECK(!delivery::has_control_chars(box->display) && !delivery::has_control_chars(box->address));
  }
}

void subject_and_text(std::string_view in) {
  auto split = in.find('\0');
  std::string_view subject = in.substr(0, split);
  std::string_view text = split == std::string_view::npos ? std::string_view() : in.substr(split + 1);
  auto m = mail("user@example.com", subject, text);
  if (!m) {
    FUZZ_CHECK(delivery::has_control_chars(subject) || !delivery::is_valid_utf8(subject) ||
               !delivery::is_valid_utf8(text));
    return;
  }
  fuzz::check_built_mail(*m);
  std::string encoded = delivery::encode_header_text(subject);
  for (std::size_t i = 0; i < encoded.size(); ++i)
    if (encoded[i] == '\r' || encoded[i] == '\n')
      FUZZ_CHECK(encoded.compare(i - (encoded[i] == '\n'), 3, "\r\n ") == 0);
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

delivery::SmsTemplate sms_template(bool json) {
  delivery::SmsTemplate t;
  t.provider = "http";
  t.method = "POST";
  t.url = "https://sms.example.com/send?to={to}&text={text}";
  // Only the form variant puts the text in a header too, so that the JSON one sees control bytes.
  t.headers = {{"X-To", "{to}"}};
  if (!json) t.headers.emplace_back("X-Text", "{text}");
  t.content_type = json ? "application/json" : "application/x-www-form-urlencoded";
  t.body = json ? R"({"to":"{to}","from":"{from}","text":"{text}"})" : "To={to}&From={from}&Body={text}";
  t.auth = "none";
  t.from = "Herald";
  return t;
}

void sms(std::string_view in) {
  auto split = in.find('\0');
  delivery::OutboundMessage msg;
  msg.channel = "sms";
  msg.to = std::string(in.substr(0, split));
  msg.text = split == std::string_view::npos ? std::string("Your code is 123456") : std::string(in.substr(split + 1));
  for (bool json : {true, false}) {
    auto r = delivery::render_sms_request(sms_template(json), msg);
    if (delivery::valid_e164(msg.to) && (json || !delivery::has_control_chars(msg.text))) FUZZ_CHECK(r.ok());
    if (!r) continue;
    for (const auto& [name, value] : r->headers) FUZZ_CHECK(!delivery::has_control_chars(value));
    // The URL carries the values percent-encoded: nothing ends or extends it.
    FUZZ_CHECK(r->url.find_first_of(" \r\n#") == std::string::npos);
    auto q = r->url.find("&text=");
    FUZZ_CHECK(q != std::string::npos && percent_decoded(r->url.substr(q + 6)) == msg.text);
    if (json) {
      if (!delivery::is_valid_utf8(msg.text)) continue;
      boost::json::error_code ec;
      auto v = boost::json::parse(r->body, ec);
      FUZZ_CHECK(!ec && v.is_object() && v.get_object().size() == 3);
      FUZZ_CHECK(v.at("text").as_string() == msg.text && v.at("to").as_string() == msg.to);
    } else {
      auto body = std::string_view(r->body);
      FUZZ_CHECK(std::count(body.begin(), body.end(), '&') == 2);
      FUZZ_CHECK(percent_decoded(body.substr(body.find("&Body=") + 6)) == msg.text);
    }
  }
}

void address_guard(std::string_view in) {
  std::string ip(in.substr(0, 64));
  bool forbidden = delivery::is_forbidden_address(ip);
  // inet_pton below would read only up to a NUL; such text is no address (and is refused).
  if (ip.find('\0') != std::string::npos) return FUZZ_CHECK(forbidden);
  unsigned char b[16];
  bool v4 = inet_pton(AF_INET, ip.c_str(), b) == 1;
  bool v6 = !v4 && inet_pton(AF_INET6, ip.c_str(), b) == 1;
  if (!v4 && !v6) FUZZ_CHECK(forbidden);  // fail closed
  if (v4 && (b[0] == 127 || b[0] == 10 || b[0] == 0 || (b[0] == 169 && b[1] == 254) || (b[0] == 192 && b[1] == 168)))
    FUZZ_CHECK(forbidden);
  if (v6) {
    // The IPv4-mapped and NAT64 (64:ff9b::/96) forms are judged as the IPv4 address they carry;
    // every other address outside global unicast 2000::/3 is refused.
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static constexpr unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    bool wraps_v4 = std::equal(kMapped, kMapped + 12, b) || std::equal(kNat64, kNat64 + 12, b);
    if (wraps_v4) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, b + 12, text, sizeof text);
      FUZZ_CHECK(forbidden == delivery::is_forbidden_address(text));
    } else if ((b[0] & 0xE0) != 0x20) {
      FUZZ_CHECK(forbidden);
    }
  }
}

void locale(std::string_view in) {
  if (!delivery::valid_locale(in)) return;
  FUZZ_CHECK(!in.empty() && in.size() <= 35);
  FUZZ_CHECK(in.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") ==
             std::string_view::npos);
}

}  // namespace

HERALD_FUZZ_TARGET(delivery) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      email_address(in);
      break;
    case 1:
      subject_and_text(in);
      break;
    case 2:
      sms(in);
      break;
    case 3:
      address_guard(in);
      break;
    default:
      locale(in);
      break;
  }
  return 0;
}
