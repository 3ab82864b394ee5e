// Encoders of the message pushes and inbox pages.
#include "messages/message_wire.h"

#include <boost/json.hpp>

namespace herald::messages {
namespace json = boost::json;

std::string push_frame(const InboxItem& m) {
  json::object inner{{"id", m.id}, {"ts", m.ts}, {"priority", m.priority}};
  if (!m.template_name.empty()) inner["template"] = m.template_name;
  inner["data"] = m.data;
  return json::serialize(json::object{{"msg", std::move(inner)}});
}

json::object inbox_page_json(const InboxPage& page) {
  json::array list;
  for (const auto& m : page.messages)
    list.push_back(json::object{{"id", m.id},
                                {"ts", m.ts},
                                {"priority", m.priority},
                                {"template", m.template_name},
                                {"data", m.data},
                                {"cursor", std::to_string(m.seq)}});
  json::value next = nullptr;
  if (page.next != 0) next = json::string(std::to_string(page.next));
  return json::object{{"messages", std::move(list)}, {"next", std::move(next)}};
}

}  // namespace herald::messages
