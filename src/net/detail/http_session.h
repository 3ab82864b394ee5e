// The HTTP session's entry points. The session is a template over its stream; its two
// instantiations (plain, TLS) are compiled in separate files so that they build in parallel.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "net/detail/state.h"
#include "net/detail/streams.h"

namespace herald::net::detail {

// Starts an HTTP session on an accepted socket (on its worker's io_context); `slot` is
// the connection's place under its source's cap. A trusted proxy's connection with
// server.proxy_protocol first gives its PROXY header (and then is capped by the client
// that header names).
void start_http_session(GatewayState& st, Worker& w, boost::asio::ip::tcp::socket socket, SourceConnections::Slot slot);

// Serves one connection over `stream` until it closes or is handed over to WebSocket.
// Defined in detail/http_session_impl.h; instantiated in http_session_plain.cpp and
// http_session_tls.cpp only.
template <class Stream>
void spawn_http_session(GatewayState& st, Worker& w, Stream&& stream, std::string remote, SourceConnections::Slot slot);

extern template void spawn_http_session<HttpPlainStream>(GatewayState&, Worker&, HttpPlainStream&&, std::string,
                                                         SourceConnections::Slot);
extern template void spawn_http_session<HttpTlsStream>(GatewayState&, Worker&, HttpTlsStream&&, std::string,
                                                       SourceConnections::Slot);

}  // namespace herald::net::detail
