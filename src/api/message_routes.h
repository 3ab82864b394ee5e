// Messages to users (docs/messages.md): publish, status, inbox and contacts on the server
// API (scope `publish`); delivery settings, templates, contacts and dead letters on the
// admin API.
#pragma once

#include <string>

#include "api/router.h"

namespace herald::messages {
class MessageService;
}
namespace herald::apps {
class AppStore;
}

namespace herald::api {

class ServerAuth;

struct MessageRoutesDeps {
  ServerAuth* auth;
  messages::MessageService* messages;
  const apps::AppStore* apps;
  std::string admin_token_sha256;
};

void add_message_routes(Router& router, MessageRoutesDeps deps);

}  // namespace herald::api
