// A publication as it travels: serialised once into the `pub` push that every
// subscriber receives, and kept as is in the channel's history.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace herald::push {

struct Publication {
  std::uint64_t offset = 0;
  std::int64_t ts_ms = 0;  // when the server accepted it (Unix ms)
  std::string id;
  // `{"pub":{...}}`, compact, without a newline: written to sockets as it is.
  std::string frame;

  // The inner object `{...}` of the push, as history and recovery list it.
  std::string_view inner() const {
    constexpr std::size_t kPrefix = sizeof("{\"pub\":") - 1;
    return std::string_view(frame).substr(kPrefix, frame.size() - kPrefix - 1);
  }
  std::size_t bytes() const { return frame.size() + id.size() + sizeof(Publication); }
};

using PublicationPtr = std::shared_ptr<const Publication>;

}  // namespace herald::push
