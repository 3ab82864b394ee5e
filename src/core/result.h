// Result<T>: a value or an Error, for expected failures (bad input, not found,
// refused). Exceptions are kept for programming errors and start-up failures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/errc.h"

namespace herald {

// A stable, documented error: `code` names a row of the error table (core/errc.h: the
// string the API returns, its status), `message` a one-line human explanation that never
// carries a secret. The numbers a client acts on travel with it where they apply.
struct Error {
  Errc code = Errc::kInternal;
  std::string message;
  std::int64_t retry_after_s = 0;  // > 0: the refusal ends in this many seconds
  int attempts_left = -1;          // >= 0: how many more tries the caller has

  std::string_view code_name() const { return errc_code(code); }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success with no value.
struct Ok {};
using Status = Result<Ok>;

// The completion of an asynchronous call: called once, on whichever thread finished it.
template <class T>
using Done = std::function<void(Result<T>)>;
inline Status ok_status() {
  return Ok{};
}

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

// An error that ends after `retry_after_s` seconds (a limit's window).
inline Error make_retry_error(Errc code, std::string message, std::int64_t retry_after_s) {
  Error e{code, std::move(message)};
  e.retry_after_s = retry_after_s;
  return e;
}

}  // namespace herald
