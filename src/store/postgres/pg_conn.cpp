// libpq behind the store's PostgreSQL connection type: connecting, the session's
// settings, binary parameters and rows, and the mapping of failures to error codes.
#include "store/postgres/pg_conn.h"

#include <libpq-fe.h>

#include <cstring>

namespace herald::store::pg {
namespace {

std::uint64_t be(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// libpq's messages end in a newline; the first line is the useful part.
std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s.empty() ? "unknown error" : s;
}

bool unavailable_state(const char* sqlstate) {
  if (!sqlstate) return true;  // no SQLSTATE: the failure was on the client side (connection)
  std::string_view s(sqlstate);
  // 08: connection exception; 57P0x: the server is shutting down; 57014: statement
  // timeout; 53: insufficient resources; 40001/40P01: serialization failure, deadlock.
  return s.starts_with("08") || s.starts_with("57P0") || s == "57014" || s.starts_with("53") || s == "40001" ||
         s == "40P01";
}

}  // namespace

Params& Params::push(std::string v, bool is_null, int format) {
  data_.push_back(std::move(v));
  null_.push_back(is_null);
  format_.push_back(format);
  return *this;
}

const char* const* Params::values() const {
  values_.resize(data_.size());
  for (std::size_t i = 0; i < data_.size(); ++i) values_[i] = null_[i] ? nullptr : data_[i].data();
  return values_.data();
}

const int* Params::lengths() const {
  lengths_.resize(data_.size());
  for (std::size_t i = 0; i < data_.size(); ++i) lengths_[i] = static_cast<int>(data_[i].size());
  return lengths_.data();
}

std::string Row::bytes(int col) const {
  const char* p = PQgetvalue(r_, row_, col);
  return std::string(p, static_cast<std::size_t>(PQgetlength(r_, row_, col)));
}

std::int64_t Row::i64(int col) const {
  if (PQgetisnull(r_, row_, col)) return 0;
  int n = PQgetlength(r_, row_, col);
  std::uint64_t v = be(PQgetvalue(r_, row_, col), n);
  switch (n) {
    case 2:
      return static_cast<std::int16_t>(v);
    case 4:
      return static_cast<std::int32_t>(v);
    default:
      return static_cast<std::int64_t>(v);
  }
}

bool Row::boolean(int col) const {
  return !PQgetisnull(r_, row_, col) && PQgetlength(r_, row_, col) == 1 && PQgetvalue(r_, row_, col)[0] != 0;
}

bool Row::is_null(int col) const {
  return PQgetisnull(r_, row_, col) != 0;
}

ResultSet::~ResultSet() {
  if (r_) PQclear(r_);
}

ResultSet& ResultSet::operator=(ResultSet&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

int ResultSet::rows() const {
  return r_ ? PQntuples(r_) : 0;
}

bool is_unique_violation(const pg_result* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s && std::strcmp(s, "23505") == 0;
}

bool is_retryable(const pg_result* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s && (std::strcmp(s, "40P01") == 0 || std::strcmp(s, "40001") == 0);
}

Error result_error(const pg_result* r, const pg_conn* c, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? first_line(PQresultErrorMessage(r)) : first_line(c ? PQerrorMessage(c) : nullptr);
  bool gone = !c || PQstatus(c) != CONNECTION_OK || unavailable_state(state);
  return make_error(gone ? Errc::kStoreUnavailable : Errc::kStoreError,
                    std::string(what) + ": " + (state ? std::string(state) + " " : "") + msg);
}

Result<std::unique_ptr<Connection>> Connection::open(const ConnectOptions& opts) {
  std::unique_ptr<Connection> c(new Connection(opts));
  if (auto st = c->connect(); !st) return st.error();
  return c;
}

Connection::~Connection() {
  if (c_) PQfinish(c_);
}

bool Connection::ok() const {
  return c_ && PQstatus(c_) == CONNECTION_OK;
}

Status Connection::connect() {
  if (c_) {
    PQfinish(c_);
    c_ = nullptr;
  }
  // libpq counts whole seconds, at least 2.
  auto secs = std::max<long long>(2, (opts_.connect_timeout.count() + 999) / 1000);
  std::string timeout = std::to_string(secs);
  // The URL comes first and is expanded; the keywords after it are ours.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding", nullptr};
  const char* vals[] = {opts_.url.c_str(), timeout.c_str(), "herald", "UTF8", nullptr};
  c_ = PQconnectdbParams(keys, vals, 1);
  if (!c_ || PQstatus(c_) != CONNECTION_OK)
    return make_error(Errc::kStoreUnavailable,
                      "cannot connect to PostgreSQL: " + first_line(c_ ? PQerrorMessage(c_) : "out of memory"));
  // A write is acknowledged only once its commit is flushed on the server.
  std::string setup = "SET synchronous_commit = on; SET client_min_messages = warning; SET statement_timeout = " +
                      std::to_string(opts_.statement_timeout.count()) + ";";
  return exec(setup, "session setup");
}

Status Connection::reconnect() {
  return connect();
}

Status Connection::exec(const std::string& sql, std::string_view what) {
  if (!c_) return make_error(Errc::kStoreUnavailable, std::string(what) + ": no connection");
  ResultSet r(PQexec(c_, sql.c_str()));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return result_error(r.get(), c_, what);
  return ok_status();
}

Result<ResultSet> Connection::run(std::string_view sql, const Params& p, std::string_view what) {
  if (!ok()) {
    if (auto st = connect(); !st) return st.error();
  }
  std::string text(sql);
  ResultSet r(PQexecParams(c_, text.c_str(), p.size(), nullptr, p.values(), p.lengths(), p.formats(), 1));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return result_error(r.get(), c_, what);
  return r;
}

}  // namespace herald::store::pg
