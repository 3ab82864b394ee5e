// What each app configures for its messages: delivery settings (webhook, fallback order,
// caps; sealed at rest because they hold the webhook secret), templates, and its users'
// contacts (sealed). Held in memory after load, written through to the store.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "messages/message_types.h"
#include "messages/templates.h"

namespace herald::store {
class MessageRecords;
}
namespace herald::kms {
class KeyService;
}

namespace herald::messages {

class AppDeliverySettings {
 public:
  AppDeliverySettings(store::MessageRecords& records, kms::KeyService& keys, Clock clock);
  AppDeliverySettings(const AppDeliverySettings&) = delete;
  AppDeliverySettings& operator=(const AppDeliverySettings&) = delete;

  // Reads every app's settings and templates (at unseal, and again when another node
  // changed some) and swaps them in; a change of this node's that lands meanwhile is not
  // undone. clear() forgets them (at seal).
  Status load();
  void clear();

  // The app's settings, or the defaults when it has none.
  std::shared_ptr<const DeliverySettings> settings_of(const std::string& app_id) const;
  // Applies `patch`, checks the result (the webhook URL against allow_private_webhooks),
  // makes a webhook secret when a URL has none or on rotation, and stores it.
  void update(const std::string& app_id, const SettingsPatch& patch, Done<SettingsUpdated> done);

  std::optional<Template> find_template(const std::string& app_id, std::string_view name) const;
  std::vector<std::string> template_names(const std::string& app_id) const;
  // Parses and stores a template body (stored as given: it is the template's format).
  void put_template(const std::string& app_id, std::string_view name, const boost::json::object& body,
                    Done<Template> done);
  void delete_template(const std::string& app_id, std::string_view name, Done<bool> done);

  // A user's contacts, by the user's blind index.
  void put_contacts(const std::string& app_id, const std::string& user_index, Contacts contacts, Done<Contacts> done);
  // Nullopt when none are set; "contacts_unreadable" when they do not open or parse.
  Result<std::optional<Contacts>> contacts(const std::string& app_id, const std::string& user_index) const;
  void delete_contacts(const std::string& app_id, const std::string& user_index, Done<bool> done);

 private:
  using TemplateKey = std::pair<std::string, std::string>;  // app, name
  std::size_t template_count_locked(const std::string& app_id) const;
  // One read of both tables, swapped in unless generation_ moved on ("conflict").
  Status read_all(std::uint64_t generation, bool last_attempt);
  void write_settings(const std::string& app_id, DeliverySettings s, bool new_secret, Done<SettingsUpdated> done);

  store::MessageRecords& records_;
  kms::KeyService& keys_;
  Clock clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const DeliverySettings>, std::less<>> settings_;
  std::map<TemplateKey, Template, std::less<>> templates_;
  std::uint64_t generation_ = 0;  // under mu_: moves with every change to the maps
  std::mutex reload_mu_;          // one load() at a time
};

// Checks a webhook URL: absolute http(s) with a host, no credentials, no fragment; http
// only with allow_private.
Status check_webhook_url(std::string_view url, bool allow_private);

}  // namespace herald::messages
