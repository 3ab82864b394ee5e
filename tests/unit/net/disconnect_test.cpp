// The expected-close classifier: the ends of a connection that are not failures, and the
// errors that must still be answered or logged.
#include "net/detail/disconnect.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/error.hpp>
#include <string_view>

namespace herald::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

TEST(Disconnect, PeerGoneCancelledAndTimedOutAreExpected) {
  const error_code expected[] = {
      asio::error::eof,
      asio::error::connection_reset,
      asio::error::connection_aborted,
      asio::error::broken_pipe,
      asio::error::not_connected,
      asio::error::operation_aborted,
      asio::ssl::error::stream_truncated,
      http::error::end_of_stream,
      http::error::partial_message,
      beast::websocket::error::closed,
      beast::error::timeout,
  };
  for (const auto& ec : expected) EXPECT_TRUE(is_expected_close(ec)) << ec.message();
}

TEST(Disconnect, SuccessAndRealFailuresAreNot) {
  const error_code failures[] = {
      {},
      http::error::header_limit,
      http::error::body_limit,
      http::error::bad_method,
      http::error::bad_version,
      beast::websocket::error::buffer_overflow,
      beast::websocket::error::bad_close_code,
      asio::error::access_denied,
      asio::error::no_buffer_space,
      asio::error::host_unreachable,
      error_code(0x0A000086, asio::error::get_ssl_category()),  // an OpenSSL handshake error
  };
  for (const auto& ec : failures) EXPECT_FALSE(is_expected_close(ec)) << ec.message();
}

// The codes the HTTP session sees come from Beast's parser; check the real ones, not
// only the enumerators.
error_code parse(std::string_view bytes, std::uint64_t header_limit = 8192) {
  http::request_parser<http::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(header_limit));
  error_code ec;
  p.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec || ec == http::error::need_more) p.put_eof(ec);
  return ec;
}

TEST(Disconnect, PeerClosingMidHeaderOrMidBodyIsExpected) {
  EXPECT_TRUE(is_expected_close(parse("GET / HTTP/1.1\r\nHost: exa")));
  EXPECT_TRUE(is_expected_close(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")));
}

TEST(Disconnect, OversizedHeaderIsAnsweredNotIgnored) {
  std::string req = "GET / HTTP/1.1\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n";
  error_code ec = parse(req, 64);
  EXPECT_EQ(ec, http::error::header_limit);
  EXPECT_FALSE(is_expected_close(ec));
}

}  // namespace
}  // namespace herald::net::detail
