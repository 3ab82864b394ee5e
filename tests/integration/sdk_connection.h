// How the integration tests point the C++ SDK at a test server (HTTPS on loopback,
// trusting the server's development certificate).
#pragma once

#include <chrono>
#include <string>

#include "harness.h"
#include "herald/client.h"

namespace herald::testing {

inline sdk::ConnectionOptions connection(const Server& s,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  sdk::ConnectionOptions c;
  c.base_url = "https://127.0.0.1:" + std::to_string(s.port());
  c.ca_file = s.ca_file();
  c.timeout = timeout;
  return c;
}

}  // namespace herald::testing
