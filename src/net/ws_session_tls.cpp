// The WebSocket session over TLS, compiled apart from the plain one.
#include "net/detail/ws_session_impl.h"

namespace herald::net::detail {

template void start_websocket_session<HttpTlsStream>(GatewayState&, Worker&, HttpTlsStream&&,
                                                     boost::beast::http::request<boost::beast::http::string_body>&&,
                                                     std::shared_ptr<ConnectionCount>, std::string);

}  // namespace herald::net::detail
