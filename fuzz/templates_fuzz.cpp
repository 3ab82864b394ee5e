// Fuzzes the two template languages: the first byte picks the OTP templates file (TOML, {code}
// placeholders) or a messages template body (JSON, {{variables}}); the rest is the text. What
// loads renders without re-expanding values, keeps the code in every code-bearing text, and
// round-trips through its JSON form; an e-mail built from it carries no injected header.
#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/mail_message.h"
#include "fuzz_target.h"
#include "mail_checks.h"
#include "messages/templates.h"
#include "otp/templates.h"

namespace {

using namespace herald;
namespace json = boost::json;

void check_mail(std::string_view subject, std::string_view text) {
  static const delivery::Mailbox from{"Herald", "noreply@example.com"};
  auto m = delivery::build_mail(delivery::MailParts{from, "user@example.com", subject, text,
                                                    std::chrono::system_clock::time_point{}, "id@example.com"});
  if (m) fuzz::check_built_mail(*m);
}

void otp_templates(std::string_view toml) {
  auto t = otp::Templates::parse(toml, "fuzz");
  if (!t) {
    FUZZ_CHECK(t.error().code == Errc::kInvalidConfig);
    return;
  }
  // Values that look like placeholders stay as they are: rendering is one pass.
  otp::TemplateVars vars{"493817", "{code}", "10", "login\r\nBcc: x@example.com"};
  for (std::string_view name : {"", "login", "reset", "default"}) {
    for (std::string_view locale : {"", "fr", "pt-BR", "de-CH"}) {
      auto m = t->find(name, "login", locale);
      if (!m) {
        FUZZ_CHECK(m.error().code == Errc::kOtpTemplateNotFound && !name.empty());
        continue;
      }
      std::string sms = otp::Templates::render(m->sms, vars);
      std::string body = otp::Templates::render(m->email_body, vars);
      FUZZ_CHECK(sms.find(vars.code) != std::string::npos);
      FUZZ_CHECK(body.find(vars.code) != std::string::npos);
      check_mail(otp::Templates::render(m->email_subject, vars), body);
    }
  }
}

void message_template(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return;
  auto t = messages::Template::parse("fuzz", v.get_object());
  if (!t) {
    FUZZ_CHECK(t.error().code == Errc::kInvalidArgument);
    return;
  }
  // The admin API shows a template as to_json(); putting that back gives the same template.
  json::object shown = t->to_json();
  auto again = messages::Template::parse("fuzz", shown);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(json::serialize(again->to_json()) == json::serialize(shown));

  json::object vars{{"name", "{{name}}"}, {"n", 3}, {"x", 2.5}, {"ok", true}, {"line", "a\r\nBcc: x@example.com"}};
  for (std::string_view locale : {"en", "de-CH", "fr"}) {
    auto r = messages::render(*t, locale, "en", vars, true, true);
    if (!r) {
      FUZZ_CHECK(r.error().code == Errc::kTemplateRenderFailed);
      continue;
    }
    check_mail(r->email_subject, r->email_text);
  }
}

}  // namespace

HERALD_FUZZ_TARGET(templates) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    message_template(text);
  else
    otp_templates(text);
  return 0;
}
