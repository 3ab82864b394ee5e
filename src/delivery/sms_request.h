// The HTTP request an SMS provider gets: a template resolved once from [delivery.sms]
// (a preset's defaults, then the configured keys over them), rendered per message with
// {to} {from} {text} {account} {token} substituted and escaped for where they land.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "delivery/sender.h"

namespace herald {
struct SmsConfig;
}

namespace herald::delivery {

struct SmsTemplate {
  std::string provider;  // http, twilio, vonage, messagebird, plivo
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // values are templates
  std::string body;
  std::string content_type;
  std::string auth;                       // none | basic | bearer
  std::string username, password, token;  // username/password may hold {account}/{token}
  std::string from, account;
  std::string ca_file;
  std::chrono::milliseconds timeout{10'000};
};

// Holds secrets (credentials, a body with a code): wiped when destroyed.
struct SmsRequest {
  SmsRequest() = default;
  SmsRequest(SmsRequest&&) = default;
  SmsRequest& operator=(SmsRequest&&) = default;
  SmsRequest(const SmsRequest&) = default;
  SmsRequest& operator=(const SmsRequest&) = default;
  ~SmsRequest();

  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type included
  std::string body;
  std::string auth;
  std::string username, password, token;
};

// The template for `cfg` (provider http or a preset), or "invalid_config" naming the
// key: a non-https url, a missing body, credentials a preset needs, bad header lines.
// The CA file is checked by make_senders.
Result<SmsTemplate> resolve_sms_template(const SmsConfig& cfg);

// The request for one message; "delivery_failed" when the recipient is not a phone
// number or a header value would carry a line break.
Result<SmsRequest> render_sms_request(const SmsTemplate& t, const OutboundMessage& msg);

// Escapers, exposed for tests.
std::string percent_encode(std::string_view s);  // RFC 3986 unreserved kept, the rest %XX
std::string json_escape(std::string_view s);     // contents of a JSON string, no quotes

}  // namespace herald::delivery
