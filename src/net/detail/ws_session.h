// The WebSocket endpoint: the client protocol of docs/protocol.md (push::Client) over
// a Beast WebSocket stream.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>

#include "net/detail/state.h"
#include "net/detail/streams.h"

namespace herald::net::detail {

// Takes over `stream` (an HttpPlainStream or an HttpTlsStream) after an HTTP upgrade
// request. Clients send no frame before the 101 answer, so nothing read past the request
// is carried over. Defined in detail/ws_session_impl.h; instantiated in
// ws_session_plain.cpp and ws_session_tls.cpp only, so that the two build in parallel.
template <class Stream>
void start_websocket_session(GatewayState& st, Worker& w, Stream&& stream,
                             boost::beast::http::request<boost::beast::http::string_body>&& req,
                             std::shared_ptr<ConnectionCount> count, std::string remote);

extern template void start_websocket_session<HttpPlainStream>(
    GatewayState&, Worker&, HttpPlainStream&&, boost::beast::http::request<boost::beast::http::string_body>&&,
    std::shared_ptr<ConnectionCount>, std::string);
extern template void start_websocket_session<HttpTlsStream>(
    GatewayState&, Worker&, HttpTlsStream&&, boost::beast::http::request<boost::beast::http::string_body>&&,
    std::shared_ptr<ConnectionCount>, std::string);

}  // namespace herald::net::detail
