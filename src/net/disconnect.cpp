// The expected-close classifier; the error categories it compares against are compiled
// once in herald_asio, so this file stays small.
#include "net/detail/disconnect.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

namespace herald::net::detail {

bool is_expected_close(const boost::system::error_code& ec) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected || ec == asio::error::operation_aborted ||
         ec == asio::ssl::error::stream_truncated || ec == beast::http::error::end_of_stream ||
         ec == beast::http::error::partial_message || ec == beast::websocket::error::closed ||
         ec == beast::error::timeout;
}

}  // namespace herald::net::detail
