// The key service API (docs/kms.md), signed with scope `kms`.
#pragma once

#include "api/router.h"

namespace herald::kms {
class KeyService;
}

namespace herald::api {

class ServerAuth;

struct KmsRoutesDeps {
  ServerAuth* auth;
  kms::KeyService* kms;
};

void add_kms_routes(Router& router, KmsRoutesDeps deps);

}  // namespace herald::api
