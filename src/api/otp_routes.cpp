// Thin routes over otp::OtpService: parse the JSON body, call, render.
#include "api/otp_routes.h"

#include <boost/json.hpp>

#include "api/admin_routes.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "apps/app.h"
#include "apps/app_store.h"
#include "auth/ip_allowlist.h"
#include "otp/otp_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

using Deps = std::shared_ptr<OtpRoutesDeps>;

// A signed route's work once the app is authenticated (scope otp).
using OtpHandler = void (*)(OtpRoutesDeps& d, Request&& req, const apps::App& app, Reply reply);

AsyncHandler signed_route(const Deps& d, OtpHandler fn) {
  return signed_async(d->auth, apps::kScopeOtp,
                      [d, fn](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                        fn(*d, std::move(req), *app, std::move(reply));
                      });
}

// The send request from the body, or the first field's error.
Result<otp::SendRequest> send_request(const json::object& body, const apps::App& app) {
  if (auto st = only_fields(body, {"to", "channel", "device_id", "purpose", "template", "locale", "client_ip"}); !st)
    return st.error();
  otp::SendRequest s;
  s.app_id = app.id;
  s.app_name = app.name;
  for (auto [field, slot, required] :
       {std::tuple{"to", &s.to, true}, std::tuple{"channel", &s.channel, true},
        std::tuple{"device_id", &s.device_id, true}, std::tuple{"purpose", &s.purpose, true},
        std::tuple{"template", &s.template_name, false}, std::tuple{"locale", &s.locale, false},
        std::tuple{"client_ip", &s.client_ip, false}}) {
    auto v = text_field(body, field, required);
    if (!v) return v.error();
    *slot = std::move(*v);
  }
  return s;
}

void send(OtpRoutesDeps& d, Request&& req, const apps::App& app, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  auto s = send_request(*body, app);
  if (!s) return reply(error_from(req, s.error()));
  // Without the end user's address, the caller's own counts against the per-IP limit.
  if (s->client_ip.empty()) s->client_ip = std::string(auth::host_of(req.remote_address));
  d.otp->send(std::move(*s), [req, reply](Result<otp::SendResult> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(200, json::object{{"verification_id", o->verification_id},
                                    {"expires_in", o->expires_in_s},
                                    {"resend_after", o->resend_after_s}}));
  });
}

void verify(OtpRoutesDeps& d, Request&& req, const apps::App& app, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  if (auto st = only_fields(*body, {"verification_id", "code"}); !st) return reply(error_from(req, st.error()));
  auto id = text_field(*body, "verification_id", true);
  if (!id) return reply(error_from(req, id.error()));
  auto code = text_field(*body, "code", true);
  if (!code) return reply(error_from(req, code.error()));
  d.otp->verify(app.id, *id, *code, [req, reply](Result<otp::VerifyResult> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(200, json::object{{"success_token", o->success_token}, {"expires_in", o->expires_in_s}}));
  });
}

void redeem(OtpRoutesDeps& d, Request&& req, const apps::App& app, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  if (auto st = only_fields(*body, {"success_token", "purpose"}); !st) return reply(error_from(req, st.error()));
  auto token = text_field(*body, "success_token", true);
  if (!token) return reply(error_from(req, token.error()));
  auto purpose = text_field(*body, "purpose", true);
  if (!purpose) return reply(error_from(req, purpose.error()));
  d.otp->redeem(app.id, *token, *purpose, [req, reply](Result<otp::RedeemResult> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(200, json::object{{"to", o->to}, {"device_id", o->device_id}, {"purpose", o->purpose}}));
  });
}

// The blocklist, on the admin API: /admin/v1/apps/{app}/otp/blocklist, where {app} is
// the app's id, AppKey or name.
using BlocklistHandler = void (*)(OtpRoutesDeps& d, Request&& req, const std::string& app_id, Reply reply);

AsyncHandler admin_route(const Deps& d, BlocklistHandler fn) {
  return admin_app_async(d->apps, d->admin_token_sha256, [d, fn](Request&& req, std::string app_id, Reply reply) {
    fn(*d, std::move(req), app_id, std::move(reply));
  });
}

json::object entry_view(const otp::BlockEntry& e) {
  return json::object{{"to", e.to}, {"reason", e.reason}, {"created_ms", e.created_ms}};
}

void list_blocked(OtpRoutesDeps& d, Request&& req, const std::string& app_id, Reply reply) {
  auto list = d.otp->blocked(app_id);
  if (!list) return reply(error_from(req, list.error()));
  json::array out;
  for (const auto& e : *list) out.push_back(entry_view(e));
  reply(ok_json(200, json::object{{"entries", std::move(out)}}));
}

void block(OtpRoutesDeps& d, Request&& req, const std::string& app_id, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  if (auto st = only_fields(*body, {"to", "reason"}); !st) return reply(error_from(req, st.error()));
  auto to = text_field(*body, "to", true);
  if (!to) return reply(error_from(req, to.error()));
  auto reason = text_field(*body, "reason", false);
  if (!reason) return reply(error_from(req, reason.error()));
  d.otp->block(app_id, *to, *reason, [req, reply](Result<otp::BlockEntry> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(201, entry_view(*o)));
  });
}

void unblock(OtpRoutesDeps& d, Request&& req, const std::string& app_id, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  if (auto st = only_fields(*body, {"to"}); !st) return reply(error_from(req, st.error()));
  auto to = text_field(*body, "to", true);
  if (!to) return reply(error_from(req, to.error()));
  d.otp->unblock(app_id, *to, [req, reply](Result<bool> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    if (!*o) return reply(error_response(Errc::kOtpBlockNotFound, req.request_id));
    reply(ok_json(200, json::object{{"removed", true}}));
  });
}

}  // namespace

void add_otp_routes(Router& router, OtpRoutesDeps deps) {
  auto d = std::make_shared<OtpRoutesDeps>(std::move(deps));
  router.add_async("POST", "/api/v1/otp/send", signed_route(d, send));
  router.add_async("POST", "/api/v1/otp/verify", signed_route(d, verify));
  router.add_async("POST", "/api/v1/otp/redeem", signed_route(d, redeem));
  router.add_async("GET", "/admin/v1/apps/{app}/otp/blocklist", admin_route(d, list_blocked));
  router.add_async("POST", "/admin/v1/apps/{app}/otp/blocklist", admin_route(d, block));
  router.add_async("DELETE", "/admin/v1/apps/{app}/otp/blocklist", admin_route(d, unblock));
}

}  // namespace herald::api
