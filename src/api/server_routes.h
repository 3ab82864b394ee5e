// The server API v1 (docs/server-api.md): publish, broadcast, publish to a user,
// history, presence, disconnect a user, app info. Every route is signed (ServerAuth).
#pragma once

#include "api/router.h"

namespace herald::push {
class Hub;
}

namespace herald::api {

class ServerAuth;
class IdempotencyCache;

struct ServerRoutesDeps {
  ServerAuth* auth;
  push::Hub* hub;
  IdempotencyCache* idempotency;
};

void add_server_routes(Router& router, ServerRoutesDeps deps);

}  // namespace herald::api
