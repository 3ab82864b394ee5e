// JSON in and out of the API's routes: request bodies as objects, JSON answers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>

#include "api/http.h"
#include "core/result.h"

namespace herald::api {

Response ok_json(int status, const boost::json::value& v);

// The request body as a JSON object nested at most `max_depth` deep; otherwise the
// error "invalid_json".
Result<boost::json::object> body_object(const Request& req, std::size_t max_depth = 32);

}  // namespace herald::api
