// The WebSocket placeholder session: upgrade, keep-alive pings and idle timeout from
// Beast, messages read and discarded, close 1001 on shutdown.
#include "net/detail/ws_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/ids.h"
#include "core/log.h"

namespace herald::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;

template <class Stream>
class WsSession final : public SessionBase {
 public:
  WsSession(GatewayState& st, Worker& w, Stream&& stream, std::shared_ptr<ConnectionCount> count)
      : st_(st), w_(w), ws_(std::move(stream)), count_(std::move(count)) {}

  asio::awaitable<void> run(std::shared_ptr<WsSession> self, http::request<http::string_body> req) {
    SessionRegistration reg(w_, this);
    const auto& lim = st_.cfg.limits;
    websocket::stream_base::timeout t{};
    t.handshake_timeout = lim.handshake_timeout;
    t.idle_timeout = lim.idle_timeout;
    t.keep_alive_pings = true;  // a ping at half the idle timeout; no pong by the end closes
    ws_.set_option(t);
    ws_.read_message_max(lim.max_ws_message_bytes);
    std::string rid = next_request_id();
    ws_.set_option(websocket::stream_base::decorator(
        [rid](websocket::response_type& res) { res.set("X-Request-Id", rid); }));
    error_code ec;
    co_await ws_.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      log::debug("websocket_accept_failed", {{"request_id", rid}, {"error", ec.message()}});
      co_return;
    }
    st_.m.websocket_active->inc();
    open_ = true;
    if (st_.draining.load()) on_shutdown();
    beast::flat_buffer buffer;
    for (;;) {
      co_await ws_.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buffer.consume(buffer.size());
    }
    open_ = false;
    st_.m.websocket_active->dec();
    if (ec && ec != websocket::error::closed && ec != asio::error::operation_aborted && ec != asio::error::eof &&
        ec != beast::error::timeout)
      log::debug("websocket_closed", {{"request_id", rid}, {"error", ec.message()}});
    (void)self;
  }

  void on_shutdown() override {
    if (!open_ || closing_) return;
    closing_ = true;
    // The close handshake (and the TLS close_notify after it) is bounded tightly while
    // draining: a peer that never answers must not hold up the shutdown.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(1);
    t.idle_timeout = st_.cfg.limits.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.async_close(websocket::close_code::going_away, [](error_code) {});
  }

 private:
  GatewayState& st_;
  Worker& w_;
  websocket::stream<Stream> ws_;
  std::shared_ptr<ConnectionCount> count_;
  bool open_ = false;
  bool closing_ = false;
};

}  // namespace

template <class Stream>
void start_websocket_session(GatewayState& st, Worker& w, Stream&& stream,
                             http::request<http::string_body>&& req, std::shared_ptr<ConnectionCount> count) {
  auto s = std::make_shared<WsSession<Stream>>(st, w, std::move(stream), std::move(count));
  asio::co_spawn(w.ioc, s->run(s, std::move(req)), asio::detached);
}

template void start_websocket_session<beast::tcp_stream>(GatewayState&, Worker&, beast::tcp_stream&&,
                                                         http::request<http::string_body>&&,
                                                         std::shared_ptr<ConnectionCount>);
template void start_websocket_session<beast::ssl_stream<beast::tcp_stream>>(
    GatewayState&, Worker&, beast::ssl_stream<beast::tcp_stream>&&, http::request<http::string_body>&&,
    std::shared_ptr<ConnectionCount>);

}  // namespace herald::net::detail
