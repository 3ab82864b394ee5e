// The WebSocket session over plain TCP (server.tls = false), compiled apart from the TLS one.
#include "net/detail/ws_session_impl.h"

namespace herald::net::detail {

template void start_websocket_session<HttpPlainStream>(GatewayState&, Worker&, HttpPlainStream&&,
                                                       boost::beast::http::request<boost::beast::http::string_body>&&,
                                                       std::shared_ptr<ConnectionCount>, std::string);

}  // namespace herald::net::detail
