// Message templates of verification codes, per purpose (or named template) and locale,
// from otp.templates_file; built-in English text where none is configured.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace herald::otp {

struct MessageTemplate {
  std::string sms;
  std::string email_subject;
  std::string email_body;
};

// The values a template may use: {code} {app} {minutes} {purpose}.
struct TemplateVars {
  std::string code;
  std::string app;
  std::string minutes;
  std::string purpose;
};

class Templates {
 public:
  // The built-in English templates only.
  Templates();
  // Reads a TOML file: a table per template name (a purpose, or a name sends pick with
  // `template`), with keys sms, email_subject, email_body, and sub-tables per locale
  // ([login.fr]) whose missing keys come from their parent. Fails with "invalid_config"
  // naming the table and key on unknown keys, unknown placeholders, or a text without
  // {code} (sms, email_body).
  static Result<Templates> load_file(const std::string& path);
  static Result<Templates> parse(std::string_view toml_text, std::string_view origin);

  // The template for a send. With `name` (the request's `template`): that template,
  // "otp_template_not_found" if it is not configured. Without: the purpose's, else
  // "default"'s, else the built-in one. Locales fall back "pt-BR" -> "pt" -> none.
  Result<MessageTemplate> find(std::string_view name, std::string_view purpose, std::string_view locale) const;

  static std::string render(std::string_view text, const TemplateVars& vars);

 private:
  // (name, locale) -> template; locale "" is the name's own table.
  std::map<std::pair<std::string, std::string>, MessageTemplate, std::less<>> map_;
  const MessageTemplate* lookup(std::string_view name, std::string_view locale) const;
};

}  // namespace herald::otp
