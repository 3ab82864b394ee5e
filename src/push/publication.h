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

// Builds the publication and its frame in one allocation-sized string. `channel`,
// `epoch` and `id` need no JSON escaping (their alphabets exclude it); `data_json` is
// compact JSON.
std::shared_ptr<Publication> make_publication(std::string_view channel, std::uint64_t offset, std::string_view epoch,
                                              std::string_view id, std::int64_t ts_ms, std::string_view data_json);

}  // namespace herald::push
