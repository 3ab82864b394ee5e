// Error catalogue and rendering.
#include "api/errors.h"

#include <boost/json.hpp>

namespace herald::api {
namespace {
constexpr ErrorInfo kErrors[] = {
    {"bad_request", 400, "The request is malformed."},
    {"not_found", 404, "No such route."},
    {"method_not_allowed", 405, "This route does not accept that method."},
    {"request_timeout", 408, "The request was not received in time."},
    {"body_too_large", 413, "The request body exceeds limits.max_body_bytes."},
    {"header_too_large", 431, "The request header exceeds limits.max_header_bytes."},
    {"upgrade_required", 426, "This route speaks WebSocket only."},
    {"internal", 500, "An internal error occurred; the request id identifies it in the server log."},
    {"not_ready", 503, "The server is not ready to serve."},
    {"shutting_down", 503, "The server is shutting down."},
};
}  // namespace

std::span<const ErrorInfo> error_catalogue() { return kErrors; }

const ErrorInfo* find_error(std::string_view code) {
  for (const auto& e : kErrors)
    if (e.code == code) return &e;
  return nullptr;
}

Response error_response(std::string_view code, std::string_view request_id, std::string_view detail) {
  const ErrorInfo* info = find_error(code);
  if (!info) info = find_error("internal");
  boost::json::object err;
  err["code"] = info->code;
  err["message"] = detail.empty() ? info->message : detail;
  if (!request_id.empty()) err["request_id"] = request_id;
  boost::json::object root;
  root["error"] = std::move(err);
  Response r;
  r.status = info->status;
  r.body = boost::json::serialize(root);
  return r;
}

}  // namespace herald::api
