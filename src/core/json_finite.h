// Boost.JSON reads a number beyond the range of a double (1e400) as infinity and would
// write it back as `Infinity`, which is not JSON: whatever we re-serialise from a
// client, a back end or a token must pass this check first. Header-only; callers link
// Boost.JSON themselves. Depth is bounded by the parser's max_depth.
#pragma once

#include <algorithm>
#include <boost/json/value.hpp>
#include <cmath>

namespace herald {

inline bool json_numbers_finite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      return std::all_of(v.get_array().begin(), v.get_array().end(),
                         [](const boost::json::value& e) { return json_numbers_finite(e); });
    case boost::json::kind::object:
      return std::all_of(v.get_object().begin(), v.get_object().end(),
                         [](const boost::json::key_value_pair& kv) { return json_numbers_finite(kv.value()); });
    default:
      return true;
  }
}

}  // namespace herald
