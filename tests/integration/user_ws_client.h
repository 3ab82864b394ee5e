// A client of the development app over the client protocol, for the message tests:
// commands with their replies matched by id, and the `msg` pushes in the order they came.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "harness.h"

namespace herald::testing {

class UserWsClient {
 public:
  // Connects as `user` of the development app `s` wrote (throws if refused).
  UserWsClient(const Server& s, const std::string& user);

  // Sends one command; returns the whole reply ({id, <method>: ...} or {id, error}).
  boost::json::object call(const std::string& method, boost::json::object params,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The next `msg` push not taken yet, or nullopt after `timeout`.
  std::optional<boost::json::object> next_msg(std::chrono::milliseconds timeout);
  // The inbox page over the protocol: the reply's result.
  boost::json::object inbox(boost::json::object params = {});

 private:
  // Reads one frame; false when the deadline passed first.
  bool pump(std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<Connection> conn_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, boost::json::object> replies_;
  std::deque<boost::json::object> msgs_;
};

}  // namespace herald::testing
