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
  if (o.require_exp) body["require_exp"] = true;
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

}  // namespace herald::sdk
