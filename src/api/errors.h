// Rendering errors as HTTP answers. The codes, statuses and messages are the one table
// in core/errc.h; docs/errors.md lists its API rows, and a test keeps them in step.
#pragma once

#include <string_view>

#include "api/http.h"
#include "core/errc.h"
#include "core/result.h"

namespace herald::api {

// A JSON error response: {"error":{"code":..,"message":..,"request_id":..}} with the
// code's HTTP status. `detail` replaces the table's message when given. A code that is
// not an API code (no HTTP status: config, audit-verify, protocol-only) answers 500
// "internal" (with the detail, which like every message carries no secret).
Response error_response(Errc code, std::string_view request_id, std::string_view detail = {});

// A failure value as an answer: its code and message, and `retry_after` (which also
// sets the Retry-After header) and `attempts_left` when the error carries them.
Response error_from(std::string_view request_id, const Error& e);
inline Response error_from(const Request& req, const Error& e) {
  return error_from(req.request_id, e);
}

}  // namespace herald::api
