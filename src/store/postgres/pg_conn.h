// PostgreSQL connections for the store: one opened from the URL and the store's
// timeouts, query parameters, rows read in binary form, and errors mapped to Errc.
// libpq's own header stays in src/store/postgres/*.cpp.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/result.h"

struct pg_conn;
struct pg_result;

namespace herald::store::pg {

struct ConnectOptions {
  std::string url;  // a secret (it may hold the password): never logged, never in an error
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};
};

// A string bound as NULL when empty (an optional index such as the idempotency key's).
struct NullIfEmpty {
  std::string_view text;
};

// A string sent in text format, for the server to parse (an array literal).
struct TextParam {
  std::string_view text;
};

// The parameters of one statement. Strings go in binary format, so that they arrive
// byte for byte in text and bytea columns alike; numbers and booleans go as text.
class Params {
 public:
  Params& add(std::string_view bytes) { return push(std::string(bytes), false, 1); }
  Params& add(const std::string& bytes) { return push(bytes, false, 1); }
  Params& add(const char* text) { return push(text, false, 1); }
  Params& add(bool v) { return push(v ? "t" : "f", false, 0); }
  Params& add(TextParam v) { return push(std::string(v.text), false, 0); }
  Params& add(NullIfEmpty v) { return v.text.empty() ? null() : add(v.text); }
  template <class T>
  requires(std::integral<T> || std::is_enum_v<T>) Params& add(T v) {
    return push(std::to_string(static_cast<std::int64_t>(v)), false, 0);
  }
  template <class T>
  Params& add(const std::optional<T>& v) {
    return v ? add(*v) : null();
  }
  Params& null() { return push({}, true, 0); }

  int size() const { return static_cast<int>(data_.size()); }
  // Arrays for libpq; valid until the next add().
  const char* const* values() const;
  const int* lengths() const;
  const int* formats() const { return format_.data(); }

 private:
  Params& push(std::string v, bool is_null, int format);
  std::vector<std::string> data_;
  std::vector<bool> null_;
  std::vector<int> format_;
  mutable std::vector<const char*> values_;
  mutable std::vector<int> lengths_;
};

template <class... Fields>
Params params(const Fields&... fields) {
  Params p;
  (p.add(fields), ...);
  return p;
}

// One row of a result in binary format.
class Row {
 public:
  Row(const pg_result* r, int row) : r_(r), row_(row) {}
  std::string bytes(int col) const;  // text or bytea, exact bytes
  std::int64_t i64(int col) const;   // int2, int4 or int8
  bool boolean(int col) const;
  bool is_null(int col) const;

 private:
  const pg_result* r_;
  int row_;
};

// A result owned (PQclear'd on destruction).
class ResultSet {
 public:
  explicit ResultSet(pg_result* r = nullptr) : r_(r) {}
  ~ResultSet();
  ResultSet(ResultSet&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  ResultSet& operator=(ResultSet&& o) noexcept;
  ResultSet(const ResultSet&) = delete;
  ResultSet& operator=(const ResultSet&) = delete;
  int rows() const;
  Row row(int i) const { return Row(r_, i); }
  pg_result* get() const { return r_; }

 private:
  pg_result* r_;
};

// SQLSTATE 23505: a unique or primary-key constraint refused the row.
bool is_unique_violation(const pg_result* r);
// SQLSTATE 40P01 or 40001: a deadlock or serialization failure; trying again may succeed.
bool is_retryable(const pg_result* r);
// The error of a failed statement: "store_unavailable" when the server is gone or timed
// out (the caller may retry later), "store_error" otherwise.
Error result_error(const pg_result* r, const pg_conn* c, std::string_view what);

class Connection {
 public:
  // Connects (giving up after connect_timeout) and sets the session up: UTF-8, the
  // statement timeout, synchronous_commit=on.
  static Result<std::unique_ptr<Connection>> open(const ConnectOptions& opts);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  pg_conn* raw() const { return c_; }
  bool ok() const;
  // Drops the connection and opens a new one with the same options.
  Status reconnect();
  // Runs SQL (one statement or several) with the simple protocol.
  Status exec(const std::string& sql, std::string_view what);
  // Runs one statement and returns its result (binary rows).
  Result<ResultSet> run(std::string_view sql, const Params& p, std::string_view what);

  template <class Read>
  auto query(std::string_view sql, const Params& p, Read read, std::string_view what)
      -> Result<std::vector<decltype(read(std::declval<const Row&>()))>> {
    auto r = run(sql, p, what);
    if (!r) return r.error();
    std::vector<decltype(read(std::declval<const Row&>()))> out;
    out.reserve(static_cast<std::size_t>(r->rows()));
    for (int i = 0; i < r->rows(); ++i) out.push_back(read(r->row(i)));
    return out;
  }

 private:
  explicit Connection(ConnectOptions opts) : opts_(std::move(opts)) {}
  Status connect();
  ConnectOptions opts_;
  pg_conn* c_ = nullptr;
};

template <class T>
Result<std::optional<T>> first_row(Result<std::vector<T>> rows) {
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<T>{};
  return std::optional<T>(std::move(rows->front()));
}

}  // namespace herald::store::pg
