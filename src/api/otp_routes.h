// The verification-code API (docs/otp.md): send, verify and redeem, signed with scope
// `otp`; and each app's recipient blocklist on the admin API.
#pragma once

#include <string>

#include "api/router.h"

namespace herald::otp {
class OtpService;
}
namespace herald::apps {
class AppStore;
}

namespace herald::api {

class ServerAuth;

struct OtpRoutesDeps {
  ServerAuth* auth;
  otp::OtpService* otp;
  const apps::AppStore* apps;
  std::string admin_token_sha256;
};

void add_otp_routes(Router& router, OtpRoutesDeps deps);

}  // namespace herald::api
