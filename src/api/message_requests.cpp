// Parsing and rendering of the messages API's bodies.
#include "api/message_requests.h"

#include <boost/json.hpp>

#include <algorithm>

#include "core/duration.h"
#include "core/json_fields.h"
#include "core/json_finite.h"
#include "delivery/recipient.h"
#include "messages/message_wire.h"
#include "messages/sealed_message.h"
#include "push/channel_name.h"

namespace herald::api {
namespace json = boost::json;
using messages::PublishRequest;

namespace {

constexpr std::int64_t kMinDurationMs = 1000;
constexpr std::int64_t kMaxFallbackAfterMs = 30LL * 86'400'000;
constexpr std::size_t kMaxIdempotencyKey = 256;
constexpr std::size_t kMaxTemplateName = 64;
constexpr std::size_t kMaxLocale = 35;
constexpr std::size_t kMaxSubject = 998;  // RFC 5322's line limit
constexpr std::size_t kMaxPriority = 16;

Error bad(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

Result<std::int64_t> duration_field(const json::value& v, std::string_view key, std::int64_t min_ms,
                                    std::int64_t max_ms) {
  if (!v.is_string()) return bad(std::string(key) + " must be a duration such as \"30s\"");
  auto d = parse_duration(v.get_string());
  if (!d) return bad(std::string(key) + ": " + d.error().message);
  if (d->count() < min_ms || d->count() > max_ms)
    return bad(std::string(key) + " must be between " + format_duration(Millis(min_ms)) + " and " +
               format_duration(Millis(max_ms)));
  return d->count();
}

Result<std::vector<std::string>> channels_field(const json::value& v, std::string_view key) {
  if (!v.is_array()) return bad(std::string(key) + " must be an array");
  std::vector<std::string> out;
  for (const auto& e : v.get_array()) {
    if (!e.is_string() || !messages::valid_channel(e.get_string()))
      return bad(std::string(key) + " holds only \"webhook\", \"email\" and \"sms\"");
    std::string c(e.get_string());
    if (std::find(out.begin(), out.end(), c) != out.end()) return bad(std::string(key) + " names " + c + " twice");
    out.push_back(std::move(c));
  }
  return out;
}

// A string field that may be absent or null ("").
Result<std::string> optional_string(const json::object& o, std::string_view key, std::size_t max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return bad(std::string(key) + " must be a string");
  if (v->get_string().size() > max) return bad(std::string(key) + " is longer than " + std::to_string(max) + " bytes");
  return std::string(v->get_string());
}

// The payload: data, or a template with its vars.
Status parse_payload(const json::object& body, PublishRequest& r) {
  const json::value* data = body.if_contains("data");
  auto tname = optional_string(body, "template", kMaxTemplateName);
  if (!tname) return tname.error();
  if ((data != nullptr) == !tname->empty()) return bad("give exactly one of data and template");
  if (data && !json_numbers_finite(*data)) return bad("data holds a number outside the range of a double");
  const json::value* vars = body.if_contains("vars");
  if (vars && !vars->is_object()) return bad("vars must be an object");
  if (vars && tname->empty()) return bad("vars needs a template");
  if (vars)
    for (const auto& kv : vars->get_object())
      if (!kv.value().is_string() && !kv.value().is_number() && !kv.value().is_bool())
        return bad("vars." + std::string(kv.key()) + " must be a string, number or boolean");
  if (vars && !json_numbers_finite(*vars)) return bad("vars holds a number outside the range of a double");
  if (data) r.data = *data;
  r.template_name = std::move(*tname);
  if (vars) r.vars = vars->get_object();
  return ok_status();
}

// The texts and tags: locale, text, subject, idempotency key, priority.
Status parse_texts(const json::object& body, const messages::PublishLimits& limits, PublishRequest& r) {
  auto locale = optional_string(body, "locale", kMaxLocale);
  if (!locale) return locale.error();
  if (!locale->empty() && !delivery::valid_locale(*locale)) return bad("locale must be a tag such as en or pt-BR");
  auto text = optional_string(body, "text", limits.max_text_bytes);
  if (!text) return text.error();
  auto subject = optional_string(body, "subject", kMaxSubject);
  if (!subject) return subject.error();
  if (subject->find_first_of("\r\n") != std::string::npos) return bad("subject must be one line");
  auto idem = optional_string(body, "idempotency_key", kMaxIdempotencyKey);
  if (!idem) return idem.error();
  if (body.contains("idempotency_key") && idem->empty()) return bad("idempotency_key must not be empty");
  auto priority = optional_string(body, "priority", kMaxPriority);
  if (!priority) return priority.error();
  if (priority->empty()) *priority = "normal";
  if (*priority != "normal" && *priority != "high") return bad("priority is \"normal\" or \"high\"");
  r.locale = std::move(*locale);
  r.text = std::move(*text);
  r.subject = std::move(*subject);
  r.idempotency_key = std::move(*idem);
  r.priority = std::move(*priority);
  return ok_status();
}

// The schedule: channels, fallback_after, ttl.
Status parse_schedule(const json::object& body, const messages::PublishLimits& limits, PublishRequest& r) {
  if (const auto* c = body.if_contains("channels")) {
    auto parsed = channels_field(*c, "channels");
    if (!parsed) return parsed.error();
    r.channels = std::move(*parsed);
  }
  if (const auto* v = body.if_contains("fallback_after")) {
    auto d = duration_field(*v, "fallback_after", kMinDurationMs, kMaxFallbackAfterMs);
    if (!d) return d.error();
    r.fallback_after_ms = *d;
  }
  if (const auto* v = body.if_contains("ttl")) {
    auto d = duration_field(*v, "ttl", kMinDurationMs, limits.max_ttl_ms);
    if (!d) return d.error();
    r.ttl_ms = *d;
  }
  return ok_status();
}

json::array string_array(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.push_back(json::string(s));
  return out;
}

json::value optional_json(const std::optional<std::string>& s) {
  return s ? json::value(json::string(*s)) : json::value(nullptr);
}

}  // namespace

Result<PublishRequest> parse_publish(const json::object& body, const messages::PublishLimits& limits) {
  if (auto st = only_fields(body, {"to_user", "data", "template", "vars", "locale", "text", "subject", "channels",
                                   "fallback_after", "idempotency_key", "ttl", "priority"});
      !st)
    return st.error();
  PublishRequest r;
  const json::value* to = body.if_contains("to_user");
  if (!to || !to->is_string() || !push::valid_user_id(to->get_string()))
    return bad("to_user must be 1 to 128 bytes without ',' or '#'");
  r.to_user = std::string(to->get_string());
  if (auto st = parse_payload(body, r); !st) return st.error();
  if (auto st = parse_texts(body, limits, r); !st) return st.error();
  if (auto st = parse_schedule(body, limits, r); !st) return st.error();
  return r;
}

Result<messages::SettingsPatch> parse_settings_patch(const json::object& body) {
  if (auto st = only_fields(body, {"webhook_url", "allow_private_webhooks", "fallback", "fallback_after",
                                   "max_per_user_per_day", "default_locale", "rotate_webhook_secret"});
      !st)
    return st.error();
  messages::SettingsPatch p;
  if (const auto* v = body.if_contains("allow_private_webhooks")) {
    if (!v->is_bool()) return bad("allow_private_webhooks must be a boolean");
    p.allow_private_webhooks = v->get_bool();
  }
  if (const auto* v = body.if_contains("webhook_url")) {
    if (!v->is_string()) return bad("webhook_url must be a string (\"\" removes it)");
    p.webhook_url = std::string(v->get_string());
  }
  if (const auto* v = body.if_contains("fallback")) {
    auto c = channels_field(*v, "fallback");
    if (!c) return c.error();
    p.fallback = std::move(*c);
  }
  if (const auto* v = body.if_contains("fallback_after")) {
    auto d = v->is_null() ? Result<std::int64_t>(0)
                          : duration_field(*v, "fallback_after", kMinDurationMs, kMaxFallbackAfterMs);
    if (!d) return d.error();
    p.fallback_after_ms = *d;
  }
  if (const auto* v = body.if_contains("max_per_user_per_day")) {
    if (!v->is_uint64() && !(v->is_int64() && v->get_int64() >= 0))
      return bad("max_per_user_per_day must be a whole number (0: no cap)");
    p.max_per_user_per_day = v->to_number<std::uint64_t>();
  }
  if (const auto* v = body.if_contains("default_locale")) {
    if (!v->is_string() || !delivery::valid_locale(v->get_string()))
      return bad("default_locale must be a tag such as en or pt-BR");
    p.default_locale = std::string(v->get_string());
  }
  if (const auto* v = body.if_contains("rotate_webhook_secret")) {
    if (!v->is_bool()) return bad("rotate_webhook_secret must be a boolean");
    p.rotate_webhook_secret = v->get_bool();
  }
  return p;
}

Result<messages::Contacts> parse_contacts(const json::object& body) {
  if (auto st = only_fields(body, {"email", "phone"}); !st) return st.error();
  messages::Contacts c;
  for (const char* k : {"email", "phone"}) {
    const json::value* v = body.if_contains(k);
    if (!v || v->is_null()) continue;
    if (!v->is_string()) return bad(std::string(k) + " must be a string or null");
    std::string s(v->get_string());
    if (std::string_view(k) == "email") {
      if (!delivery::valid_email(s)) return bad("email is not an e-mail address");
      c.email = std::move(s);
    } else {
      if (!delivery::valid_e164(s)) return bad("phone must be an E.164 number such as +4915112345678");
      c.phone = std::move(s);
    }
  }
  return c;
}

json::object published_json(const messages::Published& p) {
  json::object out{{"id", p.id}, {"state", p.state}, {"duplicate", p.duplicate}};
  if (!p.duplicate) out["connections"] = p.connections;
  return out;
}

json::object status_json(const messages::MessageStatus& s) {
  json::array trail;
  for (const auto& e : s.trail) {
    json::object t{{"at_ms", e.at_ms}, {"event", e.event}};
    if (!e.channel.empty()) t["channel"] = e.channel;
    if (!e.detail.empty()) t["detail"] = e.detail;
    if (e.connections >= 0) t["connections"] = e.connections;
    trail.push_back(std::move(t));
  }
  return json::object{{"id", s.id},
                      {"user", s.user},
                      {"state", s.state},
                      {"created_ms", s.created_ms},
                      {"expires_ms", s.expires_ms},
                      {"priority", s.priority},
                      {"template", s.template_name},
                      {"channels", string_array(s.channels)},
                      {"fallback_after_ms", s.fallback_after_ms},
                      {"data", s.data},
                      {"trail", std::move(trail)}};
}

json::object inbox_json(const messages::InboxPage& page) {
  return messages::inbox_page_json(page);
}

json::object contacts_json(const messages::Contacts& c, std::string_view user) {
  return json::object{{"email", optional_json(c.email)}, {"phone", optional_json(c.phone)}, {"user", user}};
}

json::object settings_json(const messages::DeliverySettings& s) {
  json::object o{{"webhook_url", s.webhook_url},
                 {"has_webhook_secret", !s.webhook_secret.empty()},
                 {"allow_private_webhooks", s.allow_private_webhooks},
                 {"fallback", string_array(s.fallback)},
                 {"max_per_user_per_day", s.max_per_user_per_day},
                 {"default_locale", s.default_locale}};
  if (s.fallback_after_ms > 0)
    o["fallback_after"] = format_duration(Millis(s.fallback_after_ms));
  else
    o["fallback_after"] = nullptr;
  return o;
}

json::object settings_updated_json(const messages::SettingsUpdated& u) {
  json::object o = settings_json(u.settings);
  if (u.new_secret) o["webhook_secret"] = u.settings.webhook_secret.view();
  return o;
}

json::object template_json(const messages::Template& t) {
  return t.to_json();
}

json::object template_names_json(const std::vector<std::string>& names) {
  return json::object{{"templates", string_array(names)}};
}

json::object dead_letters_json(const std::vector<messages::DeadLetter>& letters) {
  json::array out;
  for (const auto& d : letters)
    out.push_back(json::object{{"message_id", d.message_id},
                               {"channel", "webhook"},
                               {"attempts", d.attempts},
                               {"last_error", d.last_error},
                               {"dead_at_ms", d.dead_at_ms}});
  return json::object{{"dead_letters", std::move(out)}};
}

json::object replayed_json(const std::string& message_id) {
  return json::object{{"message_id", message_id}, {"state", "pending"}};
}

}  // namespace herald::api
