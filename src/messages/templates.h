// Message templates (docs/messages.md#templates): named per app, with a part per
// channel (in-app JSON, e-mail subject and text, SMS text) per locale, and {{variables}}
// that are filled in when a message is published — so a template that cannot be
// rendered is refused at publish time, never at delivery.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::messages {

struct LocaleParts {
  std::optional<boost::json::value> inapp;  // any JSON; strings may hold {{var}}
  std::optional<std::string> email_subject;
  std::optional<std::string> email_text;
  std::optional<std::string> sms_text;
};

struct Template {
  std::string name;
  std::uint64_t max_per_user_per_day = 0;  // 0: no cap
  std::map<std::string, LocaleParts, std::less<>> locales;

  // Parses and checks a template body ({"max_per_user_per_day":N,"locales":{...}});
  // "invalid_argument" naming what is wrong.
  static Result<Template> parse(std::string_view name, const boost::json::object& body);
  boost::json::object to_json() const;

  // The locale to use: `wanted` exactly, then its language ("de" for "de-CH"), then
  // `fallback`; null when none exists.
  const LocaleParts* find_locale(std::string_view wanted, std::string_view fallback) const;
};

// What one message carries per channel after rendering.
struct Rendered {
  boost::json::value inapp;  // the data pushed to the user's connections
  std::string email_subject;
  std::string email_text;
  std::string sms_text;
};

// Fills `{{name}}` from `vars` (strings, numbers and booleans). "template_render_failed"
// names the missing variable, or a channel the message needs (`need_email`, `need_sms`)
// that the locale does not have.
Result<Rendered> render(const Template& t, std::string_view locale, std::string_view fallback_locale,
                        const boost::json::object& vars, bool need_email, bool need_sms);

// A template name: 1-64 of a-z 0-9 _ . -
bool valid_template_name(std::string_view name);

}  // namespace herald::messages
