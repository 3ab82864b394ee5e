// AdminClient: the admin API with a bearer token. Answers that carry secrets are read
// through memory that is overwritten afterwards.
#include <boost/json.hpp>

#include "client_core.h"
#include "herald/client.h"

namespace herald::sdk {

using detail::HttpRequest;
using detail::HttpResponse;
namespace json = boost::json;

namespace {

Error invalid(std::string message) {
  return Error{"invalid_argument", std::move(message), 0, {}, 0};
}

json::array to_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

class AdminClient::Impl {
 public:
  explicit Impl(AdminClientOptions o) : core_(std::move(o.connection)), token_(std::move(o.admin_token)) {}

  Result<HttpResponse> call(std::string_view method, const std::string& path, std::string_view body = {}) {
    if (token_.empty()) return invalid("the admin token is required");
    std::string auth = "Authorization: Bearer ";
    auth.append(token_.view());
    HttpRequest req{method, path, {std::move(auth)}, body, !body.empty()};
    auto r = core_.call(req);
    detail::cleanse(req.headers.front());
    return r;
  }

  // /admin/v1/apps/<app><suffix>, the app's name, key or id as one path segment.
  static std::string app_path(std::string_view app, std::string_view suffix = {}) {
    return "/admin/v1/apps/" + percent_encode(app) + std::string(suffix);
  }

  // An answer of `{}`.
  static Result<void> empty(const Result<HttpResponse>& r) {
    if (!r) return r.error();
    return Result<void>();
  }

 private:
  detail::ClientCore core_;
  SecretString token_;
};

AdminClient::AdminClient(AdminClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
AdminClient::~AdminClient() = default;
AdminClient::AdminClient(AdminClient&&) noexcept = default;
AdminClient& AdminClient::operator=(AdminClient&&) noexcept = default;

Result<CreatedApp> AdminClient::create_app(const AppCreateOptions& o) {
  if (o.name.empty()) return invalid("name is required");
  json::object body{{"name", o.name}};
  if (!o.scopes.empty()) body["scopes"] = to_array(o.scopes);
  if (!o.namespaces.empty()) body["namespaces"] = to_array(o.namespaces);
  if (!o.allowed_cidrs.empty()) body["allowed_cidrs"] = to_array(o.allowed_cidrs);
  if (o.rate_limit) body["rate_limit"] = *o.rate_limit;
  if (!o.client_public_keys_pem.empty()) body["client_public_keys"] = to_array(o.client_public_keys_pem);
  if (!o.jwt_audience.empty()) body["jwt_audience"] = o.jwt_audience;
  if (!o.jwt_issuer.empty()) body["jwt_issuer"] = o.jwt_issuer;
  body["require_exp"] = o.require_exp;
  if (!o.client_secret) body["client_secret"] = false;
  auto r = impl_->call("POST", "/admin/v1/apps", json::serialize(body));
  if (!r) return r.error();
  return detail::decode<CreatedApp>(*r, true, [&](const json::value& v) {
    const auto& root = detail::obj(v, "the answer");
    CreatedApp c;
    c.app_secret_id = detail::str(root, "app_secret_id");
    c.app_secret = detail::str(root, "app_secret");
    if (root.contains("client_secret")) c.client_secret = detail::str(root, "client_secret");
    c.json = SecretString(std::string_view(r->body));
    // The app as GET shows it, without the secrets (the copy lives in the wiped arena).
    json::object view(root, root.storage());
    view.erase("app_secret_id");
    view.erase("app_secret");
    view.erase("client_secret");
    c.app = detail::read_app(view);
    return c;
  });
}

Result<std::vector<AppInfo>> AdminClient::list_apps() {
  auto r = impl_->call("GET", "/admin/v1/apps");
  if (!r) return r.error();
  return detail::decode<std::vector<AppInfo>>(*r, false, [](const json::value& v) {
    std::vector<AppInfo> out;
    for (const auto& a : detail::arr(detail::obj(v, "the answer"), "apps"))
      out.push_back(detail::read_app(detail::obj(a, "an app")));
    return out;
  });
}

Result<AppInfo> AdminClient::show_app(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  auto r = impl_->call("GET", Impl::app_path(app));
  if (!r) return r.error();
  return detail::decode<AppInfo>(*r, false,
                                 [](const json::value& v) { return detail::read_app(detail::obj(v, "the answer")); });
}

Result<NewSecret> AdminClient::rotate_secret(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  auto r = impl_->call("POST", Impl::app_path(app, "/rotate-secret"));
  if (!r) return r.error();
  return detail::decode<NewSecret>(*r, true, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return NewSecret{detail::str(o, "secret_id"), SecretString(detail::str(o, "app_secret"))};
  });
}

Result<void> AdminClient::revoke_secret(std::string_view app, std::string_view secret_id) {
  if (app.empty() || secret_id.empty()) return invalid("app and secret id are required");
  return impl_->empty(impl_->call("POST", Impl::app_path(app, "/revoke-secret"),
                                  json::serialize(json::object{{"secret_id", secret_id}})));
}

Result<void> AdminClient::suspend(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  return impl_->empty(impl_->call("POST", Impl::app_path(app, "/suspend")));
}

Result<void> AdminClient::resume(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  return impl_->empty(impl_->call("POST", Impl::app_path(app, "/resume")));
}

Result<void> AdminClient::delete_app(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  return impl_->empty(impl_->call("DELETE", Impl::app_path(app)));
}

namespace {
OtpBlockEntry read_block(const json::object& o) {
  return OtpBlockEntry{detail::str(o, "to"), detail::str_or(o, "reason"), detail::i64_or(o, "created_ms")};
}
}  // namespace

Result<OtpBlockEntry> AdminClient::otp_block(std::string_view app, std::string_view to, std::string_view reason) {
  if (app.empty() || to.empty()) return invalid("app and to are required");
  auto r = impl_->call("POST", Impl::app_path(app, "/otp/blocklist"),
                       json::serialize(json::object{{"to", to}, {"reason", reason}}));
  if (!r) return r.error();
  return detail::decode<OtpBlockEntry>(*r, false,
                                       [](const json::value& v) { return read_block(detail::obj(v, "the answer")); });
}

Result<void> AdminClient::otp_unblock(std::string_view app, std::string_view to) {
  if (app.empty() || to.empty()) return invalid("app and to are required");
  return impl_->empty(
      impl_->call("DELETE", Impl::app_path(app, "/otp/blocklist"), json::serialize(json::object{{"to", to}})));
}

Result<std::vector<OtpBlockEntry>> AdminClient::otp_blocklist(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  auto r = impl_->call("GET", Impl::app_path(app, "/otp/blocklist"));
  if (!r) return r.error();
  return detail::decode<std::vector<OtpBlockEntry>>(*r, false, [](const json::value& v) {
    std::vector<OtpBlockEntry> out;
    for (const auto& e : detail::arr(detail::obj(v, "the answer"), "entries"))
      out.push_back(read_block(detail::obj(e, "an entry")));
    return out;
  });
}

// ---- Messages to users (docs/messages.md)

namespace {

DeliverySettings read_settings(const json::object& o) {
  DeliverySettings d;
  d.webhook_url = detail::str_or(o, "webhook_url");
  auto flag = [&](std::string_view n) {
    const auto* v = o.if_contains(n);
    return v && v->is_bool() && v->get_bool();
  };
  d.allow_private_webhooks = flag("allow_private_webhooks");
  d.fallback = detail::strings_or_list(o.if_contains("fallback"));
  d.fallback_after = detail::str_or(o, "fallback_after");
  if (o.contains("max_per_user_per_day")) d.max_per_user_per_day = detail::u64(o, "max_per_user_per_day");
  d.default_locale = detail::str_or(o, "default_locale");
  d.has_webhook_secret = flag("has_webhook_secret");
  json::object view(o, o.storage());
  view.erase("webhook_secret");
  d.json = json::serialize(view);
  return d;
}

DeadLetter read_dead_letter(const json::object& o) {
  return DeadLetter{detail::str(o, "message_id"), detail::str_or(o, "channel"), detail::u64(o, "attempts"),
                    detail::str_or(o, "last_error"), detail::i64_or(o, "dead_at_ms")};
}

std::string contacts_path(std::string_view app, std::string_view user) {
  return "/admin/v1/apps/" + percent_encode(app) + "/users/" + percent_encode(user) + "/contacts";
}

}  // namespace

Result<DeliverySettings> AdminClient::delivery_settings(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  auto r = impl_->call("GET", Impl::app_path(app, "/delivery"));
  if (!r) return r.error();
  return detail::decode<DeliverySettings>(
      *r, false, [](const json::value& v) { return read_settings(detail::obj(v, "the answer")); });
}

Result<DeliverySettingsChanged> AdminClient::set_delivery_settings(std::string_view app,
                                                                   const DeliverySettingsUpdate& u) {
  if (app.empty()) return invalid("app is required");
  json::object body;
  if (u.webhook_url) body["webhook_url"] = *u.webhook_url;
  if (u.allow_private_webhooks) body["allow_private_webhooks"] = *u.allow_private_webhooks;
  if (u.fallback) body["fallback"] = to_array(*u.fallback);
  if (u.fallback_after) body["fallback_after"] = *u.fallback_after;
  if (u.max_per_user_per_day) body["max_per_user_per_day"] = *u.max_per_user_per_day;
  if (u.default_locale) body["default_locale"] = *u.default_locale;
  if (u.rotate_webhook_secret) body["rotate_webhook_secret"] = true;
  auto r = impl_->call("PUT", Impl::app_path(app, "/delivery"), json::serialize(body));
  if (!r) return r.error();
  return detail::decode<DeliverySettingsChanged>(*r, true, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    DeliverySettingsChanged c;
    c.settings = read_settings(o);
    if (const auto* s = o.if_contains("webhook_secret"); s && s->is_string())
      c.webhook_secret = SecretString(std::string_view(s->get_string()));
    return c;
  });
}

Result<std::string> AdminClient::put_template(std::string_view app, std::string_view name,
                                              std::string_view template_json) {
  if (app.empty() || name.empty()) return invalid("app and name are required");
  boost::system::error_code ec;
  json::value t = json::parse(template_json, ec);
  if (ec || !t.is_object()) return invalid("the template is not a JSON object");
  auto r = impl_->call("PUT", Impl::app_path(app, "/templates/" + percent_encode(name)), template_json);
  if (!r) return r.error();
  return detail::decode<std::string>(*r, false, [](const json::value& v) {
    return Result<std::string>(json::serialize(detail::obj(v, "the answer")));
  });
}

Result<std::string> AdminClient::template_json(std::string_view app, std::string_view name) {
  if (app.empty() || name.empty()) return invalid("app and name are required");
  auto r = impl_->call("GET", Impl::app_path(app, "/templates/" + percent_encode(name)));
  if (!r) return r.error();
  return detail::decode<std::string>(*r, false, [](const json::value& v) {
    return Result<std::string>(json::serialize(detail::obj(v, "the answer")));
  });
}

Result<std::vector<std::string>> AdminClient::list_templates(std::string_view app) {
  if (app.empty()) return invalid("app is required");
  auto r = impl_->call("GET", Impl::app_path(app, "/templates"));
  if (!r) return r.error();
  return detail::decode<std::vector<std::string>>(*r, false, [](const json::value& v) {
    const auto& o = detail::obj(v, "the answer");
    return detail::strings_or_list(&detail::field(o, "templates"));
  });
}

Result<void> AdminClient::delete_template(std::string_view app, std::string_view name) {
  if (app.empty() || name.empty()) return invalid("app and name are required");
  return impl_->empty(impl_->call("DELETE", Impl::app_path(app, "/templates/" + percent_encode(name))));
}

Result<std::vector<DeadLetter>> AdminClient::dead_letters(std::string_view app, std::optional<unsigned> limit) {
  if (app.empty()) return invalid("app is required");
  std::string suffix = "/dead-letters";
  if (limit) suffix += "?limit=" + std::to_string(*limit);
  auto r = impl_->call("GET", Impl::app_path(app, suffix));
  if (!r) return r.error();
  return detail::decode<std::vector<DeadLetter>>(*r, false, [](const json::value& v) {
    std::vector<DeadLetter> out;
    for (const auto& d : detail::arr(detail::obj(v, "the answer"), "dead_letters"))
      out.push_back(read_dead_letter(detail::obj(d, "a dead letter")));
    return out;
  });
}

Result<void> AdminClient::replay_dead_letter(std::string_view app, std::string_view message_id) {
  if (app.empty() || message_id.empty()) return invalid("app and message id are required");
  return impl_->empty(
      impl_->call("POST", Impl::app_path(app, "/dead-letters/" + percent_encode(message_id) + "/replay")));
}

Result<Contacts> AdminClient::set_contacts(std::string_view app, std::string_view user,
                                           std::optional<std::string> email, std::optional<std::string> phone) {
  if (app.empty() || user.empty()) return invalid("app and user are required");
  std::string body = detail::contacts_body(email, phone);
  auto r = impl_->call("PUT", contacts_path(app, user), body);
  detail::cleanse(body);
  if (!r) return r.error();
  return detail::decode<Contacts>(
      *r, true, [](const json::value& v) { return detail::read_contacts(detail::obj(v, "the answer")); });
}

Result<Contacts> AdminClient::contacts(std::string_view app, std::string_view user) {
  if (app.empty() || user.empty()) return invalid("app and user are required");
  auto r = impl_->call("GET", contacts_path(app, user));
  if (!r) return r.error();
  return detail::decode<Contacts>(
      *r, true, [](const json::value& v) { return detail::read_contacts(detail::obj(v, "the answer")); });
}

Result<void> AdminClient::delete_contacts(std::string_view app, std::string_view user) {
  if (app.empty() || user.empty()) return invalid("app and user are required");
  return impl_->empty(impl_->call("DELETE", contacts_path(app, user)));
}

}  // namespace herald::sdk
