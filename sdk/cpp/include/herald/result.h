// Errors as values: every SDK call returns a Result<T> holding either the answer or an
// Error with the server's stable code (or a client-side one such as network_error).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace herald::sdk {

// Why a call failed. Branch on `code`, never on `message`.
//
// Codes are the server's (docs/errors.md, docs/signing.md, docs/admin-api.md), or one
// of these when no usable answer came back:
//   invalid_argument  the call's input was refused before anything was sent
//   network_error     no connection, or it broke before an answer was read
//   timeout           no complete answer within the client's timeout
//   tls_error         the TLS handshake failed, e.g. the certificate did not verify
//   http_error        an HTTP error status without Herald's JSON error body (a proxy?)
//   invalid_response  a success status whose body is not the expected JSON
//   crypto_error      the random generator or HMAC failed (should never happen)
struct Error {
  std::string code;
  std::string message;     // one line, for people; never holds a secret
  int http_status = 0;     // 0 when no HTTP answer was received
  std::string request_id;  // the server's X-Request-Id: quote it when reporting a problem
  int retry_after_s = 0;   // from Retry-After on 429 and limit refusals, else 0
  int attempts_left = -1;  // otp_code_invalid: wrong codes the verification still takes
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Reading the value of a failed Result is a programming error and throws
  // std::logic_error naming the error code (never the message: it is not needed).
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; throws std::logic_error if the call succeeded.
  const Error& error() const {
    if (ok()) throw std::logic_error("herald::sdk::Result holds a value, not an error");
    return std::get<1>(v_);
  }

 private:
  void check() const {
    if (!ok()) throw std::logic_error("herald::sdk::Result holds an error: " + std::get<1>(v_).code);
  }
  std::variant<T, Error> v_;
};

// A call whose success carries no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const {
    if (ok_) throw std::logic_error("herald::sdk::Result holds a value, not an error");
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace herald::sdk
