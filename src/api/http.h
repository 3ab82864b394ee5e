// HTTP requests and responses as the API layer sees them: plain structs, so routes
// compile without Beast or Asio. The net layer converts at the edge.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as received
  std::string path;    // target without the query
  std::string query;   // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // the client: the peer, or what a trusted proxy says it is
  std::string request_id;
  bool tls = false;
  // Values of a route's `{name}` segments.
  std::vector<std::pair<std::string, std::string>> params;
  std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return v;
    return {};
  }

  // First header with this name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body shows a secret (a new credential, a decrypted value): the session wipes
  // it, and its own copy, once written (api/json_body.h secret_json).
  bool sensitive = false;
  // For the audit log, not sent: the error code of an error response, and who made the
  // request ("app:<id>", "key:<claimed AppKey>", "admin", "operator", "anonymous").
  std::string error_code;
  std::string actor;
};

// One answered request, as the audit log records it.
struct Exchange {
  std::string_view method;
  std::string_view route;  // the route's pattern
  int status = 0;
  std::string_view error_code;
  std::string_view actor;
  std::string_view request_id;         // the server's own id for the request
  std::string_view client_request_id;  // the client's X-Request-Id, when it sent an acceptable one
  std::string_view remote;             // the client address (after trusted proxies)
};

// Routes answer either at once or later (after a store write, say); `Reply` may be
// called from any thread, exactly once.
using Reply = std::function<void(Response)>;

}  // namespace herald::api
