// The `pub` frame, written once per publication and shared by every subscriber.
#include "push/publication.h"

namespace herald::push {

std::shared_ptr<Publication> make_publication(std::string_view channel, std::uint64_t offset, std::string_view epoch,
                                              std::string_view id, std::int64_t ts_ms, std::string_view data_json) {
  auto pub = std::make_shared<Publication>();
  pub->offset = offset;
  pub->ts_ms = ts_ms;
  pub->id = std::string(id);
  std::string off = std::to_string(offset), ts = std::to_string(ts_ms);
  std::string& f = pub->frame;
  f.reserve(64 + channel.size() + off.size() + epoch.size() + id.size() + ts.size() + data_json.size());
  f.append("{\"pub\":{\"channel\":\"").append(channel);
  f.append("\",\"offset\":").append(off);
  f.append(",\"epoch\":\"").append(epoch);
  f.append("\",\"id\":\"").append(id);
  f.append("\",\"ts\":").append(ts);
  f.append(",\"data\":").append(data_json).append("}}");
  return pub;
}

}  // namespace herald::push
