// The key service API (docs/kms.md), signed with scope `kms`, and the key settings only
// the admin token may change (docs/admin-api.md).
#pragma once

#include "api/router.h"

#include <string>

namespace herald::kms {
class KeyService;
}
namespace herald::apps {
class AppStore;
}

namespace herald::api {

class ServerAuth;

struct KmsRoutesDeps {
  ServerAuth* auth;
  kms::KeyService* kms;
  const apps::AppStore* apps = nullptr;  // with the digest: the admin routes (none if null)
  std::string admin_token_sha256;
};

void add_kms_routes(Router& router, KmsRoutesDeps deps);

}  // namespace herald::api
