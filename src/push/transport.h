// What the protocol needs from a connection: queue JSON lines for the next frame,
// write, close, and call back at a deadline. The net layer implements it over a
// WebSocket stream; tests implement it in memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace herald::push {

class Transport {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Transport() = default;
  // Appends one JSON object to the outgoing batch; objects of one batch go out in one
  // text frame, separated by '\n'.
  virtual void send(std::string_view line) = 0;
  // Starts writing what is queued, unless a write is under way (it then continues).
  virtual void flush() = 0;
  // Bytes queued and not yet handed to the socket.
  virtual std::size_t queued_bytes() const = 0;
  // Forgets what is queued and not yet being written.
  virtual void discard_queued() = 0;
  // Writes what is queued, then closes the WebSocket with this code and reason. A peer
  // that does not take the data or the close in time is cut off.
  virtual void close(int code, std::string_view reason) = 0;
  // Requests one Client::on_deadline call at or soon after `when`, replacing any
  // earlier request. TimePoint::max() cancels.
  virtual void set_deadline(TimePoint when) = 0;
  virtual std::string_view remote_address() const = 0;
};

}  // namespace herald::push
