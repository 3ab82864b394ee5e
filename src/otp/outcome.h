// What the verification-code calls answer: a value, or an error with what the caller
// needs to act on it (when to retry, how many attempts are left).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "core/result.h"

namespace herald::otp {

template <class T>
struct Outcome {
  std::optional<T> value;
  Error error;
  std::int64_t retry_after_s = 0;  // limit refusals: when to try again
  int attempts_left = -1;          // otp_code_invalid: wrong codes still allowed
  bool ok() const { return value.has_value(); }
  static Outcome fail(Errc code, std::string message) { return Outcome{std::nullopt, Error{code, std::move(message)}}; }
};
template <class T>
using Done = std::function<void(Outcome<T>)>;

}  // namespace herald::otp
