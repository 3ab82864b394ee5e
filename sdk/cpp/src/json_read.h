// Reading the server's JSON answers into the SDK's structs. Internal.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "herald/client.h"

namespace herald::sdk::detail {

namespace json = boost::json;

// A field of an answer that is missing or of the wrong type.
struct Malformed {
  std::string what;
};

inline Error invalid_response(const std::string& what, const std::string& request_id) {
  return Error{"invalid_response", "unexpected answer from the server: " + what, 0, request_id, 0};
}

inline const json::value& field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (!v) throw Malformed{"no " + std::string(name)};
  return *v;
}

inline std::string str(const json::object& o, std::string_view name) {
  const auto& v = field(o, name);
  if (!v.is_string()) throw Malformed{std::string(name) + " is not a string"};
  return std::string(v.get_string());
}

inline std::string str_or(const json::object& o, std::string_view name, std::string_view fallback = {}) {
  const json::value* v = o.if_contains(name);
  return std::string(v && v->is_string() ? std::string_view(v->get_string()) : fallback);
}

inline std::uint64_t u64(const json::object& o, std::string_view name) {
  const auto& v = field(o, name);
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  throw Malformed{std::string(name) + " is not a non-negative integer"};
}

inline std::int64_t i64_or(const json::object& o, std::string_view name, std::int64_t fallback = 0) {
  const json::value* v = o.if_contains(name);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return fallback;
}

inline const json::object& obj(const json::value& v, std::string_view what) {
  if (!v.is_object()) throw Malformed{std::string(what) + " is not an object"};
  return v.get_object();
}

inline const json::array& arr(const json::object& o, std::string_view name) {
  const auto& v = field(o, name);
  if (!v.is_array()) throw Malformed{std::string(name) + " is not an array"};
  return v.get_array();
}

std::vector<std::string> strings_or_list(const json::value* v);
AppInfo read_app(const json::object& o);
PublishResult read_publish(const json::object& o);
Contacts read_contacts(const json::object& o);
// The body of a contacts PUT: both fields, null for the ones to remove.
std::string contacts_body(const std::optional<std::string>& email, const std::optional<std::string>& phone);

}  // namespace herald::sdk::detail
