// Fuzzes what an HTTP connection's bytes go through before a handler runs: the PROXY header
// read as the session reads it, Beast's request parser with the configured limits, then the
// session's own steps (target split, X-Request-Id, route match, X-Forwarded-For walk behind
// trusted proxies) and the query and percent-decoding helpers the routes use. No sockets.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_body.h"
#include "api/router.h"
#include "auth/ip_allowlist.h"
#include "auth/signed_request.h"
#include "core/config.h"
#include "core/ids.h"
#include "fuzz_target.h"
#include "net/client_address.h"

namespace {

namespace http = boost::beast::http;
using herald::net::ProxyHeader;

const herald::net::TrustedProxies& trusted() {
  static const auto t = *herald::net::TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32, 127.0.0.1");
  return t;
}

// Route patterns of the real API (a sample of each shape: literal, one and two parameters).
const herald::api::Router& router() {
  static const herald::api::Router r = [] {
    herald::api::Router r;
    auto nop = [](const herald::api::Request&) { return herald::api::Response{}; };
    for (const char* p :
         {"/api/v1/publish", "/api/v1/messages", "/api/v1/otp/send", "/admin/v1/apps", "/health", "/metrics"})
      r.add("POST", p, nop);
    for (const char* p : {"/api/v1/messages/{id}", "/api/v1/users/{user}/inbox", "/admin/v1/apps/{app}",
                          "/admin/v1/apps/{app}/templates/{name}", "/admin/v1/apps/{app}/client-keys/{kid}"})
      r.add("GET", p, nop);
    r.add_websocket("/connection/websocket");
    return r;
  }();
  return r;
}

// The PROXY header as http_session.cpp's read_proxy_header reads it from a stream holding
// `input`: 15 bytes, then what the header says it needs, or one byte more.
ProxyHeader read_proxy_header(std::string_view input, std::size_t& consumed) {
  std::size_t want = 15;
  ProxyHeader h;
  for (;;) {
    if (want > input.size()) return ProxyHeader{};  // the peer closed: incomplete
    h = herald::net::parse_proxy_header(input.substr(0, want));
    consumed = want;
    if (h.state != ProxyHeader::State::kIncomplete) return h;
    want = h.needed > want ? h.needed : want + 1;
    if (want > herald::net::kMaxProxyHeader) return ProxyHeader{};
  }
}

void check_proxy_header(std::string_view input, std::string& remote) {
  std::size_t consumed = 0;
  ProxyHeader h = read_proxy_header(input, consumed);
  ProxyHeader whole = herald::net::parse_proxy_header(input);
  if (whole.state == ProxyHeader::State::kIncomplete && whole.needed)
    FUZZ_CHECK(whole.needed > input.size() && whole.needed <= herald::net::kMaxProxyHeader);
  if (h.state != ProxyHeader::State::kDone) return;
  // The session reads to the byte: what follows the header is the client's, not lost.
  FUZZ_CHECK(h.length == consumed);
  FUZZ_CHECK(h.length <= herald::net::kMaxProxyHeader);
  // Bytes after a complete header change nothing.
  FUZZ_CHECK(whole.state == ProxyHeader::State::kDone && whole.length == h.length && whole.source == h.source);
  if (!h.source.empty()) {
    std::string ip = herald::net::canonical_ip(h.source);
    FUZZ_CHECK(!ip.empty());
    FUZZ_CHECK(std::string_view(h.source).substr(0, ip.size() + (h.source[0] == '[' ? 1 : 0)).find(ip) !=
               std::string_view::npos);
    remote = h.source;
  }
}

void check_query(std::string_view query) {
  for (std::string_view name : {"start", "limit", "after", "channel"}) {
    auto n = herald::api::query_u64(query, name);
    if (n) FUZZ_CHECK(herald::api::query_param(query, name).has_value());
  }
  // A query the signature check lets through: every parameter it names, the route can read.
  if (!herald::auth::unambiguous_query(query) || !herald::auth::well_formed_escapes(query)) return;
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    auto p = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!p.empty()) FUZZ_CHECK(herald::api::query_param(query, p.substr(0, p.find('='))).has_value());
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
}

void check_path(std::string_view path) {
  // The routes decode what the signature check let through: the two must agree.
  FUZZ_CHECK(herald::api::percent_decode(path).has_value() == herald::auth::well_formed_escapes(path));
  herald::api::Match m = router().match("GET", path);
  if (m.route) {
    for (const auto& [k, v] : m.params) {
      FUZZ_CHECK(!k.empty() && !v.empty());
      FUZZ_CHECK(v.find('/') == std::string::npos);
    }
  } else {
    FUZZ_CHECK(m.params.empty());
  }
}

// What the session does with one parsed request (http_session_impl.h: serve_one, to_api_request, client_of).
void serve(const http::request<http::string_body>& req, const std::string& remote) {
  for (const auto& f : req) {
    // A header the parser accepted never carries a line break into what we echo or log.
    FUZZ_CHECK(f.name_string().find_first_of("\r\n") == std::string_view::npos);
    FUZZ_CHECK(f.value().find_first_of("\r\n") == std::string_view::npos);
  }
  auto incoming = req["X-Request-Id"];
  std::string_view rid(incoming.data(), incoming.size());
  if (herald::acceptable_request_id(rid)) {
    FUZZ_CHECK(!rid.empty() && rid.size() <= 64);
    FUZZ_CHECK(rid.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               std::string_view::npos);
  }
  std::string target(req.target());
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);
  check_path(path);
  check_query(query);
  (void)herald::auth::canonical_path(path);
  (void)herald::auth::canonical_query(query);

  std::string peer_host(herald::auth::host_of(remote));
  std::vector<std::string_view> values;
  for (const auto& f : req)
    if (boost::beast::iequals(f.name_string(), "X-Forwarded-For"))
      values.emplace_back(f.value().data(), f.value().size());
  std::string client = herald::net::client_from_forwarded_for(peer_host, values, trusted());
  // The client is the peer itself, or an address (in canonical form) that a trusted hop named.
  if (client != peer_host) {
    FUZZ_CHECK(trusted().trusts(peer_host));
    FUZZ_CHECK(herald::net::canonical_ip(client) == client);
  }
  for (auto v : values) {
    if (auto c = herald::auth::parse_cidr(v)) {
      auto again = herald::auth::parse_cidr(c->text());
      FUZZ_CHECK(again && again->text() == c->text());
    }
  }
}

}  // namespace

HERALD_FUZZ_TARGET(http) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // A trusted proxy's connection, so that X-Forwarded-For is read.
  std::string remote = "10.1.2.3:4444";
  if (!input.empty() && (input[0] == 'P' || input[0] == '\r')) {
    std::size_t consumed = 0;
    check_proxy_header(input, remote);
    if (read_proxy_header(input, consumed).state == ProxyHeader::State::kDone) input.remove_prefix(consumed);
  }

  static const herald::Config cfg;
  // Keep-alive: requests one after another on the same bytes, as the session reads them.
  for (int n = 0; n < 8 && !input.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.limits.max_header_bytes));
    parser.body_limit(cfg.limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!ec && !parser.is_done() && used < input.size()) {
      std::size_t n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
      if (n == 0) break;
      used += n;
    }
    if (ec == http::error::need_more) parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
    FUZZ_CHECK(used <= input.size());
    serve(parser.get(), remote);
    if (used == 0) return 0;
    input.remove_prefix(used);
  }
  return 0;
}
