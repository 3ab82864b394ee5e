// Thin routes over messages::MessageService.
#include "api/message_routes.h"

#include <boost/json.hpp>

#include "api/admin_routes.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "apps/app.h"
#include "messages/message_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

template <class T>
Response failure(const Request& req, const messages::Outcome<T>& o) {
  std::vector<ErrorField> fields;
  if (o.retry_after_s > 0) fields.push_back(ErrorField{"retry_after", o.retry_after_s});
  return error_response(o.error.code, req.request_id, o.error.message, fields);
}

// The {user} path segment, percent-decoded.
Result<std::string> user_param(const Request& req) {
  auto u = percent_decode(req.param("user"));
  if (!u) return make_error("invalid_argument", "the user id in the path is badly percent-encoded");
  return *u;
}

std::function<void(messages::Outcome<json::object>)> answer(Request req, Reply reply, int status) {
  return [req = std::move(req), reply = std::move(reply), status](messages::Outcome<json::object> o) {
    if (!o.ok()) return reply(failure(req, o));
    reply(ok_json(status, *o.value));
  };
}

Response result_json(const Request& req, const Result<json::object>& r) {
  if (!r) return error_from(req, r.error());
  return ok_json(200, *r);
}

// The contacts routes, shared by the server and the admin API.
void contacts_get(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  reply(result_json(req, m->contacts(app_id, *user)));
}
void contacts_put(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  m->set_contacts(app_id, *user, *body, answer(std::move(req), std::move(reply), 200));
}
void contacts_delete(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  m->delete_contacts(app_id, *user, [req, reply](messages::Outcome<bool> o) {
    if (!o.ok()) return reply(failure(req, o));
    reply(ok_json(200, json::object{}));
  });
}

}  // namespace

void add_message_routes(Router& router, MessageRoutesDeps deps) {
  auto d = std::make_shared<MessageRoutesDeps>(std::move(deps));
  auto* m = d->messages;
  auto signed_route = [d](SignedHandler fn) { return signed_async(d->auth, apps::kScopePublish, std::move(fn)); };

  router.add_async("POST", "/api/v1/messages",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     m->publish(app->id, app->name, *body, [req, reply](messages::Outcome<messages::Published> o) {
                       if (!o.ok()) return reply(failure(req, o));
                       const auto& p = *o.value;
                       json::object out{{"id", p.id}, {"state", p.state}, {"duplicate", p.duplicate}};
                       if (!p.duplicate) out["connections"] = p.connections;
                       reply(ok_json(p.duplicate ? 200 : 202, out));
                     });
                   }));
  router.add_async("GET", "/api/v1/messages/{id}",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     reply(result_json(req, m->status(app->id, req.param("id"))));
                   }));
  router.add_async("GET", "/api/v1/users/{user}/inbox",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     auto user = user_param(req);
                     if (!user) return reply(error_from(req, user.error()));
                     auto limit = query_u64(req.query, "limit");
                     if (!limit && query_param(req.query, "limit"))
                       return reply(error_from(req, Error{"invalid_argument", "limit must be a whole number"}));
                     auto after = query_param(req.query, "after").value_or("");
                     reply(result_json(req, m->inbox(app->id, *user, after, limit.value_or(50))));
                   }));
  router.add_async("GET", "/api/v1/users/{user}/contacts",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     contacts_get(m, app->id, std::move(req), std::move(reply));
                   }));
  router.add_async("PUT", "/api/v1/users/{user}/contacts",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     contacts_put(m, app->id, std::move(req), std::move(reply));
                   }));
  router.add_async("DELETE", "/api/v1/users/{user}/contacts",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     contacts_delete(m, app->id, std::move(req), std::move(reply));
                   }));

  auto admin = [d](AdminAppHandler fn) { return admin_app_async(d->apps, d->admin_token_sha256, std::move(fn)); };
  router.add_async("GET", "/admin/v1/apps/{app}/delivery", admin([m](Request&&, std::string app_id, Reply reply) {
                     reply(ok_json(200, m->settings_json(app_id)));
                   }));
  router.add_async("PUT", "/admin/v1/apps/{app}/delivery", admin([m](Request&& req, std::string app_id, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     m->update_settings(app_id, *body, answer(std::move(req), std::move(reply), 200));
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/templates", admin([m](Request&&, std::string app_id, Reply reply) {
                     reply(ok_json(200, m->list_templates(app_id)));
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     reply(result_json(req, m->template_json(app_id, req.param("name"))));
                   }));
  router.add_async("PUT", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     std::string name(req.param("name"));
                     m->put_template(app_id, name, *body, answer(std::move(req), std::move(reply), 200));
                   }));
  router.add_async("DELETE", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     m->delete_template(app_id, req.param("name"), [req, reply](messages::Outcome<bool> o) {
                       if (!o.ok()) return reply(failure(req, o));
                       reply(ok_json(200, json::object{}));
                     });
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/users/{user}/contacts",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     contacts_get(m, app_id, std::move(req), std::move(reply));
                   }));
  router.add_async("PUT", "/admin/v1/apps/{app}/users/{user}/contacts",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     contacts_put(m, app_id, std::move(req), std::move(reply));
                   }));
  router.add_async("DELETE", "/admin/v1/apps/{app}/users/{user}/contacts",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     contacts_delete(m, app_id, std::move(req), std::move(reply));
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/dead-letters",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     auto limit = query_u64(req.query, "limit").value_or(100);
                     reply(result_json(req, m->dead_letters(app_id, limit)));
                   }));
  router.add_async("POST", "/admin/v1/apps/{app}/dead-letters/{id}/replay",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     std::string id(req.param("id"));
                     m->replay_dead_letter(app_id, id, answer(std::move(req), std::move(reply), 202));
                   }));
}

}  // namespace herald::api
