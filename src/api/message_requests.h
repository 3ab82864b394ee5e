// The messages API's JSON: request bodies checked field by field into the messages
// service's request structs, and its answers rendered from the structs it returns.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "messages/message_types.h"
#include "messages/templates.h"

namespace herald::api {

// POST /api/v1/messages. "invalid_argument" naming the first bad field; what depends on
// the app (templates, its fallback, caps) is checked by the service.
Result<messages::PublishRequest> parse_publish(const boost::json::object& body, const messages::PublishLimits& limits);
// PUT /admin/v1/apps/{app}/delivery.
Result<messages::SettingsPatch> parse_settings_patch(const boost::json::object& body);
// PUT .../users/{user}/contacts: {"email": ..., "phone": ...}, each a string or null.
Result<messages::Contacts> parse_contacts(const boost::json::object& body);

boost::json::object published_json(const messages::Published& p);
boost::json::object status_json(const messages::MessageStatus& s);
boost::json::object inbox_json(const messages::InboxPage& page);
boost::json::object contacts_json(const messages::Contacts& c, std::string_view user);
// The settings as the admin API shows them: the webhook secret only as has_webhook_secret.
boost::json::object settings_json(const messages::DeliverySettings& s);
// The settings after a change, with the webhook secret when it is new (shown once).
boost::json::object settings_updated_json(const messages::SettingsUpdated& u);
boost::json::object template_json(const messages::Template& t);
boost::json::object template_names_json(const std::vector<std::string>& names);
boost::json::object dead_letters_json(const std::vector<messages::DeadLetter>& letters);
boost::json::object replayed_json(const std::string& message_id);

}  // namespace herald::api
