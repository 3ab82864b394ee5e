// The API's error catalogue: every error code with its HTTP status and a one-line
// message. docs/errors.md lists the same table; a test keeps them in step.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "api/http.h"
#include "core/result.h"

namespace herald::api {

struct ErrorInfo {
  std::string_view code;
  int status;
  std::string_view message;
};

std::span<const ErrorInfo> error_catalogue();
const ErrorInfo* find_error(std::string_view code);

// A JSON error response: {"error":{"code":..,"message":..,"request_id":..}}. `detail`
// replaces the catalogue message when given. Unknown codes become "internal".
Response error_response(std::string_view code, std::string_view request_id, std::string_view detail = {});

// A failure value as an answer: its code (unknown ones become "internal") and message.
Response error_from(const Request& req, const Error& e);

// A number the client acts on, added to the error object: {"retry_after": 60} (which
// also sets the Retry-After header) or {"attempts_left": 2}.
struct ErrorField {
  std::string_view name;
  std::int64_t value;
};
Response error_response(std::string_view code, std::string_view request_id, std::string_view detail,
                        std::span<const ErrorField> fields);

}  // namespace herald::api
