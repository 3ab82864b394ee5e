// The messages API's request parsers and views: every field's checks, and the JSON the
// routes answer, rendered from the service's structs.
#include "api/message_requests.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace herald::api {
namespace {
namespace json = boost::json;
using messages::PublishLimits;

constexpr PublishLimits kLimits{1024, 30LL * 86'400'000};

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

Error publish_error(std::string_view body) {
  auto r = parse_publish(obj(body), kLimits);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Error{} : r.error();
}

TEST(MessageRequests, PublishWithDataTakesEveryField) {
  auto r = parse_publish(obj(R"({"to_user": "u1", "data": {"t": "Hi"}, "text": "body", "subject": "Ping",
      "channels": ["webhook", "email"], "fallback_after": "1m", "ttl": "2h", "idempotency_key": "k1",
      "priority": "high", "locale": "de-CH"})"),
                         kLimits);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->to_user, "u1");
  ASSERT_TRUE(r->data.has_value());
  EXPECT_EQ(*r->data, json::parse(R"({"t": "Hi"})"));
  EXPECT_TRUE(r->template_name.empty());
  EXPECT_EQ(r->text, "body");
  EXPECT_EQ(r->subject, "Ping");
  ASSERT_TRUE(r->channels.has_value());
  EXPECT_EQ(*r->channels, (std::vector<std::string>{"webhook", "email"}));
  EXPECT_EQ(r->fallback_after_ms, 60'000);
  EXPECT_EQ(r->ttl_ms, 7'200'000);
  EXPECT_EQ(r->idempotency_key, "k1");
  EXPECT_EQ(r->priority, "high");
  EXPECT_EQ(r->locale, "de-CH");
}

TEST(MessageRequests, PublishDefaultsLeaveTheAppsChoicesOpen) {
  auto r =
      parse_publish(obj(R"({"to_user": "u1", "template": "order.shipped", "vars": {"n": 3, "ok": true}})"), kLimits);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->data.has_value());
  EXPECT_EQ(r->template_name, "order.shipped");
  EXPECT_EQ(r->vars.at("n").to_number<int>(), 3);
  EXPECT_FALSE(r->channels.has_value());
  EXPECT_FALSE(r->fallback_after_ms.has_value());
  EXPECT_FALSE(r->ttl_ms.has_value());
  EXPECT_EQ(r->priority, "normal");
  EXPECT_TRUE(r->idempotency_key.empty());
  // A null data is data.
  auto null_data = parse_publish(obj(R"({"to_user": "u1", "data": null})"), kLimits);
  ASSERT_TRUE(null_data.ok());
  ASSERT_TRUE(null_data->data.has_value());
  EXPECT_TRUE(null_data->data->is_null());
}

TEST(MessageRequests, PublishRefusesBadFieldsNamingThem) {
  const std::string big(2000, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "to_user"},
      {R"({"to_user": "a,b", "data": 1})", "to_user"},
      {R"({"to_user": 42, "data": 1})", "to_user"},
      {R"({"to_user": "u", "data": 1, "colour": "red"})", "colour"},
      {R"({"to_user": "u"})", "exactly one"},
      {R"({"to_user": "u", "data": 1, "template": "t"})", "exactly one"},
      {R"({"to_user": "u", "data": 1, "vars": {"x": 1}})", "vars needs a template"},
      {R"({"to_user": "u", "template": "t", "vars": [1]})", "vars must be an object"},
      {R"({"to_user": "u", "template": "t", "vars": {"x": {"deep": 1}}})", "vars.x"},
      {R"({"to_user": "u", "data": 1, "locale": "english!"})", "locale"},
      {R"({"to_user": "u", "data": 1, "text": ")" + big + R"("})", "text is longer than 1024"},
      {R"({"to_user": "u", "data": 1, "subject": "a\nb"})", "one line"},
      {R"({"to_user": "u", "data": 1, "idempotency_key": ""})", "idempotency_key"},
      {R"({"to_user": "u", "data": 1, "priority": "urgent"})", "priority"},
      {R"({"to_user": "u", "data": 1, "channels": "email"})", "channels must be an array"},
      {R"({"to_user": "u", "data": 1, "channels": ["fax"]})", "channels holds only"},
      {R"({"to_user": "u", "data": 1, "channels": ["sms", "sms"]})", "names sms twice"},
      {R"({"to_user": "u", "data": 1, "fallback_after": "500ms"})", "fallback_after must be between"},
      {R"({"to_user": "u", "data": 1, "ttl": "31d"})", "ttl must be between"},
      {R"({"to_user": "u", "data": 1, "ttl": 60})", "ttl must be a duration"},
  };
  for (const auto& [body, words] : cases) {
    auto e = publish_error(body);
    EXPECT_EQ(e.code, Errc::kInvalidArgument) << body;
    EXPECT_NE(e.message.find(words), std::string::npos) << body << " -> " << e.message;
  }
}

TEST(MessageRequests, SettingsPatchSetsOnlyWhatItNames) {
  auto p = parse_settings_patch(obj(R"({"webhook_url": "https://h.example/in", "fallback": ["webhook", "sms"],
      "fallback_after": "5m", "max_per_user_per_day": 3, "default_locale": "pt-BR", "rotate_webhook_secret": true,
      "allow_private_webhooks": false})"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->webhook_url, "https://h.example/in");
  EXPECT_EQ(*p->fallback, (std::vector<std::string>{"webhook", "sms"}));
  EXPECT_EQ(p->fallback_after_ms, 300'000);
  EXPECT_EQ(p->max_per_user_per_day, 3u);
  EXPECT_EQ(p->default_locale, "pt-BR");
  EXPECT_TRUE(p->rotate_webhook_secret);
  EXPECT_EQ(p->allow_private_webhooks, false);

  auto empty = parse_settings_patch(obj("{}"));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->webhook_url || empty->fallback || empty->fallback_after_ms || empty->max_per_user_per_day ||
               empty->default_locale || empty->allow_private_webhooks || empty->rotate_webhook_secret);
  auto reset = parse_settings_patch(obj(R"({"fallback_after": null})"));
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(reset->fallback_after_ms, 0);

  for (std::string_view bad :
       {R"({"fallback": ["pigeon"]})", R"({"fallback_after": "10ms"})", R"({"max_per_user_per_day": -1})",
        R"({"max_per_user_per_day": 1.5})", R"({"default_locale": "x"})", R"({"colour": "red"})",
        R"({"webhook_url": 5})", R"({"allow_private_webhooks": "yes"})", R"({"rotate_webhook_secret": 1})"}) {
    auto r = parse_settings_patch(obj(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << bad;
  }
}

TEST(MessageRequests, ContactsAreCheckedAddressesOrNull) {
  auto c = parse_contacts(obj(R"({"email": "ann@example.com", "phone": null})"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->email, "ann@example.com");
  EXPECT_FALSE(c->phone.has_value());
  for (std::string_view bad :
       {R"({"email": "not-an-address"})", R"({"phone": "0151 123"})", R"({"fax": "1"})", R"({"email": 5})"}) {
    auto r = parse_contacts(obj(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << bad;
  }
}

TEST(MessageRequests, ViewsRenderTheStructs) {
  EXPECT_EQ(json::value(published_json({"msg_1_a", "pending", false, 2})),
            json::parse(R"({"id": "msg_1_a", "state": "pending", "duplicate": false, "connections": 2})"));
  EXPECT_EQ(json::value(published_json({"msg_1_a", "acked", true, 0})),
            json::parse(R"({"id": "msg_1_a", "state": "acked", "duplicate": true})"));

  messages::MessageStatus s{"msg_1_a", "u1", "pending", 10, 20, "high", "", {"email"}, 1000, json::value(7), {}};
  s.trail.push_back({10, "accepted"});
  s.trail.push_back({11, "delivered", "", "", 2});
  s.trail.push_back({12, "failed", "email", "no_contact"});
  EXPECT_EQ(json::value(status_json(s)), json::parse(R"({"id": "msg_1_a", "user": "u1", "state": "pending",
      "created_ms": 10, "expires_ms": 20, "priority": "high", "template": "", "channels": ["email"],
      "fallback_after_ms": 1000, "data": 7, "trail": [{"at_ms": 10, "event": "accepted"},
      {"at_ms": 11, "event": "delivered", "connections": 2},
      {"at_ms": 12, "event": "failed", "channel": "email", "detail": "no_contact"}]})"));

  messages::InboxPage page;
  page.messages.push_back({"msg_5_b", 30, "normal", "t", json::value("x"), 5});
  EXPECT_EQ(json::value(inbox_json(page)), json::parse(R"({"messages": [{"id": "msg_5_b", "ts": 30,
      "priority": "normal", "template": "t", "data": "x", "cursor": "5"}], "next": null})"));
  page.next = 5;
  EXPECT_EQ(inbox_json(page).at("next").as_string(), "5");

  EXPECT_EQ(json::value(contacts_json({std::string("a@example.com"), std::nullopt}, "u1")),
            json::parse(R"({"email": "a@example.com", "phone": null, "user": "u1"})"));

  messages::DeliverySettings d;
  d.webhook_url = "https://h.example/in";
  d.webhook_secret = crypto::SecretBytes(std::string_view("whsec_secret"));
  auto view = settings_json(d);
  EXPECT_FALSE(view.contains("webhook_secret"));
  EXPECT_EQ(view.at("has_webhook_secret"), json::value(true));
  EXPECT_TRUE(view.at("fallback_after").is_null());
  EXPECT_FALSE(settings_updated_json({d, false}).contains("webhook_secret"));
  EXPECT_EQ(settings_updated_json({d, true}).at("webhook_secret").as_string(), "whsec_secret");
  d.fallback_after_ms = 60'000;
  EXPECT_EQ(settings_json(d).at("fallback_after").as_string(), "1m");

  EXPECT_EQ(json::value(dead_letters_json({{"msg_1_a", 3, "http 503", 99}})),
            json::parse(R"({"dead_letters": [{"message_id": "msg_1_a", "channel": "webhook", "attempts": 3,
                "last_error": "http 503", "dead_at_ms": 99}]})"));
  EXPECT_EQ(json::value(template_names_json({"a", "b"})), json::parse(R"({"templates": ["a", "b"]})"));
  EXPECT_EQ(json::value(replayed_json("msg_1_a")), json::parse(R"({"message_id": "msg_1_a", "state": "pending"})"));
}

}  // namespace
}  // namespace herald::api
