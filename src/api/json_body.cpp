// JSON bodies and answers of the routes.
#include "api/json_body.h"

#include <boost/json.hpp>

namespace herald::api {

Response ok_json(int status, const boost::json::value& v) {
  return Response{status, "application/json", boost::json::serialize(v), {}};
}

Result<boost::json::object> body_object(const Request& req, std::size_t max_depth) {
  boost::json::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = max_depth;
  boost::json::value v = boost::json::parse(req.body, ec, {}, opts);
  if (ec || !v.is_object()) return make_error("invalid_json", "the body must be a JSON object");
  return std::move(v.get_object());
}

}  // namespace herald::api
