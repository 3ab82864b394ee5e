// Error rendering from the error table.
#include "api/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace herald::api {
namespace {

Response render(const Error& e, std::string_view request_id) {
  const ErrcInfo* info = &errc_info(e.code);
  std::string_view message = e.message;
  if (info->http_status == 0 || !(info->surfaces & surface::kApi)) info = &errc_info(Errc::kInternal);
  boost::json::object err;
  err["code"] = info->code;
  err["message"] = message.empty() ? info->message : message;
  if (!request_id.empty()) err["request_id"] = request_id;
  if (e.retry_after_s > 0) err["retry_after"] = e.retry_after_s;
  if (e.attempts_left >= 0) err["attempts_left"] = e.attempts_left;
  boost::json::object root;
  root["error"] = std::move(err);
  Response r;
  r.status = info->http_status;
  r.error_code = std::string(info->code);
  r.body = boost::json::serialize(root);
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

}  // namespace

Response error_response(Errc code, std::string_view request_id, std::string_view detail) {
  return render(Error{code, std::string(detail)}, request_id);
}

Response error_from(std::string_view request_id, const Error& e) {
  return render(e, request_id);
}

}  // namespace herald::api
