// What the client protocol needs from the messages service (docs/messages.md): the
// user's pending messages at connect, acknowledgements by message id, inbox pages.
// Called on the connection's I/O thread; implementations answer from the store's reader.
#pragma once

#include <cstddef>
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
  virtual std::vector<std::string> on_connect(const ClientIdentity& who) = 0;
  // Acknowledges a message; "message_not_found" unless it is this user's.
  virtual Status ack(const ClientIdentity& who, std::string_view message_id) = 0;
  // One page of the user's inbox: the JSON object of the `inbox` reply.
  virtual Result<std::string> page(const ClientIdentity& who, std::string_view after, std::size_t limit) = 0;
};

}  // namespace herald::push
