#include "otp/templates.h"

#include <gtest/gtest.h>

namespace herald::otp {
namespace {

TEST(OtpTemplates, BuiltInTemplatesCarryTheCode) {
  Templates t;
  auto m = t.find("", "login", "");
  ASSERT_TRUE(m.ok());
  TemplateVars v{"123456", "Acme", "5", "login"};
  EXPECT_NE(Templates::render(m->sms, v).find("123456"), std::string::npos);
  EXPECT_NE(Templates::render(m->email_body, v).find("123456"), std::string::npos);
  EXPECT_EQ(Templates::render(m->email_subject, v), "Your Acme verification code");
  EXPECT_EQ(Templates::render(m->email_subject, v).find('{'), std::string::npos);
}

TEST(OtpTemplates, PurposeAndLocaleWithFallbacks) {
  auto t = Templates::parse(R"T(
[default]
sms = "D {code}"
[login]
sms = "L {code} for {app}, {minutes} min"
email_subject = "Login to {app}"
[login.pt]
sms = "PT {code}"
[login.pt-BR]
sms = "BR {code}"
[payment]
email_body = "Pay {code} ({purpose})"
)T",
                            "t.toml");
  ASSERT_TRUE(t.ok()) << t.error().message;
  TemplateVars v{"42", "Acme", "5", "login"};
  EXPECT_EQ(Templates::render(t->find("", "login", "")->sms, v), "L 42 for Acme, 5 min");
  EXPECT_EQ(Templates::render(t->find("", "login", "pt-BR")->sms, v), "BR 42");
  EXPECT_EQ(Templates::render(t->find("", "login", "pt-PT")->sms, v), "PT 42");
  EXPECT_EQ(Templates::render(t->find("", "login", "fr")->sms, v), "L 42 for Acme, 5 min");
  // A locale table inherits the keys it lacks from its template.
  EXPECT_EQ(Templates::render(t->find("", "login", "pt")->email_subject, v), "Login to Acme");
  // A purpose without a table uses [default]; a table's missing keys come from [default].
  EXPECT_EQ(Templates::render(t->find("", "signup", "")->sms, v), "D 42");
  EXPECT_EQ(Templates::render(t->find("", "payment", "")->sms, v), "D 42");
  EXPECT_EQ(Templates::render(t->find("", "payment", "")->email_body, TemplateVars{"7", "A", "5", "payment"}),
            "Pay 7 (payment)");
  // A named template must exist.
  EXPECT_EQ(Templates::render(t->find("payment", "login", "")->email_body, v), "Pay 42 (login)");
  auto missing = t->find("nope", "login", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kOtpTemplateNotFound);
}

TEST(OtpTemplates, BadFilesAreRefusedNamingThePlace) {
  struct Case {
    const char* text;
    const char* needle;
  };
  for (auto c : {Case{"[login]\nsms = \"no code here\"\n", "login.sms: must contain {code}"},
                 Case{"[login]\nsms = \"{code} {secret}\"\n", "unknown placeholder {secret}"},
                 Case{"[login]\nsmss = \"{code}\"\n", "login.smss: unknown key"},
                 Case{"[login]\nemail_subject = \"a\\nBcc: x\"\n", "one line"},
                 Case{"[login.fr.ca]\nsms = \"{code}\"\n", "do not nest"},
                 Case{"[Login]\nsms = \"{code}\"\n", "template name"}, Case{"[login]\nsms = \"{code\"\n", "unmatched"},
                 Case{"login = 3\n", "must be a table"}, Case{"[login\n", "t.toml:1"}}) {
    auto t = Templates::parse(c.text, "t.toml");
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.error().code, Errc::kInvalidConfig);
    EXPECT_NE(t.error().message.find(c.needle), std::string::npos) << t.error().message;
  }
}

}  // namespace
}  // namespace herald::otp
