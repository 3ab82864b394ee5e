// What the client protocol needs from the messages service (docs/messages.md): the
// user's pending messages at connect, acknowledgements by message id, inbox pages.
// Asynchronous: an implementation may answer on another thread (a store reader), so
// no I/O thread ever waits on the store; each `done` is called exactly once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "push/hub.h"

namespace herald::push {

class MessageInbox {
 public:
  virtual ~MessageInbox() = default;
  // `{"msg":{...}}` pushes of the user's pending messages, oldest first, to send right
  // after the connect reply.
  virtual void on_connect(const ClientIdentity& who, std::function<void(std::vector<std::string>)> done) = 0;
  // Acknowledges a message; "message_not_found" unless it is this user's.
  virtual void ack(const ClientIdentity& who, std::string_view message_id, std::function<void(Status)> done) = 0;
  // One page of the user's inbox: the JSON object of the `inbox` reply.
  virtual void page(const ClientIdentity& who, std::string_view after, std::size_t limit,
                    std::function<void(Result<std::string>)> done) = 0;
};

}  // namespace herald::push
