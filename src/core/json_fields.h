// Refusing JSON fields a request does not know, so that a typo ("purpose " or
// "devce_id") is an error rather than a silently different request. Header-only;
// callers link Boost.JSON themselves.
#pragma once

#include <algorithm>
#include <boost/json/object.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald {

inline Status only_fields(const boost::json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o)
    if (std::find(known.begin(), known.end(), kv.key()) == known.end())
      return make_error(Errc::kInvalidArgument, "unknown field " + std::string(kv.key()));
  return ok_status();
}

}  // namespace herald
