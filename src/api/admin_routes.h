// The admin API (docs/admin-api.md): apps and their secrets, authenticated with the
// admin token (`Authorization: Bearer <token>`), which the server keeps only as a hash.
#pragma once

#include <functional>
#include <string>

#include "api/router.h"

namespace herald::apps {
class AppStore;
}
namespace herald::kms {
class KeyService;
}

namespace herald::api {

struct AdminRoutesDeps {
  apps::AppStore* apps;
  std::string admin_token_sha256;  // raw 32-byte digest of the admin token
  // Called with an app's id once it is suspended or deleted, to close its clients.
  std::function<void(const std::string&)> app_disabled;
  kms::KeyService* kms = nullptr;
  // Called with an app's id once a client key is revoked or a token cut-off is set, to
  // close the connections that tokens signed before may hold (they reconnect anew).
  std::function<void(const std::string&)> client_tokens_revoked;
};

void add_admin_routes(Router& router, AdminRoutesDeps deps);

// Whether the request carries the admin token (`Authorization: Bearer <token>`), compared
// by digest in constant time.
bool admin_authorized(const Request& req, const std::string& admin_token_sha256);

// An async admin route under /admin/v1/apps/{app}/...: checks the admin token, finds the
// app by id, AppKey or name, and calls `fn` with its id; the reply records the actor
// "admin".
using AdminAppHandler = std::function<void(Request&&, std::string app_id, Reply)>;
AsyncHandler admin_app_async(const apps::AppStore* apps, const std::string& admin_token_sha256, AdminAppHandler fn);

}  // namespace herald::api
