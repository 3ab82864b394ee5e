// One HTTP/1.1 connection, TLS or plain: handshake, keep-alive loop with limits and
// timeouts, routing, access log and metrics, hand-over to WebSocket on upgrade.
// Included only by http_session_plain.cpp and http_session_tls.cpp, one instantiation each.
#pragma once

#include <openssl/crypto.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <cmath>
#include <type_traits>

#include "api/errors.h"
#include "auth/ip_allowlist.h"
#include "core/ids.h"
#include "core/log.h"
#include "net/detail/disconnect.h"
#include "net/detail/http_session.h"
#include "net/detail/ws_session.h"

namespace herald::net::detail {
namespace http_impl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

template <class Stream>
class HttpSession final : public SessionBase {
  using Parser = http::request_parser<http::string_body>;
  using Request = http::request<http::string_body>;
  static constexpr bool kIsTls = std::is_same_v<Stream, HttpTlsStream>;

 public:
  HttpSession(GatewayState& st, Worker& w, Stream&& stream, std::string remote, SourceConnections::Slot slot)
      : st_(st),
        w_(w),
        stream_(std::move(stream)),
        remote_(std::move(remote)),
        peer_host_(auth::host_of(remote_)),
        count_(std::make_shared<ConnectionCount>(st, std::move(slot))) {}

  // `self` lives in the coroutine frame and keeps the session alive until it ends.
  asio::awaitable<void> run(std::shared_ptr<HttpSession> self) {
    SessionRegistration reg(w_, this);
    if constexpr (kIsTls) {
      if (!co_await handshake()) co_return;
    }
    bool first = true;
    for (;;) {
      if (!co_await wait_for_request(first)) break;
      first = false;
      bool keep_going = co_await serve_one();
      if (!keep_going || handed_over_) break;
    }
    if (!handed_over_) co_await close_gracefully();
    (void)self;
  }

  void on_shutdown() override {
    // Only an idle connection is cut; one mid-request finishes and then closes.
    if (idle_) beast::get_lowest_layer(stream_).socket().cancel();
  }

 private:
  asio::awaitable<bool> handshake() {
    error_code ec;
    beast::get_lowest_layer(stream_).expires_after(st_.cfg.limits.handshake_timeout);
    co_await stream_.async_handshake(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_return true;
    st_.m.tls_handshake_failures->inc();
    if (ec == beast::error::timeout) st_.m.timeouts->with({"handshake"}).inc();
    log::debug("tls_handshake_failed", {{"remote", remote_}, {"error", ec.message()}});
    co_return false;
  }

  // Waits for the first byte of the next request: bounded by the idle timeout between
  // requests, and by the read timeout for the first one.
  asio::awaitable<bool> wait_for_request(bool first) {
    if (buffer_.size() > 0) co_return true;
    if (st_.draining.load()) co_return false;
    const auto& lim = st_.cfg.limits;
    error_code ec;
    beast::get_lowest_layer(stream_).expires_after(first ? lim.read_timeout : lim.idle_timeout);
    idle_ = true;
    std::size_t n =
        co_await stream_.async_read_some(buffer_.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
    idle_ = false;
    if (ec) {
      if (ec == beast::error::timeout) st_.m.timeouts->with({first ? "read" : "idle"}).inc();
      co_return false;
    }
    buffer_.commit(n);
    co_return true;
  }

  // Reads, routes and answers one request. Returns false when the connection must close.
  asio::awaitable<bool> serve_one() {
    auto t0 = std::chrono::steady_clock::now();
    Parser parser;
    parser.header_limit(static_cast<std::uint32_t>(st_.cfg.limits.max_header_bytes));
    parser.body_limit(st_.cfg.limits.max_body_bytes);
    error_code ec = co_await read_request(parser);
    if (handed_over_) co_return false;
    if (ec) co_return co_await answer_read_error(ec, parser, t0);

    Request req = parser.release();
    // The server's own id always; the client's X-Request-Id, when acceptable, is what the
    // answer carries, and is kept apart in the audit (a client cannot pose as another
    // request there).
    std::string server_rid = next_request_id();
    auto incoming_id = req["X-Request-Id"];
    std::string client_rid = acceptable_request_id(std::string_view(incoming_id.data(), incoming_id.size()))
                                 ? std::string(incoming_id)
                                 : std::string();
    const std::string& rid = client_rid.empty() ? server_rid : client_rid;
    bool keep_alive = req.keep_alive() && !st_.draining.load();
    bool head = req.method() == http::verb::head;

    api::Request areq = to_api_request(req, rid);
    api::Match m = st_.router.match(areq.method, areq.path);
    areq.params = std::move(m.params);
    std::string label(m.label);
    std::string method = areq.method;  // areq may move into an async handler
    std::string client = areq.remote_address;
    api::Response res;
    if (auto refused = st_.router.admit(areq, label)) {
      res = std::move(*refused);
    } else {
      res = co_await route(m, std::move(areq), rid, label);
    }
    bool ok = co_await write_response(res, rid, req.version(), keep_alive, head);
    if (res.sensitive) OPENSSL_cleanse(res.body.data(), res.body.size());
    record(label, req.method_string(), req.target(), res.status, rid, client, t0);
    st_.router.observe(api::Exchange{method, label, res.status, res.error_code,
                                     res.actor.empty() ? std::string_view("anonymous") : res.actor, server_rid,
                                     client_rid, client});
    co_return ok&& keep_alive;
  }

  // Reads the request into `parser`, or hands the connection over to WebSocket (then
  // handed_over_ is set and the stream is gone).
  asio::awaitable<error_code> read_request(Parser& parser) {
    error_code ec;
    beast::get_lowest_layer(stream_).expires_after(st_.cfg.limits.read_timeout);
    co_await http::async_read_header(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    auto& h = parser.get();
    // A sealed server refuses upgrades: the request is then answered as HTTP ("sealed").
    if (beast::websocket::is_upgrade(h) && st_.router.is_websocket(path_of(h.target())) && !st_.router.sealed()) {
      co_await http::async_read(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return ec;
      handed_over_ = true;
      beast::get_lowest_layer(stream_).expires_never();
      std::string client = client_of(h);
      start_websocket_session(st_, w_, std::move(stream_), parser.release(), std::move(count_), std::move(client));
      co_return ec;
    }
    if (beast::iequals(h[http::field::expect], "100-continue") && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, h.version()};
      co_await http::async_write(stream_, cont, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return ec;
    }
    co_await http::async_read(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  // A request that could not be read: limits are answered, a peer that left or timed out
  // is not. Always ends the connection.
  asio::awaitable<bool> answer_read_error(error_code ec, Parser& parser, std::chrono::steady_clock::time_point t0) {
    Errc code = Errc::kBadRequest;
    if (ec == http::error::header_limit) {
      code = Errc::kHeaderTooLarge;
    } else if (ec == http::error::body_limit) {
      code = Errc::kBodyTooLarge;
    } else if (ec == beast::error::timeout) {
      st_.m.timeouts->with({"read"}).inc();
      co_return false;  // the stream has closed the socket already
    } else if (is_expected_close(ec)) {
      co_return false;
    }
    std::string rid = next_request_id();
    api::Response res = api::error_response(code, rid);
    co_await write_response(res, rid, parser.get().version() ? parser.get().version() : 11, false, false);
    record("error", parser.get().method_string(), "", res.status, rid, remote_, t0);
    co_return false;
  }

  api::Request to_api_request(Request& req, const std::string& rid) const {
    api::Request areq;
    areq.method = std::string(req.method_string());
    areq.target = std::string(req.target());
    auto q = areq.target.find('?');
    areq.path = areq.target.substr(0, q);
    if (q != std::string::npos) areq.query = areq.target.substr(q + 1);
    for (const auto& f : req) areq.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    areq.body = std::move(req.body());
    areq.remote_address = client_of(req);
    areq.request_id = rid;
    areq.tls = kIsTls;
    return areq;
  }

  // The client: the connection's peer (or what its PROXY header said), unless that is a
  // trusted proxy whose X-Forwarded-For names someone further out. Per request: a proxy
  // sends many clients' requests down one connection.
  template <class Fields>
  std::string client_of(const Fields& h) const {
    if (!st_.trusted.trusts(peer_host_)) return remote_;
    std::vector<std::string_view> values;
    for (const auto& f : h)  // in the order received: several headers are one list
      if (beast::iequals(f.name_string(), "X-Forwarded-For")) values.emplace_back(f.value().data(), f.value().size());
    if (values.empty()) return remote_;
    return client_from_forwarded_for(peer_host_, values, st_.trusted);
  }

  // A handler's exception is a programming error: it becomes "internal", not a dead connection.
  asio::awaitable<api::Response> route(const api::Match& m, api::Request&& areq, const std::string& rid,
                                       const std::string& label) {
    if (!m.route) co_return api::error_response(m.error, rid);
    try {
      if (const auto* sync = std::get_if<api::SyncHandler>(&m.route->handler)) co_return (*sync)(areq);
      co_return co_await call_async(std::get<api::AsyncHandler>(m.route->handler), std::move(areq));
    } catch (const std::exception& e) {
      log::error("handler_failed", {{"request_id", rid}, {"route", label}, {"error", e.what()}});
    }
    co_return api::error_response(Errc::kInternal, rid);
  }

  static std::string_view path_of(beast::string_view target) {
    std::string_view t(target.data(), target.size());
    return t.substr(0, t.find('?'));
  }

  asio::awaitable<api::Response> call_async(const api::AsyncHandler& handler, api::Request&& req) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(api::Response)>(
        [&handler, &req, ex](auto completion) {
          auto h = std::make_shared<decltype(completion)>(std::move(completion));
          handler(std::move(req), [h, ex](api::Response r) {
            asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
          });
        },
        asio::use_awaitable);
  }

  asio::awaitable<bool> write_response(const api::Response& r, const std::string& rid, unsigned version,
                                       bool keep_alive, bool head) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::content_type, r.content_type);
    res.set("X-Request-Id", rid);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    if constexpr (kIsTls) res.set(http::field::strict_transport_security, "max-age=31536000");
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    if (head) {
      res.content_length(r.body.size());
    } else {
      res.body() = r.body;
      res.prepare_payload();
    }
    error_code ec;
    beast::get_lowest_layer(stream_).expires_after(st_.cfg.limits.read_timeout);
    co_await http::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
    if (r.sensitive) OPENSSL_cleanse(res.body().data(), res.body().size());
    if (ec && ec == beast::error::timeout) st_.m.timeouts->with({"write"}).inc();
    co_return !ec;
  }

  void record(const std::string& route, beast::string_view method, beast::string_view target, int status,
              const std::string& rid, const std::string& client, std::chrono::steady_clock::time_point t0) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st_.m.requests->with({route, std::to_string(status)}).inc();
    st_.m.latency->with({route}).observe(secs);
    if (st_.cfg.log.access) {
      std::string_view t(target.data(), target.size());
      log::info("http_request",
                {{"request_id", rid},
                 {"remote", client},
                 {"method", std::string_view(method.data(), method.size())},
                 {"path", t.substr(0, t.find('?'))},  // the query may carry credentials
                 {"status", status},
                 {"ms", std::round(secs * 1e6) / 1e3}});  // to the microsecond: ms=1.449, not 1.4490219999999998
    }
  }

  // TLS: send close_notify (bounded wait for the peer's); plain: half-close, then close.
  asio::awaitable<void> close_gracefully() {
    error_code ec;
    auto& lowest = beast::get_lowest_layer(stream_);
    if constexpr (kIsTls) {
      // Our close_notify is sent at once; the wait is only for the peer's answer, which
      // many clients never send, so it is short, and shorter still while draining.
      lowest.expires_after(st_.draining.load() ? std::chrono::milliseconds(250) : std::chrono::milliseconds(2000));
      co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    } else {
      lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    }
    lowest.socket().close(ec);
  }

  GatewayState& st_;
  Worker& w_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;     // the peer, or the client its PROXY header named
  std::string peer_host_;  // remote_ without the port
  std::shared_ptr<ConnectionCount> count_;
  bool idle_ = false;
  bool handed_over_ = false;
};

}  // namespace http_impl

template <class Stream>
void spawn_http_session(GatewayState& st, Worker& w, Stream&& stream, std::string remote,
                        SourceConnections::Slot slot) {
  auto s =
      std::make_shared<http_impl::HttpSession<Stream>>(st, w, std::move(stream), std::move(remote), std::move(slot));
  boost::asio::co_spawn(w.ioc, s->run(s), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("session_failed", {{"error", ex.what()}});
    }
  });
}

}  // namespace herald::net::detail
