// Reading a command's parameters: typed lookups that say "missing or wrong type" as
// nullopt, for the protocol's own translation units only.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "push/broker.h"

namespace herald::push::protocol {

// A parameter read from a command's object; nullopt when missing or of the wrong type.
inline std::optional<std::string_view> str_param(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  const auto& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

inline std::optional<std::uint64_t> uint_param(const boost::json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

// `since` is {"offset": N, "epoch": "E"}; an error message when it is malformed.
inline std::optional<std::string> parse_since(const boost::json::object& o, std::optional<Since>& out) {
  auto* v = o.if_contains("since");
  if (!v) return std::nullopt;
  const auto* s = v->if_object();
  if (!s) return std::string("since must be an object {offset, epoch}");
  auto* off = s->if_contains("offset");
  auto epoch = str_param(*s, "epoch");
  std::optional<std::uint64_t> n = off ? uint_param(*off) : std::nullopt;
  if (!n || !epoch) return std::string("since needs an integer offset and a string epoch");
  out = Since{*n, std::string(*epoch)};
  return std::nullopt;
}

}  // namespace herald::push::protocol
