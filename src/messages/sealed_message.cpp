// The sealed part of a message: its JSON form and its opening.
#include "messages/sealed_message.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "kms/key_service.h"

namespace herald::messages {
namespace json = boost::json;

namespace {

bool has(const std::vector<std::string>& v, std::string_view c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

}  // namespace

std::string content_plaintext(const MessageContent& c) {
  const bool email = has(c.channels, "email");
  const bool sms = has(c.channels, "sms");
  json::array ch;
  for (const auto& name : c.channels) ch.push_back(json::string(name));
  return json::serialize(json::object{{"user", c.user},
                                      {"data", c.data},
                                      {"priority", c.priority},
                                      {"channels", std::move(ch)},
                                      {"fallback_after_ms", c.fallback_after_ms},
                                      {"email_subject", email ? c.email_subject : ""},
                                      {"email_text", email ? c.email_text : ""},
                                      {"sms_text", sms ? c.sms_text : ""}});
}

Result<MessageContent> open_message(kms::KeyService& keys, const store::MessageRecord& m) {
  auto pt = keys.open(m.app_id, m.sealed, message_ad(m.app_id, m.id));
  if (!pt) return make_error(Errc::kStoreError, "message " + m.id + " does not open");
  boost::system::error_code ec;
  auto v = json::parse(pt->view(), ec);
  if (ec || !v.is_object()) return make_error(Errc::kStoreError, "message " + m.id + " is not JSON");
  const auto& o = v.get_object();
  MessageContent out;
  auto str = [&](const char* k) {
    return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).get_string()) : "";
  };
  out.user = str("user");
  if (o.contains("data")) out.data = o.at("data");
  out.priority = str("priority");
  out.email_subject = str("email_subject");
  out.email_text = str("email_text");
  out.sms_text = str("sms_text");
  if (o.contains("channels") && o.at("channels").is_array())
    for (const auto& c : o.at("channels").get_array())
      if (c.is_string()) out.channels.emplace_back(c.get_string());
  if (o.contains("fallback_after_ms") && o.at("fallback_after_ms").is_int64())
    out.fallback_after_ms = o.at("fallback_after_ms").get_int64();
  return out;
}

InboxItem inbox_item(const store::MessageRecord& m, const MessageContent& c) {
  return InboxItem{m.id, m.created_ms, c.priority, m.template_name, c.data, m.seq};
}

std::string message_ad(std::string_view app_id, std::string_view id) {
  return "messages/" + std::string(app_id) + "/" + std::string(id);
}

std::uint64_t seq_of(std::string_view id) {
  if (id.size() > 64 || id.substr(0, 4) != "msg_") return 0;
  auto rest = id.substr(4);
  auto us = rest.find('_');
  if (us == std::string_view::npos) return 0;
  std::uint64_t seq = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + us, seq);
  if (ec != std::errc{} || p != rest.data() + us) return 0;
  return seq;
}

const char* state_name(store::MessageState s) {
  switch (s) {
    case store::MessageState::pending:
      return "pending";
    case store::MessageState::acked:
      return "acked";
    case store::MessageState::expired:
      return "expired";
  }
  return "pending";
}

bool valid_channel(std::string_view c) {
  return c == "webhook" || c == "email" || c == "sms";
}

}  // namespace herald::messages
