// The values the messages service takes and returns (docs/messages.md): requests parsed
// by the API, and the views it renders. No JSON parsing or rendering happens here.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "crypto/secret.h"
#include "delivery/webhook.h"

namespace herald::messages {

// A publish, its fields checked one by one (api::parse_publish); what depends on the
// app (its templates, settings and caps) is checked by MessageService::publish.
struct PublishRequest {
  std::string to_user;
  std::optional<boost::json::value> data;  // exactly one of data and template_name
  std::string template_name;
  boost::json::object vars;                          // strings, numbers and booleans; only with a template
  std::string locale;                                // empty: the app's default_locale
  std::string text;                                  // the e-mail and SMS text without a template
  std::string subject;                               // the e-mail subject without a template (one line)
  std::optional<std::vector<std::string>> channels;  // unset: the app's fallback
  std::optional<std::int64_t> fallback_after_ms;     // unset: the app's, then messages.fallback_after
  std::optional<std::int64_t> ttl_ms;                // unset: messages.default_ttl
  std::string idempotency_key;                       // empty: none
  std::string priority = "normal";                   // "normal" or "high"
};

// The bounds of a publish that come from the configuration.
struct PublishLimits {
  std::uint64_t max_text_bytes = 0;  // messages.max_data_bytes
  std::int64_t max_ttl_ms = 0;       // messages.max_ttl
};

struct Published {
  std::string id;
  std::string state;  // "pending", or the first message's state for a duplicate
  bool duplicate = false;
  std::size_t connections = 0;
};

// One status-trail entry.
struct TrailEntry {
  std::int64_t at_ms = 0;
  std::string event;
  std::string channel;            // empty: none
  std::string detail;             // empty: none
  std::int64_t connections = -1;  // "delivered": how many; -1 otherwise
};

// A message as its publisher sees it: GET /api/v1/messages/{id}.
struct MessageStatus {
  std::string id;
  std::string user;
  std::string state;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::string priority;
  std::string template_name;
  std::vector<std::string> channels;
  std::int64_t fallback_after_ms = 0;
  boost::json::value data;
  std::vector<TrailEntry> trail;
};

// One pending message in a user's inbox.
struct InboxItem {
  std::string id;
  std::int64_t ts = 0;
  std::string priority;
  std::string template_name;
  boost::json::value data;
  std::uint64_t seq = 0;  // the item's cursor
};

struct InboxPage {
  std::vector<InboxItem> messages;
  std::uint64_t next = 0;  // the cursor of the next page; 0: this is the last
};

// A user's contacts for the e-mail and SMS fallbacks.
struct Contacts {
  std::optional<std::string> email;
  std::optional<std::string> phone;
};

// An app's delivery settings (admin API).
struct DeliverySettings {
  std::string webhook_url;
  crypto::SecretBytes webhook_secret;  // "whsec_..." (sealed at rest; wiped when the cache lets it go)
  bool allow_private_webhooks = false;
  std::vector<std::string> fallback;
  std::int64_t fallback_after_ms = 0;  // 0: messages.fallback_after
  std::uint64_t max_per_user_per_day = 0;
  std::string default_locale = "en";
};

// A change to an app's delivery settings: each set field replaces the current value.
struct SettingsPatch {
  std::optional<std::string> webhook_url;  // "": remove
  std::optional<bool> allow_private_webhooks;
  std::optional<std::vector<std::string>> fallback;
  std::optional<std::int64_t> fallback_after_ms;  // 0: back to messages.fallback_after
  std::optional<std::uint64_t> max_per_user_per_day;
  std::optional<std::string> default_locale;
  bool rotate_webhook_secret = false;
};

struct SettingsUpdated {
  DeliverySettings settings;
  bool new_secret = false;  // the secret is new: shown once, in this answer
};

struct DeadLetter {
  std::string message_id;
  int attempts = 0;
  std::string last_error;
  std::int64_t dead_at_ms = 0;
};

// Pushes a `{"msg":...}` frame to every live connection of (app, user); returns how many.
using UserPusher = std::function<std::size_t(const std::string& app_id, const std::string& user, std::string frame)>;
// Sends one webhook request without blocking (delivery::WebhookSender::send).
using WebhookPoster = std::function<void(delivery::WebhookRequest, std::function<void(delivery::WebhookOutcome)>)>;

}  // namespace herald::messages
