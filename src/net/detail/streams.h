// The stream types a connection passes through: the HTTP phase runs on Beast's tcp_stream
// (per-operation timeouts), the WebSocket phase on the bare socket (Beast's own timer),
// each one optionally under our TlsStream.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "net/detail/tls_stream.h"

namespace herald::net::detail {

using HttpPlainStream = boost::beast::tcp_stream;
using HttpTlsStream = TlsStream<boost::beast::tcp_stream>;
using WsPlainStream = boost::asio::ip::tcp::socket;
using WsTlsStream = TlsStream<boost::asio::ip::tcp::socket>;

}  // namespace herald::net::detail
