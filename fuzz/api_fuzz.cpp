// Fuzzes the JSON bodies of the API routes: the first input byte picks the route, the rest is
// the body, read with the routes' own body_object and parsers (messages publish, contacts,
// delivery settings; the OTP send, verify and redeem fields with the checks the service applies;
// the channel of the publish routes). Accepted bodies must hold what the parsers promise.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/json_body.h"
#include "api/message_requests.h"
#include "delivery/recipient.h"
#include "fuzz_target.h"
#include "otp/recipient.h"
#include "push/channel_name.h"

namespace {

using namespace herald;
namespace json = boost::json;

std::size_t depth(const json::value& v) {
  std::size_t d = 0;
  if (const auto* o = v.if_object())
    for (const auto& kv : *o) d = std::max(d, depth(kv.value()));
  if (const auto* a = v.if_array())
    for (const auto& e : *a) d = std::max(d, depth(e));
  return v.is_structured() ? d + 1 : 0;
}

void publish(const json::object& body) {
  messages::PublishLimits limits{4096, 7LL * 24 * 3600 * 1000};
  auto r = api::parse_publish(body, limits);
  if (!r) return;
  FUZZ_CHECK(push::valid_user_id(r->to_user));
  FUZZ_CHECK(r->data.has_value() != !r->template_name.empty());
  FUZZ_CHECK(r->vars.empty() || !r->template_name.empty());
  FUZZ_CHECK(r->priority == "normal" || r->priority == "high");
  FUZZ_CHECK(r->text.size() <= limits.max_text_bytes);
  FUZZ_CHECK(r->subject.find_first_of("\r\n") == std::string::npos);
  FUZZ_CHECK(r->locale.empty() || delivery::valid_locale(r->locale));
  if (r->ttl_ms) FUZZ_CHECK(*r->ttl_ms > 0 && *r->ttl_ms <= limits.max_ttl_ms);
  if (r->fallback_after_ms) FUZZ_CHECK(*r->fallback_after_ms > 0);
}

void contacts(const json::object& body) {
  auto c = api::parse_contacts(body);
  if (!c) return;
  if (c->email) FUZZ_CHECK(delivery::valid_email(*c->email));
  if (c->phone) FUZZ_CHECK(delivery::valid_e164(*c->phone));
  // What the API shows parses back to the same contacts.
  json::object shown = api::contacts_json(*c, "u");
  shown.erase("user");
  auto again = api::parse_contacts(shown);
  FUZZ_CHECK(again && again->email == c->email && again->phone == c->phone);
}

void settings(const json::object& body) {
  (void)api::parse_settings_patch(body);
}

// The OTP routes read these string fields, and the service checks them before anything else
// (otp_service.cpp validate_send); what passes is keyed for the limits.
void otp_send(const json::object& body) {
  std::string f[7];
  const char* names[7] = {"to", "channel", "device_id", "purpose", "template", "locale", "client_ip"};
  for (int i = 0; i < 7; ++i) {
    auto v = api::text_field(body, names[i], i < 4);
    if (!v) return;
    f[i] = std::move(*v);
  }
  (void)api::text_field(body, "verification_id", true);
  (void)api::text_field(body, "code", true);
  (void)api::text_field(body, "success_token", true);
  const std::string& to = f[0];
  bool sms = f[1] == "sms";
  if (sms ? !delivery::valid_e164(to) : !delivery::valid_email(to)) return;
  if (!otp::valid_device_id(f[2]) || !otp::valid_purpose(f[3])) return;
  if (!f[4].empty() && !otp::valid_purpose(f[4])) return;
  if (!f[5].empty() && !delivery::valid_locale(f[5])) return;
  std::string normal = otp::normalize_recipient(to);
  FUZZ_CHECK(otp::normalize_recipient(normal) == normal);
  std::string key = otp::recipient_limit_key(normal);
  FUZZ_CHECK(!key.empty());
  FUZZ_CHECK(otp::recipient_limit_key(otp::normalize_recipient(key)) == key);
  if (sms) {
    std::string cc = otp::calling_code(to);
    FUZZ_CHECK(!cc.empty() && cc.size() <= 3 && to.compare(1, cc.size(), cc) == 0);
  }
  if (!f[6].empty()) {
    auto ip = otp::ip_limit_key(f[6]);
    FUZZ_CHECK(ip.has_value() == otp::valid_ip(f[6]));
    if (ip) FUZZ_CHECK(!ip->empty() && ip->find_first_of(" \r\n") == std::string::npos);
  }
}

// The server API's publish routes name a channel.
void channel(const json::object& body) {
  auto text = api::text_field(body, "channel", true);
  if (!text) return;
  auto c = push::parse_channel(*text);
  if (!c) return;
  FUZZ_CHECK(c->full == *text && !c->ns.empty() && c->full.size() <= push::kMaxChannelBytes);
  for (auto u : c->users) {
    FUZZ_CHECK(push::valid_user_id(u));
    FUZZ_CHECK(c->allows_user(u));
    const std::string name = push::personal_channel(u);  // the parsed name views into it
    auto own = push::parse_channel(name);
    FUZZ_CHECK(own && own->users.size() == 1 && own->users[0] == u);
  }
}

}  // namespace

HERALD_FUZZ_TARGET(api) {
  if (size == 0) return 0;
  api::Request req;
  req.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto body = api::body_object(req);
  if (!body) {
    FUZZ_CHECK(body.error().code == Errc::kInvalidJson);
    return 0;
  }
  FUZZ_CHECK(depth(json::value(*body)) <= 32);
  switch (data[0] % 5) {
    case 0:
      publish(*body);
      break;
    case 1:
      contacts(*body);
      break;
    case 2:
      settings(*body);
      break;
    case 3:
      otp_send(*body);
      break;
    default:
      channel(*body);
      break;
  }
  return 0;
}
