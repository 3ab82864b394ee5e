// Per-app delivery settings, templates and user contacts: sealing and persistence.
#include "messages/app_settings.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "delivery/webhook.h"
#include "kms/key_service.h"
#include "store/message_records.h"

namespace herald::messages {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxTemplatesPerApp = 1000;
constexpr std::size_t kMaxTemplateBytes = 64 * 1024;

std::string settings_ad(const std::string& app_id) {
  return "message_settings/" + app_id;
}
std::string contacts_ad(const std::string& app_id, const std::string& user_index) {
  return "user_contacts/" + app_id + "/" + user_index;
}

// The secret is written into the one string the caller wipes (reserved up front, so no
// reallocation leaves a copy behind), never into a JSON tree of its own.
std::string settings_plaintext(const DeliverySettings& s) {
  json::array fb;
  for (const auto& c : s.fallback) fb.push_back(json::string(c));
  std::string out = json::serialize(json::object{{"webhook_url", s.webhook_url},
                                                 {"allow_private_webhooks", s.allow_private_webhooks},
                                                 {"fallback", std::move(fb)},
                                                 {"fallback_after_ms", s.fallback_after_ms},
                                                 {"max_per_user_per_day", s.max_per_user_per_day},
                                                 {"default_locale", s.default_locale}});
  std::string text;
  text.reserve(out.size() + 6 * s.webhook_secret.size() + 32);
  text.append(out, 0, out.size() - 1).append(",\"webhook_secret\":\"");
  for (char c : s.webhook_secret.view()) {
    if (c == '"' || c == '\\') {
      text += '\\';
      text += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      text.append("\\u00").append(1, kHex[(c >> 4) & 0xf]).append(1, kHex[c & 0xf]);
    } else {
      text += c;
    }
  }
  text.append("\"}");
  return text;
}

Result<DeliverySettings> parse_settings(std::string_view text, json::storage_ptr sp) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec, std::move(sp));
  if (ec || !v.is_object()) return make_error(Errc::kStoreError, "stored delivery settings are not JSON");
  const auto& o = v.get_object();
  DeliverySettings s;
  auto str = [&](const char* k) {
    return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).get_string()) : "";
  };
  s.webhook_url = str("webhook_url");
  if (o.contains("webhook_secret") && o.at("webhook_secret").is_string())
    s.webhook_secret = crypto::SecretBytes(std::string_view(o.at("webhook_secret").get_string()));
  s.default_locale = str("default_locale");
  if (s.default_locale.empty()) s.default_locale = "en";
  s.allow_private_webhooks = o.contains("allow_private_webhooks") && o.at("allow_private_webhooks").is_bool() &&
                             o.at("allow_private_webhooks").get_bool();
  if (o.contains("fallback") && o.at("fallback").is_array())
    for (const auto& c : o.at("fallback").get_array())
      if (c.is_string()) s.fallback.emplace_back(c.get_string());
  if (o.contains("fallback_after_ms") && o.at("fallback_after_ms").is_int64())
    s.fallback_after_ms = o.at("fallback_after_ms").get_int64();
  if (o.contains("max_per_user_per_day") && o.at("max_per_user_per_day").is_number())
    s.max_per_user_per_day = o.at("max_per_user_per_day").to_number<std::uint64_t>();
  return s;
}

// The parsed tree holds the webhook secret: it is built in this buffer, wiped before the
// return (settings too large for it spill to the heap, unwiped: docs/kms.md).
Result<DeliverySettings> settings_from(std::string_view text) {
  alignas(std::max_align_t) unsigned char buf[16 * 1024];
  auto r = [&] {
    json::monotonic_resource mr(buf, sizeof buf);
    return parse_settings(text, &mr);
  }();
  OPENSSL_cleanse(buf, sizeof buf);
  return r;
}

std::string contacts_plaintext(const Contacts& c) {
  json::object o;
  o["email"] = c.email ? json::value(json::string(*c.email)) : json::value(nullptr);
  o["phone"] = c.phone ? json::value(json::string(*c.phone)) : json::value(nullptr);
  return json::serialize(o);
}

std::optional<std::string> optional_text(const json::object& o, const char* key) {
  if (!o.contains(key) || !o.at(key).is_string()) return std::nullopt;
  return std::string(o.at(key).get_string());
}

}  // namespace

Status check_webhook_url(std::string_view url, bool allow_private) {
  if (url.empty()) return ok_status();
  if (url.size() > 2048) return make_error(Errc::kInvalidArgument, "webhook_url is longer than 2048 bytes");
  bool https = url.rfind("https://", 0) == 0;
  bool http = url.rfind("http://", 0) == 0;
  if (!https && !http) return make_error(Errc::kInvalidArgument, "webhook_url must be an https:// URL");
  if (http && !allow_private)
    return make_error(Errc::kInvalidArgument,
                      "webhook_url must be https:// (http:// only with allow_private_webhooks)");
  auto rest = url.substr(https ? 8 : 7);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return make_error(Errc::kInvalidArgument, "webhook_url has no host");
  if (authority.find('@') != std::string_view::npos)
    return make_error(Errc::kInvalidArgument, "webhook_url must not carry credentials");
  if (url.find('#') != std::string_view::npos)
    return make_error(Errc::kInvalidArgument, "webhook_url must not have a fragment");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return make_error(Errc::kInvalidArgument, "webhook_url has a space or a non-ASCII character");
  return ok_status();
}

namespace {
// A reload that keeps finding local changes landing under it gives up after this many reads.
constexpr int kLoadAttempts = 4;
}  // namespace

AppDeliverySettings::AppDeliverySettings(store::MessageRecords& records, kms::KeyService& keys, Clock clock)
    : records_(records), keys_(keys), clock_(std::move(clock)) {}

Status AppDeliverySettings::load() {
  std::lock_guard serial(reload_mu_);
  for (int attempt = 1;; ++attempt) {
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      generation = generation_;
    }
    auto st = read_all(generation, attempt == kLoadAttempts);
    if (st || st.error().code != Errc::kConflict) return st;
  }
}

Status AppDeliverySettings::read_all(std::uint64_t generation, bool last_attempt) {
  auto settings = records_.load_message_settings();
  if (!settings) return settings.error();
  auto templates = records_.load_message_templates();
  if (!templates) return templates.error();
  std::map<std::string, std::shared_ptr<const DeliverySettings>, std::less<>> s_map;
  for (const auto& r : *settings) {
    auto pt = keys_.open(r.app_id, r.sealed, settings_ad(r.app_id));
    if (!pt) return make_error(Errc::kStoreError, "the delivery settings of app " + r.app_id + " do not open");
    auto s = settings_from(pt->view());
    if (!s) return s.error();
    s_map[r.app_id] = std::make_shared<const DeliverySettings>(std::move(*s));
  }
  std::map<TemplateKey, Template, std::less<>> t_map;
  for (const auto& r : *templates) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return make_error(Errc::kStoreError, "template " + r.name + " is not JSON");
    auto t = Template::parse(r.name, v.get_object());
    if (!t) return make_error(Errc::kStoreError, "template " + r.name + ": " + t.error().message);
    t_map[{r.app_id, r.name}] = std::move(*t);
  }
  std::lock_guard lock(mu_);
  // A change of this node's landed while the store was read: read again rather than undo it.
  if (generation_ != generation && !last_attempt) return make_error(Errc::kConflict, "changed meanwhile");
  settings_ = std::move(s_map);
  templates_ = std::move(t_map);
  ++generation_;
  return ok_status();
}

void AppDeliverySettings::clear() {
  std::lock_guard lock(mu_);
  settings_.clear();
  templates_.clear();
  ++generation_;
}

std::shared_ptr<const DeliverySettings> AppDeliverySettings::settings_of(const std::string& app_id) const {
  static const auto kNone = std::make_shared<const DeliverySettings>();
  std::lock_guard lock(mu_);
  auto it = settings_.find(app_id);
  return it == settings_.end() ? kNone : it->second;
}

void AppDeliverySettings::update(const std::string& app_id, const SettingsPatch& patch, Done<SettingsUpdated> done) {
  DeliverySettings s = *settings_of(app_id);
  if (patch.allow_private_webhooks) s.allow_private_webhooks = *patch.allow_private_webhooks;
  if (patch.webhook_url) s.webhook_url = *patch.webhook_url;
  if (auto st = check_webhook_url(s.webhook_url, s.allow_private_webhooks); !st) return done(st.error());
  if (patch.fallback) s.fallback = *patch.fallback;
  if (patch.fallback_after_ms) s.fallback_after_ms = *patch.fallback_after_ms;
  if (patch.max_per_user_per_day) s.max_per_user_per_day = *patch.max_per_user_per_day;
  if (patch.default_locale) s.default_locale = *patch.default_locale;
  // A URL never goes without a secret to sign with; a new one is shown once.
  const bool new_secret = patch.rotate_webhook_secret || (!s.webhook_url.empty() && s.webhook_secret.empty());
  if (new_secret) {
    std::string made = delivery::make_webhook_secret();
    s.webhook_secret = crypto::SecretBytes(std::string_view(made));
    OPENSSL_cleanse(made.data(), made.size());
  }
  write_settings(app_id, std::move(s), new_secret, std::move(done));
}

void AppDeliverySettings::write_settings(const std::string& app_id, DeliverySettings s, bool new_secret,
                                         Done<SettingsUpdated> done) {
  if (auto st = keys_.ensure_app_keys(app_id); !st) return done(st.error());
  std::string plaintext = settings_plaintext(s);
  auto sealed = keys_.seal(app_id, plaintext, settings_ad(app_id));
  OPENSSL_cleanse(plaintext.data(), plaintext.size());
  if (!sealed) return done(sealed.error());
  records_.put_message_settings(
      store::MessageSettingsRecord{app_id, std::move(*sealed)},
      [this, app_id, s = std::move(s), new_secret, done = std::move(done)](Status st) mutable {
        if (!st) return done(make_error(Errc::kStoreUnavailable, "the delivery settings could not be stored"));
        auto held = std::make_shared<const DeliverySettings>(std::move(s));
        {
          std::lock_guard lock(mu_);
          settings_[app_id] = held;
          ++generation_;
        }
        done(SettingsUpdated{*held, new_secret});
      });
}

std::optional<Template> AppDeliverySettings::find_template(const std::string& app_id, std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = templates_.find(TemplateKey(app_id, std::string(name)));
  if (it == templates_.end()) return std::nullopt;
  return it->second;
}

std::size_t AppDeliverySettings::template_count_locked(const std::string& app_id) const {
  std::size_t n = 0;
  for (auto it = templates_.lower_bound(TemplateKey(app_id, "")); it != templates_.end() && it->first.first == app_id;
       ++it)
    ++n;
  return n;
}

std::vector<std::string> AppDeliverySettings::template_names(const std::string& app_id) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (auto it = templates_.lower_bound(TemplateKey(app_id, "")); it != templates_.end() && it->first.first == app_id;
       ++it)
    names.push_back(it->first.second);
  return names;
}

void AppDeliverySettings::put_template(const std::string& app_id, std::string_view name, const json::object& body,
                                       Done<Template> done) {
  auto t = Template::parse(name, body);
  if (!t) return done(t.error());
  std::string text = json::serialize(body);
  if (text.size() > kMaxTemplateBytes) return done(make_error(Errc::kInvalidArgument, "a template is at most 64 KiB"));
  {
    std::lock_guard lock(mu_);
    if (template_count_locked(app_id) >= kMaxTemplatesPerApp &&
        !templates_.count(TemplateKey(app_id, std::string(name))))
      return done(make_error(Errc::kInvalidArgument, "an app has at most 1000 templates"));
  }
  records_.put_message_template(
      store::MessageTemplateRecord{app_id, std::string(name), std::move(text)},
      [this, app_id, t = std::move(*t), done = std::move(done)](Status st) mutable {
        if (!st) return done(make_error(Errc::kStoreUnavailable, "the template could not be stored"));
        {
          std::lock_guard lock(mu_);
          templates_[{app_id, t.name}] = t;
          ++generation_;
        }
        done(std::move(t));
      });
}

void AppDeliverySettings::delete_template(const std::string& app_id, std::string_view name, Done<bool> done) {
  if (!find_template(app_id, name))
    return done(make_error(Errc::kTemplateNotFound, "this app has no template " + std::string(name)));
  records_.delete_message_template(
      app_id, std::string(name), [this, app_id, n = std::string(name), done = std::move(done)](Status st) {
        if (!st) return done(make_error(Errc::kStoreUnavailable, "the template could not be deleted"));
        {
          std::lock_guard lock(mu_);
          templates_.erase(TemplateKey(app_id, n));
          ++generation_;
        }
        done(true);
      });
}

void AppDeliverySettings::put_contacts(const std::string& app_id, const std::string& user_index, Contacts contacts,
                                       Done<Contacts> done) {
  auto sealed = keys_.seal(app_id, contacts_plaintext(contacts), contacts_ad(app_id, user_index));
  if (!sealed) return done(sealed.error());
  records_.put_contacts(store::ContactRecord{app_id, user_index, std::move(*sealed), now_ms(clock_)},
                        [contacts = std::move(contacts), done = std::move(done)](Status st) mutable {
                          if (!st) return done(make_error(Errc::kStoreUnavailable, "the contacts could not be stored"));
                          done(std::move(contacts));
                        });
}

Result<std::optional<Contacts>> AppDeliverySettings::contacts(const std::string& app_id,
                                                              const std::string& user_index) const {
  auto r = records_.contacts(app_id, user_index);
  if (!r) return r.error();
  if (!r->has_value()) return std::optional<Contacts>();
  auto pt = keys_.open(app_id, (*r)->sealed, contacts_ad(app_id, user_index));
  if (!pt) return make_error(Errc::kContactsUnreadable, "the contacts do not open");
  boost::system::error_code ec;
  auto v = json::parse(pt->view(), ec);
  if (ec || !v.is_object()) return make_error(Errc::kContactsUnreadable, "the stored contacts are not JSON");
  const auto& o = v.get_object();
  return std::optional(Contacts{optional_text(o, "email"), optional_text(o, "phone")});
}

void AppDeliverySettings::delete_contacts(const std::string& app_id, const std::string& user_index, Done<bool> done) {
  records_.delete_contacts(app_id, user_index, [done = std::move(done)](Status st) {
    if (!st) return done(make_error(Errc::kStoreUnavailable, "the contacts could not be deleted"));
    done(true);
  });
}

}  // namespace herald::messages
