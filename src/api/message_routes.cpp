// Thin routes over messages::MessageService: parse (api/message_requests.h), call, render.
#include "api/message_routes.h"

#include <boost/json.hpp>

#include "api/admin_routes.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/message_requests.h"
#include "api/server_auth.h"
#include "apps/app.h"
#include "messages/message_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

// The {user} path segment, percent-decoded.
Result<std::string> user_param(const Request& req) {
  auto u = percent_decode(req.param("user"));
  if (!u) return make_error(Errc::kInvalidArgument, "the user id in the path is badly percent-encoded");
  return *u;
}

// The answer to an asynchronous call: its value rendered by `render`, or its failure.
template <class T, class Render>
Done<T> answer(Request req, Reply reply, int status, Render render) {
  return [req = std::move(req), reply = std::move(reply), status, render](Result<T> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(status, render(*o)));
  };
}

template <class T, class Render>
Response rendered(const Request& req, const Result<T>& r, Render render) {
  if (!r) return error_from(req, r.error());
  return ok_json(200, render(*r));
}

// The contacts routes, shared by the server and the admin API.
void contacts_get(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  reply(
      rendered(req, m->contacts(app_id, *user), [&](const messages::Contacts& c) { return contacts_json(c, *user); }));
}
void contacts_put(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  auto contacts = parse_contacts(*body);
  if (!contacts) return reply(error_from(req, contacts.error()));
  m->set_contacts(app_id, *user, std::move(*contacts),
                  answer<messages::Contacts>(std::move(req), std::move(reply), 200,
                                             [u = *user](const messages::Contacts& c) { return contacts_json(c, u); }));
}
void contacts_delete(messages::MessageService* m, const std::string& app_id, Request&& req, Reply reply) {
  auto user = user_param(req);
  if (!user) return reply(error_from(req, user.error()));
  m->delete_contacts(app_id, *user, [req, reply](Result<bool> o) {
    if (!o.ok()) return reply(error_from(req, o.error()));
    reply(ok_json(200, json::object{}));
  });
}

// The server API (scope `publish`): publish, status, inbox, contacts.
void add_server_message_routes(Router& router, const std::shared_ptr<MessageRoutesDeps>& d) {
  auto* m = d->messages;
  auto signed_route = [d](SignedHandler fn) { return signed_async(d->auth, apps::kScopePublish, std::move(fn)); };

  router.add_async("POST", "/api/v1/messages",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     auto request = parse_publish(*body, m->publish_limits());
                     if (!request) return reply(error_from(req, request.error()));
                     m->publish(app->id, std::move(*request), [req, reply](Result<messages::Published> o) {
                       if (!o.ok()) return reply(error_from(req, o.error()));
                       reply(ok_json(o->duplicate ? 200 : 202, published_json(*o)));
                     });
                   }));
  router.add_async("GET", "/api/v1/messages/{id}",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     reply(rendered(req, m->status(app->id, req.param("id")), status_json));
                   }));
  router.add_async("GET", "/api/v1/users/{user}/inbox",
                   signed_route([m](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                     auto user = user_param(req);
                     if (!user) return reply(error_from(req, user.error()));
                     auto limit = query_u64(req.query, "limit");
                     if (!limit && query_param(req.query, "limit"))
                       return reply(error_from(req, Error{Errc::kInvalidArgument, "limit must be a whole number"}));
                     auto after = query_param(req.query, "after").value_or("");
                     reply(rendered(req, m->inbox(app->id, *user, after, limit.value_or(50)), inbox_json));
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
}

// The admin API: delivery settings, templates, contacts, dead letters.
void add_admin_message_routes(Router& router, const std::shared_ptr<MessageRoutesDeps>& d) {
  auto* m = d->messages;
  auto admin = [d](AdminAppHandler fn) { return admin_app_async(d->apps, d->admin_token_sha256, std::move(fn)); };
  router.add_async("GET", "/admin/v1/apps/{app}/delivery", admin([m](Request&&, std::string app_id, Reply reply) {
                     reply(ok_json(200, settings_json(m->settings(app_id))));
                   }));
  router.add_async("PUT", "/admin/v1/apps/{app}/delivery", admin([m](Request&& req, std::string app_id, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     auto patch = parse_settings_patch(*body);
                     if (!patch) return reply(error_from(req, patch.error()));
                     // A new webhook secret is shown once: that answer is wiped once written.
                     m->update_settings(app_id, *patch,
                                        [req = std::move(req), reply](Result<messages::SettingsUpdated> u) {
                                          if (!u) return reply(error_from(req, u.error()));
                                          json::object o = settings_updated_json(*u);
                                          reply(u->new_secret ? secret_json(200, std::move(o)) : ok_json(200, o));
                                        });
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/templates", admin([m](Request&&, std::string app_id, Reply reply) {
                     reply(ok_json(200, template_names_json(m->template_names(app_id))));
                   }));
  router.add_async("GET", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     reply(rendered(req, m->find_template(app_id, req.param("name")), template_json));
                   }));
  router.add_async("PUT", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     auto body = body_object(req);
                     if (!body) return reply(error_from(req, body.error()));
                     std::string name(req.param("name"));
                     m->put_template(app_id, name, *body,
                                     answer<messages::Template>(std::move(req), std::move(reply), 200, template_json));
                   }));
  router.add_async("DELETE", "/admin/v1/apps/{app}/templates/{name}",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     m->delete_template(app_id, req.param("name"), [req, reply](Result<bool> o) {
                       if (!o.ok()) return reply(error_from(req, o.error()));
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
                     reply(rendered(req, m->dead_letters(app_id, limit), dead_letters_json));
                   }));
  router.add_async("POST", "/admin/v1/apps/{app}/dead-letters/{id}/replay",
                   admin([m](Request&& req, std::string app_id, Reply reply) {
                     std::string id(req.param("id"));
                     m->replay_dead_letter(app_id, id,
                                           answer<std::string>(std::move(req), std::move(reply), 202, replayed_json));
                   }));
}

}  // namespace

void add_message_routes(Router& router, MessageRoutesDeps deps) {
  auto d = std::make_shared<MessageRoutesDeps>(std::move(deps));
  add_server_message_routes(router, d);
  add_admin_message_routes(router, d);
}

}  // namespace herald::api
