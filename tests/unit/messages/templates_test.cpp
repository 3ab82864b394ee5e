// Message templates (docs/messages.md#templates): what parse accepts and refuses, and
// how render fills variables, picks a locale and insists on the channel parts needed.
#include "messages/templates.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace herald::messages {
namespace {
namespace json = boost::json;

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

Result<Template> parse(std::string_view body, std::string_view name = "order.shipped") {
  return Template::parse(name, obj(body));
}

void expect_refused(std::string_view body, std::string_view why, std::string_view name = "order.shipped") {
  auto t = parse(body, name);
  ASSERT_FALSE(t.ok()) << body;
  EXPECT_EQ(t.error().code, Errc::kInvalidArgument) << body;
  EXPECT_NE(t.error().message.find(why), std::string::npos) << body << " -> " << t.error().message;
}

constexpr std::string_view kShipped = R"({"max_per_user_per_day": 3, "locales": {
  "en": {"inapp": {"title": "Order {{order}} shipped", "body": {"lines": ["Hi {{name}}", "{{n}} items", "gift: {{gift}}"],
                   "count": 3, "flag": true, "none": null}},
         "email": {"subject": "Order {{order}}", "text": "Hello {{name}}, order {{order}} is on its way."},
         "sms": {"text": "Order {{order}} shipped"}},
  "de": {"inapp": {"title": "Bestellung {{order}} ist unterwegs"},
         "email": {"subject": "Bestellung {{order}}", "text": "Hallo {{name}}"}},
  "de-CH": {"inapp": {"title": "Bestellig {{order}}"}}}})";

TEST(TemplateParse, AcceptsAFullTemplate) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->name, "order.shipped");
  EXPECT_EQ(t->max_per_user_per_day, 3u);
  ASSERT_EQ(t->locales.size(), 3u);
  const auto& en = t->locales.at("en");
  ASSERT_TRUE(en.inapp.has_value());
  EXPECT_EQ(en.email_subject.value(), "Order {{order}}");
  EXPECT_EQ(en.sms_text.value(), "Order {{order}} shipped");
  EXPECT_FALSE(t->locales.at("de-CH").email_text.has_value());
  EXPECT_FALSE(t->locales.at("de").sms_text.has_value());
}

TEST(TemplateParse, RefusesUnknownFieldsAndChannels) {
  expect_refused(R"({"locales": {"en": {"inapp": "x"}}, "owner": "me"})", "unknown field owner");
  expect_refused(R"({"locales": {"en": {"push": {"title": "x"}}}})", "unknown channel push");
  expect_refused(R"({"locales": {"en": {"email": {"subject": "s", "text": "t", "html": "<b>"}}}})",
                 "unknown field html");
  expect_refused(R"({"locales": {"en": {"sms": {"text": "t", "from": "Acme"}}}})", "unknown field from");
  expect_refused(R"({"locales": {"en": {"email": "just text"}}})", "email must be an object");
  expect_refused(R"({"locales": {"en": {"sms": "just text"}}})", "sms must be an object");
  expect_refused(R"({"locales": {"en": "hello"}})", "must be an object");
}

TEST(TemplateParse, RefusesBadNames) {
  const std::string ok_body = R"({"locales": {"en": {"inapp": "x"}}})";
  for (std::string name : {std::string(), std::string("Order"), std::string("has space"), std::string("a/b"),
                           std::string("ümlaut"), std::string(65, 'a'), std::string("x{{y}}")}) {
    EXPECT_FALSE(valid_template_name(name)) << name;
    expect_refused(ok_body, "template name", name);
  }
  for (std::string name : {std::string("a"), std::string("order.shipped-v2_1"), std::string(64, 'z')}) {
    EXPECT_TRUE(valid_template_name(name)) << name;
    EXPECT_TRUE(parse(ok_body, name).ok()) << name;
  }
}

TEST(TemplateParse, RefusesBadLocales) {
  for (std::string_view locale : {"e", "en_US", "1a", "en-", "-en", "en--US", "toolonglang", "en-abcdefghi", "e n"}) {
    std::string body = R"({"locales": {")" + std::string(locale) + R"(": {"inapp": "x"}}})";
    expect_refused(body, "not a locale tag");
  }
  for (std::string_view locale : {"en", "pt-BR", "de-CH", "zh-Hant-TW"}) {
    std::string body = R"({"locales": {")" + std::string(locale) + R"(": {"inapp": "x"}}})";
    EXPECT_TRUE(parse(body).ok()) << locale;
  }
}

TEST(TemplateParse, RefusesUnclosedAndBadPlaceholders) {
  // In a nested in-app string, in an e-mail subject or text, in an SMS text.
  expect_refused(R"({"locales": {"en": {"inapp": {"a": {"b": ["ok {{x}}", "bad {{x"]}}}}})", "unclosed {{");
  expect_refused(R"({"locales": {"en": {"email": {"subject": "Order {{order", "text": "t"}}}})", "unclosed {{");
  expect_refused(R"({"locales": {"en": {"email": {"subject": "s", "text": "Hi {{name}"}}}})", "unclosed {{");
  expect_refused(R"({"locales": {"en": {"sms": {"text": "{{"}}}})", "unclosed {{");
  expect_refused(R"({"locales": {"en": {"sms": {"text": "{{}}"}}}})", "empty or too long");
  expect_refused(R"({"locales": {"en": {"sms": {"text": "{{first-name}}"}}}})", "characters other than");
  expect_refused(R"({"locales": {"en": {"inapp": "{{a b}}"}}})", "characters other than");
  std::string long_var = R"({"locales": {"en": {"inapp": "{{)" + std::string(65, 'v') + R"(}}"}}})";
  expect_refused(long_var, "empty or too long");
}

TEST(TemplateParse, RefusesEmptyOrMissingParts) {
  expect_refused(R"({"locales": {}})", "at least one locale");
  expect_refused(R"({"max_per_user_per_day": 1})", "at least one locale");
  expect_refused(R"({"locales": ["en"]})", "at least one locale");
  expect_refused(R"({"locales": {"en": {}}})", "no inapp, email or sms part");
  expect_refused(R"({"locales": {"en": {"email": {"subject": "only a subject"}}}})", "email.text");
  expect_refused(R"({"locales": {"en": {"email": {"text": "only a text"}}}})", "email.subject");
  expect_refused(R"({"locales": {"en": {"email": {"subject": "", "text": "t"}}}})", "email.subject");
  expect_refused(R"({"locales": {"en": {"sms": {"text": ""}}}})", "sms.text");
  expect_refused(R"({"locales": {"en": {"sms": {"text": 5}}}})", "sms.text");
  expect_refused(R"({"max_per_user_per_day": -1, "locales": {"en": {"inapp": "x"}}})", "negative");
  expect_refused(R"({"max_per_user_per_day": 1.5, "locales": {"en": {"inapp": "x"}}})", "whole number");
  expect_refused(R"({"max_per_user_per_day": "3", "locales": {"en": {"inapp": "x"}}})", "whole number");
}

TEST(TemplateRender, FillsStringsNumbersAndBooleansInNestedInapp) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok());
  auto vars = obj(R"({"order": "A-17", "name": "Ann {{order}}", "n": 3, "gift": true, "unused": 2.5})");
  auto r = render(*t, "en", "en", vars, false, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto want = json::parse(R"({"title": "Order A-17 shipped",
    "body": {"lines": ["Hi Ann {{order}}", "3 items", "gift: true"], "count": 3, "flag": true, "none": null}})");
  // A value is inserted as it is: "{{order}}" inside a variable is not expanded again.
  EXPECT_EQ(r->inapp, want) << json::serialize(r->inapp);
  // Parts not needed are not rendered.
  EXPECT_EQ(r->email_text, "");
  EXPECT_EQ(r->sms_text, "");

  auto more = render(*t, "en", "en", obj(R"({"order": 42, "name": "Bo", "n": -7, "gift": false})"), true, true);
  ASSERT_TRUE(more.ok()) << more.error().message;
  EXPECT_EQ(more->email_subject, "Order 42");
  EXPECT_EQ(more->email_text, "Hello Bo, order 42 is on its way.");
  EXPECT_EQ(more->sms_text, "Order 42 shipped");
  EXPECT_EQ(more->inapp.at("body").at("lines").at(1), json::value("-7 items"));
  EXPECT_EQ(more->inapp.at("body").at("lines").at(2), json::value("gift: false"));
}

// Numbers are filled in as people write them (2.5, not 2.5E0).
TEST(TemplateRender, NumbersWithAFractionAreFilledInAsWritten) {
  auto t = parse(R"({"locales": {"en": {"inapp": {"t": "{{a}} {{b}} {{c}}"}, "sms": {"text": "Total {{a}} EUR"}}}})");
  ASSERT_TRUE(t.ok());
  auto r = render(*t, "en", "en", obj(R"({"a": 2.5, "b": 0.1, "c": -1.5})"), false, true);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->inapp.at("t"), json::value("2.5 0.1 -1.5"));
  EXPECT_EQ(r->sms_text, "Total 2.5 EUR");
}

TEST(TemplateRender, AMissingVariableIsNamed) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok());
  auto r = render(*t, "en", "en", obj(R"({"order": "A-17", "n": 1, "gift": true})"), false, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTemplateRenderFailed);
  EXPECT_NE(r.error().message.find("'name'"), std::string::npos) << r.error().message;

  // A variable only the SMS text uses is needed only when the SMS part is.
  auto sms_only = parse(R"({"locales": {"en": {"inapp": {"t": "hi"}, "sms": {"text": "code {{code}}"}}}})");
  ASSERT_TRUE(sms_only.ok());
  EXPECT_TRUE(render(*sms_only, "en", "en", {}, false, false).ok());
  auto needs = render(*sms_only, "en", "en", {}, false, true);
  ASSERT_FALSE(needs.ok());
  EXPECT_EQ(needs.error().code, Errc::kTemplateRenderFailed);
  EXPECT_NE(needs.error().message.find("'code'"), std::string::npos) << needs.error().message;
}

TEST(TemplateRender, LocaleFallsBackFromRegionToLanguageToDefault) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok());
  auto vars = obj(R"({"order": "7", "name": "N", "n": 1, "gift": true})");
  auto title = [&](std::string_view locale, std::string_view fallback) {
    auto r = render(*t, locale, fallback, vars, false, false);
    EXPECT_TRUE(r.ok()) << locale;
    return r.ok() ? std::string(r->inapp.at("title").as_string()) : std::string();
  };
  EXPECT_EQ(title("de-CH", "en"), "Bestellig 7");
  EXPECT_EQ(title("de-AT", "en"), "Bestellung 7 ist unterwegs");
  EXPECT_EQ(title("de", "en"), "Bestellung 7 ist unterwegs");
  EXPECT_EQ(title("fr-FR", "en"), "Order 7 shipped");
  EXPECT_EQ(title("", "en"), "Order 7 shipped");
  EXPECT_EQ(title("fr", "de"), "Bestellung 7 ist unterwegs");

  EXPECT_EQ(t->find_locale("de-CH", "en"), &t->locales.at("de-CH"));
  EXPECT_EQ(t->find_locale("de-LI", "en"), &t->locales.at("de"));
  EXPECT_EQ(t->find_locale("it", "fr"), nullptr);
  auto none = render(*t, "it", "fr", vars, false, false);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kTemplateRenderFailed);
}

TEST(TemplateRender, ANeededChannelPartMustExistInTheChosenLocale) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok());
  auto vars = obj(R"({"order": "7", "name": "N", "n": 1, "gift": true})");
  // de-CH has only an in-app part; the fallback chain stops at the first locale found.
  auto email = render(*t, "de-CH", "en", vars, true, false);
  ASSERT_FALSE(email.ok());
  EXPECT_EQ(email.error().code, Errc::kTemplateRenderFailed);
  EXPECT_NE(email.error().message.find("email"), std::string::npos) << email.error().message;
  auto sms = render(*t, "de", "en", vars, false, true);
  ASSERT_FALSE(sms.ok());
  EXPECT_EQ(sms.error().code, Errc::kTemplateRenderFailed);
  EXPECT_NE(sms.error().message.find("sms"), std::string::npos) << sms.error().message;
  auto de = render(*t, "de", "en", vars, true, false);
  ASSERT_TRUE(de.ok()) << de.error().message;
  EXPECT_EQ(de->email_subject, "Bestellung 7");
  EXPECT_EQ(de->email_text, "Hallo N");

  // A template without an in-app part renders a null payload.
  auto sms_tmpl = parse(R"({"locales": {"en": {"sms": {"text": "Hi {{name}}"}}}})");
  ASSERT_TRUE(sms_tmpl.ok());
  auto r = render(*sms_tmpl, "en", "en", vars, false, true);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->inapp.is_null());
  EXPECT_EQ(r->sms_text, "Hi N");
}

TEST(TemplateParse, ToJsonRoundTripsThroughParse) {
  auto t = parse(kShipped);
  ASSERT_TRUE(t.ok());
  json::object out = t->to_json();
  EXPECT_EQ(out.at("name"), json::value("order.shipped"));
  EXPECT_EQ(out.at("max_per_user_per_day").to_number<std::uint64_t>(), 3u);
  // to_json adds the name, which a template body does not carry (parse takes it apart).
  json::object body = out;
  body.erase("name");
  auto again = Template::parse("order.shipped", body);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->to_json(), out);
  EXPECT_EQ(again->max_per_user_per_day, 3u);
  ASSERT_EQ(again->locales.size(), t->locales.size());
  for (const auto& [locale, parts] : t->locales) {
    const auto& p = again->locales.at(locale);
    EXPECT_EQ(p.inapp, parts.inapp) << locale;
    EXPECT_EQ(p.email_subject, parts.email_subject) << locale;
    EXPECT_EQ(p.email_text, parts.email_text) << locale;
    EXPECT_EQ(p.sms_text, parts.sms_text) << locale;
  }
}

}  // namespace
}  // namespace herald::messages
