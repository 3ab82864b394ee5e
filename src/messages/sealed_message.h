// What a message carries inside its seal (the user, the payload, the channels and their
// texts), how it is written and opened, and the small facts every part of the module
// reads off a stored message: its id, its associated data, its state's name.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "messages/message_types.h"
#include "store/message_records.h"

namespace herald::kms {
class KeyService;
}

namespace herald::messages {

struct MessageContent {
  std::string user;
  boost::json::value data;
  std::string priority = "normal";
  std::vector<std::string> channels;
  std::int64_t fallback_after_ms = 0;
  std::string email_subject, email_text, sms_text;
};

// The plaintext that is sealed; the e-mail and SMS parts only when a channel needs them.
std::string content_plaintext(const MessageContent& c);
// Opens a stored message; "store_error" when it does not open or parse.
Result<MessageContent> open_message(kms::KeyService& keys, const store::MessageRecord& m);

// A stored message as its user sees it (pushes and inbox pages).
InboxItem inbox_item(const store::MessageRecord& m, const MessageContent& c);

// The associated data a message is sealed under: "messages/<app>/<id>".
std::string message_ad(std::string_view app_id, std::string_view id);
// "msg_<seq>_<random>" -> seq, or 0 when `id` is not of that form.
std::uint64_t seq_of(std::string_view id);
const char* state_name(store::MessageState s);
// "webhook", "email" or "sms".
bool valid_channel(std::string_view c);

}  // namespace herald::messages
