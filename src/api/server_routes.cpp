// Thin routes: authenticate, parse the JSON body, call the hub, render. Publications
// come back already serialised, and history replies reuse that text as it is.
#include "api/server_routes.h"

#include <boost/json.hpp>

#include "api/app_view.h"
#include "api/errors.h"
#include "api/idempotency.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "core/clock.h"
#include "core/json_finite.h"
#include "push/channel_name.h"
#include "push/client.h"
#include "push/hub.h"
#include "push/wire.h"

namespace herald::api {
namespace {

namespace json = boost::json;

Response ok_json(std::string body) {
  return Response{200, "application/json", std::move(body), {}};
}

Result<std::string> string_field(const json::object& o, std::string_view name, bool required = true) {
  auto* v = o.if_contains(name);
  if (!v) {
    if (!required) return std::string();
    return make_error(Errc::kInvalidArgument, std::string(name) + " is required");
  }
  if (!v->is_string()) return make_error(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(v->get_string());
}

// Channel name, configured namespace, namespace permission of the app.
Result<push::ChannelName> channel_for(const push::Hub& hub, const apps::App& app, std::string_view text) {
  auto ch = push::parse_channel(text);
  if (!ch) return ch.error();
  // The app's permission first: an app learns nothing of namespaces it may not use.
  if (!app.may_publish_to(ch->ns))
    return make_error(Errc::kChannelNotAllowed, "the app may not use the namespace '" + std::string(ch->ns) + "'");
  if (!hub.namespace_config(ch->ns))
    return make_error(Errc::kNamespaceNotFound, "the namespace '" + std::string(ch->ns) + "' is not configured");
  return ch;
}

struct Ctx {
  const Request& req;
  const apps::App& app;
  const json::object& body;
};

class Routes {
 public:
  explicit Routes(ServerRoutesDeps d) : d_(d) {}

  // A signed route (signed_async authenticates and answers refusals) that parses the
  // body (POST) and runs `fn`; wrapped in the idempotency cache when the body carries an
  // idempotency_key.
  AsyncHandler handler(apps::Scope scope, bool idempotent, std::function<Response(const Ctx&)> fn) {
    return signed_async(d_.auth, scope,
                        [this, idempotent, fn = std::move(fn)](Request&& req, std::shared_ptr<const apps::App> app,
                                                               Reply reply) { reply(run(req, *app, idempotent, fn)); });
  }

  Response run(const Request& req, const apps::App& app_ref, bool idempotent,
               const std::function<Response(const Ctx&)>& fn) {
    const apps::App* app = &app_ref;
    {
      json::object body;
      if (req.method == "POST") {
        auto parsed = body_object(req, 64);
        if (!parsed) return error_from(req, parsed.error());
        body = std::move(*parsed);
      }
      Ctx ctx{req, *app, body};
      if (idempotent && body.contains("idempotency_key")) {
        auto key = string_field(body, "idempotency_key");
        if (!key || key->empty() || key->size() > 128)
          return error_from(req,
                            Error{Errc::kInvalidArgument, "idempotency_key must be a string of 1 to 128 characters"});
        bool replayed = false;
        auto r = d_.idempotency->run(
            app->id, *key, idempotency_fingerprint(req.method, req.path, req.body), clock::unix_ms(),
            [&] { return fn(ctx); }, replayed);
        if (!r) return error_from(req, r.error());
        if (replayed) r->headers.emplace_back("Idempotent-Replayed", "true");
        return std::move(*r);
      }
      return fn(ctx);
    }
  }

  Response publish(const Ctx& c) {
    auto channel = string_field(c.body, "channel");
    if (!channel) return error_from(c.req, channel.error());
    auto ch = channel_for(*d_.hub, c.app, *channel);
    if (!ch) return error_from(c.req, ch.error());
    auto data = data_of(c);
    if (!data) return error_from(c.req, data.error());
    auto r = d_.hub->publish(c.app.id, *ch, *data);
    if (!r) return error_from(c.req, r.error());
    return ok_json(push::wire::render_publish_result(*r));
  }

  Response broadcast(const Ctx& c) {
    auto* list = c.body.if_contains("channels");
    if (!list || !list->is_array() || list->get_array().empty() || list->get_array().size() > 1000)
      return error_from(c.req, Error{Errc::kInvalidArgument, "channels must be an array of 1 to 1000 channel names"});
    auto data = data_of(c);
    if (!data) return error_from(c.req, data.error());
    // Every name is checked before anything is published: all or nothing for bad input.
    std::vector<push::ChannelName> channels;
    for (const auto& v : list->get_array()) {
      if (!v.is_string()) return error_from(c.req, Error{Errc::kInvalidArgument, "channels must hold strings"});
      auto ch = channel_for(*d_.hub, c.app, std::string_view(v.get_string()));
      if (!ch) return error_from(c.req, ch.error());
      channels.push_back(*ch);
    }
    std::string out = "{\"results\":[";
    for (std::size_t i = 0; i < channels.size(); ++i) {
      if (i) out += ",";
      auto r = d_.hub->publish(c.app.id, channels[i], *data);
      out += "{\"channel\":\"" + std::string(channels[i].full) + "\",";
      if (r) {
        out += push::wire::render_publish_result(*r).substr(1);
      } else {
        out += "\"error\":" + push::wire::render_error(r.error().code, r.error().message) + "}";
      }
    }
    out += "]}";
    return ok_json(std::move(out));
  }

  Response publish_user(const Ctx& c) {
    auto user = string_field(c.body, "user");
    if (!user) return error_from(c.req, user.error());
    if (!push::valid_user_id(*user))
      return error_from(c.req, Error{Errc::kInvalidArgument, "user must be 1 to 128 characters without ',' or '#'"});
    std::string name = push::personal_channel(*user);
    auto ch = channel_for(*d_.hub, c.app, name);
    if (!ch) return error_from(c.req, ch.error());
    auto data = data_of(c);
    if (!data) return error_from(c.req, data.error());
    auto r = d_.hub->publish(c.app.id, *ch, *data);
    if (!r) return error_from(c.req, r.error());
    return ok_json("{\"channel\":\"" + name + "\"," + push::wire::render_publish_result(*r).substr(1));
  }

  Response history(const Ctx& c) {
    auto channel = string_field(c.body, "channel");
    if (!channel) return error_from(c.req, channel.error());
    auto ch = channel_for(*d_.hub, c.app, *channel);
    if (!ch) return error_from(c.req, ch.error());
    std::size_t limit = 0;
    if (auto* l = c.body.if_contains("limit")) {
      if (!l->is_int64() || l->get_int64() < 0)
        return error_from(c.req, Error{Errc::kInvalidArgument, "limit must be >= 0"});
      limit = static_cast<std::size_t>(std::min<std::int64_t>(l->get_int64(), 1'000'000));
    }
    std::optional<push::Since> since;
    if (auto* s = c.body.if_contains("since")) {
      const auto* o = s->if_object();
      if (!o || !o->contains("offset") || !o->at("offset").is_int64() || o->at("offset").get_int64() < 0 ||
          !o->contains("epoch") || !o->at("epoch").is_string())
        return error_from(c.req, Error{Errc::kInvalidArgument, "since must be {offset, epoch}"});
      since = push::Since{static_cast<std::uint64_t>(o->at("offset").get_int64()),
                          std::string(o->at("epoch").get_string())};
    }
    auto r = d_.hub->history(c.app.id, *ch, limit, since);
    if (!r) return error_from(c.req, r.error());
    return ok_json(push::wire::render_history(*r, since.has_value()));
  }

  Response presence(const Ctx& c, bool stats) {
    auto channel = string_field(c.body, "channel");
    if (!channel) return error_from(c.req, channel.error());
    auto ch = channel_for(*d_.hub, c.app, *channel);
    if (!ch) return error_from(c.req, ch.error());
    if (stats) {
      auto r = d_.hub->presence_stats(c.app.id, *ch);
      if (!r) return error_from(c.req, r.error());
      return ok_json(push::wire::render_presence_stats(*r));
    }
    auto r = d_.hub->presence(c.app.id, *ch);
    if (!r) return error_from(c.req, r.error());
    return ok_json(push::wire::render_presence(*r));
  }

  Response disconnect(const Ctx& c) {
    auto user = string_field(c.body, "user");
    if (!user) return error_from(c.req, user.error());
    if (user->empty() || user->size() > 128)
      return error_from(c.req, Error{Errc::kInvalidArgument, "user must be 1 to 128 characters"});
    std::size_t n =
        d_.hub->disconnect_user(c.app.id, *user, push::close_code::kDisconnectedByServer, "disconnected_by_server");
    return ok_json("{\"connections\":" + std::to_string(n) + "}");
  }

  Response app_info(const Ctx& c) { return ok_json(json::serialize(app_view(c.app))); }

 private:
  // `data` as compact JSON text.
  static Result<std::string> data_of(const Ctx& c) {
    auto* d = c.body.if_contains("data");
    if (!d) return make_error(Errc::kInvalidArgument, "data is required");
    if (!json_numbers_finite(*d))
      return make_error(Errc::kInvalidArgument, "data holds a number too large for a double (such as 1e400)");
    return json::serialize(*d);
  }

  ServerRoutesDeps d_;
};

}  // namespace

void add_server_routes(Router& router, ServerRoutesDeps deps) {
  auto routes = std::make_shared<Routes>(deps);
  auto& r = *routes;
  router.add_async("POST", "/api/v1/publish",
                   r.handler(apps::kScopePublish, true, [routes](const Ctx& c) { return routes->publish(c); }));
  router.add_async("POST", "/api/v1/broadcast",
                   r.handler(apps::kScopePublish, true, [routes](const Ctx& c) { return routes->broadcast(c); }));
  router.add_async("POST", "/api/v1/user/publish",
                   r.handler(apps::kScopePublish, true, [routes](const Ctx& c) { return routes->publish_user(c); }));
  router.add_async("POST", "/api/v1/history",
                   r.handler(apps::kScopePublish, false, [routes](const Ctx& c) { return routes->history(c); }));
  router.add_async("POST", "/api/v1/presence", r.handler(apps::kScopePublish, false, [routes](const Ctx& c) {
    return routes->presence(c, false);
  }));
  router.add_async("POST", "/api/v1/presence_stats",
                   r.handler(apps::kScopePublish, false, [routes](const Ctx& c) { return routes->presence(c, true); }));
  router.add_async("POST", "/api/v1/user/disconnect",
                   r.handler(apps::kScopePublish, false, [routes](const Ctx& c) { return routes->disconnect(c); }));
  // App info needs no particular scope: any authenticated app may read its own.
  router.add_async("GET", "/api/v1/app",
                   r.handler(static_cast<apps::Scope>(apps::kAllScopes), false,
                             [routes](const Ctx& c) { return routes->app_info(c); }));
}

}  // namespace herald::api
