// The one classifier of I/O errors that only mean a connection ended normally, shared by
// the HTTP and WebSocket sessions so that both stay quiet about the same things.
#pragma once

#include <boost/system/error_code.hpp>

namespace herald::net::detail {

// True when `ec` ends a connection without anything having gone wrong on our side: the
// peer went away (with or without close_notify, a WebSocket close, mid-message), we
// cancelled or closed the socket ourselves (shutdown, a hard cut), or a timeout closed an
// idle peer. Such ends are counted where they matter, never logged as failures.
bool is_expected_close(const boost::system::error_code& ec);

}  // namespace herald::net::detail
