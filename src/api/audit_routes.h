// The audit API (docs/audit.md): entries, the latest signed checkpoint, inclusion and
// consistency proofs in RFC 6962 form, the checkpoint key. Served twice: with the admin
// token under /admin/v1/audit/, and signed by an app with the `admin` scope under
// /api/v1/audit/.
#pragma once

#include <string>

#include "api/router.h"

namespace herald::audit {
class Log;
}
namespace herald::kms {
class KeyService;
}

namespace herald::api {

class ServerAuth;

struct AuditRoutesDeps {
  audit::Log* log;
  kms::KeyService* kms;
  ServerAuth* auth;
  std::string admin_token_sha256;
};

void add_audit_routes(Router& router, AuditRoutesDeps deps);

}  // namespace herald::api
