// JSON in and out of the API's routes: request bodies as objects, JSON answers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "core/json_fields.h"  // only_fields
#include "core/result.h"

namespace herald::api {

Response ok_json(int status, const boost::json::value& v);
// A JSON answer that shows a secret: every string of `v` is wiped once serialised, and
// the body once written (Response::sensitive).
Response secret_json(int status, boost::json::value v);
// Overwrites every string in `v` (objects and arrays too) with zeros.
void wipe_json(boost::json::value& v);

// The request body as a JSON object nested at most `max_depth` deep; otherwise the
// error "invalid_json".
Result<boost::json::object> body_object(const Request& req, std::size_t max_depth = 32);

// A string field: required, or optional ("" when absent or null). Other types are refused
// with "invalid_argument".
Result<std::string> text_field(const boost::json::object& o, std::string_view name, bool required);

// A query parameter, its name and value percent-decoded as the signature's canonical
// form reads them; nullopt when absent, badly encoded or given more than once.
std::optional<std::string> query_param(std::string_view query, std::string_view name);
// A non-negative integer query parameter; nullopt when absent or not a number.
std::optional<std::uint64_t> query_u64(std::string_view query, std::string_view name);
// A path segment percent-decoded ("%40" -> "@"); nullopt when badly encoded.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace herald::api
