// The WebSocket endpoint: the client protocol of docs/protocol.md (push::Client) over
// a Beast WebSocket stream.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>

#include "net/detail/state.h"

namespace herald::net::detail {

// Takes over `stream` (a beast::tcp_stream or a TlsStream of one) after an
// HTTP upgrade request. Clients send no frame before the 101 answer, so nothing read
// past the request is carried over.
template <class Stream>
void start_websocket_session(GatewayState& st, Worker& w, Stream&& stream,
                             boost::beast::http::request<boost::beast::http::string_body>&& req,
                             std::shared_ptr<ConnectionCount> count, std::string remote);

}  // namespace herald::net::detail
