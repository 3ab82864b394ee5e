// One JSON POST to an operator-configured HTTPS endpoint (the audit witness): verified
// TLS, an optional bearer token, a total timeout. Blocking; the caller owns the thread.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::delivery {

struct JsonPost {
  std::string url;           // https:// (http:// only with allow_http, for --dev)
  std::string_view body;     // sent as application/json
  std::string_view bearer;   // "Authorization: Bearer <bearer>" when not empty
  std::string ca_file;       // extra CA bundle (PEM) or empty for the system store
  long timeout_ms = 10'000;  // connect, send and answer together
  bool allow_http = false;
};

// Ok on a 2xx answer. Otherwise "delivery_failed" with a message safe to log ("http 503",
// "timeout", "certificate verification failed", ...): never the token, the body or the URL.
// No redirects, no proxy; the answer's body is read and discarded (at most 64 KiB).
Status post_json(const JsonPost& req);

}  // namespace herald::delivery
